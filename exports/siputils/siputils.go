// Package siputils implements module siputils: checks on the message and
// its Request-URI (has_totag, is_first_hop, uri_param...), string checks
// (is_numeric, is_tel_number...) and URI comparisons (cmp_uri, cmp_aor).
// None of them allocates.
package siputils

import (
	"bytes"
	"strings"

	"kemi/core"
	"kemi/sip"
)

func b2i(ok bool) int {
	if ok {
		return 1
	}
	return -1
}

// HasTotag is 1 when the To header has a tag (an in-dialog request).
func HasTotag(ctx *core.Ctx) int {
	return b2i(ctx.Msg != nil && len(ctx.Msg.ToTag()) > 0)
}

// IsRequest is 1 for a request.
func IsRequest(ctx *core.Ctx) int { return b2i(ctx.Msg != nil && ctx.Msg.IsRequest()) }

// IsReply is 1 for a reply.
func IsReply(ctx *core.Ctx) int { return b2i(ctx.Msg != nil && !ctx.Msg.IsRequest()) }

// IsFirstHop is is_first_hop_mode(0).
func IsFirstHop(ctx *core.Ctx) int { return IsFirstHopMode(ctx, 0) }

// IsFirstHopMode: a request is first hop when it has one Via; a reply
// when its top Record-Route is ours (mode 0 also wants it to be an IP
// address and the reply not to come from that address: a loop) or it has
// no Record-Route.
func IsFirstHopMode(ctx *core.Ctx, mode int) int {
	m := ctx.Msg
	if m == nil {
		return -1
	}
	if m.IsRequest() {
		n := 0
		for it := m.Vias(); it.Next(); n++ {
		}
		return b2i(n <= 1)
	}
	it := m.RecordRoutes()
	if !it.Next() {
		if it.Err() != nil {
			return -1
		}
		return 1
	}
	u, err := sip.ParseURI(it.NameAddr().URI)
	if err != nil {
		return -1
	}
	addr, isIP := u.HostAddr()
	if mode == 0 && !isIP {
		return -1
	}
	if !myself(ctx, u.Host, u.Port) {
		return -1
	}
	if mode == 0 {
		port := u.Port
		if port == 0 {
			port = 5060
		}
		if addr.Unmap() == ctx.Src.Addr().Unmap() && port == int(ctx.Src.Port()) {
			return -1
		}
	}
	return 1
}

// myself checks a URI's host:port, a missing port being the SIP default
// as Kamailio's siputils takes it.
func myself(ctx *core.Ctx, host []byte, port int) bool {
	if port == 0 {
		port = 5060
	}
	return ctx.IsMyself(host, port)
}

func ruri(ctx *core.Ctx) (sip.URI, bool) {
	if ctx.Msg == nil || !ctx.Msg.IsRequest() {
		return sip.URI{}, false
	}
	u, err := sip.ParseURI(ctx.Msg.RequestURI())
	if err != nil {
		ctx.Log(core.LErr, "siputils: cannot parse the Request-URI: "+core.LogValue(err.Error())+"\n")
		return u, false
	}
	return u, true
}

// uriParamValue finds param in the Request-URI: with val nil it must have
// no value; otherwise its value must equal val. Names compare exactly, as
// Kamailio does.
func uriParamValue(ctx *core.Ctx, param string, val *string) int {
	u, ok := ruri(ctx)
	if !ok {
		return -1
	}
	for it := u.Params.Iter(); it.Next(); {
		if string(it.Name()) != param {
			continue
		}
		if val == nil {
			return b2i(len(it.Value()) == 0)
		}
		return b2i(string(it.Value()) == *val)
	}
	return -1
}

// URIParam is 1 when the Request-URI has ;param with no value.
func URIParam(ctx *core.Ctx, param string) int { return uriParamValue(ctx, param, nil) }

// URIParamValue is 1 when the Request-URI has ;param=value.
func URIParamValue(ctx *core.Ctx, param, value string) int {
	return uriParamValue(ctx, param, &value)
}

// URIParamAny is 1 when the Request-URI has ;param, with or without a
// value (name compared ignoring case).
func URIParamAny(ctx *core.Ctx, param string) int {
	u, ok := ruri(ctx)
	return b2i(ok && u.Params.Has(param))
}

