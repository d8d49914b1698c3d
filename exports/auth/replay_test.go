package auth

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/sip"
)

// Issue 10, "Digest replay": a credential sniffed from one REGISTER must
// not work for another. The tests run with the module's defaults (those
// of the shipped configs) unless they say otherwise.

// regWith builds a REGISTER from alice with the given Request-URI,
// Call-ID, Contact and extra lines.
func regWith(ruri, callID, contact string, extra ...string) string {
	return string(ksrtest.Request(append([]string{
		"REGISTER " + ruri + " SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKreg" + strconv.Itoa(len(extra)) + ";rport",
		"From: <sip:alice@example.com>;tag=reg1",
		"To: <sip:alice@example.com>",
		"Call-ID: " + callID,
		"CSeq: 2 REGISTER",
		"Contact: " + contact,
		"Content-Length: 0",
	}, extra...)...))
}

// Two request fingerprints for tests of the used-nonce table.
var fpA, fpB = &[fpLen]byte{0xa}, &[fpLen]byte{0xb}

const (
	ruri1    = "sip:example.com"
	callID1  = "reg-alice@192.0.2.10"
	contact1 = "<sip:alice@192.0.2.10:5062>"
)

// sniffed challenges a REGISTER, answers it as alice would (nc 1) and
// checks that answer; it returns the nonce and the Authorization line an
// eavesdropper saw.
func sniffed(t *testing.T, rt *core.Runtime, alg Alg) (nonce, authz string) {
	t.Helper()
	nonce = nonceRE.FindStringSubmatch(challengeLine(t, rt, regWith(ruri1, callID1, contact1), 0))[1]
	authz = "Authorization: " + authorization(alg, "alice", "example.com", "secret", "REGISTER", ruri1, nonce, "00000001", "0a4f113b")
	if rc := checkAt(t, rt, regWith(ruri1, callID1, contact1, authz), ksrtest.Src); rc != OK {
		t.Fatalf("alice's own REGISTER: %d", rc)
	}
	return nonce, authz
}

func checkAt(t *testing.T, rt *core.Runtime, raw string, src netip.AddrPort) int {
	t.Helper()
	m := new(sip.Msg)
	if err := m.Parse([]byte(raw)); err != nil {
		t.Fatalf("parse: %v\n%s", err, raw)
	}
	ctx := &core.Ctx{RT: rt, Out: ksrtest.Discard}
	ctx.Reset(m, src, ksrtest.Local, core.UDP)
	return PvAuthCheck(ctx, "example.com", "secret", 0, 1)
}

func TestHardening_DigestReplay_OtherContact(t *testing.T) {
	rt := newRT(t, nil)
	_, authz := sniffed(t, rt, MD5)
	if rc := checkAt(t, rt, regWith(ruri1, callID1, "<sip:mallory@198.51.100.66:5060>", authz), ksrtest.Src); rc != StaleNonce {
		t.Errorf("replay with another Contact: %d, want %d (nc not above the last)", rc, StaleNonce)
	}
}

func TestHardening_DigestReplay_OtherCallID(t *testing.T) {
	rt := newRT(t, nil)
	_, authz := sniffed(t, rt, MD5)
	// Even a first use of the nonce from another Call-ID fails:
	// auth_checks_register binds the Call-ID.
	rt2 := newRT(t, nil)
	nonce := nonceRE.FindStringSubmatch(challengeLine(t, rt2, regWith(ruri1, callID1, contact1), 0))[1]
	fresh := "Authorization: " + authorization(MD5, "alice", "example.com", "secret", "REGISTER", ruri1, nonce, "00000001", "x")
	for name, c := range map[string]struct {
		rt    *core.Runtime
		authz string
	}{"replayed": {rt, authz}, "unused": {rt2, fresh}} {
		if rc := checkAt(t, c.rt, regWith(ruri1, "other-call@198.51.100.66", contact1, c.authz), ksrtest.Src); rc != StaleNonce {
			t.Errorf("%s credentials with another Call-ID: %d, want %d", name, rc, StaleNonce)
		}
	}
}

