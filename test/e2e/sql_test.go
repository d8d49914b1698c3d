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

// TestSQL_AccRowsOfRealCalls covers issue 18 items 4 and 5 end to end:
// kemi with testdata/dialog's calls config and acc's database backend
// (Kamailio's acc schema, with the extra columns of Kamailio's default
// config) relays real sipp calls, answered and busy; the rows of acc,
// missed_calls and acc_cdrs are checked field by field, in PostgreSQL
// and in MariaDB.
func TestSQL_AccRowsOfRealCalls(t *testing.T) {
	needSipp(t)
	testsvc.AllSQLEngines(t, func(t *testing.T, db *testsvc.SQL) {
		db.LoadKamailioSchema("acc")
		for _, tb := range []string{"acc", "missed_calls"} {
			for _, c := range []string{"src_user", "src_domain", "src_ip", "dst_ouser", "dst_user", "dst_domain"} {
				db.Exec("ALTER TABLE " + tb + " ADD COLUMN " + c + " VARCHAR(64) NOT NULL DEFAULT ''")
			}
		}
		db.Exec("ALTER TABLE acc_cdrs ADD COLUMN caller VARCHAR(64) NOT NULL DEFAULT ''")
		dir := t.TempDir()
		cfg, err := os.ReadFile(repo("testdata/dialog/kemi-star.cfg"))
		if err != nil {
			t.Fatal(err)
		}
		script, err := os.ReadFile(repo("testdata/dialog/calls.star"))
		if err != nil {
			t.Fatal(err)
		}
		c := strings.ReplaceAll(string(cfg), "JSONFILE", filepath.Join(dir, "acc.jsonl"))
		c = strings.Replace(c, `modparam("app_starlark", "load"`, `modparam("acc", "db_url", "`+db.URL()+`")
modparam("acc", "db_flag", 1)
modparam("acc", "db_missed_flag", 2)
modparam("acc", "db_extra", "src_user=$fU;src_domain=$fd;src_ip=$si;dst_ouser=$tU;dst_user=$rU;dst_domain=$rd")
modparam("acc", "cdrs_table", "acc_cdrs")
modparam("app_starlark", "load"`, 1)
		os.WriteFile(filepath.Join(dir, "kemi.cfg"), []byte(c), 0o644)
		os.WriteFile(filepath.Join(dir, "calls.star"), script, 0o644)
		s := startKemi(t, filepath.Join(dir, "kemi.cfg"))
		port := freePort(t)
		u := callsUAS(t, "dispatcher/uas.xml", port, 1)
		s.caller(t, "uac.xml", "bob", port, 1, 1)
		u.wait(t, "answered callee")
		b := callsUAS(t, "dialog/uas-busy.xml", port, 1)
		s.caller(t, "uac-486.xml", "busy", port, 1, 1)
		b.wait(t, "busy callee")
		s.stop()
		cols := "method, sip_code, sip_reason, src_user, src_domain, src_ip, dst_ouser, dst_user, dst_domain"
		got, err := db.Query("SELECT " + cols + " FROM acc ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		want := "INVITE\t200\tOK\tcaller\t127.0.0.1\t127.0.0.1\tbob\tbob\t127.0.0.1\n" +
			"BYE\t200\tOK\tcaller\t127.0.0.1\t127.0.0.1\tbob\tuas\t127.0.0.1\n" +
			"INVITE\t486\tBusy Here\tcaller\t127.0.0.1\t127.0.0.1\tbusy\tbusy\t127.0.0.1\n"
		if got != want {
			t.Errorf("acc rows:\n%s\nwant\n%s", got, want)
		}
		if got, _ := db.Query("SELECT " + cols + " FROM missed_calls"); got != "INVITE\t486\tBusy Here\tcaller\t127.0.0.1\t127.0.0.1\tbusy\tbusy\t127.0.0.1\n" {
			t.Errorf("missed_calls rows:\n%s", got)
		}
		// Every row carries the call's identifiers and a time.
		if got, _ := db.Query("SELECT count(*) FROM acc WHERE callid = '' OR from_tag = '' OR to_tag = ''"); got != "0\n" {
			t.Errorf("%s acc rows lack callid, from_tag or to_tag", strings.TrimSpace(got))
		}
		if got, _ := db.Query("SELECT caller, end_time >= start_time FROM acc_cdrs"); got != "caller\tt\n" && got != "caller\t1\n" {
			t.Errorf("acc_cdrs rows: %q, want the CDR of the answered call", got)
		}
		if strings.Contains(s.Log(), "acc: db_url:") {
			t.Errorf("a record failed:\n%s", tail(s.Log(), 2000))
		}
	})
}
