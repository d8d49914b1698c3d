package auth_db

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/auth"
	"kemi/exports/internal/ksrtest"
	"kemi/internal/store"
	"kemi/sip"
)

func setup(t testing.TB, useDomain int) (*core.Runtime, *store.DB, *bytes.Buffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kemi.db")
	db := store.Open(path)
	for _, s := range []store.Subscriber{
		{User: "alice", Domain: "example.com", Password: "alicepw"},
		{User: "bob", Domain: "example.com", HA1: auth.HA1(auth.MD5, "bob", "example.com", "bobpw"),
			HA1SHA256: auth.HA1(auth.SHA256, "bob", "example.com", "bobpw")},
	} {
		if err := db.PutSubscriber(s); err != nil {
			t.Fatal(err)
		}
	}
	reg, err := core.NewRegistry(core.Known("auth"), core.Known("auth_db"))
	if err != nil {
		t.Fatal(err)
	}
	log := new(bytes.Buffer)
	rt := &core.Runtime{Reg: reg, Log: &core.Logger{Level: core.LDbg, Out: log}, Params: map[string]map[string][]core.Value{
		"auth_db": {"db_path": {core.Str(path)}, "use_domain": {core.Int(int64(useDomain))}},
	}}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Stop)
	return rt, db, log
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

func register(user string, extra ...string) string {
	return string(ksrtest.Request(append([]string{
		"REGISTER sip:example.com SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKreg;rport",
		"From: <sip:" + user + "@example.com>;tag=reg1",
		"To: <sip:" + user + "@example.com>",
		"Call-ID: reg@192.0.2.10",
		"CSeq: 2 REGISTER",
		"Contact: <sip:" + user + "@192.0.2.10:5062>",
		"Content-Length: 0",
	}, extra...)...))
}

var nonceRE = regexp.MustCompile(`nonce="([^"]+)"`)

// login challenges a REGISTER from user, answers with pass and runs
// auth_check; alg picks the digest.
func login(t testing.TB, rt *core.Runtime, user, pass string, alg auth.Alg) int {
	t.Helper()
	return loginFlags(t, rt, user, pass, alg, 1)
}

// loginFlags is login with auth_check's flags.
func loginFlags(t testing.TB, rt *core.Runtime, user, pass string, alg auth.Alg, flags int) int {
	t.Helper()
	rec := ksrtest.NewRecorder()
	if auth.SetAlgorithm(msgCtx(t, rt, register(user), nil), alg.String()) != 1 {
		t.Fatal("auth_algorithm")
	}
	ctx := msgCtx(t, rt, register(user), rec)
	if rc := AuthCheck(ctx, "example.com", "subscriber", 1); rc != auth.NoCredentials {
		t.Fatalf("no credentials: %d", rc)
	}
	auth.AuthChallenge(ctx, "example.com", 1)
	nonce := nonceRE.FindStringSubmatch(string(rec.Sent[0].B))[1]
	// The client side of RFC 7616 3.4.1.
	ha1 := auth.HA1(alg, user, "example.com", pass)
	h := func(s string) string { return auth.HashHex(alg, s) }
	resp := h(ha1 + ":" + nonce + ":00000001:abc:auth:" + h("REGISTER:sip:example.com"))
	cred := `Authorization: Digest username="` + user + `", realm="example.com", nonce="` + nonce +
		`", uri="sip:example.com", response="` + resp + `", algorithm=` + alg.String() + `, qop=auth, nc=00000001, cnonce="abc"`
	return AuthCheck(msgCtx(t, rt, register(user, cred), nil), "example.com", "subscriber", flags)
}

func TestAuthCheck(t *testing.T) {
	rt, db, log := setup(t, 0)
	for _, alg := range []auth.Alg{auth.MD5, auth.SHA256} {
		if rc := login(t, rt, "alice", "alicepw", alg); rc != auth.OK {
			t.Errorf("%v alice (plaintext): %d", alg, rc)
		}
		if rc := login(t, rt, "bob", "bobpw", alg); rc != auth.OK {
			t.Errorf("%v bob (HA1 only): %d", alg, rc)
		}
		if rc := login(t, rt, "alice", "guess", alg); rc != auth.InvalidPassword {
			t.Errorf("%v wrong password: %d", alg, rc)
		}
		if rc := login(t, rt, "carol", "x", alg); rc != auth.UserUnknown {
			t.Errorf("%v unknown user: %d", alg, rc)
		}
	}
	if strings.Contains(log.String(), "guess") || strings.Contains(log.String(), "alicepw") {
		t.Errorf("a password reached the log:\n%s", log)
	}
	if !strings.Contains(log.String(), `wrong password for "alice"`) {
		t.Errorf("the wrong password was not logged:\n%s", log)
	}
	// A user added while running is seen after a poll.
	if err := db.PutSubscriber(store.Subscriber{User: "carol", Domain: "example.com", Password: "c"}); err != nil {
		t.Fatal(err)
	}
	if err := get(rt).Poll(); err != nil {
		t.Fatal(err)
	}
	if rc := login(t, rt, "carol", "c", auth.MD5); rc != auth.OK {
		t.Errorf("carol after reload: %d", rc)
	}
	ctx := msgCtx(t, rt, register("alice"), nil)
	if IsSubscriber(ctx, "sip:carol@example.com", "subscriber", 0) != 1 || IsSubscriber(ctx, "sip:dave@example.com", "subscriber", 0) != -1 {
		t.Error("is_subscriber")
	}
}

func TestUseDomain(t *testing.T) {
	rt, _, _ := setup(t, 1)
	if rc := login(t, rt, "alice", "alicepw", auth.MD5); rc != auth.OK {
		t.Errorf("alice@example.com: %d", rc)
	}
	ctx := msgCtx(t, rt, register("alice"), nil)
	if IsSubscriber(ctx, "sip:alice@example.net", "subscriber", 0) != -1 || IsSubscriber(ctx, "sip:alice@example.com", "subscriber", 0) != 1 {
		t.Error("is_subscriber with use_domain")
	}
}

func TestMissingDatabase(t *testing.T) {
	reg, _ := core.NewRegistry(core.Known("auth"), core.Known("auth_db"))
	path := filepath.Join(t.TempDir(), "none", "kemi.db")
	rt := &core.Runtime{Reg: reg, Params: map[string]map[string][]core.Value{"auth_db": {"db_path": {core.Str(path)}}}}
	if err := rt.Start(); err != nil {
		t.Fatalf("a missing database must not stop the server: %v", err)
	}
	defer rt.Stop()
	if rc := login(t, rt, "alice", "x", auth.MD5); rc != auth.UserUnknown {
		t.Errorf("no database: %d", rc)
	}
	if store.Open(path).Stamp() != (store.Stamp{}) {
		t.Error("auth_db created the database file")
	}
}