func TestHardening_DigestReplay_OtherRequestURI(t *testing.T) {
	rt := newRT(t, nil)
	_, authz := sniffed(t, rt, MD5)
	// The uri in the credentials no longer is the Request-URI.
	if rc := checkAt(t, rt, regWith("sip:other.example.com", callID1, contact1, authz), ksrtest.Src); rc >= 0 || rc == OK {
		t.Errorf("replay to another Request-URI: %d, want < 0", rc)
	}
}

func TestHardening_DigestReplay_ContactStarExpires0(t *testing.T) {
	rt := newRT(t, nil)
	_, authz := sniffed(t, rt, MD5)
	if rc := checkAt(t, rt, regWith(ruri1, callID1, "*", "Expires: 0", authz), ksrtest.Src); rc != StaleNonce {
		t.Errorf("replay as Contact: * with Expires: 0: %d, want %d", rc, StaleNonce)
	}
}

func TestHardening_DigestReplay_OtherSourceIP(t *testing.T) {
	rt := newRT(t, nil)
	nonce := nonceRE.FindStringSubmatch(challengeLine(t, rt, regWith(ruri1, callID1, contact1), 0))[1]
	authz := "Authorization: " + authorization(MD5, "alice", "example.com", "secret", "REGISTER", ruri1, nonce, "00000001", "x")
	if rc := checkAt(t, rt, regWith(ruri1, callID1, contact1, authz), netip.MustParseAddrPort("198.51.100.66:5060")); rc != StaleNonce {
		t.Errorf("credentials sent from another address: %d, want %d", rc, StaleNonce)
	}
}

func TestHardening_DigestReplay_NoQopWhenConfigured(t *testing.T) {
	for _, c := range []struct {
		name   string
		params map[string]core.Value
		flags  int
	}{
		{"qop param", nil, 0},
		{"challenge flag", map[string]core.Value{"qop": core.Str("")}, FlagQopAuth},
	} {
		rt := newRT(t, c.params)
		nonce := nonceRE.FindStringSubmatch(challengeLine(t, rt, regWith(ruri1, callID1, contact1), c.flags))[1]
		authz := "Authorization: " + authorization(MD5, "alice", "example.com", "secret", "REGISTER", ruri1, nonce, "", "")
		if rc := checkAt(t, rt, regWith(ruri1, callID1, contact1, authz), ksrtest.Src); rc != Error {
			t.Errorf("%s: answer without qop: %d, want %d", c.name, rc, Error)
		}
	}
}

func TestHardening_DigestReplay_NCNotIncreasing(t *testing.T) {
	rt := newRT(t, nil)
	nonce, _ := sniffed(t, rt, MD5)
	// Each request differs from the one before (its Contact): none is a
	// retransmission.
	i := 0
	use := func(nc string) int {
		i++
		authz := "Authorization: " + authorization(MD5, "alice", "example.com", "secret", "REGISTER", ruri1, nonce, nc, "c"+nc)
		return checkAt(t, rt, regWith(ruri1, callID1, "<sip:alice@192.0.2.10:"+strconv.Itoa(5062+i)+">", authz), ksrtest.Src)
	}
	for _, c := range []struct {
		nc   string
		want int
	}{{"00000003", OK}, {"00000003", StaleNonce}, {"00000002", StaleNonce}, {"00000001", StaleNonce}, {"00000004", OK}} {
		if rc := use(c.nc); rc != c.want {
			t.Errorf("nc %s: %d, want %d", c.nc, rc, c.want)
		}
	}
}

