// Package sanity implements module sanity: checks of a request's syntax
// before routing, with Kamailio's check bits, replying as Kamailio does
// (400, 416, 420, 505) unless the module runs in noreply mode, where the
// script sends the reply later with sanity_reply().
package sanity

import (
	"bytes"
	"strconv"
	"strings"

	"kemi/core"
	"kemi/sip"
)

// Message check bits (sanity_check's first argument).
const (
	RURISipVersion  = 1 << 0
	RURIScheme      = 1 << 1
	RequiredHeaders = 1 << 2
	ViaSipVersion   = 1 << 3
	ViaProtocol     = 1 << 4
	CSeqMethod      = 1 << 5
	CSeqValue       = 1 << 6
	ContentLength   = 1 << 7
	ExpiresValue    = 1 << 8
	ProxyRequire    = 1 << 9
	ParseURIs       = 1 << 10
	CheckDigest     = 1 << 11
	CheckDupTags    = 1 << 12
	Authorization   = 1 << 13
	Via1Header      = 1 << 14
	RFC3261         = 1 << 15
	Sizes           = 1 << 16

	// DefaultChecks is Kamailio's default_checks.
	DefaultChecks = RURISipVersion | RURIScheme | RequiredHeaders | CSeqMethod | CSeqValue |
		ContentLength | ExpiresValue | ProxyRequire | CheckDigest
)

// URI check bits (sanity_check's second argument, used with ParseURIs).
const (
	URIRuri    = 1 << 0
	URIFrom    = 1 << 1
	URITo      = 1 << 2
	URIContact = 1 << 3

	DefaultURIChecks = URIRuri | URIFrom | URITo
)

// state keeps the failure of the current message for sanity_reply.
type state struct {
	code   int
	reason string
	extra  []byte // extra reply header lines (Unsupported for 420)
	buf    []byte // reply headers: append_to_reply's and extra
}

var msgStates = core.NewMsgState(func(old *state) state {
	return state{extra: old.extra[:0], buf: old.buf}
})

func get(ctx *core.Ctx) *state { return msgStates.Get(ctx) }

func param(ctx *core.Ctx, name string, def int64) int64 {
	if ctx.RT == nil || ctx.RT.Reg == nil {
		return def
	}
	if v := ctx.RT.Param("sanity", name); v.Kind == core.KInt {
		return v.I
	}
	return def
}

func strParam(ctx *core.Ctx, name string) string {
	if ctx.RT == nil || ctx.RT.Reg == nil {
		return ""
	}
	if v := ctx.RT.Param("sanity", name); v.Kind == core.KStr {
		return v.S
	}
	return ""
}

// result of one check.
type result uint8

const (
	passed result = iota
	failed        // a reply was sent or recorded
	silent        // failed, no reply (Kamailio's FL_MSG_NOREPLY)
	notApplicable
)

// fail records the reply for a failed check and sends it unless in
// noreply mode.
func fail(ctx *core.Ctx, code int, reason string) result {
	m := ctx.Msg
	if !m.IsRequest() || m.MethodID() == sip.MethodACK {
		return failed
	}
	st := get(ctx)
	st.code, st.reason = code, reason
	if param(ctx, "noreply", 0) != 0 {
		return failed
	}
	send(ctx, code, reason, st.extra)
	return failed
}

func send(ctx *core.Ctx, code int, reason string, extra []byte) bool {
	m := ctx.Msg
	if ctx.Out == nil {
		ctx.Log(core.LErr, "sanity: no sender for the reply\n")
		return false
	}
	// Headers the script added with KSR.hdr.append_to_reply go in too, as
	// they do in Kamailio's sl replies.
	st := get(ctx)
	st.buf = append(append(st.buf[:0], ctx.ReplyHeaders()...), extra...)
	opt := sip.ReplyOptions{ServerHeader: ctx.ServerHeader(), Src: ctx.Src, ForceRport: ctx.ForceRport, ExtraHeaders: st.buf}
	b := sip.AppendReply(ctx.Scratch[:0], m, code, reason, &opt)
	ctx.Scratch = b
	if err := ctx.Out.SendTo(b, ctx.Proto, sip.ReplyAddr(m, ctx.Src, ctx.ForceRport)); err != nil {
		ctx.Log(core.LErr, "sanity: reply: "+core.LogValue(err.Error())+"\n")
		return false
	}
	return true
}