// URIParamRm removes ;param (with its value) from the Request-URI.
func URIParamRm(ctx *core.Ctx, param string) int {
	u, ok := ruri(ctx)
	if !ok || len(u.Params) == 0 {
		return -1
	}
	raw := ctx.Msg.RequestURI()
	ps := cap(raw) - cap(u.Params) // offset of the params in raw
	out := append(ctx.Scratch[:0], raw[:ps]...)
	found := false
	p := []byte(u.Params)
	for i := 0; i < len(p); {
		// p[i] == ';' starts a parameter that runs to the next ';'.
		j := i + 1
		for j < len(p) && p[j] != ';' {
			j++
		}
		name := p[i+1 : j]
		if eq := bytes.IndexByte(name, '='); eq >= 0 {
			name = name[:eq]
		}
		if sip.EqualFold(name, param) {
			found = true
		} else {
			out = append(out, p[i:j]...)
		}
		i = j
	}
	if !found {
		return -1
	}
	out = append(out, raw[ps+len(p):]...)
	ctx.Scratch = out
	ctx.Msg.SetRequestURI(out)
	return 1
}

// AddURIParam adds ;param (name or name=value) to the Request-URI,
// before its headers.
func AddURIParam(ctx *core.Ctx, param string) int {
	u, ok := ruri(ctx)
	if !ok || param == "" {
		return -1
	}
	if !u.IsSIP() {
		ctx.Log(core.LErr, "siputils: add_uri_param: the Request-URI is not sip: or sips:\n")
		return -1
	}
	raw := ctx.Msg.RequestURI()
	end := len(raw)
	if u.Headers != nil {
		end = cap(raw) - cap(u.Headers) - 1 // the '?'
	}
	out := append(ctx.Scratch[:0], raw[:end]...)
	out = append(out, ';')
	out = append(out, param...)
	out = append(out, raw[end:]...)
	ctx.Scratch = out
	ctx.Msg.SetRequestURI(out)
	return 1
}

// IsURI is 1 when s parses as a SIP, SIPS or tel URI.
func IsURI(ctx *core.Ctx, s string) int {
	u, err := sip.ParseURI([]byte(s))
	return b2i(err == nil && (u.IsSIP() || u.IsTel()))
}

// IsUser is 1 when the username of the message's credentials (without
// @domain) is user. Kamailio looks only at credentials that
// www_authorize/proxy_authorize accepted; kemi looks at the Authorization,
// else the Proxy-Authorization header.
func IsUser(ctx *core.Ctx, user string) int {
	if ctx.Msg == nil {
		return -1
	}
	c, ok, err := ctx.Msg.Credentials(sip.HdrAuthorization)
	if !ok || err != nil {
		c, ok, err = ctx.Msg.Credentials(sip.HdrProxyAuthorization)
	}
	if !ok || err != nil {
		ctx.Log(core.LErr, "siputils: is_user: no credentials in the message\n")
		return -1
	}
	u := c.Username
	if at := bytes.IndexByte(u, '@'); at >= 0 {
		u = u[:at]
	}
	return b2i(len(u) > 0 && string(u) == user)
}

// IsNumeric is 1 when s is decimal digits only, -2 otherwise.
func IsNumeric(ctx *core.Ctx, s string) int {
	if s == "" {
		return -2
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -2
		}
	}
	return 1
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// IsAlphanum is 1 when s is ASCII letters and digits only; -2 for an
// empty s, -3 for another character.
func IsAlphanum(ctx *core.Ctx, s string) int { return IsAlphanumex(ctx, s, "") }

// IsAlphanumex is IsAlphanum that also allows the characters of extra.
func IsAlphanumex(ctx *core.Ctx, s, extra string) int {
	if s == "" {
		return -2
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && !containsByte(extra, s[i]) {
			return -3
		}
	}
	return 1
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// IsTelNumber is 1 for an optional '+' followed by digits (the first one
// not 0 after '+'), -2 otherwise.
func IsTelNumber(ctx *core.Ctx, s string) int {
	if s == "" {
		return -2
	}
	i := 0
	if s[0] == '+' {
		if len(s) < 2 || s[1] < '1' || s[1] > '9' {
			return -2
		}
		i = 2
	}
	for ; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -2
		}
	}
	return 1
}

