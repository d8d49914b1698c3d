package uac

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"kemi/core"
	"kemi/exports/auth"
	"kemi/exports/tm"
	"kemi/sip"
)

// maxChallengeField bounds what of a challenge goes back into our
// request: a next hop's nonce, realm or opaque of more is refused.
const maxChallengeField = 512

// Auth is uac_auth.
func Auth(ctx *core.Ctx) int { return authMode(ctx, 0, "uac_auth") }

// AuthMode is uac_auth_mode: mode 1 takes the password as HA1.
func AuthMode(ctx *core.Ctx, mode int) int { return authMode(ctx, mode, "uac_auth_mode") }

func authMode(ctx *core.Ctx, mode int, fn string) int {
	c := cfg(ctx)
	m := ctx.Msg
	if c == nil || m == nil || !m.IsRequest() {
		logErr(ctx, fn+": module uac is not started, or the message is not a request")
		return -1
	}
	code, rb, ruri, err := tm.FailedBranch(ctx, nil, nil)
	if err != nil {
		logErr(ctx, fn+": "+err.Error())
		return -1
	}
	var hid, aid sip.HdrID
	var aname string
	switch code {
	case 401:
		hid, aid, aname = sip.HdrWWWAuthenticate, sip.HdrAuthorization, "Authorization"
	case 407:
		hid, aid, aname = sip.HdrProxyAuthenticate, sip.HdrProxyAuthorization, "Proxy-Authorization"
	default:
		logErr(ctx, fn+": the reply is "+strconv.Itoa(code)+", not a 401 or 407")
		return -1
	}
	var rpl sip.Msg
	if err := rpl.Parse(rb); err != nil {
		logErr(ctx, fn+": parsing the "+strconv.Itoa(code)+" reply: "+core.LogValue(err.Error()))
		return -1
	}
	// The first Digest challenge we can answer, in the next hop's order
	// (RFC 8760: it lists its preferred algorithm first).
	var ch *sip.Challenge
	var alg auth.Alg
	var cr credential
	found, seen := false, 0
	for it := rpl.AuthLines(hid); it.Next(); {
		seen++
		x := it.Credentials()
		if !x.IsDigest() {
			continue
		}
		a, ok := auth.ParseAlg(x.Algorithm)
		if !ok || !fieldOK(x.Realm) || !fieldOK(x.Nonce) || len(x.Nonce) == 0 || !fieldOK(x.Opaque) {
			continue
		}
		if len(x.QOP) > 0 && !hasToken(x.QOP, "auth") {
			continue // auth-int only
		}
		k, ok := c.lookup(ctx, x.Realm)
		if !ok {
			continue
		}
		cp := *x
		ch, alg, cr, found = &cp, a, k, true
		break
	}
	if !found {
		if seen == 0 {
			logErr(ctx, fn+": the "+strconv.Itoa(code)+" reply has no "+hid.String()+" header")
		} else {
			logErr(ctx, fn+": no Digest challenge of the "+strconv.Itoa(code)+" reply has an algorithm (MD5, SHA-256), qop (auth) and realm we hold a credential for")
		}
		return -1
	}

	var ha1 []byte
	if mode&1 != 0 {
		ha1 = []byte(cr.passwd)
	} else {
		ha1, _ = auth.AppendHA1(nil, nil, alg, []byte(cr.user), ch.Realm, []byte(cr.passwd))
	}
	var nc, cnonce, qop []byte
	if len(ch.QOP) > 0 {
		nc, qop = []byte("00000001"), []byte("auth")
		cnonce = appendCnonce(nil, ch.Nonce)
	}
	resp, _ := auth.AppendResponse(nil, nil, alg, ha1, ch.Nonce, nc, cnonce, qop, m.Method(), ruri)

	h := make([]byte, 0, 256+len(ruri)+len(ch.Nonce)+len(ch.Opaque))
	h = append(h, "Digest username=\""...)
	h = append(h, cr.user...)
	h = append(h, "\", realm=\""...)
	h = append(h, ch.Realm...)
	h = append(h, "\", nonce=\""...)
	h = append(h, ch.Nonce...)
	h = append(h, "\", uri=\""...)
	h = append(h, ruri...)
	if len(ch.Opaque) > 0 {
		h = append(h, "\", opaque=\""...)
		h = append(h, ch.Opaque...)
	}
	if len(qop) > 0 {
		h = append(h, "\", qop=auth, nc="...)
		h = append(h, nc...)
		h = append(h, ", cnonce=\""...)
		h = append(h, cnonce...)
	}
	h = append(h, "\", response=\""...)
	h = append(h, resp...)
	h = append(h, "\", algorithm="...)
	h = append(h, alg.String()...)

	// A header of ours from an earlier round (or one the caller sent for
	// the same realm) would shadow the new one.
	for i := m.NumHeaders() - 1; i >= 0; i-- {
		if m.HeaderIDAt(i) != aid {
			continue
		}
		_, v := m.HeaderAt(i)
		if old, err := sip.ParseCredentials(v); err == nil && string(old.Realm) == string(ch.Realm) {
			if err := m.RemoveHeaderAt(i); err != nil {
				logErr(ctx, fn+": removing the old "+aname+": "+err.Error())
				return -1
			}
		}
	}
	if string(m.RequestURI()) != string(ruri) {
		m.SetRequestURI(ruri)
	}
	if err := m.AppendHeader(aname, h); err != nil {
		logErr(ctx, fn+": adding "+aname+": "+err.Error())
		return -1
	}
	return 1
}

// lookup finds the credential for a challenge's realm: the auth_*_avp
// variables first (an empty realm there matches any), then the credential
// modparams.
func (c *config) lookup(ctx *core.Ctx, realm []byte) (credential, bool) {
	if c.realmPV.set() {
		r := c.realmPV.get(ctx)
		if r == "" || r == string(realm) {
			u, p := c.userPV.get(ctx), c.passPV.get(ctx)
			if u != "" && p != "" && fieldOK([]byte(u)) {
				return credential{user: u, realm: string(realm), passwd: p}, true
			}
		}
	}
	for _, k := range c.creds {
		if k.realm == string(realm) {
			return k, true
		}
	}
	return credential{}, false
}

// fieldOK says whether a challenge value may go back into a quoted
// string of our header: bounded, printable, no quote or backslash.
func fieldOK(b []byte) bool {
	if len(b) > maxChallengeField {
		return false
	}
	for _, c := range b {
		if c < 0x20 || c == 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// hasToken says whether a comma list (a qop-options value) has tok.
func hasToken(list []byte, tok string) bool {
	sp := sip.SplitCommas(list)
	for {
		p, ok := sp.Next()
		if !ok {
			return false
		}
		p = trim(p)
		if len(p) == len(tok) && sip.EqualFold(p, tok) {
			return true
		}
	}
}

func trim(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// cnonceKey makes the cnonces of this process unpredictable to a next hop
// (they protect us against chosen-plaintext nonces), while a nonce
// answered twice gets the same cnonce, as Kamailio's (a hash of the nonce).
var cnonceKey = func() [16]byte {
	var k [16]byte
	if _, err := rand.Read(k[:]); err != nil {
		panic("uac: no randomness for cnonces: " + err.Error())
	}
	return k
}()

// appendCnonce appends 16 hex digits of H(key, nonce).
func appendCnonce(dst, nonce []byte) []byte {
	h := sha256.New()
	h.Write(cnonceKey[:])
	h.Write(nonce)
	var sum [sha256.Size]byte
	return hex.AppendEncode(dst, h.Sum(sum[:0])[:8])
}
