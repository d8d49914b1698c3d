package usrloc

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"kemi/core"
)

// The ul.* RPC methods (rpc: in module.yaml), with Kamailio's shapes.

// Records copies the table's records (for ul.dump), sorted by AoR.
func (t *Table) Records() []Record {
	var out []Record
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		for _, r := range s.recs {
			if len(r.Contacts) > 0 {
				out = append(out, Record{AoR: r.AoR, Contacts: append([]Contact(nil), r.Contacts...)})
			}
		}
		s.mu.RUnlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AoR < out[j].AoR })
	return out
}

func rpcContact(c *Contact, now int64) map[string]any {
	return map[string]any{"Contact": map[string]any{
		"Address": c.URI, "Expires": c.Expires - now, "Q": float64(c.Q) / 1000, "Call-ID": c.CallID,
		"CSeq": c.CSeq, "User-Agent": c.UserAgent, "Received": c.Received, "Path": c.Path,
		"State": "CS_SYNC", "Flags": 0, "CFlags": c.Flags, "Socket": c.Socket, "Methods": c.Methods,
		"Instance": c.Instance, "Reg-Id": c.RegID, "Last-Modified": c.Modified,
	}}
}

func rpcRecord(r *Record, now int64) map[string]any {
	cs := []any{}
	for i := range r.Contacts {
		cs = append(cs, rpcContact(&r.Contacts[i], now))
	}
	return map[string]any{"AoR": r.AoR, "Contacts": cs}
}

// ul.dump: {"Domains": [{"Domain": {"Domain": TABLE, "AoRs": [{"Info": {AoR, Contacts}}], "Stats": {"Records": N}}}]}.
func rpcDump(rt *core.Runtime, _ []core.Value) (any, error) {
	u := Get(rt)
	now := time.Now().Unix()
	doms := []any{}
	ts := u.Tables()
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	for _, t := range ts {
		aors := []any{}
		recs := t.Records()
		for i := range recs {
			aors = append(aors, map[string]any{"Info": rpcRecord(&recs[i], now)})
		}
		doms = append(doms, map[string]any{"Domain": map[string]any{
			"Domain": t.Name, "Size": nShards, "AoRs": aors, "Stats": map[string]any{"Records": len(recs), "Max-Slots": nShards},
		}})
	}
	return map[string]any{"Domains": doms}, nil
}

func tableAoR(rt *core.Runtime, method string, args []core.Value) (*Table, string, error) {
	table, err := core.RPCArgStr(method, args, 0, "table")
	if err != nil {
		return nil, "", err
	}
	aor, err := core.RPCArgStr(method, args, 1, "AoR")
	if err != nil {
		return nil, "", err
	}
	u := Get(rt)
	u.mu.Lock()
	t := u.tables[table]
	u.mu.Unlock()
	if t == nil {
		return nil, "", fmt.Errorf("%s: table %q not found", method, table)
	}
	return t, aorKey(u, aor), nil
}

// aorKey is the table key of an AoR given as user@domain or a SIP URI.
func aorKey(u *Usrloc, aor string) string {
	if len(aor) > 4 && (aor[:4] == "sip:" || aor[:4] == "sips") {
		if i := indexByte(aor, ':'); i >= 0 {
			aor = aor[i+1:]
		}
	}
	if !u.UseDomain {
		if i := indexByte(aor, '@'); i >= 0 {
			aor = aor[:i]
		}
	}
	return aor
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

var errNotFound = errors.New("AOR not found")

// ul.lookup TABLE AOR: {"AoR", "Contacts": [{"Contact": {...}}]}.
func rpcLookup(rt *core.Runtime, args []core.Value) (any, error) {
	t, aor, err := tableAoR(rt, "ul.lookup", args)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	now := time.Now().Unix()
	t.View([]byte(aor), func(r *Record) {
		if r != nil && len(r.Contacts) > 0 {
			out = rpcRecord(r, now)
		}
	})
	if out == nil {
		return nil, fmt.Errorf("ul.lookup: %q: %w", aor, errNotFound)
	}
	return out, nil
}

// ul.rm TABLE AOR: delete the AoR's bindings.
func rpcRm(rt *core.Runtime, args []core.Value) (any, error) {
	if len(args) > 2 { // ul.rm TABLE AOR CONTACT, as kamcli's ul rm -c sends it
		return rpcRmContact(rt, args)
	}
	t, aor, err := tableAoR(rt, "ul.rm", args)
	if err != nil {
		return nil, err
	}
	found, err := t.DeleteErr([]byte(aor))
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("ul.rm: %q: %w", aor, errNotFound)
	}
	return nil, nil
}

// ul.rm_contact TABLE AOR CONTACT: delete one binding.
func rpcRmContact(rt *core.Runtime, args []core.Value) (any, error) {
	t, aor, err := tableAoR(rt, "ul.rm_contact", args)
	if err != nil {
		return nil, err
	}
	uri, err := core.RPCArgStr("ul.rm_contact", args, 2, "contact")
	if err != nil {
		return nil, err
	}
	found := false
	err = t.Update([]byte(aor), func(r *Record) bool {
		for i := range r.Contacts {
			if r.Contacts[i].URI == uri {
				r.Contacts = append(r.Contacts[:i], r.Contacts[i+1:]...)
				found = true
				return true
			}
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("ul.rm_contact: contact %q of %q not found", uri, aor)
	}
	return nil, nil
}

// ul.flush: write pending changes to the database now.
func rpcFlush(rt *core.Runtime, _ []core.Value) (any, error) {
	return nil, Get(rt).Flush()
}