func TestHardening_DigestReplay_MD5WhenOnlySHA256(t *testing.T) {
	rt := newRT(t, map[string]core.Value{"algorithm": core.Str("SHA-256")})
	nonce := nonceRE.FindStringSubmatch(challengeLine(t, rt, regWith(ruri1, callID1, contact1), 0))[1]
	for _, v := range []string{
		authorization(MD5, "alice", "example.com", "secret", "REGISTER", ruri1, nonce, "00000001", "x"),
		authorization(MD5, "alice", "example.com", "secret", "REGISTER", ruri1, nonce, "00000001", "x") + ", algorithm=MD5",
	} {
		if rc := checkAt(t, rt, regWith(ruri1, callID1, contact1, "Authorization: "+v), ksrtest.Src); rc != Error {
			t.Errorf("MD5 answer to a SHA-256 challenge: %d, want %d\n%s", rc, Error, v)
		}
	}
	good := authorization(SHA256, "alice", "example.com", "secret", "REGISTER", ruri1, nonce, "00000001", "x")
	if rc := checkAt(t, rt, regWith(ruri1, callID1, contact1, "Authorization: "+good), ksrtest.Src); rc != OK {
		t.Errorf("SHA-256 answer: %d", rc)
	}
}

func TestHardening_DigestReplay_URIMismatch(t *testing.T) {
	rt := newRT(t, nil)
	nonce := nonceRE.FindStringSubmatch(challengeLine(t, rt, regWith(ruri1, callID1, contact1), 0))[1]
	// A correct response, computed for another uri than the Request-URI.
	authz := "Authorization: " + authorization(MD5, "alice", "example.com", "secret", "REGISTER", "sip:other.example.com", nonce, "00000001", "x")
	if rc := checkAt(t, rt, regWith(ruri1, callID1, contact1, authz), ksrtest.Src); rc != Error {
		t.Errorf("uri is not the Request-URI: %d, want %d", rc, Error)
	}
	// An equal SIP URI written otherwise is the same resource.
	authz = "Authorization: " + authorization(MD5, "alice", "example.com", "secret", "REGISTER", "sip:EXAMPLE.com", nonce, "00000002", "x")
	if rc := checkAt(t, rt, regWith(ruri1, callID1, contact1, authz), ksrtest.Src); rc != OK {
		t.Errorf("uri equal to the Request-URI: %d", rc)
	}
	// check_uri=0 turns the comparison off.
	rt = newRT(t, map[string]core.Value{"check_uri": core.Int(0)})
	nonce = nonceRE.FindStringSubmatch(challengeLine(t, rt, regWith(ruri1, callID1, contact1), 0))[1]
	authz = "Authorization: " + authorization(MD5, "alice", "example.com", "secret", "REGISTER", "sip:other.example.com", nonce, "00000001", "x")
	if rc := checkAt(t, rt, regWith(ruri1, callID1, contact1, authz), ksrtest.Src); rc != OK {
		t.Errorf("check_uri=0: %d", rc)
	}
}

func TestHardening_DigestReplay_OneTimeNonce(t *testing.T) {
	// Once, also when the next answer has a higher nc.
	rt := newRT(t, map[string]core.Value{"one_time_nonce": core.Int(1)})
	nonce, _ := sniffed(t, rt, MD5)
	authz := "Authorization: " + authorization(MD5, "alice", "example.com", "secret", "REGISTER", ruri1, nonce, "00000002", "y")
	rec := ksrtest.NewRecorder()
	ctx := msgCtx(t, rt, regWith(ruri1, callID1, contact1, authz), rec)
	if rc := PvAuthCheck(ctx, "example.com", "secret", 0, 1); rc != NonceReused {
		t.Fatalf("second use: %d, want %d", rc, NonceReused)
	}
	AuthChallenge(ctx, "example.com", 0)
	if !strings.Contains(string(rec.Sent[0].B), ", stale=true\r\n") {
		t.Errorf("challenge after a reused nonce lacks stale=true:\n%s", rec.Sent[0].B)
	}
}

