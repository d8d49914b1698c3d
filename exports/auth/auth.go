// Package auth implements module auth: digest challenges and checks
// (MD5 and SHA-256, qop=auth) with stateless signed nonces. auth_db and
// the pv_* functions supply the password through the Secrets interface.
//
// A check allocates nothing: the digest is computed with md5.Sum and
// sha256.Sum256 over a per-worker buffer, and the nonce HMAC is a
// per-worker hash reused across messages.
package auth

import (
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"kemi/core"
	"kemi/sip"
)

// Return codes of the checks (Kamailio's auth_cfg_result_t).
const (
	OK              = 1
	Error           = -1
	InvalidPassword = -2
	UserUnknown     = -3
	StaleNonce      = -4
	NoCredentials   = -5
	NonceReused     = -6
	UserMismatch    = -8
)

// Challenge flags.
const (
	FlagQopAuth    = 0x01
	FlagQopAuthInt = 0x02
	FlagStale      = 0x10
)

// Secrets finds what a user's credentials are checked against. HA1
// appends H(user:realm:password) in hex for alg to dst; ok is false when
// the user is unknown. buf is scratch the implementation may use.
type Secrets interface {
	HA1(ctx *core.Ctx, user, realm []byte, alg Alg, dst, buf []byte) (out, newBuf []byte, ok bool)
}

// FailingSecrets is a Secrets that can fail to look a user up (an SQL
// database that does not answer): after HA1 said !ok, Failed tells an
// error (the check returns Error, -1, and the reason is logged) from an
// unknown user (UserUnknown, -3), so an outage never passes for a
// wrong user name.
type FailingSecrets interface {
	Secrets
	Failed(ctx *core.Ctx) (reason string, failed bool)
}

// state is the per-runtime module state.
type state struct {
	nonces   *nonces
	alg      atomic.Uint32
	qopAll   bool
	checkNC  bool
	oneTime  bool
	checkURI int64
	checks   [3]byte // auth_checks_register, _no_dlg, _in_dlg
}

// Defaults where kemi differs from Kamailio (see docs/auth.md).
const (
	defChecksRegister = CheckRURI | CheckCallID | CheckSrcIP
	defChecksNoDlg    = CheckRURI | CheckSrcIP
	defChecksInDlg    = CheckRURI | CheckCallID | CheckFromTag | CheckSrcIP
)

// checkClock is the time a check runs at, Unix seconds (tests move it).
var checkClock = func() int64 { return time.Now().Unix() }

// states is each runtime's state, built from the params on first use.
var states = core.NewRuntimeState(newState)

func getState(rt *core.Runtime) *state { return states.Get(rt) }

func newState(rt *core.Runtime) *state {
	p := func(name string) core.Value {
		if rt.Reg == nil {
			return core.Null()
		}
		return rt.Param("auth", name)
	}
	num := func(name string, def int64) int64 {
		if v := p(name); v.Kind == core.KInt {
			return v.I
		}
		return def
	}
	expire := num("nonce_expire", 300)
	if expire <= 0 {
		expire = 300
	}
	size := int(num("nc_array_size", 1<<19))
	if o := num("nc_array_order", 0); o > 0 && o < 31 {
		size = 1 << o
	}
	if size < 8 {
		size = 8
	}
	qop := p("qop")
	s := &state{
		nonces:   newNonces(p("secret").S, expire, num("nonce_auth_max_drift", 3), time.Now().Unix(), size),
		qopAll:   qop.Kind != core.KStr || qop.S == "auth",
		checkNC:  num("nonce_count", 1) != 0,
		oneTime:  num("one_time_nonce", 0) != 0,
		checkURI: num("check_uri", 1),
		checks: [3]byte{
			byte(num("auth_checks_register", defChecksRegister)) & nfChecks,
			byte(num("auth_checks_no_dlg", defChecksNoDlg)) & nfChecks,
			byte(num("auth_checks_in_dlg", defChecksInDlg)) & nfChecks,
		},
	}
	if a, ok := ParseAlg(bytesOf(p("algorithm").S)); ok {
		s.alg.Store(uint32(a))
	}
	return s
}