func parse2(ctx *core.Ctx, fn, a, b string) (sip.URI, sip.URI, bool) {
	ua, err := sip.ParseURI([]byte(a))
	if err != nil {
		ctx.Log(core.LErr, "siputils: "+fn+": "+core.LogValue(err.Error())+"\n")
		return ua, ua, false
	}
	ub, err := sip.ParseURI([]byte(b))
	if err != nil {
		ctx.Log(core.LErr, "siputils: "+fn+": "+core.LogValue(err.Error())+"\n")
		return ua, ub, false
	}
	return ua, ub, true
}

// CmpURI compares two URIs as RFC 3261 §19.1.4 says: 1 equal, -1
// different, -2 when one does not parse.
func CmpURI(ctx *core.Ctx, a, b string) int {
	ua, ub, ok := parse2(ctx, "cmp_uri", a, b)
	if !ok {
		return -2
	}
	return b2i(sip.URIEqual(ua, ub))
}

// CmpAOR compares the addresses of record of two URIs (user exactly, host
// ignoring case, port with 5060 for none): 1 equal, -1 different, -2 when
// one does not parse.
func CmpAOR(ctx *core.Ctx, a, b string) int {
	ua, ub, ok := parse2(ctx, "cmp_aor", a, b)
	if !ok {
		return -2
	}
	pa, pb := ua.Port, ub.Port
	if pa == 0 {
		pa = 5060
	}
	if pb == 0 {
		pb = 5060
	}
	return b2i(bytes.Equal(ua.User, ub.User) && sip.EqualFold(ua.Host, string(ub.Host)) && pa == pb)
}

// CmpHdrName compares two header names, compact forms included: 1 the
// same header, -1 different.
func CmpHdrName(ctx *core.Ctx, a, b string) int {
	ia, ib := sip.LookupHdr(a), sip.LookupHdr(b)
	if ia != sip.HdrOther || ib != sip.HdrOther {
		return b2i(ia == ib)
	}
	return b2i(sip.EqualFold([]byte(a), b))
}

// SipParseHeaders is 1 when the message's headers are valid (the checks a
// proxy makes before routing), -1 otherwise.
func SipParseHeaders(ctx *core.Ctx) int {
	if ctx.Msg == nil {
		return -1
	}
	if _, err := ctx.Msg.Validate(); err != nil {
		ctx.Log(core.LDbg, "siputils: sip_parse_headers: "+core.LogValue(err.Error())+"\n")
		return -1
	}
	return 1
}

// e164 is 1 for '+' followed by digits, 3 to e164_max_len characters in
// all, as Kamailio checks.
func e164(ctx *core.Ctx, s []byte) int {
	max := 16
	if ctx.RT != nil && ctx.RT.Reg != nil {
		if v := ctx.RT.Param("siputils", "e164_max_len"); v.Kind == core.KInt {
			max = int(v.I)
		}
	}
	if len(s) <= 2 || len(s) > max || s[0] != '+' {
		return -1
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return -1
		}
	}
	return 1
}

// IsE164 is 1 when s is an E.164 number ("+4930123456"). Kamailio has it
// only in its native language; kemi exports it to every engine.
func IsE164(ctx *core.Ctx, s string) int {
	var b [32]byte
	if len(s) > len(b) {
		return -1
	}
	return e164(ctx, append(b[:0], s...))
}

// IsURIUserE164 is 1 when the user part of uri is an E.164 number. Like
// IsE164 it is a kemi addition to the KEMI exports.
func IsURIUserE164(ctx *core.Ctx, uri string) int {
	c := strings.IndexByte(uri, ':')
	if c < 0 {
		ctx.Log(core.LErr, "siputils: is_uri_user_e164: not a URI: "+core.LogQuote(uri)+"\n")
		return -1
	}
	rest := uri[c+1:]
	at := strings.IndexByte(rest, '@')
	if at < 0 {
		return -1
	}
	return IsE164(ctx, rest[:at])
}