// SanityCheck is KSR.sanity.sanity_check: 1 when the message passes the
// checks, -1 when it fails one (and the reply went out, unless noreply).
// The flags are taken as given, as Kamailio's KEMI does: 0 checks nothing;
// sanity_check_defaults uses the module's default_checks and uri_checks.
func SanityCheck(ctx *core.Ctx, msgChecks, uriChecks int) int {
	if ctx.Msg == nil {
		return -1
	}
	if r := check(ctx, msgChecks, uriChecks); r != passed {
		ctx.Log(core.LDbg, "sanity: check failed\n")
		return -1
	}
	return 1
}

// SanityCheckDefaults is sanity_check with the module's default checks.
func SanityCheckDefaults(ctx *core.Ctx) int {
	return SanityCheck(ctx, int(param(ctx, "default_checks", DefaultChecks)), int(param(ctx, "uri_checks", DefaultURIChecks)))
}

// SanityReply sends the reply a failed check recorded in noreply mode (500
// when none was recorded). It does nothing outside noreply mode, for
// replies and for ACKs.
func SanityReply(ctx *core.Ctx) int {
	m := ctx.Msg
	if m == nil || !m.IsRequest() || m.MethodID() == sip.MethodACK || param(ctx, "noreply", 0) == 0 {
		return 1
	}
	st := get(ctx)
	code, reason := st.code, st.reason
	if code == 0 {
		code, reason = 500, "Server Sanity Failure"
	}
	if !send(ctx, code, reason, st.extra) {
		return -1
	}
	return 1
}

func check(ctx *core.Ctx, mc, uc int) result {
	m := ctx.Msg
	req := m.IsRequest()
	type step struct {
		bit int
		fn  func(*core.Ctx) result
		req bool // requests only
	}
	for _, s := range [...]step{
		{RURISipVersion, checkRURIVersion, true},
		{RURIScheme, checkRURIScheme, true},
		{RequiredHeaders, checkRequired, false},
		{Via1Header, checkVia1, false},
		{RFC3261, checkRFC3261, false},
		{CSeqMethod, checkCSeqMethod, true},
		{CSeqValue, checkCSeqValue, false},
		{ContentLength, checkCL, false},
		{ExpiresValue, checkExpires, false},
		{ProxyRequire, checkProxyRequire, true},
	} {
		if mc&s.bit == 0 || s.req && !req {
			continue
		}
		if r := s.fn(ctx); r != passed {
			return r
		}
	}
	if mc&ParseURIs != 0 {
		if r := checkURIs(ctx, uc); r != passed {
			return r
		}
	}
	if mc&CheckDigest != 0 {
		if r := checkDigest(ctx); r != passed {
			if r == notApplicable {
				return silent
			}
			return r
		}
	}
	if mc&Authorization != 0 {
		if r := checkDigest(ctx); r != passed && r != notApplicable {
			return r
		}
	}
	if mc&CheckDupTags != 0 {
		if r := checkDupTags(ctx); r != passed {
			return r
		}
	}
	return passed
}

func checkRURIVersion(ctx *core.Ctx) result {
	v := ctx.Msg.Version()
	slash := bytes.IndexByte(v, '/')
	if slash < 0 {
		return silent
	}
	if string(v[slash+1:]) != "2.0" {
		return fail(ctx, 505, "Version Not Supported (R-URI)")
	}
	return passed
}

