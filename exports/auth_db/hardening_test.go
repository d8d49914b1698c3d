package auth_db

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/exports/auth"
	"kemi/internal/store"
)

// TestHardening_DamagedFile_AuthDBKeepsLastGood cuts the subscriber
// database while the server runs: polls keep the subscribers read before,
// log the error once (not every second), and log the recovery.
func TestHardening_DamagedFile_AuthDBKeepsLastGood(t *testing.T) {
	rt, db, log := setup(t, 0)
	d := get(rt)
	good, err := os.ReadFile(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 4095, 4096, len(good) / 2, 2 * 4096} {
		log.Reset()
		if err := os.WriteFile(db.Path(), good[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		// A new stamp even when the size repeats.
		os.Chtimes(db.Path(), time.Now(), time.Now().Add(time.Duration(n)*time.Millisecond))
		d.poll()
		d.poll()
		if rc := login(t, rt, "alice", "alicepw", auth.MD5); rc != auth.OK {
			t.Errorf("cut at %d: alice: %d, want the last good subscribers", n, rc)
		}
		out := log.String()
		if strings.Count(out, "reloading subscribers") != 1 || !strings.Contains(out, db.Path()) || !strings.Contains(out, "2 subscribers read before") {
			t.Errorf("cut at %d: want the error once, naming the file; log:\n%s", n, out)
		}
	}
	log.Reset()
	if err := os.WriteFile(db.Path(), good, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(db.Path(), time.Now(), time.Now().Add(time.Hour))
	if err := db.PutSubscriber(store.Subscriber{User: "carol", Domain: "example.com", HA1: auth.HA1(auth.MD5, "carol", "example.com", "c")}); err != nil {
		t.Fatal(err)
	}
	d.poll()
	if !strings.Contains(log.String(), "readable again; 3 subscribers") {
		t.Errorf("no recovery line:\n%s", log)
	}
	if rc := login(t, rt, "carol", "c", auth.MD5); rc != auth.OK {
		t.Errorf("carol after the file came back: %d", rc)
	}
}

// TestHardening_DamagedFile_AuthDBStart: a damaged file stops the start
// with an error naming it.
func TestHardening_DamagedFile_AuthDBStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kemi.db")
	if err := os.WriteFile(path, bytes.Repeat([]byte{0xAB}, 4095), 0o600); err != nil {
		t.Fatal(err)
	}
	reg, _ := core.NewRegistry(core.Known("auth"), core.Known("auth_db"))
	rt := &core.Runtime{Reg: reg, Params: map[string]map[string][]core.Value{"auth_db": {"db_path": {core.Str(path)}}}}
	err := rt.Start()
	if err == nil {
		rt.Stop()
		t.Fatal("started on a damaged file")
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "kemi db check") {
		t.Fatalf("error %v does not name the file and the check", err)
	}
}

// TestHardening_UserAdd_CalculateHA1 checks both kinds of stored secret
// with calculate_ha1 0 (the stored HA1, Kamailio's ha1 column) and 1 (the
// plaintext, for any realm), in MD5 and SHA-256.
func TestHardening_UserAdd_CalculateHA1(t *testing.T) {
	for _, calc := range []int{0, 1} {
		path := filepath.Join(t.TempDir(), "kemi.db")
		db := store.Open(path)
		ha1 := func(u, pw string) store.Subscriber {
			return store.Subscriber{User: u, Domain: "example.com", HA1: auth.HA1(auth.MD5, u, "example.com", pw), HA1SHA256: auth.HA1(auth.SHA256, u, "example.com", pw)}
		}
		both := ha1("both", "bothpw")
		both.Password = "bothpw"
		for _, s := range []store.Subscriber{ha1("hash", "hashpw"), {User: "plain", Domain: "example.com", Password: "plainpw"}, both} {
			if err := db.PutSubscriber(s); err != nil {
				t.Fatal(err)
			}
		}
		reg, _ := core.NewRegistry(core.Known("auth"), core.Known("auth_db"))
		rt := &core.Runtime{Reg: reg, Log: &core.Logger{Level: core.LDbg, Out: new(bytes.Buffer)}, Params: map[string]map[string][]core.Value{
			"auth_db": {"db_path": {core.Str(path)}, "calculate_ha1": {core.Int(int64(calc))}},
		}}
		if err := rt.Start(); err != nil {
			t.Fatal(err)
		}
		for _, alg := range []auth.Alg{auth.MD5, auth.SHA256} {
			for _, u := range []string{"hash", "plain", "both"} {
				if rc := login(t, rt, u, u+"pw", alg); rc != auth.OK {
					t.Errorf("calculate_ha1 %d, %v, %s: %d", calc, alg, u, rc)
				}
				if rc := login(t, rt, u, "wrong", alg); rc != auth.InvalidPassword {
					t.Errorf("calculate_ha1 %d, %v, %s with a wrong password: %d", calc, alg, u, rc)
				}
			}
		}
		// The stored HA1 holds for realm = domain only; the plaintext for
		// any realm, and calculate_ha1 1 says to use it.
		var buf []byte
		got, _, ok := get(rt).HA1(nil, []byte("both"), []byte("other.realm"), auth.MD5, nil, buf)
		want := auth.HA1(auth.MD5, "both", "other.realm", "bothpw")
		if ok && (string(got) == want) != (calc == 1) {
			t.Errorf("calculate_ha1 %d, realm other than the domain: HA1 %s (for the realm: %v)", calc, got, string(got) == want)
		}
		rt.Stop()
	}
}

// TestHardening_DamagedFile_AuthDBNewFile: recovering by moving the file
// aside and adding the users again gives a new file whose generation may
// equal the old one's; the poll still reads it.
func TestHardening_DamagedFile_AuthDBNewFile(t *testing.T) {
	rt, db, _ := setup(t, 0) // two subscribers: generation 2
	d := get(rt)
	os.Rename(db.Path(), db.Path()+".bad")
	for _, u := range []string{"dave", "erin"} {
		if err := db.PutSubscriber(store.Subscriber{User: u, Domain: "example.com", HA1: auth.HA1(auth.MD5, u, "example.com", u+"pw")}); err != nil {
			t.Fatal(err)
		}
	}
	d.poll()
	if rc := login(t, rt, "dave", "davepw", auth.MD5); rc != auth.OK {
		t.Errorf("dave from the new file: %d", rc)
	}
	if rc := login(t, rt, "alice", "alicepw", auth.MD5); rc != auth.UserUnknown {
		t.Errorf("alice, not in the new file: %d", rc)
	}
}
