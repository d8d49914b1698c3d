package dialog

import (
	"errors"
	"fmt"
	"sort"

	"kemi/core"
)

// RPCDialog is one dialog in dlg.list.
type RPCDialog struct {
	HEntry   uint32            `json:"h_entry"`
	HID      uint32            `json:"h_id"`
	CallID   string            `json:"call-id"`
	FromURI  string            `json:"from_uri"`
	FromTag  string            `json:"from_tag"`
	ToURI    string            `json:"to_uri"`
	ToTag    string            `json:"to_tag"`
	State    int               `json:"state"`
	StartTS  int64             `json:"start_ts"`
	InitTS   int64             `json:"init_ts"`
	Timeout  int               `json:"timeout"`
	Flags    uint32            `json:"sflags"`
	Caller   string            `json:"caller_contact"`
	Callee   string            `json:"callee_contact"`
	Vars     map[string]string `json:"variables,omitempty"`
	Profiles []string          `json:"profiles,omitempty"`
}

func (m *Module) module(rt *core.Runtime) (*Module, error) {
	if m = Of(rt); m == nil {
		return nil, errors.New("module dialog is not started")
	}
	return m, nil
}

func snapshot(d *Dialog) RPCDialog {
	r := RPCDialog{HEntry: d.Entry, HID: d.ID, CallID: d.CallID, FromURI: d.FromURI, FromTag: d.FromTag,
		ToURI: d.ToURI, ToTag: d.ToTag, State: d.State, StartTS: d.StartTS, InitTS: d.Created,
		Timeout: d.Timeout, Flags: d.Flags, Caller: d.CallerContact, Callee: d.CalleeContact}
	if len(d.vars) > 0 {
		r.Vars = make(map[string]string, len(d.vars))
		for k, v := range d.vars {
			r.Vars[k] = v
		}
	}
	for _, l := range d.profiles {
		n := l.p.name
		if l.p.withValue {
			n += "=" + l.value
		}
		r.Profiles = append(r.Profiles, n)
	}
	return r
}

// rpcList is dlg.list (and dlg.dlg_list with a Call-ID, and optionally a
// From tag, as its arguments): the dialogs, ordered by entry and id.
func rpcList(rt *core.Runtime, args []core.Value) (any, error) {
	m, err := (*Module)(nil).module(rt)
	if err != nil {
		return nil, err
	}
	var callID, fromTag string
	if len(args) > 0 {
		callID = args[0].String()
	}
	if len(args) > 1 {
		fromTag = args[1].String()
	}
	m.mu.Lock()
	out := make([]RPCDialog, 0, len(m.byKey))
	for _, d := range m.byKey {
		if (callID == "" || d.CallID == callID) && (fromTag == "" || d.FromTag == fromTag) {
			out = append(out, snapshot(d))
		}
	}
	m.unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].HEntry != out[j].HEntry {
			return out[i].HEntry < out[j].HEntry
		}
		return out[i].HID < out[j].HID
	})
	return out, nil
}

// rpcEndDlg is dlg.end_dlg h_entry h_id: ends an answered dialog with a
// BYE to both sides.
func rpcEndDlg(rt *core.Runtime, args []core.Value) (any, error) {
	m, err := (*Module)(nil).module(rt)
	if err != nil {
		return nil, err
	}
	if len(args) < 2 {
		return nil, errors.New("dlg.end_dlg: expected h_entry and h_id")
	}
	e, ok1 := core.IntArg(args[0].String())
	id, ok2 := core.IntArg(args[1].String())
	if !ok1 || !ok2 || e < 0 || id < 0 || e > 1<<32-1 || id > 1<<32-1 {
		return nil, fmt.Errorf("dlg.end_dlg: expected two numbers, got %s %s", core.LogQuote(args[0].String()), core.LogQuote(args[1].String()))
	}
	m.mu.Lock()
	d := m.byID[uint64(e)<<32|uint64(id)]
	if d == nil || !d.answered {
		m.unlock()
		return nil, fmt.Errorf("dlg.end_dlg: no answered dialog %d:%d", e, id)
	}
	out, to, from := m.tmr.byes(d, "all", nil, nil, nil)
	m.end(d)
	m.unlock()
	m.tmr.send(out, to, from)
	return "OK", nil
}

// rpcProfileGetSize is dlg.profile_get_size profile [value].
func rpcProfileGetSize(rt *core.Runtime, args []core.Value) (any, error) {
	m, err := (*Module)(nil).module(rt)
	if err != nil {
		return nil, err
	}
	if len(args) < 1 {
		return nil, errors.New("dlg.profile_get_size: expected a profile name")
	}
	var value string
	if len(args) > 1 {
		value = args[1].String()
	}
	n := m.ProfileSize(args[0].String(), value)
	if n < 0 {
		return nil, fmt.Errorf("dlg.profile_get_size: no profile %s", core.LogQuote(args[0].String()))
	}
	return map[string]any{"profile": args[0].String(), "value": value, "count": n}, nil
}

// rpcStatsActive is dlg.stats_active: dialogs by state.
func rpcStatsActive(rt *core.Runtime, _ []core.Value) (any, error) {
	m, err := (*Module)(nil).module(rt)
	if err != nil {
		return nil, err
	}
	var st [6]int
	m.mu.Lock()
	for _, d := range m.byKey {
		st[d.State]++
	}
	m.unlock()
	return map[string]int{"starting": st[StateUnconfirmed], "connecting": st[StateEarly],
		"answering": st[StateConfirmedNA], "ongoing": st[StateConfirmed],
		"all": st[1] + st[2] + st[3] + st[4]}, nil
}
