package testsvc

import (
	"strings"
	"testing"
)

func TestSQLServers_StartLoadQuery(t *testing.T) {
	AllSQLEngines(t, func(t *testing.T, s *SQL) {
		s.LoadKamailioSchema("auth_db")
		s.Exec("INSERT INTO subscriber (username, domain, password) VALUES ('alice', 'example.com', 'secret')")
		out, err := s.Query("SELECT username, password FROM subscriber")
		if err != nil || strings.TrimSpace(out) != "alice\tsecret" {
			t.Fatalf("query: %q %v", out, err)
		}
		if !strings.HasPrefix(s.URL(), s.Engine+"://kamailio:kamailiorw@127.0.0.1:") {
			t.Fatal(s.URL())
		}
		s.Stop()
		if _, err := s.Query("SELECT 1"); err == nil {
			t.Fatal("query on a stopped server worked")
		}
		s.Start()
		out, err = s.Query("SELECT count(*) FROM subscriber")
		if err != nil || strings.TrimSpace(out) != "1" {
			t.Fatalf("after restart: %q %v", out, err)
		}
	})
}

func TestTestsvc_SQLRetriesWhenPortTaken(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		takenFirst(t)
		s := StartPostgres(t)
		if _, err := s.Query("SELECT 1"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("mysql", func(t *testing.T) {
		takenFirst(t)
		s := StartMariaDB(t)
		if _, err := s.Query("SELECT 1"); err != nil {
			t.Fatal(err)
		}
	})
}
