package pv

import (
	"errors"
	"strconv"

	"kemi/core"
	"kemi/sip"
)

// state is the per-message pseudo-variable store of one worker's Ctx:
// $var and $avp values and a buffer getters append into. A new message
// empties the maps but keeps them (and their AVP slices), so nothing is
// allocated per message once they have grown to the script's working set.
type state struct {
	vars  map[string]core.Value
	avps  map[string][]core.Value
	xavps map[string][]xitem
	buf   []byte

	// fresh: the varset defaults are still to be set for this message.
	fresh bool
}

var stores = core.NewMsgState(func(old *state) state {
	st := state{vars: old.vars, avps: old.avps, xavps: old.xavps, buf: old.buf, fresh: true}
	if st.vars == nil || len(st.vars) > maxNames {
		st.vars = map[string]core.Value{}
	}
	clear(st.vars)
	if st.avps == nil || len(st.avps) > maxNames {
		st.avps = map[string][]core.Value{}
	}
	for k, v := range st.avps {
		st.avps[k] = v[:0]
	}
	if st.xavps == nil || len(st.xavps) > maxNames {
		st.xavps = map[string][]xitem{}
	}
	for k, v := range st.xavps {
		st.xavps[k] = v[:0]
	}
	return st
})

// store returns ctx's store, emptied if it belongs to an earlier message.
func store(ctx *core.Ctx) *state {
	st := stores.Get(ctx)
	if st.fresh {
		st.fresh = false
		if vs := varsets.Peek(ctx.RT); vs != nil {
			for _, d := range vs.defs {
				st.vars[d.name] = d.v
			}
		}
	}
	return st
}

// Var returns $var(name) for ctx, and whether it is set. Other modules
// (and tests) read script variables through it.
func Var(ctx *core.Ctx, name string) (core.Value, bool) {
	v, ok := store(ctx).vars[name]
	return v, ok
}

// AVP returns the newest value of $avp(name), and whether there is one.
func AVP(ctx *core.Ctx, name string) (core.Value, bool) {
	vs := store(ctx).avps[avpName(name)]
	if len(vs) == 0 {
		return core.Value{}, false
	}
	return vs[len(vs)-1], true
}

// AddAVP adds v as the newest value of $avp(name).
func AddAVP(ctx *core.Ctx, name string, v core.Value) {
	st := store(ctx)
	n := avpName(name)
	st.avps[n] = append(st.avps[n], v)
}

// RemoveAVP removes every value of $avp(name).
func RemoveAVP(ctx *core.Ctx, name string) {
	st := store(ctx)
	n := avpName(name)
	if vs, ok := st.avps[n]; ok {
		st.avps[n] = vs[:0]
	}
}

// SetVar sets $var(name); null unsets it.
func SetVar(ctx *core.Ctx, name string, v core.Value) {
	st := store(ctx)
	if v.IsNull() {
		delete(st.vars, name)
		return
	}
	st.vars[name] = v
}

// avpName drops the "s:" / "i:" type prefix Kamailio AVP names may carry.
func avpName(n string) string {
	if len(n) > 2 && (n[0] == 's' || n[0] == 'i') && n[1] == ':' {
		return n[2:]
	}
	return n
}

func appendValue(dst []byte, v core.Value) ([]byte, bool) {
	switch v.Kind {
	case core.KInt, core.KBool:
		return strconv.AppendInt(dst, v.I, 10), true
	case core.KStr:
		return append(dst, v.S...), true
	}
	return dst, false
}

// uriPart selects a piece of a URI for the $xU, $xd, $xp getters.
type uriPart uint8

const (
	partUser uriPart = iota
	partHost
	partPort
)

