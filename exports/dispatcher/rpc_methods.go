package dispatcher

import (
	"errors"

	"kemi/core"
)

// The dispatcher.* RPC methods (rpc: in module.yaml) over the RPC*
// functions, with Kamailio's result shapes.

func rpcModule(rt *core.Runtime, method string) (*Module, error) {
	m := Of(rt)
	if m == nil {
		return nil, errors.New(method + ": dispatcher is not running")
	}
	return m, nil
}

// dispatcher.list: {"NRSETS": n, "RECORDS": [{"SET": {"ID": id, "TARGETS": [{"DEST": {...}}]}}]}.
func rpcList(rt *core.Runtime, _ []core.Value) (any, error) {
	m, err := rpcModule(rt, "dispatcher.list")
	if err != nil {
		return nil, err
	}
	sets := m.RPCList()
	recs := []any{}
	for _, s := range sets {
		targets := []any{}
		for _, d := range s.Dests {
			targets = append(targets, map[string]any{"DEST": d})
		}
		recs = append(recs, map[string]any{"SET": map[string]any{"ID": s.ID, "TARGETS": targets}})
	}
	return map[string]any{"NRSETS": len(sets), "RECORDS": recs}, nil
}

// dispatcher.set_state STATE SET ADDRESS|all.
func rpcSetState(rt *core.Runtime, args []core.Value) (any, error) {
	const name = "dispatcher.set_state"
	m, err := rpcModule(rt, name)
	if err != nil {
		return nil, err
	}
	state, err := core.RPCArgStr(name, args, 0, "state")
	if err != nil {
		return nil, err
	}
	set, err := core.RPCArgInt(name, args, 1, "set")
	if err != nil {
		return nil, err
	}
	addr, err := core.RPCArgStr(name, args, 2, "address")
	if err != nil {
		return nil, err
	}
	if _, err := m.RPCSetState(state, int(set), addr); err != nil {
		return nil, err
	}
	return nil, nil
}

func rpcReload(rt *core.Runtime, _ []core.Value) (any, error) {
	m, err := rpcModule(rt, "dispatcher.reload")
	if err != nil {
		return nil, err
	}
	return nil, m.RPCReload()
}

// dispatcher.ping_active [0|1].
func rpcPingActive(rt *core.Runtime, args []core.Value) (any, error) {
	const name = "dispatcher.ping_active"
	m, err := rpcModule(rt, name)
	if err != nil {
		return nil, err
	}
	var state *int
	if len(args) > 0 {
		n, err := core.RPCArgInt(name, args, 0, "state")
		if err != nil {
			return nil, err
		}
		s := int(n)
		state = &s
	}
	old, err := m.RPCPingActive(state)
	if err != nil {
		return nil, err
	}
	return map[string]any{"OldPingState": old}, nil
}