func checkRURIScheme(ctx *core.Ctx) result {
	ru := ctx.Msg.RequestURI()
	u, err := sip.ParseURI(ru)
	if err != nil {
		return fail(ctx, 400, "Bad Request URI")
	}
	// Kamailio knows sip, sips, tel, tels and urn (RFC 5031 emergency
	// URNs); other schemes get 416.
	if !u.IsSIP() && !u.IsTel() && !schemeIs(u.Scheme, "tels") && !schemeIs(u.Scheme, "urn") {
		return fail(ctx, 416, "Unsupported URI Scheme in Request URI")
	}
	return passed
}

// checkRequired wants one each of From, To, Call-ID, CSeq and a Via; a
// message without them cannot be answered, so it fails silently.
func checkRequired(ctx *core.Ctx) result {
	m := ctx.Msg
	for _, h := range [...]string{"From", "To", "Call-ID", "CSeq"} {
		if m.CountHeader(h) != 1 {
			return silent
		}
	}
	if _, err := m.TopVia(); err != nil {
		return silent
	}
	return passed
}

func checkVia1(ctx *core.Ctx) result {
	v, err := ctx.Msg.TopVia()
	if err != nil || len(v.Host) == 0 || len(v.Branch) == 0 {
		return silent
	}
	return passed
}

// checkRFC3261: the top Via branch has the magic cookie and every Route
// and Record-Route URI has ;lr.
func checkRFC3261(ctx *core.Ctx) result {
	v, err := ctx.Msg.TopVia()
	if err != nil || !bytes.HasPrefix(v.Branch, []byte("z9hG4bK")) {
		return silent
	}
	for _, id := range [...]sip.HdrID{sip.HdrRecordRoute, sip.HdrRoute} {
		it := ctx.Msg.NameAddrs(id)
		for it.Next() {
			u, err := it.NameAddr().ParsedURI()
			if err != nil || !u.Params.Has("lr") {
				return silent
			}
		}
		if it.Err() != nil {
			return silent
		}
	}
	return passed
}

// cseq splits the CSeq value into number and method without judging them,
// as Kamailio's parser does: the number is the first word, up to LWS, and
// the method the rest ("1x INVITE" is number "1x", method "INVITE").
func cseq(m *sip.Msg) (num, method []byte, ok bool) {
	v := m.HeaderID(sip.HdrCSeq)
	if v == nil {
		return nil, nil, false
	}
	v = bytes.TrimLeft(v, " \t")
	sp := bytes.IndexAny(v, " \t")
	if sp < 0 {
		return v, nil, true
	}
	return v[:sp], bytes.TrimSpace(v[sp:]), true
}

func checkCSeqMethod(ctx *core.Ctx) result {
	_, method, ok := cseq(ctx.Msg)
	if !ok {
		return silent
	}
	if len(method) == 0 {
		return fail(ctx, 400, "Missing method in CSeq header")
	}
	if !bytes.Equal(method, ctx.Msg.Method()) {
		return fail(ctx, 400, "CSeq method does not match request method")
	}
	return passed
}

func checkCSeqValue(ctx *core.Ctx) result {
	num, _, ok := cseq(ctx.Msg)
	if !ok {
		return silent
	}
	if len(num) == 0 {
		return fail(ctx, 400, "Missing number in CSeq header")
	}
	n, err := strconv.ParseUint(string(num), 10, 32)
	if err != nil || n >= 1<<31 {
		return fail(ctx, 400, "CSeq number is illegal")
	}
	return passed
}

// checkCL compares Content-Length with the bytes after the headers.
func checkCL(ctx *core.Ctx) result {
	m := ctx.Msg
	if m.HeaderID(sip.HdrContentLength) == nil {
		return passed
	}
	cl := m.ContentLength()
	raw := m.Raw()
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	start := end + 4
	if end < 0 {
		if end = bytes.Index(raw, []byte("\n\n")); end < 0 {
			start = len(raw)
		} else {
			start = end + 2
		}
	}
	if len(raw)-start != cl {
		return fail(ctx, 400, "Content-Length mis-match")
	}
	return passed
}

func checkExpires(ctx *core.Ctx) result {
	v := ctx.Msg.HeaderID(sip.HdrExpires)
	if v == nil {
		return passed
	}
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return fail(ctx, 400, "Missing number in Expires header")
	}
	if _, err := strconv.ParseUint(string(v), 10, 32); err != nil {
		return fail(ctx, 400, "Expires value is illegal")
	}
	return passed
}