// appendURIPart appends the user, host or port of uri. A missing user or
// host is null; a missing port is 5060 (5061 for sips), as Kamailio gives.
func appendURIPart(dst, uri []byte, part uriPart) ([]byte, bool) {
	u, err := sip.ParseURI(uri)
	if err != nil {
		return dst, false
	}
	switch part {
	case partUser:
		if len(u.User) == 0 {
			return dst, false
		}
		return append(dst, u.User...), true
	case partHost:
		if len(u.Host) == 0 {
			return dst, false
		}
		return append(dst, u.Host...), true
	}
	if u.Port == 0 {
		if u.IsSecure() {
			return append(dst, "5061"...), true
		}
		return append(dst, "5060"...), true
	}
	return strconv.AppendInt(dst, int64(u.Port), 10), true
}

func ruri(c *core.Ctx) []byte {
	if !c.Msg.IsRequest() {
		return nil
	}
	return c.Msg.RequestURI()
}

func fromURI(c *core.Ctx) []byte {
	n, err := c.Msg.From()
	if err != nil {
		return nil
	}
	return n.URI
}

func toURI(c *core.Ctx) []byte {
	n, err := c.Msg.To()
	if err != nil {
		return nil
	}
	return n.URI
}

func bytesPV(get func(*core.Ctx) []byte) core.PVGetter {
	return func(c *core.Ctx, _ string, dst []byte) ([]byte, bool) {
		b := get(c)
		if b == nil {
			return dst, false
		}
		return append(dst, b...), true
	}
}

func partPV(get func(*core.Ctx) []byte, part uriPart) core.PVGetter {
	return func(c *core.Ctx, _ string, dst []byte) ([]byte, bool) {
		u := get(c)
		if u == nil {
			return dst, false
		}
		return appendURIPart(dst, u, part)
	}
}

func intPV(get func(*core.Ctx) (int, bool)) core.PVGetter {
	return func(c *core.Ctx, _ string, dst []byte) ([]byte, bool) {
		n, ok := get(c)
		if !ok {
			return dst, false
		}
		return strconv.AppendInt(dst, int64(n), 10), true
	}
}

// intPVs are the pseudo-variables whose value is an integer, so that
// KSR.pv.get returns a number for them as Kamailio does.
var intPVs = map[string]bool{
	"rp": true, "sp": true, "rs": true, "ml": true, "bs": true, "cl": true,
	"Rp": true, "conid": true, "mt": true, "T_branch_idx": true, "T_reply_code": true,
	"T": true, "http_ok": true, "http_rs": true, "http_bs": true,
}

// IsIntPV tells whether $name is integer-valued. The tm module's PVs are
// in the list so that their values come back as numbers.
func IsIntPV(name string) bool { return intPVs[name] }

// The getters and setters module.yaml names (pvs:).

var getRU = partPV(ruri, partUser)

var getRd = partPV(ruri, partHost)

var getRp = partPV(ruri, partPort)

var getOu = bytesPV(func(c *core.Ctx) []byte {
	if !c.Msg.IsRequest() {
		return nil
	}
	return requestLineURI(c.Msg)
})

func getDu(c *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	if c.DstURI == "" {
		return dst, false
	}
	return append(dst, c.DstURI...), true
}

var getFu = bytesPV(fromURI)

var getFU = partPV(fromURI, partUser)

var getFd = partPV(fromURI, partHost)

var getFn = bytesPV(func(c *core.Ctx) []byte {
	n, err := c.Msg.From()
	if err != nil || n.Display == nil {
		return nil
	}
	return n.DisplayName()
})

var getFt = bytesPV(func(c *core.Ctx) []byte { return c.Msg.FromTag() })

var getTu = bytesPV(toURI)

var getTU = partPV(toURI, partUser)

var getTd = partPV(toURI, partHost)

var getTn = bytesPV(func(c *core.Ctx) []byte {
	n, err := c.Msg.To()
	if err != nil || n.Display == nil {
		return nil
	}
	return n.DisplayName()
})

var getTt = bytesPV(func(c *core.Ctx) []byte { return c.Msg.ToTag() })