// With qop switched off, nonce_count (on by default) makes a nonce
// answered without nc usable once.
func TestHardening_DigestReplay_NoQopIsOneTime(t *testing.T) {
	rt := newRT(t, map[string]core.Value{"qop": core.Str("")})
	nonce := nonceRE.FindStringSubmatch(challengeLine(t, rt, regWith(ruri1, callID1, contact1), 0))[1]
	authz := "Authorization: " + authorization(MD5, "alice", "example.com", "secret", "REGISTER", ruri1, nonce, "", "")
	if rc := checkAt(t, rt, regWith(ruri1, callID1, contact1, authz), ksrtest.Src); rc != OK {
		t.Fatalf("first use: %d", rc)
	}
	if rc := checkAt(t, rt, regWith(ruri1, callID1, "*", "Expires: 0", authz), ksrtest.Src); rc != NonceReused {
		t.Errorf("replay without qop: %d, want %d", rc, NonceReused)
	}
}

func TestHardening_DigestReplay_MaxDrift(t *testing.T) {
	rt := newRT(t, nil)
	s := getState(rt)
	var p parts
	ctx := msgCtx(t, rt, regWith(ruri1, callID1, contact1), nil)
	partsOf(ctx, &p)
	var m mac
	future := string(s.nonces.issue(nil, &m, time.Now().Unix()+60, s.checksFor(ctx.Msg)|nfQop, &p))
	near := string(s.nonces.issue(nil, &m, time.Now().Unix()+2, s.checksFor(ctx.Msg)|nfQop, &p))
	for _, c := range []struct {
		nonce string
		want  int
	}{{future, StaleNonce}, {near, OK}} {
		authz := "Authorization: " + authorization(MD5, "alice", "example.com", "secret", "REGISTER", ruri1, c.nonce, "00000001", "x")
		if rc := checkAt(t, rt, regWith(ruri1, callID1, contact1, authz), ksrtest.Src); rc != c.want {
			t.Errorf("nonce from the future: %d, want %d", rc, c.want)
		}
	}
}

// A flood of unauthenticated REGISTERs, each challenged, pushes out no
// live nonce: challenges keep no state.
func TestHardening_DigestReplay_FloodKeepsLiveNonce(t *testing.T) {
	rt := newRT(t, nil)
	used, _ := sniffed(t, rt, MD5)
	unused := nonceRE.FindStringSubmatch(challengeLine(t, rt, regWith(ruri1, callID1, contact1), 0))[1]

	var m sip.Msg
	ctx := &core.Ctx{RT: rt, Out: ksrtest.Discard}
	start := time.Now()
	for i := 0; i < 100_000; i++ {
		raw := regWith(ruri1, "flood-"+strconv.Itoa(i), contact1)
		if err := m.Parse([]byte(raw)); err != nil {
			t.Fatal(err)
		}
		ctx.Reset(&m, netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}), 5060), ksrtest.Local, core.UDP)
		if rc := PvAuthCheck(ctx, "example.com", "secret", 0, 1); rc != NoCredentials {
			t.Fatalf("flood %d: %d", i, rc)
		}
		if AuthChallenge(ctx, "example.com", 0) != OK {
			t.Fatalf("flood %d: no challenge", i)
		}
	}
	t.Logf("100000 challenges in %v", time.Since(start))

	authz := func(nonce, nc string) string {
		return "Authorization: " + authorization(MD5, "alice", "example.com", "secret", "REGISTER", ruri1, nonce, nc, "c"+nc)
	}
	if rc := checkAt(t, rt, regWith(ruri1, callID1, contact1, authz(used, "00000002")), ksrtest.Src); rc != OK {
		t.Errorf("the nonce in use before the flood, next nc: %d", rc)
	}
	if rc := checkAt(t, rt, regWith(ruri1, callID1, contact1, authz(used, "00000001")), ksrtest.Src); rc != StaleNonce {
		t.Errorf("replay of the first nc after the flood: %d, want %d", rc, StaleNonce)
	}
	if rc := checkAt(t, rt, regWith(ruri1, callID1, contact1, authz(unused, "00000001")), ksrtest.Src); rc != OK {
		t.Errorf("a nonce issued before the flood, first use: %d", rc)
	}
}

