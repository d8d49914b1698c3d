package lua

import "kemi/core"

// rpcReload is app_lua.reload.
var rpcReload = core.RPCReload("app_lua")

// rpcAPIList is the api_list method.
var rpcAPIList = core.RPCAPIList