var getRr = bytesPV(func(c *core.Ctx) []byte {
	if c.Msg.IsRequest() {
		return nil
	}
	return c.Msg.Reason()
})

var getRv = bytesPV(func(c *core.Ctx) []byte { return c.Msg.Version() })

var getCt = bytesPV(func(c *core.Ctx) []byte { return c.Msg.HeaderID(sip.HdrContact) })

var getCT = bytesPV(func(c *core.Ctx) []byte { return c.Msg.ContentType() })

var getCl = intPV(func(c *core.Ctx) (int, bool) {
	n := c.Msg.ContentLength()
	return n, n >= 0
})

var getMb = bytesPV(func(c *core.Ctx) []byte { return c.Msg.Raw() })

var getMl = intPV(func(c *core.Ctx) (int, bool) { return len(c.Msg.Raw()), true })

var getRb = bytesPV(func(c *core.Ctx) []byte { return c.Msg.Body() })

var getBs = intPV(func(c *core.Ctx) (int, bool) { return len(c.Msg.Body()), true })

func getRecvIP(c *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	if !c.Local.IsValid() {
		return dst, false
	}
	return c.Local.Addr().AppendTo(dst), true
}

var getRecvPort = intPV(func(c *core.Ctx) (int, bool) { return int(c.Local.Port()), c.Local.IsValid() })

// getConid is $conid: the TCP/TLS connection the message came on; null
// for UDP, as in Kamailio.
var getConid = intPV(func(c *core.Ctx) (int, bool) { return int(c.ConnID), c.ConnID != 0 })

// getProto is $pr and $proto: the transport the message came on,
// lowercase ("udp", "tcp", "tls").
func getProto(c *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	if c.Proto == 0 {
		return dst, false
	}
	return append(dst, c.Proto.String()...), true
}

func getVar(c *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	v, ok := store(c).vars[arg]
	if !ok {
		return dst, false
	}
	return appendValue(dst, v)
}

func getAvp(c *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	v, ok := AVP(c, arg)
	if !ok {
		return dst, false
	}
	return appendValue(dst, v)
}

func setVar(c *core.Ctx, arg string, v core.Value) error {
	st := store(c)
	if v.IsNull() {
		delete(st.vars, arg)
		return nil
	}
	st.vars[arg] = v
	return nil
}

func setAvp(c *core.Ctx, arg string, v core.Value) error {
	st := store(c)
	n := avpName(arg)
	if v.IsNull() {
		st.avps[n] = st.avps[n][:0]
		return nil
	}
	st.avps[n] = append(st.avps[n], v)
	return nil
}

func setDu(c *core.Ctx, _ string, v core.Value) error {
	if v.IsNull() {
		c.DstURI = ""
		return nil
	}
	if v.Kind != core.KStr {
		return errNeedStr("$du", v)
	}
	if !core.LineOK(v.S) {
		return errLineBreak
	}
	c.DstURI = v.S
	return nil
}

func setRu(c *core.Ctx, _ string, v core.Value) error {
	if v.Kind != core.KStr || v.S == "" {
		return errNeedStr("$ru", v)
	}
	if !c.Msg.IsRequest() {
		return errReply("$ru")
	}
	if !core.LineOK(v.S) {
		return errLineBreak
	}
	c.Scratch = append(c.Scratch[:0], v.S...)
	c.Msg.SetRequestURI(c.Scratch)
	return nil
}

var setRU = ruriPartSetter("$rU", partUser)

var setRd = ruriPartSetter("$rd", partHost)

var setRp = ruriPartSetter("$rp", partPort)

// requestLineURI is the Request-URI as received, before any edit.
func requestLineURI(m *sip.Msg) []byte {
	raw := m.Raw()
	sp := indexByte(raw, ' ')
	if sp < 0 {
		return nil
	}
	rest := raw[sp+1:]
	end := indexByte(rest, ' ')
	if end < 0 {
		return nil
	}
	return rest[:end]
}

