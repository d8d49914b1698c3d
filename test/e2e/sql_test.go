package e2e

import (
	"crypto/md5"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"kemi/internal/testsvc"
)

// sqlRegistrarCfg is kemi's registrar config (testdata/registrar) with
// auth_db reading Kamailio's subscriber table at dbURL instead of kemi's
// file; extra lines are added before the script is named.
func sqlRegistrarCfg(t *testing.T, dbURL string, extra ...string) string {
	t.Helper()
	b, err := os.ReadFile(repo("testdata/registrar/kemi-lua.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	lua := repo("testdata/registrar/kemi.lua")
	cfg := strings.Replace(string(b), `modparam("app_lua", "load", "kemi.lua")`,
		strings.Join(append([]string{`modparam("auth_db", "db_url", "` + dbURL + `")`}, extra...), "\n")+
			"\n"+`modparam("app_lua", "load", "`+lua+`")`, 1)
	if !strings.Contains(cfg, dbURL) {
		t.Fatal("the registrar config no longer loads kemi.lua as expected")
	}
	p := filepath.Join(t.TempDir(), "kemi-sql.cfg")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func md5hex(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }

// TestSQL_RegisterDigestAuthAgainstSQLSubscribers covers issue 18 items
// 2 and 5: in PostgreSQL and in MariaDB, the subscriber table is made by
// Kamailio's own schema files and a subscriber is written the way
// kamctl add writes one (password, ha1, ha1b); another is added with
// kemi user add -db-url. sipp REGISTERs with digest auth against kemi
// reading that table: 200 for the right password, 401 for a wrong one,
// and with the database stopped never a 200 (the check fails with -1,
// logged).
func TestSQL_RegisterDigestAuthAgainstSQLSubscribers(t *testing.T) {
	needSipp(t)
	testsvc.AllSQLEngines(t, func(t *testing.T, db *testsvc.SQL) {
		db.LoadKamailioSchema("auth_db")
		realm := "127.0.0.1"
		db.Exec("INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES ('alice', '" + realm + "', 'alice-secret', '" +
			md5hex("alice:"+realm+":alice-secret") + "', '" + md5hex("alice@"+realm+":"+realm+":alice-secret") + "')")
		if out, err := exec.Command(kemiBin, "user", "add", "-db-url", db.URL(), "bob@"+realm, "bob-secret").CombinedOutput(); err != nil {
			t.Fatalf("kemi user add -db-url: %v\n%s", err, out)
		}
		s := startKemi(t, sqlRegistrarCfg(t, db.URL()))
		cport := freePort(t)
		contact := "<sip:alice@127.0.0.1:" + strconv.Itoa(cport) + ">"
		register(t, s, "alice", "alice-secret", contact, 600, 200, `Contact: *<sip:alice@127\.0\.0\.1:`+strconv.Itoa(cport)+`>;expires=(600|599)`)
		register(t, s, "bob", "bob-secret", "<sip:bob@127.0.0.1:"+strconv.Itoa(freePort(t))+">", 600, 200, `expires=`)
		register(t, s, "alice", "not-the-password", "<sip:alice@127.0.0.1:5999>", 600, 401, "WWW-Authenticate")
		register(t, s, "carol", "x", "<sip:carol@127.0.0.1:5999>", 600, 401, "WWW-Authenticate")
		if !logShows(s, `auth: unknown user "carol"`) {
			t.Error("the unknown user was not logged")
		}
		db.Stop()
		register(t, s, "alice", "alice-secret", contact, 600, 401, "WWW-Authenticate")
		if !logShows(s, `auth: looking up "alice"`) {
			t.Errorf("the database failure was not logged:\n%s", tail(s.Log(), 2000))
		}
		db.Start()
		register(t, s, "alice", "alice-secret", contact, 600, 200, `expires=`)
	})
}
