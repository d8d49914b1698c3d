package rtpengine

import (
	"errors"

	"kemi/core"
)

// The rtpengine.* RPC methods (rpc: in module.yaml).

func rpcClient(rt *core.Runtime, method string) (*Client, error) {
	c := Of(rt)
	if c == nil {
		return nil, errors.New(method + ": rtpengine is not running")
	}
	return c, nil
}

func urlArg(method string, args []core.Value) (string, error) {
	return core.RPCArgStr(method, args, 0, `node URL or "all"`)
}

func rpcShow(rt *core.Runtime, args []core.Value) (any, error) {
	c, err := rpcClient(rt, "rtpengine.show")
	if err != nil {
		return nil, err
	}
	url, err := urlArg("rtpengine.show", args)
	if err != nil {
		return nil, err
	}
	return c.Show(url)
}

func rpcEnable(rt *core.Runtime, args []core.Value) (any, error) {
	c, err := rpcClient(rt, "rtpengine.enable")
	if err != nil {
		return nil, err
	}
	url, err := urlArg("rtpengine.enable", args)
	if err != nil {
		return nil, err
	}
	on, err := core.RPCArgInt("rtpengine.enable", args, 1, "0 or 1")
	if err != nil {
		return nil, err
	}
	return nil, c.Enable(url, on != 0)
}

func rpcPing(rt *core.Runtime, args []core.Value) (any, error) {
	c, err := rpcClient(rt, "rtpengine.ping")
	if err != nil {
		return nil, err
	}
	url, err := urlArg("rtpengine.ping", args)
	if err != nil {
		return nil, err
	}
	return c.PingNodes(url)
}

func rpcReload(rt *core.Runtime, _ []core.Value) (any, error) {
	c, err := rpcClient(rt, "rtpengine.reload")
	if err != nil {
		return nil, err
	}
	return nil, c.Reload()
}

func rpcHashTotal(rt *core.Runtime, _ []core.Value) (any, error) {
	c, err := rpcClient(rt, "rtpengine.get_hash_total")
	if err != nil {
		return nil, err
	}
	return c.HashTotal(), nil
}
