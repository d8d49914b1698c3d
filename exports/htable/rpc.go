package htable

import (
	"context"
	"fmt"
	"sort"

	"kemi/core"
)

// The htable.* RPC methods (rpc: in module.yaml), with Kamailio's shapes.

func rpcTable(rt *core.Runtime, method string, args []core.Value) (*Table, error) {
	name, err := core.RPCArgStr(method, args, 0, "table")
	if err != nil {
		return nil, err
	}
	t := Of(rt).Table(name)
	if t == nil {
		return nil, fmt.Errorf("%s: table %q not found", method, name)
	}
	return t, nil
}

func itemValue(it *item) any {
	if it.str {
		return it.s
	}
	return it.n
}

// htable.dump TABLE: [{"entry": N, "size": n, "slot": [{"name", "value", "type"}]}],
// one entry per shard with items, as Kamailio lists its slots.
func rpcDump(rt *core.Runtime, args []core.Value) (any, error) {
	t, err := rpcTable(rt, "htable.dump", args)
	if err != nil {
		return nil, err
	}
	type kv struct {
		k string
		v any
		t string
	}
	var items []kv
	t.Each(func(k string, it *item) action {
		typ := "int"
		if it.str {
			typ = "str"
		}
		items = append(items, kv{k, itemValue(it), typ})
		return keep
	})
	sort.Slice(items, func(i, j int) bool { return items[i].k < items[j].k })
	slot := []any{}
	for _, i := range items {
		slot = append(slot, map[string]any{"name": i.k, "value": i.v, "type": i.t})
	}
	out := []any{}
	if len(slot) > 0 {
		out = append(out, map[string]any{"entry": 0, "size": len(slot), "slot": slot})
	}
	return out, nil
}

// htable.get TABLE KEY: {"item": {"name", "value"}}.
func rpcGet(rt *core.Runtime, args []core.Value) (any, error) {
	t, err := rpcTable(rt, "htable.get", args)
	if err != nil {
		return nil, err
	}
	key, err := core.RPCArgStr("htable.get", args, 1, "key")
	if err != nil {
		return nil, err
	}
	it, ok := t.Get(key)
	if !ok {
		return nil, fmt.Errorf("htable.get: key %q not found in %s", key, t.Name)
	}
	return map[string]any{"item": map[string]any{"name": key, "value": itemValue(&it)}}, nil
}

// htable.sets TABLE KEY VALUE.
func rpcSets(rt *core.Runtime, args []core.Value) (any, error) {
	t, err := rpcTable(rt, "htable.sets", args)
	if err != nil {
		return nil, err
	}
	key, err := core.RPCArgStr("htable.sets", args, 1, "key")
	if err != nil {
		return nil, err
	}
	v, err := core.RPCArgStr("htable.sets", args, 2, "value")
	if err != nil {
		return nil, err
	}
	t.Set(key, item{s: v, str: true}, 0)
	return nil, nil
}

// htable.seti TABLE KEY VALUE.
func rpcSeti(rt *core.Runtime, args []core.Value) (any, error) {
	t, err := rpcTable(rt, "htable.seti", args)
	if err != nil {
		return nil, err
	}
	key, err := core.RPCArgStr("htable.seti", args, 1, "key")
	if err != nil {
		return nil, err
	}
	n, err := core.RPCArgInt("htable.seti", args, 2, "value")
	if err != nil {
		return nil, err
	}
	t.Set(key, item{n: n}, 0)
	return nil, nil
}

// htable.delete TABLE KEY.
func rpcDelete(rt *core.Runtime, args []core.Value) (any, error) {
	t, err := rpcTable(rt, "htable.delete", args)
	if err != nil {
		return nil, err
	}
	key, err := core.RPCArgStr("htable.delete", args, 1, "key")
	if err != nil {
		return nil, err
	}
	t.Delete(key)
	return nil, nil
}

// htable.flush TABLE: remove every item.
func rpcFlush(rt *core.Runtime, args []core.Value) (any, error) {
	t, err := rpcTable(rt, "htable.flush", args)
	if err != nil {
		return nil, err
	}
	t.Reset()
	return nil, nil
}

// htable.listTables: [{"name", "dbtable", "dbmode", "expire", "updateexpire", "size"}].
func rpcListTables(rt *core.Runtime, _ []core.Value) (any, error) {
	ts := Of(rt)
	out := []any{}
	names := make([]string, 0, len(ts.byName))
	for n := range ts.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := ts.byName[n]
		ue := 0
		if t.UpdateExpire {
			ue = 1
		}
		out = append(out, map[string]any{"name": n, "dbtable": t.DBTable, "dbmode": t.DBMode, "expire": int64(t.Autoexpire.Seconds()), "updateexpire": ue, "size": t.Len()})
	}
	return out, nil
}

// htable.reload TABLE: read a table shared through Redis (redis=, kemi's)
// again from Redis: {"table", "items"}. Kamailio reloads from its
// database; kemi has none behind htable, so other tables are an error.
func rpcReload(rt *core.Runtime, args []core.Value) (any, error) {
	t, err := rpcTable(rt, "htable.reload", args)
	if err != nil {
		return nil, err
	}
	if t.sync == nil {
		if t.DBTable == "" {
			return nil, fmt.Errorf("htable.reload: table %q has neither dbtable= (an SQL table) nor redis= (kemi's) to reload from", t.Name)
		}
		n, err := reloadDB(rt, t)
		if err != nil {
			return nil, fmt.Errorf("htable.reload: table %q: %v", t.Name, err)
		}
		return map[string]any{"table": t.Name, "items": n}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*syncTimeout)
	defer cancel()
	n, err := t.sync.load(ctx)
	if err != nil {
		return nil, fmt.Errorf("htable.reload: table %q: %v", t.Name, err)
	}
	return map[string]any{"table": t.Name, "items": n}, nil
}
