// Package nathelper implements module nathelper: NAT detection
// (nat_uac_test, nat.go) and the Contact, Request-URI and registration
// fixes that keep a client behind NAT reachable.
//
// Contact changes are edits of the message (lumps): the first Contact line
// is replaced by a copy with the new URI, built in a buffer the worker
// keeps, so they allocate nothing once warm. As in Kamailio the parsed
// message does not change, so one message's Contact is changed once; a
// second change returns -1 instead of corrupting it.
package nathelper

import (
	"bytes"
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"kemi/core"
	"kemi/exports/usrloc"
	"kemi/sip"
)

// state is one worker's per-message state and buffers.
type state struct {
	*params // the module params of the message's runtime

	contactDone bool
	line        []byte // the new Contact header value
	uri         []byte // scratch for URIs
	body, old   []byte // fix_nated_sdp: the new body, a=oldmediaip lines
}

// params are the module params, read once per runtime.
type params struct {
	addrMode int64
	avpName  string
	avpArg   string
	avpSet   core.PVSetter
	noRTP    string // nortpproxy_str
}

var msgStates = core.NewMsgState(func(old *state) state {
	return state{line: old.line[:0], uri: old.uri[:0], body: old.body[:0], old: old.old[:0]}
})

var runtimeParams = core.NewRuntimeState(readParams)

// defaultParams serve a Ctx without a runtime (tests).
var defaultParams = params{addrMode: 1, noRTP: "a=nortpproxy:yes"}

func readParams(rt *core.Runtime) *params {
	p := defaultParams
	if rt.Reg != nil {
		if v := rt.Param("nathelper", "nortpproxy_str"); v.Kind == core.KStr {
			p.noRTP = v.S
		}
		if v := rt.Param("nathelper", "nat_addr_mode"); v.Kind == core.KInt {
			p.addrMode = v.I
		}
		if v := rt.Param("nathelper", "received_avp"); v.Kind == core.KStr && v.S != "" {
			if name, arg, ok := core.SplitPV(v.S); ok {
				p.avpName, p.avpArg, p.avpSet = name, arg, core.LookupPVSetter(name)
			}
		}
	}
	return &p
}

func stateOf(ctx *core.Ctx) *state {
	st := msgStates.Get(ctx)
	if ctx.RT == nil {
		st.params = &defaultParams
	} else {
		st.params = runtimeParams.Get(ctx.RT)
	}
	return st
}

// cfg returns the cached module params.
func cfg(ctx *core.Ctx) *state { return stateOf(ctx) }

// Kamailio's transport numbers, used in alias parameters.
const (
	protoUDP  = 1
	protoTCP  = 2
	protoTLS  = 3
	protoSCTP = 4
	protoWS   = 5
	protoWSS  = 6
)

var protoNames = [...]string{"", "udp", "tcp", "tls", "sctp", "ws", "wss"}

func kamProto(p core.Proto) int {
	switch p {
	case core.TCP:
		return protoTCP
	case core.TLS:
		return protoTLS
	case core.WS:
		return protoWS
	case core.WSS:
		return protoWSS
	}
	return protoUDP
}

// appendAddr appends an address as a URI host (IPv6 in brackets).
func appendAddr(dst []byte, a netip.Addr) []byte {
	a = a.Unmap()
	if a.Is6() {
		dst = append(dst, '[')
		dst = a.AppendTo(dst)
		return append(dst, ']')
	}
	return a.AppendTo(dst)
}

// appendAlias appends ";alias=ip~port~proto".
func appendAlias(dst []byte, a netip.Addr, port uint16, proto int) []byte {
	dst = append(dst, ";alias="...)
	dst = appendAddr(dst, a)
	dst = append(dst, '~')
	dst = strconv.AppendUint(dst, uint64(port), 10)
	dst = append(dst, '~')
	return append(dst, byte('0'+proto))
}

// offsetIn returns where inner starts in outer, which it is a part of
// (the parser's values are slices of the message), or -1.
func offsetIn(outer, inner []byte) int {
	off := cap(outer) - cap(inner)
	if len(inner) == 0 || off < 0 || off+len(inner) > len(outer) || &outer[off] != &inner[0] {
		return -1
	}
	return off
}

// Return codes of editContact besides 1.
var (
	errNoContact = errors.New("no Contact header")
	errStar      = errors.New(`Contact is "*"`)
	errTwice     = errors.New("the Contact was changed already; it can be changed once per message")
)

