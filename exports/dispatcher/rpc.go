package dispatcher

import (
	"fmt"
	"strconv"
)

// The functions behind Kamailio's RPC commands: they take and return
// plain Go values; rpc_methods.go serves them as dispatcher.list,
// dispatcher.set_state, dispatcher.reload and dispatcher.ping_active.

// RPCDest is one destination in dispatcher.list.
type RPCDest struct {
	URI      string `json:"URI"`
	Flags    string `json:"FLAGS"` // AX, IP, TX, DX...
	Priority int    `json:"PRIORITY"`
	Attrs    string `json:"BODY,omitempty"`
	DUID     string `json:"DUID,omitempty"`
	MaxLoad  int    `json:"MAXLOAD"`
	Weight   int    `json:"WEIGHT"`
	RWeight  int    `json:"RWEIGHT"`
	Socket   string `json:"SOCKET,omitempty"`
}

// RPCSet is one set in dispatcher.list.
type RPCSet struct {
	ID    int       `json:"SET_ID"`
	Dests []RPCDest `json:"TARGETS"`
}

// RPCList is dispatcher.list: every set with its destinations and their
// state letters.
func (m *Module) RPCList() []RPCSet {
	var out []RPCSet
	for _, s := range m.list.Load().Sets {
		rs := RPCSet{ID: s.ID}
		for _, d := range s.Dests {
			rs.Dests = append(rs.Dests, RPCDest{URI: d.URI, Flags: StateLetters(d.Flags()), Priority: d.Priority,
				Attrs: d.Attrs, DUID: d.DUID, MaxLoad: d.MaxLoad, Weight: d.Weight, RWeight: d.RWeight, Socket: d.Socket})
		}
		out = append(out, rs)
	}
	return out
}

// RPCSetState is dispatcher.set_state: state ("ip", "a"...) for the
// destination of set whose URI is addr, or every one of the set with
// "all". It returns how many destinations changed.
func (m *Module) RPCSetState(state string, set int, addr string) (int, error) {
	f, err := ParseState(state)
	if err != nil {
		return 0, fmt.Errorf("dispatcher.set_state: %w", err)
	}
	s := m.list.Load().Set(set)
	if s == nil {
		return 0, fmt.Errorf("dispatcher.set_state: no destination set %d", set)
	}
	n := 0
	for _, d := range s.Dests {
		if addr == "all" || d.URI == addr {
			// Set as given: an RPC "t" counts no failure, it is the state.
			old := d.flags.Load()
			d.flags.Store(f)
			d.fails.Store(0)
			d.oks.Store(0)
			m.transition(d, old, f, 0, "")
			n++
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("dispatcher.set_state: no destination %s in set %d", strconv.Quote(addr), set)
	}
	return n, nil
}

// RPCReload is dispatcher.reload.
func (m *Module) RPCReload() error { return m.Reload() }

// RPCPingActive is dispatcher.ping_active: with state nil it gives the
// current state (1 sending keepalives, 0 not); with a state it sets it
// and gives the old one.
func (m *Module) RPCPingActive(state *int) (old int, err error) {
	p := m.prober
	if p == nil {
		return 0, fmt.Errorf("dispatcher.ping_active: the prober is not running")
	}
	if p.active.Load() {
		old = 1
	}
	if state == nil {
		return old, nil
	}
	if *state != 0 && *state != 1 {
		return old, fmt.Errorf("dispatcher.ping_active: state %d: expected 0 or 1", *state)
	}
	p.active.Store(*state == 1)
	return old, nil
}
