package dispatcher

import (
	"strconv"
	"sync"

	"kemi/core"
	"kemi/exports/dialog"
	"kemi/sip"
)

// Call load (algorithm 10), as Kamailio's: each destination counts the
// calls sent to it; a selection takes the usable destination with the
// fewest, skipping those at their maxload attribute. A call is counted
// from its selection (by Call-ID) until ds_load_unset, ds_load_update on
// its BYE or CANCEL, or the end of its dialog (module dialog: the calls
// of a failed or ended dialog are freed without a script call). The
// table of counted calls is bounded (maxLoadCalls); past it a selection
// by load fails (-1, logged) until calls end.

const maxLoadCalls = 1 << 17

type loadTable struct {
	mu    sync.Mutex
	calls map[string]*Dest
	dest  map[*Dest]int
}

func (m *Module) loads() *loadTable {
	m.loadOnce.Do(func() {
		m.callLoad = &loadTable{calls: map[string]*Dest{}, dest: map[*Dest]int{}}
		dialog.OnEnd(m.rt, func(d *dialog.Dialog) { m.callLoad.unset(d.CallID) })
	})
	return m.callLoad
}

// Load returns the calls counted for d.
func (m *Module) Load(d *Dest) int {
	t := m.loads()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dest[d]
}

// pickLoad picks the index of the usable destination of s.Dests[:n] with
// the fewest calls below its maxload, and counts the call on it.
func (m *Module) pickLoad(ctx *core.Ctx, s *Set, n int, fn string) (int, bool) {
	if ctx.Msg == nil || len(ctx.Msg.CallID()) == 0 {
		return 0, false
	}
	callID := string(ctx.Msg.CallID())
	t := m.loads()
	t.mu.Lock()
	defer t.mu.Unlock()
	if d, ok := t.calls[callID]; ok {
		// A retransmission or a spiral: the same destination again.
		for i, x := range s.Dests[:n] {
			if x == d && d.usable() {
				return i, true
			}
		}
		t.unsetLocked(callID)
	}
	if len(t.calls) >= maxLoadCalls {
		logErr(ctx, fn+": algorithm 10: too many calls counted (the table holds "+strconv.Itoa(maxLoadCalls)+"); ds_load_unset or module dialog frees them")
		return 0, false
	}
	best, bestLoad := -1, 0
	for i, d := range s.Dests[:n] {
		if !d.usable() {
			continue
		}
		l := t.dest[d]
		if d.MaxLoad > 0 && l >= d.MaxLoad {
			continue
		}
		if best < 0 || l < bestLoad {
			best, bestLoad = i, l
		}
	}
	if best < 0 {
		return 0, false
	}
	d := s.Dests[best]
	t.calls[callID] = d
	t.dest[d]++
	return best, true
}

func (t *loadTable) unset(callID string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.unsetLocked(callID)
}

func (t *loadTable) unsetLocked(callID string) bool {
	d, ok := t.calls[callID]
	if !ok {
		return false
	}
	delete(t.calls, callID)
	if n := t.dest[d] - 1; n > 0 {
		t.dest[d] = n
	} else {
		delete(t.dest, d)
	}
	return true
}

// LoadUpdate is ds_load_update: a BYE or CANCEL frees its call's load; a
// reply to the INVITE keeps it (a failure is freed by ds_load_unset in the
// failure route, or by module dialog).
func LoadUpdate(ctx *core.Ctx) int {
	m := Of(ctx.RT)
	if m == nil || ctx.Msg == nil {
		return -1
	}
	if ctx.Msg.IsRequest() {
		switch ctx.Msg.MethodID() {
		case sip.MethodBYE, sip.MethodCANCEL:
			if m.loads().unset(string(ctx.Msg.CallID())) {
				return 1
			}
			return -1
		}
		return -1
	}
	return 1
}

// LoadUnset is ds_load_unset: free the load of the message's call.
func LoadUnset(ctx *core.Ctx) int {
	m := Of(ctx.RT)
	if m == nil || ctx.Msg == nil {
		return -1
	}
	if m.loads().unset(string(ctx.Msg.CallID())) {
		return 1
	}
	return -1
}