// editContact replaces the URI of the first Contact with what build
// appends. The line is re-added as "Contact" (a compact "m" is spelled out).
func editContact(ctx *core.Ctx, st *state, build func(dst []byte, u sip.URI) ([]byte, error)) error {
	if st.contactDone {
		return errTwice
	}
	m := ctx.Msg
	lines := m.Lines("Contact")
	if !lines.Next() {
		return errNoContact
	}
	i := lines.Index()
	_, value := m.HeaderAt(i)
	sp := sip.SplitCommas(value)
	elem, ok := sp.Next()
	if !ok {
		return errors.New("empty Contact header")
	}
	if len(elem) == 1 && elem[0] == '*' {
		return errStar
	}
	na, err := sip.ParseNameAddr(elem)
	if err != nil {
		return err
	}
	u, err := sip.ParseURI(na.URI)
	if err != nil {
		return err
	}
	if !u.IsSIP() || len(u.Host) == 0 {
		return errors.New("Contact URI " + strconv.Quote(string(na.URI)) + " is not a sip: URI with a host")
	}
	eo, uo := offsetIn(value, elem), offsetIn(elem, na.URI)
	if eo < 0 || uo < 0 {
		return errors.New("Contact URI not found in its header")
	}
	start := eo + uo
	b := append(st.line[:0], value[:start]...)
	if !na.Angle {
		b = append(b, '<')
	}
	if b, err = build(b, u); err != nil {
		return err
	}
	if !na.Angle {
		b = append(b, '>')
	}
	b = append(b, value[start+len(na.URI):]...)
	st.line = b
	if err := m.InsertHeaderBefore(i, "Contact", b); err != nil {
		return err
	}
	if err := m.RemoveHeaderAt(i); err != nil {
		return err
	}
	st.contactDone = true
	return nil
}

// contactErr logs why a Contact could not be changed and gives the code.
func contactErr(ctx *core.Ctx, fn string, err error, noContact int) int {
	if err == errNoContact || err == errStar {
		ctx.Log(core.LDbg, "nathelper: "+fn+": "+core.LogValue(err.Error())+"\n")
		return noContact
	}
	ctx.Log(core.LErr, "nathelper: "+fn+": "+core.LogValue(err.Error())+"\n")
	return -1
}

// FixNatedContact is fix_nated_contact.
func FixNatedContact(ctx *core.Ctx) int {
	st := stateOf(ctx)
	err := editContact(ctx, st, func(dst []byte, u sip.URI) ([]byte, error) {
		raw := u.Raw
		ho := offsetIn(raw, u.Host)
		if ho < 0 {
			return dst, errors.New("Contact host not found in its URI")
		}
		rest := raw[ho+len(u.Host):]
		if len(rest) > 0 && rest[0] == ':' { // the port
			k := 1
			for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
				k++
			}
			rest = rest[k:]
		}
		dst = append(dst, raw[:ho]...)
		dst = appendAddr(dst, ctx.Src.Addr())
		dst = append(dst, ':')
		dst = strconv.AppendUint(dst, uint64(ctx.Src.Port()), 10)
		// maddr would send requests elsewhere than the source: drop it.
		return appendWithoutParam(dst, rest, "maddr"), nil
	})
	if err != nil {
		return contactErr(ctx, "fix_nated_contact", err, -1)
	}
	return 1
}

// appendWithoutParam appends s (URI params and headers) without the first
// ;name or ;name=value parameter before any '?'.
func appendWithoutParam(dst, s []byte, name string) []byte {
	ps, pe := findParam(s, name)
	if ps < 0 {
		return append(dst, s...)
	}
	dst = append(dst, s[:ps]...)
	return append(dst, s[pe:]...)
}

// findParam finds ";name[=value]" in s, which starts at the URI
// parameters; it stops at '?'. It returns [start, end) or -1.
func findParam(s []byte, name string) (int, int) {
	for i := 0; i < len(s) && s[i] != '?'; i++ {
		if s[i] != ';' {
			continue
		}
		j := i + 1
		if j+len(name) > len(s) || !sip.EqualFold(s[j:j+len(name)], name) {
			continue
		}
		k := j + len(name)
		if k < len(s) && s[k] != '=' && s[k] != ';' && s[k] != '?' {
			continue
		}
		for k < len(s) && s[k] != ';' && s[k] != '?' {
			k++
		}
		return i, k
	}
	return -1, -1
}