// A full used-nonce table refuses a new nonce (stale) and forgets none it
// still has to remember.
func TestHardening_DigestReplay_TableFullRefuses(t *testing.T) {
	rt := newRT(t, map[string]core.Value{"nc_array_size": core.Int(8)})
	if n := getState(rt).nonces.used.size(); n != 8 {
		t.Fatalf("table of %d entries", n)
	}
	var authz []string
	for i := 0; i < 8; i++ {
		_, a := sniffed(t, rt, MD5)
		authz = append(authz, a)
	}
	nonce := nonceRE.FindStringSubmatch(challengeLine(t, rt, regWith(ruri1, callID1, contact1), 0))[1]
	ninth := "Authorization: " + authorization(MD5, "alice", "example.com", "secret", "REGISTER", ruri1, nonce, "00000001", "x")
	if rc := checkAt(t, rt, regWith(ruri1, callID1, contact1, ninth), ksrtest.Src); rc != StaleNonce {
		t.Errorf("ninth nonce in a full table: %d, want %d", rc, StaleNonce)
	}
	for i, a := range authz {
		if rc := checkAt(t, rt, regWith(ruri1, callID1, "<sip:mallory@198.51.100.66:5060>", a), ksrtest.Src); rc != StaleNonce {
			t.Errorf("replay %d with the table full: %d, want %d", i, rc, StaleNonce)
		}
	}
}

// An entry past the first-use window may be forgotten; a nonce it
// forgot is then stale, never accepted again.
func TestHardening_DigestReplay_ForgottenNonceIsStale(t *testing.T) {
	tb := newUsedTable(8)
	now := int64(1_000_000)
	if r := tb.use(1, now, now, 300, 1, true, false, fpA); r != useOK {
		t.Fatal(r)
	}
	for id := uint64(2); id <= 8; id++ {
		if r := tb.use(id, now, now, 300, 1, true, false, fpA); r != useOK {
			t.Fatal(id, r)
		}
	}
	if r := tb.use(9, now, now, 300, 1, true, false, fpA); r != useFull {
		t.Fatalf("full table: %d", r)
	}
	// Past the first-use window, and past the retransmission window of
	// every use.
	later := now + max(firstUseWindow, retxWindow) + 1
	if r := tb.use(10, later, later, 300, 1, true, false, fpA); r != useOK {
		t.Fatalf("after the window an old entry makes room: %d", r)
	}
	stale := 0
	for id := uint64(1); id <= 8; id++ {
		// The same request (fingerprint) again, now too late to be a
		// retransmission.
		switch tb.use(id, now, later, 300, 1, true, false, fpA) {
		case useTooLate:
			stale++
		case useReplay:
		default:
			t.Errorf("nonce %d accepted again", id)
		}
	}
	if stale != 1 {
		t.Errorf("%d nonces forgotten, want 1", stale)
	}
}