// start checks the params and builds the state (start: in module.yaml).
func start(rt *core.Runtime) error {
	v := rt.Param("auth", "algorithm")
	if _, ok := ParseAlg(bytesOf(v.S)); !ok {
		return &paramError{"algorithm", `"MD5" or "SHA-256"`, v.S}
	}
	if v := rt.Param("auth", "qop"); v.S != "" && v.S != "auth" {
		return &paramError{"qop", `"" or "auth" (auth-int is not supported)`, v.S}
	}
	for _, name := range [...]string{"auth_checks_register", "auth_checks_no_dlg", "auth_checks_in_dlg"} {
		if v := rt.Param("auth", name); v.Kind == core.KInt && (v.I < 0 || v.I > 15) {
			return &paramError{name, "a sum of 1 (Request-URI), 2 (Call-ID), 4 (From tag), 8 (source IP)", strconv.FormatInt(v.I, 10)}
		}
	}
	getState(rt)
	return nil
}

// checksFor is get_auth_checks: the auth_checks bits for m.
func (s *state) checksFor(m *sip.Msg) byte {
	switch {
	case m.MethodID() == sip.MethodREGISTER:
		return s.checks[0]
	case len(m.ToTag()) == 0:
		return s.checks[1]
	}
	return s.checks[2]
}

// partsOf reads the fields a nonce may bind.
func partsOf(ctx *core.Ctx, p *parts) {
	m := ctx.Msg
	p.ruri, p.callID, p.fromTag = m.OriginalRequestURI(), m.CallID(), m.FromTag()
	p.src = ctx.Src.Addr().Unmap().As16()
}

type paramError struct{ name, want, got string }

func (e *paramError) Error() string {
	return "modparam " + e.name + ": expected " + e.want + ", got " + strconv.Quote(e.got)
}

// msgState is the per-worker scratch and what a check leaves for
// consume_credentials and auth_challenge.
type msgState struct {
	stale bool
	hdr   sip.HdrID
	line  int // header line the successful check used; -1 for none

	mac  mac
	part parts
	dec  decoded
	fp   [fpLen]byte
	buf  []byte
	ha1  []byte
	resp []byte
	hdrs []byte
	pw   pwSecrets
}

// A new message keeps the worker's scratch space and nothing else.
var msgStates = core.NewMsgState(func(old *msgState) msgState {
	return msgState{
		line: -1,
		mac:  old.mac, part: old.part, dec: old.dec, pw: old.pw,
		buf: old.buf, ha1: old.ha1, resp: old.resp, hdrs: old.hdrs,
	}
})

func msgSt(ctx *core.Ctx) *msgState { return msgStates.Get(ctx) }

func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// CredHeader is the header auth_check reads: Authorization for REGISTER,
// Proxy-Authorization otherwise.
func CredHeader(m *sip.Msg) sip.HdrID {
	if m.MethodID() == sip.MethodREGISTER {
		return sip.HdrAuthorization
	}
	return sip.HdrProxyAuthorization
}