func setAlias(ctx *core.Ctx, fn string, trim bool) int {
	st := stateOf(ctx)
	err := editContact(ctx, st, func(dst []byte, u sip.URI) ([]byte, error) {
		if trim {
			dst = appendWithoutParam(dst, u.Raw, "alias")
		} else {
			dst = append(dst, u.Raw...)
		}
		return appendAlias(dst, ctx.Src.Addr(), ctx.Src.Port(), kamProto(ctx.Proto)), nil
	})
	if err != nil {
		return contactErr(ctx, fn, err, -1)
	}
	return 1
}

// SetContactAlias is set_contact_alias.
func SetContactAlias(ctx *core.Ctx) int { return setAlias(ctx, "set_contact_alias", false) }

// SetContactAliasTrim is set_contact_alias_trim.
func SetContactAliasTrim(ctx *core.Ctx) int { return setAlias(ctx, "set_contact_alias_trim", true) }

// AddContactAlias is add_contact_alias: the alias only when the Contact is
// not already the source.
func AddContactAlias(ctx *core.Ctx) int {
	if u, ok := firstContactURI(ctx.Msg); ok {
		port := u.Port
		if port == 0 {
			port = 5060
		}
		proto := protoUDP
		if t, ok := u.Param("transport"); ok {
			for k, n := range protoNames {
				if k > 0 && sip.EqualFold(t, n) {
					proto = k
				}
			}
		}
		if a, ok := parseHost(u.Host); ok && a.Unmap() == ctx.Src.Addr().Unmap() &&
			port == int(ctx.Src.Port()) && proto == kamProto(ctx.Proto) {
			return 2
		}
	}
	return addAlias(ctx, "add_contact_alias", ctx.Src.Addr(), ctx.Src.Port(), kamProto(ctx.Proto))
}

func addAlias(ctx *core.Ctx, fn string, a netip.Addr, port uint16, proto int) int {
	st := stateOf(ctx)
	err := editContact(ctx, st, func(dst []byte, u sip.URI) ([]byte, error) {
		// Kamailio puts it after host:port, before the other parameters.
		raw := u.Raw
		ho := offsetIn(raw, u.Host)
		if ho < 0 {
			return dst, errors.New("Contact host not found in its URI")
		}
		end := ho + len(u.Host)
		if end < len(raw) && raw[end] == ':' {
			end++
			for end < len(raw) && raw[end] >= '0' && raw[end] <= '9' {
				end++
			}
		}
		dst = append(dst, raw[:end]...)
		dst = appendAlias(dst, a, port, proto)
		return append(dst, raw[end:]...), nil
	})
	if err != nil {
		return contactErr(ctx, fn, err, 2)
	}
	return 1
}

// AddContactAliasAddr is add_contact_alias_addr.
func AddContactAliasAddr(ctx *core.Ctx, ip, port, proto string) int {
	a, err := netip.ParseAddr(strings.Trim(ip, "[]"))
	p, perr := strconv.Atoi(port)
	k := 0
	for i, n := range protoNames {
		if i > 0 && strings.EqualFold(proto, n) {
			k = i
		}
	}
	if err != nil || a.Zone() != "" || perr != nil || p < 1 || p > 65535 || k == 0 {
		ctx.Log(core.LErr, "nathelper: add_contact_alias_addr: expected an IP address, a port 1-65535 and udp, tcp, tls, sctp, ws or wss, got ("+ip+", "+port+", "+proto+")\n")
		return -1
	}
	return addAlias(ctx, "add_contact_alias_addr", a, uint16(p), k)
}

// HandleRURIAlias is handle_ruri_alias.
func HandleRURIAlias(ctx *core.Ctx) int { return handleAlias(ctx, 0) }

// HandleRURIAliasMode is handle_ruri_alias_mode.
func HandleRURIAliasMode(ctx *core.Ctx, mode int) int { return handleAlias(ctx, mode) }