// A UDP retransmission of a REGISTER that was accepted (the same bytes
// from the same address: same nonce and nc) is accepted again, so the
// registrar answers it 200 again instead of 401 stale; sipp retransmits
// under load. Everything else about it is still a replay.
func TestHardening_DigestReplay_RetransmissionAccepted(t *testing.T) {
	for _, c := range []struct {
		name   string
		params map[string]core.Value
		nc     string
	}{
		{"qop nc", nil, "00000001"},
		{"no qop", map[string]core.Value{"qop": core.Str("")}, ""},
		{"one_time_nonce", map[string]core.Value{"one_time_nonce": core.Int(1)}, "00000001"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rt := newRT(t, c.params)
			nonce := nonceRE.FindStringSubmatch(challengeLine(t, rt, regWith(ruri1, callID1, contact1), 0))[1]
			authz := "Authorization: " + authorization(MD5, "alice", "example.com", "secret", "REGISTER", ruri1, nonce, c.nc, "0a4f113b")
			req := regWith(ruri1, callID1, contact1, "Expires: 600", authz)
			for i := 0; i < 3; i++ {
				if rc := checkAt(t, rt, req, ksrtest.Src); rc != OK {
					t.Fatalf("copy %d of the same REGISTER: %d, want %d", i+1, rc, OK)
				}
			}
			// The same bytes from another port of the same host are no
			// retransmission (the nonce binds only the IP).
			other := netip.AddrPortFrom(ksrtest.Src.Addr(), ksrtest.Src.Port()+1)
			replayed := StaleNonce
			if c.nc == "" || c.params["one_time_nonce"].I != 0 {
				replayed = NonceReused
			}
			if rc := checkAt(t, rt, req, other); rc != replayed {
				t.Errorf("the same REGISTER from another port: %d, want %d", rc, replayed)
			}
			for name, r := range map[string]string{
				"other Contact":         regWith(ruri1, callID1, "<sip:mallory@198.51.100.66:5060>", "Expires: 600", authz),
				"Contact: * Expires: 0": regWith(ruri1, callID1, "*", "Expires: 0", authz),
				"other Expires":         regWith(ruri1, callID1, contact1, "Expires: 0", authz),
				"other CSeq":            strings.Replace(req, "CSeq: 2 REGISTER", "CSeq: 3 REGISTER", 1),
				"second Contact":        regWith(ruri1, callID1, contact1, "Expires: 600", "Contact: <sip:mallory@198.51.100.66>", authz),
				"other Call-ID":         regWith(ruri1, "other-call@198.51.100.66", contact1, "Expires: 600", authz),
				"other Request-URI":     regWith("sip:other.example.com", callID1, contact1, "Expires: 600", authz),
				"other Via (branch)":    strings.Replace(req, "branch=z9hG4bKreg", "branch=z9hG4bKmal", 1),
				"a body":                strings.Replace(req, "Content-Length: 0", "Content-Length: 3", 1) + "abc",
			} {
				if rc := checkAt(t, rt, r, ksrtest.Src); rc >= 0 {
					t.Errorf("%s, same nonce and nc: %d, want < 0", name, rc)
				}
			}
			// Still a retransmission after the replays failed.
			if rc := checkAt(t, rt, req, ksrtest.Src); rc != OK {
				t.Errorf("the same REGISTER after the replays: %d, want %d", rc, OK)
			}
		})
	}
}

// A retransmission is accepted only within retxWindow (64*T1) of the
// first accepted copy; retransmitting does not extend the window.
func TestHardening_DigestReplay_RetransmissionWindow(t *testing.T) {
	defer func(f func() int64) { checkClock = f }(checkClock)
	rt := newRT(t, nil)
	nonce := nonceRE.FindStringSubmatch(challengeLine(t, rt, regWith(ruri1, callID1, contact1), 0))[1]
	authz := "Authorization: " + authorization(MD5, "alice", "example.com", "secret", "REGISTER", ruri1, nonce, "00000001", "0a4f113b")
	req := regWith(ruri1, callID1, contact1, authz)
	t0 := time.Now().Unix()
	for _, c := range []struct {
		after int64
		want  int
	}{{0, OK}, {1, OK}, {retxWindow, OK}, {retxWindow + 1, StaleNonce}, {retxWindow + 5, StaleNonce}} {
		checkClock = func() int64 { return t0 + c.after }
		if rc := checkAt(t, rt, req, ksrtest.Src); rc != c.want {
			t.Errorf("the same REGISTER %d s after the first: %d, want %d", c.after, rc, c.want)
		}
	}
	// The next nc is a new use, with a window of its own.
	authz2 := "Authorization: " + authorization(MD5, "alice", "example.com", "secret", "REGISTER", ruri1, nonce, "00000002", "0a4f113b")
	req2 := regWith(ruri1, callID1, contact1, authz2)
	for _, c := range []struct {
		after int64
		want  int
	}{{40, OK}, {40 + retxWindow, OK}, {41 + retxWindow, StaleNonce}} {
		checkClock = func() int64 { return t0 + c.after }
		if rc := checkAt(t, rt, req2, ksrtest.Src); rc != c.want {
			t.Errorf("nc 2, %d s after the first use: %d, want %d", c.after, rc, c.want)
		}
	}
}