// checkProxyRequire answers 420 with Unsupported when the request needs
// an extension not in the proxy_require modparam.
func checkProxyRequire(ctx *core.Ctx) result {
	m := ctx.Msg
	if !m.HasHeader("Proxy-Require") {
		return passed
	}
	known := strParam(ctx, "proxy_require")
	st := get(ctx)
	st.extra = st.extra[:0]
	for it := m.ValuesID(sip.HdrProxyRequire); it.Next(); {
		ext := it.Value()
		if inList(known, ext) {
			continue
		}
		if len(st.extra) == 0 {
			st.extra = append(st.extra, "Unsupported: "...)
		} else {
			st.extra = append(st.extra, ", "...)
		}
		st.extra = append(st.extra, ext...)
	}
	if len(st.extra) == 0 {
		return passed
	}
	st.extra = append(st.extra, "\r\n"...)
	return fail(ctx, 420, "Bad Proxy Require Extension")
}

func inList(list string, tok []byte) bool {
	for list != "" {
		item, rest, _ := strings.Cut(list, ",")
		if strings.EqualFold(strings.TrimSpace(item), string(tok)) {
			return true
		}
		list = rest
	}
	return false
}

func checkURIs(ctx *core.Ctx, uc int) result {
	m := ctx.Msg
	if uc&URIRuri != 0 && m.IsRequest() {
		if _, err := sip.ParseURI(m.RequestURI()); err != nil {
			return fail(ctx, 400, "Bad Request URI")
		}
	}
	if uc&URIFrom != 0 {
		if _, err := m.From(); err != nil {
			return fail(ctx, 400, "Invalid From Header")
		}
	}
	if uc&URITo != 0 {
		if _, err := m.To(); err != nil {
			return fail(ctx, 400, "Invalid To Header")
		}
	}
	if uc&URIContact != 0 && m.HasHeader("Contact") {
		it := m.Contacts()
		for it.Next() {
		}
		if it.Err() != nil {
			return fail(ctx, 400, "Bad Contact Header")
		}
	}
	return passed
}

// checkDigest wants Digest credentials with a username, nonce and
// response in every Authorization and Proxy-Authorization line; other
// schemes are not applicable.
func checkDigest(ctx *core.Ctx) result {
	m := ctx.Msg
	for _, id := range [...]sip.HdrID{sip.HdrAuthorization, sip.HdrProxyAuthorization} {
		it := m.AuthLines(id)
		for it.Next() {
			c := it.Credentials()
			if !c.IsDigest() {
				return notApplicable
			}
			switch {
			case len(c.Username) == 0:
				return fail(ctx, 400, "Auth Empty User")
			case len(c.Nonce) == 0:
				return fail(ctx, 400, "Auth Empty Nonce")
			case len(c.Response) == 0:
				return fail(ctx, 400, "Auth Empty Response")
			case len(c.Realm) == 0 || len(c.URI) == 0:
				return fail(ctx, 400, "Bad Auth Credentials")
			}
		}
		if it.Err() != nil {
			return fail(ctx, 400, "Bad Auth Header")
		}
	}
	return passed
}

func checkDupTags(ctx *core.Ctx) result {
	m := ctx.Msg
	for _, c := range [...]struct {
		to     bool
		reason string
	}{{false, "Many From Tag Params"}, {true, "Many To Tag Params"}} {
		var na sip.NameAddr
		var err error
		if c.to {
			na, err = m.To()
		} else {
			na, err = m.From()
		}
		if err != nil {
			return silent
		}
		n := 0
		for it := na.Params.Iter(); it.Next(); {
			if strings.EqualFold(string(it.Name()), "tag") {
				n++
			}
		}
		if n > 1 {
			return fail(ctx, 400, c.reason)
		}
	}
	return passed
}

func schemeIs(b []byte, s string) bool { return sip.EqualFold(b, s) }