func handleAlias(ctx *core.Ctx, mode int) int {
	m := ctx.Msg
	if !m.IsRequest() {
		return -1
	}
	ruri := m.RequestURI()
	u, err := sip.ParseURI(ruri)
	if err != nil {
		ctx.Log(core.LErr, "nathelper: handle_ruri_alias: Request-URI: "+core.LogValue(err.Error())+"\n")
		return -1
	}
	po := offsetIn(ruri, u.Params)
	if po < 0 {
		return 2
	}
	// The first (mode 0) or last alias parameter, as [s, e) in ruri.
	s, e := -1, -1
	for rest, base := []byte(u.Params), po; ; {
		ps, pe := findParam(rest, "alias")
		if ps < 0 {
			break
		}
		s, e = base+ps, base+pe
		if mode == 0 {
			break
		}
		rest, base = rest[pe:], base+pe
	}
	if s < 0 {
		return 2
	}
	if e-s <= len(";alias=") || ruri[s+len(";alias")] != '=' {
		ctx.Log(core.LErr, "nathelper: handle_ruri_alias: alias parameter without a value\n")
		return -1
	}
	val := ruri[s+len(";alias=") : e]
	st := stateOf(ctx)
	b, err := appendAliasURI(st.uri[:0], val)
	if err != nil {
		ctx.Log(core.LErr, "nathelper: handle_ruri_alias: "+core.LogValue(err.Error())+"\n")
		return -1
	}
	ctx.DstURI = string(b)
	// The Request-URI without the parameter.
	b = append(b[:0], ruri[:s]...)
	b = append(b, ruri[e:]...)
	st.uri = b
	m.SetRequestURI(b)
	return 1
}

// appendAliasURI decodes an alias value, ip~port~proto, into the URI it
// stands for: "sip:ip:port" with ";transport=" when not UDP.
func appendAliasURI(b, val []byte) ([]byte, error) {
	t1 := bytes.IndexByte(val, '~')
	t2 := -1
	if t1 >= 0 {
		if k := bytes.IndexByte(val[t1+1:], '~'); k >= 0 {
			t2 = t1 + 1 + k
		}
	}
	if t1 <= 0 || t2 < 0 || t2 == t1+1 || len(val) != t2+2 || val[t2+1] < '1' || val[t2+1] > '6' {
		return b, errors.New("alias " + strconv.Quote(string(val)) + ": expected ip~port~proto (proto 1-6)")
	}
	host, port, proto := val[:t1], val[t1+1:t2], int(val[t2+1]-'0')
	for _, c := range port {
		if c < '0' || c > '9' {
			return b, errors.New("alias " + strconv.Quote(string(val)) + ": bad port")
		}
	}
	b = append(b, "sip:"...)
	if bytes.IndexByte(host, ':') >= 0 && host[0] != '[' {
		b = append(append(append(b, '['), host...), ']')
	} else {
		b = append(b, host...)
	}
	b = append(append(b, ':'), port...)
	if proto != protoUDP {
		b = append(append(b, ";transport="...), protoNames[proto]...)
	}
	return b, nil
}

// SetAliasToPV is set_alias_to_pv.
func SetAliasToPV(ctx *core.Ctx, pvname string) int {
	name, arg, ok := core.SplitPV(pvname)
	set := core.LookupPVSetter(name)
	if !ok || set == nil {
		ctx.Log(core.LErr, "nathelper: set_alias_to_pv: "+core.LogQuote(pvname)+" is not a writable pseudo-variable\n")
		return -1
	}
	it := ctx.Msg.Contacts()
	if !it.Next() || it.Contact().Star {
		ctx.Log(core.LErr, "nathelper: set_alias_to_pv: no Contact with a URI\n")
		return -1
	}
	u, err := sip.ParseURI(it.Contact().URI)
	if it.Next() || err != nil {
		ctx.Log(core.LErr, "nathelper: set_alias_to_pv: expected one parsable Contact\n")
		return -1
	}
	ps, pe := findParam(u.Params, "alias")
	if ps < 0 || pe-ps <= len(";alias=") || u.Params[ps+len(";alias")] != '=' {
		ctx.Log(core.LErr, "nathelper: set_alias_to_pv: the Contact URI has no alias parameter\n")
		return -1
	}
	st := stateOf(ctx)
	b, err := appendAliasURI(st.uri[:0], u.Params[ps+len(";alias="):pe])
	if err != nil {
		ctx.Log(core.LErr, "nathelper: set_alias_to_pv: "+core.LogValue(err.Error())+"\n")
		return -1
	}
	st.uri = b
	if err := set(ctx, arg, core.Str(string(b))); err != nil {
		ctx.Log(core.LErr, "nathelper: set_alias_to_pv: "+core.LogValue(err.Error())+"\n")
		return -1
	}
	return 1
}

