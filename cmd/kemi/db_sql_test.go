package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"kemi/exports/auth"
	"kemi/internal/sqldb"
	"kemi/internal/testsvc"
)

// TestDBInit_CreatesKamailioTables covers issue 18 item 1: kemi db init
// creates every table on an empty database (PostgreSQL and MariaDB),
// and a second run leaves them alone.
func TestDBInit_CreatesKamailioTables(t *testing.T) {
	testsvc.AllSQLEngines(t, func(t *testing.T, s *testsvc.SQL) {
		var out, errb bytes.Buffer
		if rc := run([]string{"db", "init", s.URL()}, &out, &errb); rc != 0 {
			t.Fatalf("db init: %d %s", rc, errb.String())
		}
		want := len(sqldb.Tables)
		if !strings.Contains(out.String(), ": "+itoa(want)+" tables created, 0 already there") || strings.Contains(out.String(), "kamailiorw") {
			t.Fatalf("db init said:\n%s", out.String())
		}
		r, err := s.Query("SELECT table_name, table_version FROM version WHERE table_name IN ('subscriber', 'location', 'acc') ORDER BY table_name")
		if err != nil || r != "acc\t5\nlocation\t9\nsubscriber\t7\n" {
			t.Fatalf("version rows: %q %v", r, err)
		}
		out.Reset()
		if rc := run([]string{"db", "init", s.URL()}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "0 tables created, "+itoa(want)+" already there") {
			t.Fatalf("second db init: %d\n%s%s", rc, out.String(), errb.String())
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestUserAdd_SQL covers issue 18 item 2: kemi user add/list/del write
// Kamailio's subscriber table (made by Kamailio's schema file) when a
// db_url names an SQL database: through -db-url, and through the
// auth_db db_url of the config file given with -f.
func TestUserAdd_SQL(t *testing.T) {
	testsvc.AllSQLEngines(t, func(t *testing.T, s *testsvc.SQL) {
		s.LoadKamailioSchema("auth_db")
		urun := func(stdin string, args ...string) (int, string, string) {
			var out, errb bytes.Buffer
			rc := userMain(args, strings.NewReader(stdin), &out, &errb)
			return rc, out.String(), errb.String()
		}
		if rc, _, e := urun("", "add", "-db-url", s.URL(), "alice@example.com", "s3cret"); rc != 0 {
			t.Fatalf("add: %d %s", rc, e)
		}
		cfg := filepath.Join(t.TempDir(), "kemi.cfg")
		os.WriteFile(cfg, []byte("loadmodule \"auth.so\"\nloadmodule \"auth_db.so\"\nmodparam(\"auth_db\", \"db_url\", \""+s.URL()+"\")\n"), 0o644)
		if rc, _, e := urun("bobpw\n", "add", "-f", cfg, "--plain", "bob@example.com"); rc != 0 {
			t.Fatalf("add -f: %d %s", rc, e)
		}
		// Adding again updates (a new password).
		if rc, _, e := urun("", "add", "-db-url", s.URL(), "alice@example.com", "n3w"); rc != 0 {
			t.Fatalf("add again: %d %s", rc, e)
		}
		r, err := s.Query("SELECT username, domain, password, ha1, ha1b FROM subscriber ORDER BY username")
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Join([]string{"alice", "example.com", "", auth.HA1(auth.MD5, "alice", "example.com", "n3w"),
			auth.HA1(auth.MD5, "alice@example.com", "example.com", "n3w")}, "\t") + "\n" +
			strings.Join([]string{"bob", "example.com", "bobpw", auth.HA1(auth.MD5, "bob", "example.com", "bobpw"),
				auth.HA1(auth.MD5, "bob@example.com", "example.com", "bobpw")}, "\t") + "\n"
		if r != want {
			t.Fatalf("subscriber rows:\n%q\nwant\n%q", r, want)
		}
		rc, out, _ := urun("", "list", "-db-url", s.URL())
		if rc != 0 || out != "USER               SECRET\nalice@example.com  ha1\nbob@example.com    password+ha1\n" {
			t.Fatalf("list: %d %q", rc, out)
		}
		if rc, _, e := urun("", "del", "-db-url", s.URL(), "alice@example.com"); rc != 0 {
			t.Fatalf("del: %d %s", rc, e)
		}
		if rc, _, _ := urun("", "del", "-db-url", s.URL(), "alice@example.com"); rc != 1 {
			t.Fatalf("del of a missing subscriber: %d", rc)
		}
		// A stopped database is an error, not a silent success.
		s.Stop()
		if rc, _, e := urun("", "add", "-db-url", s.URL(), "carol@example.com", "c"); rc != 1 || !strings.Contains(e, "127.0.0.1") {
			t.Fatalf("add with the database stopped: %d %s", rc, e)
		}
	})
}
