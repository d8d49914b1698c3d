package auth

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/exports/hdr"
	"kemi/exports/internal/ksrtest"
	"kemi/sip"
)

// RFC 2617 3.5 and RFC 7616 3.9.1 examples.
func TestDigestVectors(t *testing.T) {
	for _, c := range []struct {
		name                                  string
		alg                                   Alg
		user, realm, pass, method, uri, nonce string
		nc, cnonce, qop, want                 string
	}{
		{"RFC 2617 MD5", MD5, "Mufasa", "testrealm@host.com", "Circle Of Life", "GET", "/dir/index.html",
			"dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b", "auth", "6629fae49393a05397450978507c4ef1"},
		{"RFC 7616 MD5", MD5, "Mufasa", "http-auth@example.org", "Circle of Life", "GET", "/dir/index.html",
			"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "auth",
			"8ca523f5e9506fed4657c9700eebdbec"},
		{"RFC 7616 SHA-256", SHA256, "Mufasa", "http-auth@example.org", "Circle of Life", "GET", "/dir/index.html",
			"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "auth",
			"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
	} {
		ha1 := HA1(c.alg, c.user, c.realm, c.pass)
		d := digest{alg: c.alg, nonce: []byte(c.nonce), nc: []byte(c.nc), cnonce: []byte(c.cnonce), qop: []byte(c.qop),
			method: []byte(c.method), uri: []byte(c.uri)}
		got, _ := appendResponse(nil, nil, &d, []byte(ha1))
		if string(got) != c.want {
			t.Errorf("%s: response %s, want %s", c.name, got, c.want)
		}
	}
}

func newRT(t testing.TB, params map[string]core.Value) *core.Runtime {
	t.Helper()
	reg, err := core.NewRegistry(core.Known("auth"))
	if err != nil {
		t.Fatal(err)
	}
	rt := &core.Runtime{Reg: reg, Params: map[string]map[string][]core.Value{"auth": {}}}
	for k, v := range params {
		rt.Params["auth"][k] = []core.Value{v}
	}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	return rt
}

func msgCtx(t testing.TB, rt *core.Runtime, raw string, out core.Sender) *core.Ctx {
	t.Helper()
	m := new(sip.Msg)
	if err := m.Parse([]byte(raw)); err != nil {
		t.Fatalf("parse: %v\n%s", err, raw)
	}
	ctx := &core.Ctx{Out: out, RT: rt}
	ctx.Reset(m, ksrtest.Src, ksrtest.Local, core.UDP)
	return ctx
}

func register(extra ...string) string {
	return string(ksrtest.Request(append([]string{
		"REGISTER sip:example.com SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKreg;rport",
		"From: <sip:alice@example.com>;tag=reg1",
		"To: <sip:alice@example.com>",
		"Call-ID: reg-alice@192.0.2.10",
		"CSeq: 2 REGISTER",
		"Contact: <sip:alice@192.0.2.10:5062>",
		"Content-Length: 0",
	}, extra...)...))
}

var nonceRE = regexp.MustCompile(`nonce="([^"]+)"`)

// challengeLine sends a challenge for raw and returns its header line.
func challengeLine(t testing.TB, rt *core.Runtime, raw string, flags int) string {
	t.Helper()
	l := challengeLineT(rt, raw, flags)
	if l == "" {
		t.Fatal("no challenge header sent")
	}
	return l
}

// challengeLineT is challengeLine for goroutines: "" when none was sent.
func challengeLineT(rt *core.Runtime, raw string, flags int) string {
	rec := ksrtest.NewRecorder()
	m := new(sip.Msg)
	if m.Parse([]byte(raw)) != nil {
		return ""
	}
	ctx := &core.Ctx{Out: rec, RT: rt}
	ctx.Reset(m, ksrtest.Src, ksrtest.Local, core.UDP)
	if AuthChallenge(ctx, "example.com", flags) != 1 || len(rec.Sent) != 1 {
		return ""
	}
	for _, l := range strings.Split(string(rec.Sent[0].B), "\r\n") {
		if strings.HasPrefix(l, "WWW-Authenticate: ") || strings.HasPrefix(l, "Proxy-Authenticate: ") {
			return l
		}
	}
	return ""
}

// forgetNonce drops what the used-nonce table knows of nonce.
func forgetNonce(rt *core.Runtime, nonce string) { ForgetNonce(rt, []byte(nonce)) }

// authorization computes a client's Authorization value.
func authorization(alg Alg, user, realm, pass, method, uri, nonce, nc, cnonce string) string {
	d := digest{alg: alg, nonce: []byte(nonce), method: []byte(method), uri: []byte(uri)}
	if nc != "" {
		d.nc, d.cnonce, d.qop = []byte(nc), []byte(cnonce), []byte("auth")
	}
	resp, _ := appendResponse(nil, nil, &d, []byte(HA1(alg, user, realm, pass)))
	v := `Digest username="` + user + `", realm="` + realm + `", nonce="` + nonce + `", uri="` + uri + `", response="` + string(resp) + `"`
	if alg == SHA256 {
		v += ", algorithm=SHA-256"
	}
	if nc != "" {
		v += `, qop=auth, nc=` + nc + `, cnonce="` + cnonce + `"`
	}
	return v
}

func TestChallengeAndCheck(t *testing.T) {
	for _, alg := range []Alg{MD5, SHA256} {
		rt := newRT(t, map[string]core.Value{"algorithm": core.Str(alg.String())})
		line := challengeLine(t, rt, register(), 1)
		if !strings.HasPrefix(line, `WWW-Authenticate: Digest realm="example.com", nonce="`) || !strings.Contains(line, `qop="auth"`) {
			t.Fatalf("challenge: %s", line)
		}
		if alg == SHA256 != strings.Contains(line, "algorithm=SHA-256") {
			t.Fatalf("%v challenge: %s", alg, line)
		}
		nonce := nonceRE.FindStringSubmatch(line)[1]
		checkC := func(pass, nc, cnonce string) int {
			raw := register("Authorization: " + authorization(alg, "alice", "example.com", pass, "REGISTER", "sip:example.com", nonce, nc, cnonce))
			return PvAuthCheck(msgCtx(t, rt, raw, nil), "example.com", "secret", 0, 1)
		}
		check := func(pass, nc string) int { return checkC(pass, nc, "c0ffee") }
		if rc := check("secret", "00000001"); rc != OK {
			t.Fatalf("%v: good credentials: %d", alg, rc)
		}
		if rc := check("secret", "00000001"); rc != OK {
			t.Errorf("%v: retransmission (the same request again): %d, want %d", alg, rc, OK)
		}
		if rc := checkC("secret", "00000001", "0ther"); rc != StaleNonce {
			t.Errorf("%v: replayed nc in another request: %d, want %d", alg, rc, StaleNonce)
		}
		if rc := check("secret", "00000002"); rc != OK {
			t.Errorf("%v: next nc: %d", alg, rc)
		}
		if rc := check("wrong", "00000003"); rc != InvalidPassword {
			t.Errorf("%v: wrong password: %d", alg, rc)
		}
		// qop was offered: an answer without it is refused.
		if rc := check("secret", ""); rc != Error {
			t.Errorf("%v: no qop: %d", alg, rc)
		}
		// The HA1 in place of the password.
		raw := register("Authorization: " + authorization(alg, "alice", "example.com", "secret", "REGISTER", "sip:example.com", nonce, "00000009", "x"))
		if rc := PvAuthCheck(msgCtx(t, rt, raw, nil), "example.com", HA1(alg, "alice", "example.com", "secret"), 1, 0); rc != OK {
			t.Errorf("%v: HA1 flag: %d", alg, rc)
		}
	}
}

func TestCheckFailures(t *testing.T) {
	rt := newRT(t, map[string]core.Value{"nonce_expire": core.Int(1)})
	nonce := nonceRE.FindStringSubmatch(challengeLine(t, rt, register(), 0))[1]
	good := authorization(MD5, "alice", "example.com", "secret", "REGISTER", "sip:example.com", nonce, "00000001", "c")
	pv := func(raw string) int { return PvAuthCheck(msgCtx(t, rt, raw, nil), "example.com", "secret", 0, 1) }
	if rc := pv(register()); rc != NoCredentials {
		t.Errorf("no credentials: %d", rc)
	}
	if rc := pv(register("Authorization: " + strings.Replace(good, "example.com", "other.org", 1))); rc != NoCredentials {
		t.Errorf("credentials for another realm: %d", rc)
	}
	for _, bad := range []string{
		`Digest username="alice", realm="example.com", nonce="unterminated`,
		`Digest username="alice", realm="example.com"`,
		strings.Replace(good, nonce, "forged"+nonce[6:], 1),
		strings.Replace(good, "qop=auth", "qop=auth-int", 1),
		strings.Replace(good, "nc=00000001", "nc=zz", 1),
		good + ", algorithm=MD5-sess",
	} {
		if rc := pv(register("Authorization: " + bad)); rc != Error {
			t.Errorf("%s: %d, want %d", bad, rc, Error)
		}
	}
	mismatch := strings.Replace(register("Authorization: "+good), "To: <sip:alice@", "To: <sip:bob@", 1)
	if rc := pv(mismatch); rc != UserMismatch {
		t.Errorf("To user is not the auth user: %d", rc)
	}
	// An expired nonce is stale.
	s := getState(rt)
	m := &mac{}
	var d decoded
	if !s.nonces.decode([]byte(nonce), m, &d) {
		t.Fatal("decode")
	}
	var p parts
	if res := s.nonces.verify(m, &d, &p, d.since+5); res != nonceStale {
		t.Fatalf("verify after expiry: %d", res)
	}
}

func TestStaleChallenge(t *testing.T) {
	rt := newRT(t, map[string]core.Value{"nonce_expire": core.Int(1)})
	nonce := nonceRE.FindStringSubmatch(challengeLine(t, rt, register(), 1))[1]
	time.Sleep(2100 * time.Millisecond)
	raw := register("Authorization: " + authorization(MD5, "alice", "example.com", "secret", "REGISTER", "sip:example.com", nonce, "00000001", "x"))
	rec := ksrtest.NewRecorder()
	ctx := msgCtx(t, rt, raw, rec)
	if rc := PvAuthCheck(ctx, "example.com", "secret", 0, 0); rc != StaleNonce {
		t.Fatalf("expired nonce: %d, want %d", rc, StaleNonce)
	}
	AuthChallenge(ctx, "example.com", 0)
	if !strings.Contains(string(rec.Sent[0].B), ", stale=true\r\n") {
		t.Errorf("challenge after a stale nonce lacks stale=true:\n%s", rec.Sent[0].B)
	}
}

func TestConsumeAndHas(t *testing.T) {
	rt := newRT(t, nil)
	line := challengeLine(t, rt, string(ksrtest.Invite()), 1)
	if !strings.HasPrefix(line, "Proxy-Authenticate: ") {
		t.Fatalf("INVITE challenge: %s", line)
	}
	nonce := nonceRE.FindStringSubmatch(line)[1]
	raw := string(ksrtest.Invite("Proxy-Authorization: " + authorization(MD5, "alice", "example.org", "pw", "INVITE", "sip:bob@example.com", nonce, "00000001", "c")))
	ctx := msgCtx(t, rt, raw, nil)
	if HasCredentials(ctx, "example.org") != 1 || HasCredentials(ctx, "example.com") != -1 {
		t.Error("has_credentials")
	}
	if ConsumeCredentials(ctx) != -1 {
		t.Error("consume before a check succeeded")
	}
	if rc := PvAuthCheck(ctx, "example.org", "pw", 0, 1); rc != OK {
		t.Fatalf("check: %d", rc)
	}
	if ConsumeCredentials(ctx) != 1 {
		t.Fatal("consume failed")
	}
	if out := ksrtest.Serialize(ctx); strings.Contains(out, "Proxy-Authorization") {
		t.Errorf("credentials still there:\n%s", out)
	}
	if SetAlgorithm(ctx, "SHA-256") != 1 || SetAlgorithm(ctx, "MD4") != -1 {
		t.Error("auth_algorithm codes")
	}
}

func TestBadParams(t *testing.T) {
	reg, _ := core.NewRegistry(core.Known("auth"))
	for _, p := range []map[string][]core.Value{{"algorithm": {core.Str("MD4")}}, {"qop": {core.Str("auth-int")}}} {
		rt := &core.Runtime{Reg: reg, Params: map[string]map[string][]core.Value{"auth": p}}
		if err := rt.Start(); err == nil {
			t.Errorf("%v accepted", p)
		}
	}
}

func TestCheckAllocs(t *testing.T) {
	rt := newRT(t, map[string]core.Value{"algorithm": core.Str("SHA-256")})
	nonce := nonceRE.FindStringSubmatch(challengeLine(t, rt, register(), 0))[1]
	raw := []byte(register("Authorization: " + authorization(SHA256, "alice", "example.com", "secret", "REGISTER", "sip:example.com", nonce, "00000001", "c")))
	var m sip.Msg
	ctx := &core.Ctx{RT: rt}
	f := func() {
		m.Parse(raw)
		ctx.Reset(&m, ksrtest.Src, ksrtest.Local, core.UDP)
		if rc := PvAuthCheck(ctx, "example.com", "secret", 0, 1); rc != OK {
			t.Fatalf("check failed: %d", rc)
		}
		forgetNonce(rt, nonce)
	}
	f()
	if n := testing.AllocsPerRun(100, f); n > 0 {
		t.Errorf("check: %.1f allocs, want 0", n)
	}
}

// TestConcurrentChecks challenges and checks from several workers at
// once: run with -race.
func TestConcurrentChecks(t *testing.T) {
	rt := newRT(t, nil)
	done := make(chan int)
	for w := 0; w < 4; w++ {
		go func() {
			bad := 0
			for i := 0; i < 50; i++ {
				nonce := nonceRE.FindStringSubmatch(challengeLineT(rt, register(), 0))[1]
				raw := register("Authorization: " + authorization(MD5, "alice", "example.com", "pw", "REGISTER", "sip:example.com", nonce, "00000001", "c"))
				if PvAuthCheck(msgCtx(t, rt, raw, nil), "example.com", "pw", 0, 0) != OK {
					bad++
				}
			}
			done <- bad
		}()
	}
	for w := 0; w < 4; w++ {
		if n := <-done; n != 0 {
			t.Errorf("%d checks failed", n)
		}
	}
}

func TestChallengeCarriesAppendToReply(t *testing.T) {
	rt := newRT(t, nil)
	rec := ksrtest.NewRecorder()
	ctx := msgCtx(t, rt, register(), rec)
	hdr.AppendToReply(ctx, "X-Auth: 1\r\n")
	AuthChallenge(ctx, "example.com", 0)
	if got := string(rec.Sent[0].B); !strings.Contains(got, "\r\nX-Auth: 1\r\nWWW-Authenticate: Digest ") {
		t.Errorf("challenge lacks the append_to_reply header:\n%s", got)
	}
}