// Check verifies the request's digest credentials for realm in header hdr
// against sec. checkUser (auth_check flag 1, pv_auth_check checkfrom)
// requires the auth user to be the To user of a REGISTER or the From
// user of other requests. method overrides the request method when not
// nil (www_authenticate_method).
func Check(ctx *core.Ctx, realm []byte, hdr sip.HdrID, sec Secrets, checkUser bool, method []byte) int {
	m := ctx.Msg
	if m == nil || !m.IsRequest() {
		return Error
	}
	s := getState(ctx.RT)
	st := msgSt(ctx)
	var cred sip.Credentials
	line, malformed := -1, false
	for it := m.LinesID(hdr); it.Next(); {
		c, err := sip.ParseCredentials(it.Value())
		if err != nil {
			malformed = true
			continue
		}
		if c.IsDigest() && string(c.Realm) == string(realm) {
			cred, line = c, it.Index()
			break
		}
	}
	if line < 0 {
		if malformed {
			ctx.Log(core.LNotice, "auth: malformed "+hdr.String()+" header\n")
			return Error
		}
		return NoCredentials
	}
	if len(cred.Username) == 0 || len(cred.Nonce) == 0 || len(cred.URI) == 0 || len(cred.Response) == 0 {
		ctx.Log(core.LNotice, "auth: "+hdr.String()+" lacks username, nonce, uri or response\n")
		return Error
	}
	d := digest{nonce: cred.Nonce, uri: cred.URI, method: m.Method()}
	if method != nil {
		d.method = method
	}
	var ok bool
	if d.alg, ok = ParseAlg(cred.Algorithm); !ok {
		ctx.Log(core.LNotice, "auth: unsupported algorithm "+core.LogQuote(cred.Algorithm)+"\n")
		return Error
	}
	var nc uint32
	hasQop := len(cred.QOP) > 0
	if hasQop {
		if !sip.EqualFold(cred.QOP, "auth") {
			ctx.Log(core.LNotice, "auth: unsupported qop "+core.LogQuote(cred.QOP)+"\n")
			return Error
		}
		if nc, ok = parseNC(cred.NC); !ok || len(cred.CNonce) == 0 {
			ctx.Log(core.LNotice, "auth: qop=auth without a valid nc and cnonce\n")
			return Error
		}
		d.qop, d.nc, d.cnonce = cred.QOP, cred.NC, cred.CNonce
	}
	n := s.nonces
	if !n.decode(cred.Nonce, &st.mac, &st.dec) {
		ctx.Log(core.LNotice, "auth: nonce not issued by this server (or before a restart)\n")
		return Error
	}
	dec := &st.dec
	// The algorithm answered must be the one the nonce was issued for,
	// which is the one configured then.
	nonceAlg := MD5
	if dec.flags&nfSHA256 != 0 {
		nonceAlg = SHA256
	}
	if d.alg != nonceAlg {
		ctx.Log(core.LNotice, "auth: credentials use "+d.alg.String()+", the challenge asked for "+nonceAlg.String()+"\n")
		return Error
	}
	if !hasQop && (s.qopAll || dec.flags&nfQop != 0) {
		ctx.Log(core.LNotice, "auth: credentials without qop, the challenge asked for qop=auth\n")
		return Error
	}
	now := checkClock()
	partsOf(ctx, &st.part)
	switch n.verify(&st.mac, dec, &st.part, now) {
	case nonceStale:
		st.stale = true
		return StaleNonce
	case nonceMoved:
		st.stale = true
		ctx.Log(core.LInfo, "auth: nonce bound to another Request-URI, Call-ID, From tag or source address (auth_checks): stale\n")
		return StaleNonce
	}
	if dec.flags&nfChecks != s.checksFor(m) || Alg(s.alg.Load()) != nonceAlg {
		// Issued for another kind of request, or before auth_algorithm
		// changed the algorithm.
		st.stale = true
		return StaleNonce
	}
	if s.checkURI != 0 && !uriMatches(cred.URI, m.OriginalRequestURI(), s.checkURI == 1) {
		ctx.Log(core.LNotice, "auth: credentials for uri "+strconv.Quote(cut(cred.URI))+" on a request for "+
			strconv.Quote(cut(m.OriginalRequestURI()))+"\n")
		return Error
	}
	if checkUser {
		var na sip.NameAddr
		var err error
		if m.MethodID() == sip.MethodREGISTER {
			na, err = m.To()
		} else {
			na, err = m.From()
		}
		u, uerr := sip.ParseURI(na.URI)
		if err != nil || uerr != nil || string(u.User) != string(cred.Username) {
			ctx.Log(core.LNotice, "auth: auth user "+core.LogQuote(cred.Username)+" is not the From/To user\n")
			return UserMismatch
		}
	}
	st.ha1, st.buf, ok = sec.HA1(ctx, cred.Username, realm, d.alg, st.ha1[:0], st.buf)
	if !ok {
		if fs, can := sec.(FailingSecrets); can {
			if reason, failed := fs.Failed(ctx); failed {
				ctx.Log(core.LErr, "auth: looking up "+core.LogQuote(cred.Username)+" in realm "+core.LogQuote(realm)+": "+reason+"\n")
				return Error
			}
		}
		ctx.Log(core.LNotice, "auth: unknown user "+core.LogQuote(cred.Username)+" in realm "+core.LogQuote(realm)+"\n")
		return UserUnknown
	}
	st.resp, st.buf = appendResponse(st.resp[:0], st.buf, &d, st.ha1)
	if !hexEqual(st.resp, cred.Response) {
		// Never log the password or the HA1.
		ctx.Log(core.LNotice, "auth: wrong password for "+core.LogQuote(cred.Username)+" in realm "+
			core.LogQuote(realm)+" from "+ctx.Src.String()+"\n")
		return InvalidPassword
	}
	// The response is right: only now may the nonce's state change, so a
	// forged answer cannot burn a client's nc.
	oneTime := s.oneTime || !hasQop && s.checkNC
	if s.checkNC || s.oneTime {
		n.fingerprint(&st.mac, byte(ctx.Proto), ctx.Src, m.Raw(), &st.fp)
		switch n.used.use(dec.id, dec.since, now, n.expire, nc, hasQop && s.checkNC, oneTime, &st.fp) {
		case useRetransmission:
			ctx.Log(core.LDbg, "auth: retransmission of the request that used this nonce and nc: accepted again\n")
		case useReplay:
			st.stale = true
			ctx.Log(core.LNotice, "auth: nc "+core.LogValue(cred.NC)+" not above the last one for this nonce (replay?) from "+ctx.Src.String()+"\n")
			return StaleNonce
		case useReused:
			st.stale = true
			ctx.Log(core.LNotice, "auth: one-time nonce used again by "+core.LogQuote(cred.Username)+" from "+ctx.Src.String()+"\n")
			return NonceReused
		case useFull:
			st.stale = true
			ctx.Log(core.LNotice, "auth: used-nonce table full (nc_array_size): stale challenge\n")
			return StaleNonce
		case useTooLate:
			st.stale = true
			return StaleNonce
		}
	}
	st.hdr, st.line = hdr, line
	return OK
}