func indexByte(b []byte, c byte) int {
	for i := range b {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// errLineBreak refuses a value with CR, LF or NUL for a pseudo-variable
// that is written into the message ($ru and its parts, $du): it would
// split the request line or a header. set turns it into a script error.
var errLineBreak = errors.New("CR, LF or NUL in a message value")

type pvError struct{ msg string }

func (e *pvError) Error() string { return e.msg }

func errNeedStr(name string, v core.Value) error {
	return &pvError{name + ": expected a non-empty string, got " + v.Kind.String()}
}

func errReply(name string) error {
	return &pvError{name + ": the message is a reply, it has no Request-URI"}
}

// ruriPartSetter replaces the user, host or port of the Request-URI,
// keeping every other byte. A null or empty user removes the userinfo; a
// null or 0 port removes the port.
func ruriPartSetter(name string, part uriPart) core.PVSetter {
	return func(c *core.Ctx, _ string, v core.Value) error {
		if !c.Msg.IsRequest() {
			return errReply(name)
		}
		var val []byte
		var num [20]byte
		switch v.Kind {
		case core.KNull:
		case core.KStr:
			if !core.LineOK(v.S) {
				return errLineBreak
			}
			val = []byte(v.S)
		case core.KInt:
			val = strconv.AppendInt(num[:0], v.I, 10)
		default:
			return errNeedStr(name, v)
		}
		if part == partHost && len(val) == 0 {
			return errNeedStr(name, v)
		}
		if part == partPort && len(val) == 1 && val[0] == '0' {
			val = nil
		}
		uri := c.Msg.RequestURI()
		b, err := ReplaceURIPart(c.Scratch[:0], uri, part == partUser, part == partHost, val)
		if err != nil {
			return &pvError{name + ": " + err.Error()}
		}
		c.Scratch = b
		c.Msg.SetRequestURI(b)
		return nil
	}
}

// ReplaceURIPart appends to dst a copy of the SIP URI uri with its user
// (user true), host (host true) or else port replaced by val; an empty val
// removes the user (and '@') or the port (and ':').
func ReplaceURIPart(dst, uri []byte, user, host bool, val []byte) ([]byte, error) {
	u, err := sip.ParseURI(uri)
	if err != nil {
		return dst, err
	}
	if !u.IsSIP() {
		return dst, &pvError{"not a sip: or sips: URI: " + strconv.Quote(string(uri))}
	}
	off := func(f []byte) int { return cap(uri) - cap(f) }
	hs, he := off(u.Host), off(u.Host)+len(u.Host)
	switch {
	case user:
		// userinfo runs from after "scheme:" to the '@' (password kept).
		us := len(u.Scheme) + 1
		if u.User == nil && !u.HasPassword() {
			if len(val) == 0 {
				return append(dst, uri...), nil
			}
			dst = append(dst, uri[:us]...)
			dst = append(dst, val...)
			dst = append(dst, '@')
			return append(dst, uri[us:]...), nil
		}
		ue := us + len(u.User)
		if len(val) == 0 {
			dst = append(dst, uri[:us]...)
			return append(dst, uri[hs:]...), nil
		}
		dst = append(dst, uri[:us]...)
		dst = append(dst, val...)
		return append(dst, uri[ue:]...), nil
	case host:
		dst = append(dst, uri[:hs]...)
		dst = append(dst, val...)
		return append(dst, uri[he:]...), nil
	}
	pe := he
	if pe < len(uri) && uri[pe] == ':' {
		pe++
		for pe < len(uri) && uri[pe] >= '0' && uri[pe] <= '9' {
			pe++
		}
	}
	dst = append(dst, uri[:he]...)
	if len(val) > 0 {
		dst = append(dst, ':')
		dst = append(dst, val...)
	}
	return append(dst, uri[pe:]...), nil
}
