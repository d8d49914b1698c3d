package dispatcher

import (
	"net/netip"
	"strconv"
	"strings"

	"kemi/core"
	"kemi/sip"
)

// mark gives the destination last used a state.
func mark(ctx *core.Ctx, state, fn string) int {
	st := stateOf(ctx)
	if st.m == nil {
		return -1
	}
	f, err := ParseState(state)
	if err != nil {
		logErr(ctx, fn+": "+err.Error())
		return -1
	}
	d := st.currentDest(ctx)
	if d == nil {
		logErr(ctx, fn+": no destination was selected for this message")
		return -1
	}
	st.m.SetState(d, f, 0, "")
	return 1
}

func stateOf(ctx *core.Ctx) *msgState { return state(ctx) }

// currentDest is the destination last used: the current one of the list,
// else the one whose URI is $du.
func (st *msgState) currentDest(ctx *core.Ctx) *Dest {
	if st.pos >= 0 && st.pos < st.n {
		return st.dests[st.pos]
	}
	if ctx.DstURI != "" {
		for _, s := range st.m.list.Load().Sets {
			for _, d := range s.Dests {
				if d.URI == ctx.DstURI {
					return d
				}
			}
		}
	}
	return nil
}

// MarkDst is ds_mark_dst: the destination last used turns inactive.
func MarkDst(ctx *core.Ctx) int { return mark(ctx, "i", "ds_mark_dst") }

// MarkDstState is ds_mark_dst_state.
func MarkDstState(ctx *core.Ctx, state string) int { return mark(ctx, state, "ds_mark_dst") }

// MarkAddr is ds_mark_addr.
func MarkAddr(ctx *core.Ctx, state string, set int, uri string) int {
	st := stateOf(ctx)
	if st.m == nil {
		return -1
	}
	f, err := ParseState(state)
	if err != nil {
		logErr(ctx, "ds_mark_addr: "+err.Error())
		return -1
	}
	d := st.m.list.Load().Find(set, uri)
	if d == nil {
		logErr(ctx, "ds_mark_addr: no destination "+core.LogQuote(uri)+" in set "+strconv.Itoa(set))
		return -1
	}
	st.m.SetState(d, f, 0, "")
	return 1
}

// Matching modes of ds_is_from_list.
const (
	MatchNoPort  = 1
	MatchNoProto = 2
	MatchActive  = 4
	matchDefault = MatchNoProto // no mode given: IP and port
	matchAllSets = -1
)

func fromList(ctx *core.Ctx, set, mode int, uri, fn string) int {
	st := state(ctx)
	if st.m == nil {
		return -1
	}
	addr, proto := ctx.Src, ctx.Proto
	if uri != "" {
		u, err := sip.ParseURI([]byte(uri))
		a, ok := u.HostAddr()
		if err != nil || !ok {
			logErr(ctx, fn+": "+core.LogQuote(uri)+": expected a SIP URI with an IP address")
			return -1
		}
		port := u.Port
		proto = core.UDP
		if t, ok := u.Param("transport"); ok {
			switch strings.ToLower(string(t)) {
			case "tcp":
				proto = core.TCP
			case "tls":
				proto = core.TLS
			case "ws", "wss":
				proto = core.WS
			}
		}
		if port == 0 {
			port = 5060
			if u.IsSecure() {
				port = 5061
			}
		}
		addr = netip.AddrPortFrom(a.Unmap(), uint16(port))
	}
	ip := addr.Addr().Unmap()
	for _, s := range st.m.list.Load().Sets {
		if set != matchAllSets && s.ID != set {
			continue
		}
		for _, d := range s.Dests {
			if !d.Addr.IsValid() || d.Addr.Addr() != ip {
				continue
			}
			if mode&MatchNoPort == 0 && d.Addr.Port() != addr.Port() {
				continue
			}
			if mode&MatchNoProto == 0 && d.Proto != proto {
				continue
			}
			if mode&MatchActive != 0 && !d.usable() {
				continue
			}
			st.last = s
			st.m.setPVs(ctx, d)
			return 1
		}
	}
	return -1
}

// setPVs writes setid_pvname and attrs_pvname after a match.
func (m *Module) setPVs(ctx *core.Ctx, d *Dest) {
	if m.setidPV.set != nil {
		_ = m.setidPV.set(ctx, m.setidPV.arg, core.Int(int64(d.Set)))
	}
	if m.attrsPV.set != nil {
		_ = m.attrsPV.set(ctx, m.attrsPV.arg, core.Str(d.Attrs))
	}
}

// IsFromLists is ds_is_from_lists.
func IsFromLists(ctx *core.Ctx) int {
	return fromList(ctx, matchAllSets, matchDefault, "", "ds_is_from_lists")
}

// IsFromList is ds_is_from_list.
func IsFromList(ctx *core.Ctx, set int) int {
	return fromList(ctx, set, matchDefault, "", "ds_is_from_list")
}

// IsFromListMode is ds_is_from_list_mode.
func IsFromListMode(ctx *core.Ctx, set, mode int) int {
	return fromList(ctx, set, mode, "", "ds_is_from_list")
}

// IsFromListURI is ds_is_from_list_uri.
func IsFromListURI(ctx *core.Ctx, set, mode int, uri string) int {
	return fromList(ctx, set, mode, uri, "ds_is_from_list")
}

// IsActive is ds_is_active.
func IsActive(ctx *core.Ctx, set int) int { return IsActiveURI(ctx, set, "") }

// IsActiveURI is ds_is_active_uri.
func IsActiveURI(ctx *core.Ctx, set int, uri string) int {
	st := state(ctx)
	if st.m == nil {
		return -1
	}
	s := st.m.list.Load().Set(set)
	if s == nil {
		return -1
	}
	st.last = s
	for _, d := range s.Dests {
		if (uri == "" || d.URI == uri) && d.usable() {
			return 1
		}
	}
	return -1
}

// ListExists is ds_list_exists.
func ListExists(ctx *core.Ctx, set int) int {
	st := state(ctx)
	if st.m == nil || st.m.list.Load().Set(set) == nil {
		return -1
	}
	return 1
}

// Reload is ds_reload.
func Reload(ctx *core.Ctx) int {
	st := state(ctx)
	if st.m == nil {
		return -1
	}
	if err := st.m.Reload(); err != nil {
		logErr(ctx, "ds_reload: "+core.LogValue(err.Error()))
		return -1
	}
	return 1
}

// The pseudo-variables: $dsv(code|reason|flags) in the event callback,
// $dsg(count|active|inactive) of the set last used by this message.
func getDsv(ctx *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	ev := evStates.Peek(ctx)
	if ev == nil || ev.d == nil {
		return dst, false
	}
	switch arg {
	case "code":
		return strconv.AppendInt(dst, int64(ev.code), 10), true
	case "reason":
		return append(dst, ev.reason...), true
	case "flags":
		return append(dst, StateLetters(ev.d.Flags())...), true
	}
	return dst, false
}

func getDsg(ctx *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	st := state(ctx)
	s := st.last
	if s == nil {
		return dst, false
	}
	n, act := 0, 0
	for _, d := range s.Dests {
		n++
		if d.usable() {
			act++
		}
	}
	switch arg {
	case "count":
		return strconv.AppendInt(dst, int64(n), 10), true
	case "active":
		return strconv.AppendInt(dst, int64(act), 10), true
	case "inactive":
		return strconv.AppendInt(dst, int64(n-act), 10), true
	}
	return dst, false
}