// uriMatches compares the credentials' uri with the Request-URI: the
// same bytes, or equal SIP URIs (RFC 3261 19.1.4); with hostOK also a
// uri without user part naming the Request-URI's scheme, host and port,
// which sipp writes by default (sip:remote_ip:remote_port).
func uriMatches(cred, ruri []byte, hostOK bool) bool {
	if string(cred) == string(ruri) {
		return true
	}
	a, err := sip.ParseURI(cred)
	if err != nil {
		return false
	}
	b, err := sip.ParseURI(ruri)
	if err != nil {
		return false
	}
	if sip.URIEqual(a, b) {
		return true
	}
	if !hostOK || len(a.User) != 0 || !a.IsSIP() {
		return false
	}
	a.Params, b.Params, b.User, b.Password, b.Headers = nil, nil, nil, nil, nil
	return sip.URIEqual(a, b)
}

// cut shortens a logged value.
func cut(b []byte) string {
	if len(b) > 128 {
		return string(b[:128]) + "...(cut)"
	}
	return string(b)
}

// AuthChallenge is auth_challenge(realm, flags): 401 for REGISTER, 407
// for other requests.
func AuthChallenge(ctx *core.Ctx, realm string, flags int) int {
	if ctx.Msg != nil && ctx.Msg.MethodID() == sip.MethodREGISTER {
		return WWWChallenge(ctx, realm, flags)
	}
	return ProxyChallenge(ctx, realm, flags)
}

// WWWChallenge is www_challenge(realm, flags).
func WWWChallenge(ctx *core.Ctx, realm string, flags int) int {
	return challenge(ctx, realm, flags, 401, "Unauthorized", "WWW-Authenticate: ")
}

// ProxyChallenge is proxy_challenge(realm, flags).
func ProxyChallenge(ctx *core.Ctx, realm string, flags int) int {
	return challenge(ctx, realm, flags, 407, "Proxy Authentication Required", "Proxy-Authenticate: ")
}

func challenge(ctx *core.Ctx, realm string, flags, code int, reason, name string) int {
	m := ctx.Msg
	if m == nil || !m.IsRequest() || m.MethodID() == sip.MethodACK {
		ctx.Log(core.LErr, "auth: challenge: not a request that can be answered\n")
		return Error
	}
	s := getState(ctx.RT)
	st := msgSt(ctx)
	r := bytesOf(realm)
	if len(r) == 0 {
		// Kamailio's default realm: the To host for REGISTER, else From.
		var na sip.NameAddr
		var err error
		if m.MethodID() == sip.MethodREGISTER {
			na, err = m.To()
		} else {
			na, err = m.From()
		}
		if err == nil {
			if u, err := sip.ParseURI(na.URI); err == nil {
				r = u.Host
			}
		}
	}
	// Headers the script added with KSR.hdr.append_to_reply go first, as
	// Kamailio's reply lumps do.
	h := append(st.hdrs[:0], ctx.ReplyHeaders()...)
	h = append(h, name...)
	h = append(h, `Digest realm="`...)
	h = append(h, r...)
	h = append(h, `", nonce="`...)
	nf := s.checksFor(m)
	qop := s.qopAll || flags&(FlagQopAuth|FlagQopAuthInt) != 0
	if qop {
		nf |= nfQop
	}
	alg := Alg(s.alg.Load())
	if alg == SHA256 {
		nf |= nfSHA256
	}
	partsOf(ctx, &st.part)
	h = s.nonces.issue(h, &st.mac, time.Now().Unix(), nf, &st.part)
	h = append(h, '"')
	if qop {
		h = append(h, `, qop="auth"`...)
	}
	if alg != MD5 {
		h = append(h, ", algorithm="...)
		h = append(h, alg.String()...)
	}
	if st.stale || flags&FlagStale != 0 {
		h = append(h, ", stale=true"...)
	}
	h = append(h, "\r\n"...)
	st.hdrs = h
	if ctx.Out == nil {
		ctx.Log(core.LErr, "auth: challenge: no sender for this message\n")
		return Error
	}
	opt := sip.ReplyOptions{ServerHeader: ctx.ServerHeader(), Src: ctx.Src, ForceRport: ctx.ForceRport, ExtraHeaders: h}
	b := sip.AppendReply(ctx.Scratch[:0], m, code, reason, &opt)
	ctx.Scratch = b
	if err := ctx.Out.SendTo(b, ctx.Proto, sip.ReplyAddr(m, ctx.Src, ctx.ForceRport)); err != nil {
		ctx.Log(core.LErr, "auth: challenge: "+core.LogValue(err.Error())+"\n")
		return Error
	}
	return OK
}

