package starlark

import "kemi/core"

// rpcReload is app_starlark.reload.
var rpcReload = core.RPCReload("app_starlark")

// rpcAPIList is the api_list method.
var rpcAPIList = core.RPCAPIList