// The used-nonce table keeps an entry whose nonce is past its first-use
// window while a retransmission of its last use may still come, and
// lets it go after.
func TestUsedTableRetransmissionKeepsEntry(t *testing.T) {
	tb := newUsedTable(8)
	now := int64(1_000_000)
	for id := uint64(1); id <= 8; id++ {
		if r := tb.use(id, now, now+firstUseWindow, 300, 1, true, false, fpA); r != useOK {
			t.Fatal(id, r)
		}
	}
	// 31 s after the use, past the first-use window of every nonce: all
	// still kept for a retransmission.
	at := now + firstUseWindow + retxWindow - 1
	if r := tb.use(9, at, at, 300, 1, true, false, fpA); r != useFull {
		t.Errorf("new nonce while every entry may still see a retransmission: %d, want %d", r, useFull)
	}
	if r := tb.use(3, now, at, 300, 1, true, false, fpA); r != useRetransmission {
		t.Errorf("retransmission %d s after its use: %d", at-now-firstUseWindow, r)
	}
	if r := tb.use(3, now, at, 300, 1, true, false, fpB); r != useReplay {
		t.Errorf("another request with the same nc: %d, want %d", r, useReplay)
	}
	later := now + firstUseWindow + retxWindow + 1
	if r := tb.use(10, later, later, 300, 1, true, false, fpA); r != useOK {
		t.Errorf("new nonce after the retransmission window: %d", r)
	}
}

// The clients the shipped configs must keep serving.
func TestDigestClients(t *testing.T) {
	rt := newRT(t, nil)
	check := func(raw string) int { return checkAt(t, rt, raw, ksrtest.Src) }
	// sipp -au/-ap: every call a new Call-ID, challenged, nc 1.
	for i := 0; i < 3; i++ {
		cid := "sipp-" + strconv.Itoa(i)
		nonce := nonceRE.FindStringSubmatch(challengeLine(t, rt, regWith(ruri1, cid, contact1), 0))[1]
		a := "Authorization: " + authorization(MD5, "alice", "example.com", "secret", "REGISTER", ruri1, nonce, "00000001", "6b8b4567")
		if rc := check(regWith(ruri1, cid, contact1, a)); rc != OK {
			t.Errorf("sipp call %d: %d", i, rc)
		}
	}
	// Linphone: one Call-ID, the nonce reused for refreshes with nc+1.
	nonce := nonceRE.FindStringSubmatch(challengeLine(t, rt, regWith(ruri1, "linphone-1", contact1), 0))[1]
	for nc := 1; nc <= 3; nc++ {
		ncs := "0000000" + strconv.Itoa(nc)
		a := "Authorization: " + authorization(MD5, "alice", "example.com", "secret", "REGISTER", ruri1, nonce, ncs, "lin"+ncs)
		if rc := check(regWith(ruri1, "linphone-1", contact1, a)); rc != OK {
			t.Errorf("Linphone refresh nc %d: %d", nc, rc)
		}
	}
	// JsSIP: algorithm=MD5 written out, qop, cnonce, nc.
	nonce = nonceRE.FindStringSubmatch(challengeLine(t, rt, regWith(ruri1, "jssip-1", contact1), 0))[1]
	a := "Authorization: " + authorization(MD5, "alice", "example.com", "secret", "REGISTER", ruri1, nonce, "00000001", "5nhpq5gh3d") + ", algorithm=MD5"
	if rc := check(regWith(ruri1, "jssip-1", contact1, a)); rc != OK {
		t.Errorf("JsSIP: %d", rc)
	}
	// An INVITE answering a 407 from the same address and Request-URI.
	inv := string(ksrtest.Invite())
	nonce = nonceRE.FindStringSubmatch(challengeLine(t, rt, inv, 0))[1]
	pa := "Proxy-Authorization: " + authorization(MD5, "alice", "example.org", "pw", "INVITE", "sip:bob@example.com", nonce, "00000001", "c")
	ctx := msgCtx(t, rt, string(ksrtest.Invite(pa)), nil)
	if rc := PvAuthCheck(ctx, "example.org", "pw", 0, 1); rc != OK {
		t.Errorf("INVITE after 407: %d", rc)
	}
}