// SrcURI appends "sip:ip:port" for the source, with ";transport=" when
// not UDP (Kamailio's get_src_uri).
func SrcURI(dst []byte, ctx *core.Ctx) []byte {
	dst = append(dst, "sip:"...)
	dst = appendAddr(dst, ctx.Src.Addr())
	dst = append(dst, ':')
	dst = strconv.AppendUint(dst, uint64(ctx.Src.Port()), 10)
	if p := kamProto(ctx.Proto); p != protoUDP {
		dst = append(append(dst, ";transport="...), protoNames[p]...)
	}
	return dst
}

// FixNatedRegister is fix_nated_register.
func FixNatedRegister(ctx *core.Ctx) int {
	if !ctx.Src.IsValid() {
		ctx.Log(core.LErr, "nathelper: fix_nated_register: no source address\n")
		return -1
	}
	st := stateOf(ctx)
	st.uri = SrcURI(st.uri[:0], ctx)
	uri := string(st.uri)
	usrloc.SetReceived(ctx, uri)
	if st.avpSet != nil {
		if err := st.avpSet(ctx, st.avpArg, core.Str(uri)); err != nil {
			ctx.Log(core.LErr, "nathelper: fix_nated_register: received_avp: "+core.LogValue(err.Error())+"\n")
			return -1
		}
	}
	return 1
}

// AddRcvParam is add_rcv_param: every Contact gets received="sip:ip:port"
// as a header parameter, or (uriParam != 0, UDP only) as a URI parameter.
func AddRcvParam(ctx *core.Ctx, uriParam int) int {
	if uriParam != 0 && ctx.Proto != core.UDP {
		ctx.Log(core.LErr, "nathelper: add_rcv_param: adding received to the Contact URI works only for UDP\n")
		return -1
	}
	st := stateOf(ctx)
	if st.contactDone {
		return contactErr(ctx, "add_rcv_param", errTwice, -1)
	}
	m := ctx.Msg
	st.uri = SrcURI(st.uri[:0], ctx)
	type edit struct {
		line  int
		value []byte // offsets into st.line
	}
	var edits [8]edit
	n := 0
	b := st.line[:0]
	for lines := m.Lines("Contact"); lines.Next(); {
		if n == len(edits) {
			ctx.Log(core.LErr, "nathelper: add_rcv_param: more than 8 Contact lines\n")
			return -1
		}
		_, value := m.HeaderAt(lines.Index())
		start := len(b)
		prev := 0
		sp := sip.SplitCommas(value)
		for {
			elem, ok := sp.Next()
			if !ok {
				break
			}
			if len(elem) == 1 && elem[0] == '*' {
				return contactErr(ctx, "add_rcv_param", errStar, -1)
			}
			na, err := sip.ParseNameAddr(elem)
			if err != nil {
				return contactErr(ctx, "add_rcv_param", err, -1)
			}
			eo := offsetIn(value, elem)
			uo := offsetIn(elem, na.URI)
			if eo < 0 || uo < 0 {
				return contactErr(ctx, "add_rcv_param", errors.New("Contact not found in its header"), -1)
			}
			if uriParam != 0 {
				ue := eo + uo + len(na.URI)
				if !na.Angle {
					b = append(b, value[prev:eo+uo]...)
					b = append(b, '<')
				} else {
					b = append(b, value[prev:ue]...)
				}
				if !na.Angle {
					b = append(b, na.URI...)
				}
				b = append(append(b, ";received="...), st.uri...)
				if !na.Angle {
					b = append(b, '>')
				}
				prev = ue
			} else {
				ee := eo + len(elem)
				b = append(b, value[prev:ee]...)
				b = append(append(append(b, `;received="`...), st.uri...), '"')
				prev = ee
			}
		}
		b = append(b, value[prev:]...)
		edits[n] = edit{lines.Index(), b[start:len(b):len(b)]}
		n++
	}
	if n == 0 {
		return contactErr(ctx, "add_rcv_param", errNoContact, -1)
	}
	st.line = b
	for _, e := range edits[:n] {
		if err := m.InsertHeaderBefore(e.line, "Contact", e.value); err != nil {
			return contactErr(ctx, "add_rcv_param", err, -1)
		}
		if err := m.RemoveHeaderAt(e.line); err != nil {
			return contactErr(ctx, "add_rcv_param", err, -1)
		}
	}
	st.contactDone = true
	return 1
}
