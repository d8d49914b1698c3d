package js

import "kemi/core"

// rpcReload is app_jsdt.reload.
var rpcReload = core.RPCReload("app_jsdt")

// rpcAPIList is the api_list method.
var rpcAPIList = core.RPCAPIList