func TestHardening_DigestReplay_URIForms(t *testing.T) {
	for _, c := range []struct {
		cred, ruri string
		check      int64
		want       bool
	}{
		{"sip:bob@example.com", "sip:bob@example.com", 2, true},
		{"sip:BOB@Example.COM", "sip:BOB@example.com", 2, true},
		{"sip:example.com", "sip:bob@example.com", 2, false},
		{"sip:example.com", "sip:bob@example.com", 1, true}, // sipp's default uri
		{"sip:example.com:5060", "sip:bob@example.com", 1, false},
		{"sip:127.0.0.1:5070", "sip:bob@127.0.0.1:5070;transport=udp", 1, true},
		{"sip:alice@example.com", "sip:bob@example.com", 1, false},
		{"sip:other.example.com", "sip:bob@example.com", 1, false},
		{"sips:example.com", "sip:bob@example.com", 1, false},
		{"tel:+123", "sip:bob@example.com", 1, false},
		{"garbage", "sip:bob@example.com", 1, false},
	} {
		if got := uriMatches([]byte(c.cred), []byte(c.ruri), c.check == 1); got != c.want {
			t.Errorf("check_uri %d: uri %q for Request-URI %q: %v, want %v", c.check, c.cred, c.ruri, got, c.want)
		}
	}
}

// TestUsedTableLoad fills the used-nonce table to 70% with nonces inside
// their first-use window: two choices per nonce keep buckets from
// overflowing, so (next to) none is refused; past 100% every new one is.
func TestUsedTableLoad(t *testing.T) {
	tb := newUsedTable(1 << 16)
	now := int64(1_000_000)
	refused := 0
	n := tb.size() * 7 / 10
	for id := uint64(1); id <= uint64(n); id++ {
		if tb.use(id<<20|0xabc, now, now, 300, 1, true, false, fpA) == useFull {
			refused++
		}
	}
	t.Logf("%d of %d refused at 70%%", refused, n)
	if refused > n/1000 {
		t.Errorf("%d of %d first uses refused at 70%% load", refused, n)
	}
	over := 0
	for id := uint64(n + 1); id <= uint64(tb.size()+1000); id++ {
		if tb.use(id<<20|0xabc, now, now, 300, 1, true, false, fpA) == useFull {
			over++
		}
	}
	if over < 1000 {
		t.Errorf("only %d refused beyond the table's size", over)
	}
	// Every nonce it took is still remembered: none was pushed out (a
	// request other than the one that used it: a replay, not a
	// retransmission).
	for id := uint64(1); id <= uint64(n); id++ {
		if r := tb.use(id<<20|0xabc, now, now, 300, 1, true, false, fpB); r != useReplay && r != useFull {
			t.Fatalf("nonce %d: %d", id, r)
		}
	}
}

// TestChallengeAllocs: a challenge, what every unauthenticated request
// of a flood gets, allocates nothing and keeps no state.
func TestChallengeAllocs(t *testing.T) {
	rt := newRT(t, nil)
	raw := []byte(regWith(ruri1, callID1, contact1))
	var m sip.Msg
	ctx := &core.Ctx{RT: rt, Out: ksrtest.Discard}
	f := func() {
		m.Parse(raw)
		ctx.Reset(&m, ksrtest.Src, ksrtest.Local, core.UDP)
		if PvAuthCheck(ctx, "example.com", "secret", 0, 1) != NoCredentials || AuthChallenge(ctx, "example.com", 0) != OK {
			t.Fatal("challenge failed")
		}
	}
	f()
	if n := testing.AllocsPerRun(100, f); n > 0 {
		t.Errorf("challenge: %.1f allocs, want 0", n)
	}
}