// ConsumeCredentials is consume_credentials().
func ConsumeCredentials(ctx *core.Ctx) int {
	st := msgSt(ctx)
	if st.line < 0 {
		ctx.Log(core.LDbg, "auth: consume_credentials: no successful check in this message\n")
		return Error
	}
	if err := ctx.Msg.RemoveHeaderAt(st.line); err != nil {
		ctx.Log(core.LErr, "auth: consume_credentials: "+core.LogValue(err.Error())+"\n")
		return Error
	}
	st.line = -1
	return OK
}

// HasCredentials is has_credentials(realm).
func HasCredentials(ctx *core.Ctx, realm string) int {
	m := ctx.Msg
	if m == nil || !m.IsRequest() {
		return Error
	}
	for _, id := range [...]sip.HdrID{sip.HdrAuthorization, sip.HdrProxyAuthorization} {
		for it := m.LinesID(id); it.Next(); {
			c, err := sip.ParseCredentials(it.Value())
			if err == nil && c.IsDigest() && string(c.Realm) == realm {
				return OK
			}
		}
	}
	return Error
}

// SetAlgorithm is auth_algorithm(alg).
func SetAlgorithm(ctx *core.Ctx, alg string) int {
	a, ok := ParseAlg(bytesOf(alg))
	if !ok || alg == "" {
		ctx.Log(core.LErr, "auth: auth_algorithm: expected \"MD5\" or \"SHA-256\", got "+core.LogQuote(alg)+"\n")
		return Error
	}
	getState(ctx.RT).alg.Store(uint32(a))
	return OK
}

// pwSecrets checks against a password (or HA1) the script passed.
type pwSecrets struct {
	passwd string
	isHA1  bool
}

func (p *pwSecrets) HA1(_ *core.Ctx, user, realm []byte, alg Alg, dst, buf []byte) ([]byte, []byte, bool) {
	if p.isHA1 {
		return append(dst, p.passwd...), buf, true
	}
	dst, buf = AppendHA1(dst, buf, alg, user, realm, bytesOf(p.passwd))
	return dst, buf, true
}

func pvCheck(ctx *core.Ctx, realm, passwd string, flags int, hdr sip.HdrID, checkUser bool) int {
	st := msgSt(ctx)
	st.pw = pwSecrets{passwd: passwd, isHA1: flags&1 != 0}
	return Check(ctx, bytesOf(realm), hdr, &st.pw, checkUser, nil)
}

// PvAuthCheck is pv_auth_check(realm, passwd, flags, checkfrom).
func PvAuthCheck(ctx *core.Ctx, realm, passwd string, flags, checkfrom int) int {
	if ctx.Msg == nil {
		return Error
	}
	return pvCheck(ctx, realm, passwd, flags, CredHeader(ctx.Msg), checkfrom != 0)
}

// PvWWWAuthenticate is pv_www_authenticate(realm, passwd, flags).
func PvWWWAuthenticate(ctx *core.Ctx, realm, passwd string, flags int) int {
	return pvCheck(ctx, realm, passwd, flags, sip.HdrAuthorization, false)
}

// PvProxyAuthenticate is pv_proxy_authenticate(realm, passwd, flags).
func PvProxyAuthenticate(ctx *core.Ctx, realm, passwd string, flags int) int {
	return pvCheck(ctx, realm, passwd, flags, sip.HdrProxyAuthorization, false)
}

// ForgetNonce drops what the used-nonce table remembers of nonce, so a
// benchmark can check the same credentials again. Not for scripts.
func ForgetNonce(rt *core.Runtime, nonce []byte) {
	var raw [nonceRaw]byte
	if len(nonce) != nonceLen {
		return
	}
	if k, err := base64.RawURLEncoding.Decode(raw[:], nonce); err == nil && k == nonceRaw {
		getState(rt).nonces.used.forget(binary.BigEndian.Uint64(raw[8:]) >> 8)
	}
}
