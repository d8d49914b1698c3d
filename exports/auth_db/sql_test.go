package auth_db

import (
	"bytes"
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/auth"
	"kemi/internal/testsvc"
)

func sqlSetup(t *testing.T, s *testsvc.SQL, params map[string]core.Value) (*core.Runtime, *bytes.Buffer) {
	t.Helper()
	reg, err := core.NewRegistry(core.Known("auth"), core.Known("auth_db"))
	if err != nil {
		t.Fatal(err)
	}
	p := map[string][]core.Value{"db_url": {core.Str(s.URL())}}
	for k, v := range params {
		p[k] = []core.Value{v}
	}
	log := new(bytes.Buffer)
	rt := &core.Runtime{Reg: reg, Log: &core.Logger{Level: core.LDbg, Out: log},
		Params: map[string]map[string][]core.Value{"auth_db": p}}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Stop)
	return rt, log
}

// TestSQL_AuthDBSubscriberTable covers issue 18 item 2: auth_db reads
// Kamailio's subscriber table (made by Kamailio's own schema file) in
// PostgreSQL and MariaDB, with ha1 (calculate_ha1 0), ha1b for a
// user@domain digest username, and plain passwords (calculate_ha1 1,
// password_column "password"); an unknown user is -3 and a database
// that does not answer is -1, never -3 or 1.
func TestSQL_AuthDBSubscriberTable(t *testing.T) {
	testsvc.AllSQLEngines(t, func(t *testing.T, s *testsvc.SQL) {
		s.LoadKamailioSchema("auth_db")
		ha1 := auth.HA1(auth.MD5, "bob", "example.com", "bobpw")
		ha1b := auth.HA1(auth.MD5, "bob@example.com", "example.com", "bobpw")
		s.Exec("INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES " +
			"('alice', 'example.com', 'alicepw', '', ''), ('bob', 'example.com', '', '" + ha1 + "', '" + ha1b + "')")

		t.Run("ha1", func(t *testing.T) {
			rt, log := sqlSetup(t, s, nil)
			if rc := login(t, rt, "bob", "bobpw", auth.MD5); rc != auth.OK {
				t.Errorf("bob by ha1: %d\n%s", rc, log)
			}
			if rc := login(t, rt, "bob", "guess", auth.MD5); rc != auth.InvalidPassword {
				t.Errorf("bob wrong password: %d", rc)
			}
			if rc := login(t, rt, "carol", "x", auth.MD5); rc != auth.UserUnknown {
				t.Errorf("unknown user: %d", rc)
			}
			ctx := msgCtx(t, rt, register("bob"), nil)
			if IsSubscriber(ctx, "sip:bob@example.com", "subscriber", 0) != 1 || IsSubscriber(ctx, "sip:carol@example.com", "subscriber", 0) != -1 {
				t.Error("is_subscriber")
			}
			if IsSubscriber(ctx, "sip:bob@example.com", "subscriber; DROP TABLE x", 0) != -1 {
				t.Error("is_subscriber with a bad table name")
			}
			// A subscriber written by another node (or Kamailio) counts at once.
			s.Exec("INSERT INTO subscriber (username, domain, ha1) VALUES ('dave', 'example.com', '" +
				auth.HA1(auth.MD5, "dave", "example.com", "davepw") + "')")
			if rc := login(t, rt, "dave", "davepw", auth.MD5); rc != auth.OK {
				t.Errorf("dave added while running: %d", rc)
			}
		})
		t.Run("ha1b", func(t *testing.T) {
			rt, _ := sqlSetup(t, s, nil)
			if rc := loginFlags(t, rt, "bob@example.com", "bobpw", auth.MD5, 0); rc != auth.OK {
				t.Errorf("bob@example.com by ha1b: %d", rc)
			}
		})
		t.Run("plain", func(t *testing.T) {
			rt, log := sqlSetup(t, s, map[string]core.Value{"calculate_ha1": core.Int(1), "password_column": core.Str("password"), "use_domain": core.Int(1)})
			for _, alg := range []auth.Alg{auth.MD5, auth.SHA256} {
				if rc := login(t, rt, "alice", "alicepw", alg); rc != auth.OK {
					t.Errorf("%v alice by password: %d\n%s", alg, rc, log)
				}
			}
			if strings.Contains(log.String(), "alicepw") {
				t.Error("the password reached the log")
			}
		})
		t.Run("unreachable", func(t *testing.T) {
			rt, log := sqlSetup(t, s, nil)
			s.Stop()
			defer s.Start()
			if rc := login(t, rt, "bob", "bobpw", auth.MD5); rc != auth.Error {
				t.Errorf("database stopped: %d, want %d (error)", rc, auth.Error)
			}
			if !strings.Contains(log.String(), "looking up \"bob\"") {
				t.Errorf("the failure was not logged:\n%s", log)
			}
		})
		t.Run("bad column", func(t *testing.T) {
			reg, _ := core.NewRegistry(core.Known("auth"), core.Known("auth_db"))
			rt := &core.Runtime{Reg: reg, Params: map[string]map[string][]core.Value{"auth_db": {
				"db_url": {core.Str(s.URL())}, "user_column": {core.Str("user name")}}}}
			if err := rt.Start(); err == nil || !strings.Contains(err.Error(), "user_column") {
				rt.Stop()
				t.Errorf("bad user_column: %v", err)
			}
		})
	})
}
