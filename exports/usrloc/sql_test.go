package usrloc

import (
	"strings"
	"testing"
	"time"

	"kemi/internal/testsvc"
)

// TestScaling_SQLLocation: usrloc on Kamailio's location table (created
// by Kamailio's own schema files) in PostgreSQL and MariaDB: db_mode 3
// nodes see each other's bindings, rows Kamailio writes are read, a
// removal deletes the rows, and a db_mode 1 node loads the table at
// start.
func TestScaling_SQLLocation(t *testing.T) {
	testsvc.AllSQLEngines(t, func(t *testing.T, s *testsvc.SQL) {
		s.LoadKamailioSchema("usrloc")
		n1, _ := startRedisNode(t, s.URL(), 3)
		n2, _ := startRedisNode(t, s.URL(), 3)
		if err := add(Get(n1).Table("location"), "alice"); err != nil {
			t.Fatal(err)
		}
		if !has(n2, "alice") {
			t.Fatal("node 2 does not find the binding node 1 saved")
		}
		out, err := s.Query("SELECT username, contact, callid FROM location")
		if err != nil || !strings.Contains(out, "sip:alice@192.0.2.1") {
			t.Fatalf("location rows: %q, %v", out, err)
		}
		// A row as Kamailio writes it.
		exp := time.Now().Add(time.Hour).Format("2006-01-02 15:04:05")
		s.Exec("INSERT INTO location (ruid, username, contact, expires, q, callid, cseq, last_modified, user_agent) VALUES " +
			"('uloc-1-1', 'bob', 'sip:bob@192.0.2.9:5060', '" + exp + "', 0.5, 'cid-bob', 7, '" + exp + "', 'kamailio')")
		var got Contact
		Get(n1).Table("location").View([]byte("bob"), func(r *Record) {
			if r != nil && len(r.Contacts) == 1 {
				got = r.Contacts[0]
			}
		})
		if got.URI != "sip:bob@192.0.2.9:5060" || got.Q != 500 || got.CSeq != 7 || got.CallID != "cid-bob" {
			t.Fatalf("Kamailio's row read as %+v", got)
		}
		if d := got.Expires - time.Now().Unix(); d < 3590 || d > 3601 {
			t.Fatalf("expires read as %d s from now, want 3600", d)
		}
		// Re-registering keeps Kamailio's ruid.
		if err := Get(n2).Table("location").Update([]byte("bob"), func(r *Record) bool {
			r.Contacts[0].CSeq = 8
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if out, _ := s.Query("SELECT ruid, cseq FROM location WHERE username = 'bob'"); !strings.Contains(out, "uloc-1-1") || !strings.Contains(out, "8") {
			t.Fatalf("bob's row after the update: %q", out)
		}
		n3, _ := startRedisNode(t, s.URL(), 1)
		if !has(n3, "alice") || !has(n3, "bob") {
			t.Fatal("db_mode 1 node did not load the table at start")
		}
		Get(n2).Table("location").Delete([]byte("alice"))
		if has(n1, "alice") {
			t.Fatal("node 1 still finds alice after node 2 removed her")
		}
		if out, _ := s.Query("SELECT COUNT(*) FROM location WHERE username = 'alice'"); strings.TrimSpace(out) != "0" {
			t.Fatalf("alice's rows left: %q", out)
		}
	})
}

// TestScaling_SQLOutage: with the database stopped, saves fail (the caller
// answers 500) in db_mode 1 and 3 without blocking a worker for more
// than a timeout, and work again by themselves once it is back.
func TestScaling_SQLOutage(t *testing.T) {
	s := testsvc.StartPostgres(t)
	s.LoadKamailioSchema("usrloc")
	for _, mode := range []int{1, 3} {
		rt, _ := startRedisNode(t, s.URL(), mode)
		tb := Get(rt).Table("location")
		user := "m" + strings.Repeat("x", mode)
		if err := add(tb, user+"before"); err != nil {
			t.Fatal(err)
		}
		// Stopped, not paused: testsvc's Pause stops the postmaster
		// only, and a connection's backend process keeps answering.
		s.Stop()
		start := time.Now()
		err := add(tb, user+"during")
		took := time.Since(start)
		s.Start()
		if err == nil {
			t.Fatalf("db_mode %d: save with the database stopped returned nil after %v", mode, took)
		}
		if took > 8*time.Second {
			t.Fatalf("db_mode %d: the failing save took %v", mode, took)
		}
		eventually(t, 10*time.Second, "a save after the database is back", func() bool { return add(tb, user+"after") == nil })
		rt.Stop()
	}
}

// TestScaling_SQLConcurrentDevices: as TestScaling_RedisConcurrentDevices,
// on Kamailio's location table in PostgreSQL.
func TestScaling_SQLConcurrentDevices(t *testing.T) {
	s := testsvc.StartPostgres(t)
	s.LoadKamailioSchema("usrloc")
	n1, _ := startRedisNode(t, s.URL(), 3)
	n2, _ := startRedisNode(t, s.URL(), 3)
	if got := concurrentDevices(t, n1, n2, 20); got != 20 {
		t.Fatalf("%d of 20 devices saved at once through two nodes kept", got)
	}
}
