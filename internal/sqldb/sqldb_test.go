package sqldb_test

import (
	"strings"
	"testing"
	"time"

	"kemi/internal/sqldb"
	"kemi/internal/testsvc"
)

func TestSQLDB_ParseURL(t *testing.T) {
	for _, c := range []struct {
		in   string
		want sqldb.URL
		err  string
	}{
		{in: "postgres://kamailio:kamailiorw@127.0.0.1:5433/kamailio", want: sqldb.URL{Dialect: sqldb.Postgres, User: "kamailio", Password: "kamailiorw", Host: "127.0.0.1", Port: 5433, Database: "kamailio"}},
		{in: "mysql://u:p@ss:w@db.example/kam", want: sqldb.URL{Dialect: sqldb.MySQL, User: "u", Password: "p@ss:w", Host: "db.example", Port: 3306, Database: "kam"}},
		{in: "postgresql://u@[::1]:6000/k", want: sqldb.URL{Dialect: sqldb.Postgres, User: "u", Host: "::1", Port: 6000, Database: "k"}},
		{in: "redis://127.0.0.1/0", err: "not postgres or mysql"},
		{in: "mysql://u:secret@h/", err: "no database"},
		{in: "mysql://u:secret@h:99999/k", err: "bad port"},
		{in: "nothing", err: "want scheme"},
	} {
		got, err := sqldb.ParseURL(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.in, err, c.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("%s: error shows the password: %v", c.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got.Dialect != c.want.Dialect || got.User != c.want.User || got.Password != c.want.Password ||
			got.Host != c.want.Host || got.Port != c.want.Port || got.Database != c.want.Database {
			t.Errorf("%s: got %+v, want %+v", c.in, got, c.want)
		}
		if strings.Contains(got.String(), "kamailiorw") {
			t.Errorf("String shows the password: %s", got)
		}
	}
}

func TestSQLDB_Dialect(t *testing.T) {
	pg, _ := sqldb.Open("postgres://u:p@127.0.0.1:1/k", sqldb.Options{})
	my, _ := sqldb.Open("mysql://u:p@127.0.0.1:1/k", sqldb.Options{})
	defer pg.Close()
	defer my.Close()
	if got := pg.Rebind("SELECT a FROM t WHERE b = ? AND c = '?' AND d = ?"); got != "SELECT a FROM t WHERE b = $1 AND c = '?' AND d = $2" {
		t.Error(got)
	}
	if got := my.Rebind("x = ?"); got != "x = ?" {
		t.Error(got)
	}
	if got := pg.Upsert("location", []string{"ruid", "contact", "expires"}, []string{"ruid"}); got !=
		`INSERT INTO "location" ("ruid", "contact", "expires") VALUES (?, ?, ?) ON CONFLICT ("ruid") DO UPDATE SET "contact" = EXCLUDED."contact", "expires" = EXCLUDED."expires"` {
		t.Error(got)
	}
	if got := my.Upsert("location", []string{"ruid", "contact"}, []string{"ruid"}); got !=
		"INSERT INTO `location` (`ruid`, `contact`) VALUES (?, ?) ON DUPLICATE KEY UPDATE `contact` = VALUES(`contact`)" {
		t.Error(got)
	}
}

func TestSQLDB_BothEngines(t *testing.T) {
	testsvc.AllSQLEngines(t, func(t *testing.T, s *testsvc.SQL) {
		s.LoadKamailioSchema("auth_db")
		db, err := sqldb.Shared(s.URL(), sqldb.Options{Workers: 2, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Ping(); err != nil {
			t.Fatal(err)
		}
		// A second handle on the same URL shares the pool, with its own timeout.
		db2, err := sqldb.Shared(s.URL(), sqldb.Options{Workers: 6, Timeout: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if db2.DB != db.DB || db2.Timeout != 3*time.Second || db.Timeout != time.Second || db.Stats().MaxOpenConnections != 8 {
			t.Errorf("shared handles: same pool %v, timeouts %v %v, max conns %d", db2.DB == db.DB, db.Timeout, db2.Timeout, db.Stats().MaxOpenConnections)
		}
		db2.Close()
		if err := db.Ping(); err != nil {
			t.Errorf("the pool closed while a handle still uses it: %v", err)
		}
		q := db.Upsert("subscriber", []string{"username", "domain", "password"}, []string{"username", "domain"})
		for _, pw := range []string{"one", "two"} {
			if _, err := db.Exec(q, "alice", "example.com", pw); err != nil {
				t.Fatal(err)
			}
		}
		rows, done, err := db.Query("SELECT password, id FROM subscriber WHERE username = ? AND domain = ?", "alice", "example.com")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var pw string
			var id int64
			if err := rows.Scan(&pw, &id); err != nil {
				t.Fatal(err)
			}
			if pw != "two" {
				t.Errorf("password %q after upsert", pw)
			}
			n++
		}
		rows.Close()
		done()
		if n != 1 {
			t.Errorf("%d rows", n)
		}
		// A stopped server is an error that names the URL, within the timeouts.
		s.Stop()
		start := time.Now()
		_, err = db.Exec("UPDATE subscriber SET password = ?", "x")
		if err == nil || !strings.Contains(err.Error(), "127.0.0.1") || strings.Contains(err.Error(), "kamailiorw") {
			t.Errorf("write to a stopped server: %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("failed write took %v", d)
		}
		s.Start()
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, err = db.Exec("UPDATE subscriber SET password = ?", "y"); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("no reconnect after restart: %v", err)
		}
	})
}
