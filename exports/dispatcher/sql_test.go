package dispatcher

import (
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/internal/testsvc"
)

// TestSQL_DispatcherTable covers issue 18 item 4: the sets come from
// Kamailio's dispatcher table (made by Kamailio's schema file) in
// PostgreSQL and MariaDB, at start and on dispatcher.reload; a bad row
// or a database that is down fails the reload and the sets in use stay.
func TestSQL_DispatcherTable(t *testing.T) {
	testsvc.AllSQLEngines(t, func(t *testing.T, s *testsvc.SQL) {
		s.LoadKamailioSchema("dispatcher")
		s.Exec("INSERT INTO dispatcher (setid, destination, flags, priority, attrs, description) VALUES " +
			"(1, 'sip:127.0.0.1:5070', 0, 10, 'weight=50;duid=a', 'gw a'), " +
			"(1, 'sip:127.0.0.1:5071', 0, 5, '', 'gw b'), (2, 'sip:127.0.0.1:5080', 0, 0, 'duid=c', '')")
		ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("dispatcher"))
		ctx.RT.Params = map[string]map[string][]core.Value{"dispatcher": {
			"db_url": {core.Str(s.URL())}, "reload_delta": {core.Int(0)}, "ds_ping_interval": {core.Int(0)}}}
		if err := start(ctx.RT); err != nil {
			t.Fatal(err)
		}
		defer stop(ctx.RT)
		m := Of(ctx.RT)
		s1, s2 := m.List().Set(1), m.List().Set(2)
		if s1 == nil || len(s1.Dests) != 2 || s2 == nil || len(s2.Dests) != 1 {
			t.Fatalf("sets: %+v %+v", s1, s2)
		}
		if s1.Dests[0].URI != "sip:127.0.0.1:5070" || s1.Dests[0].Priority != 10 || !strings.Contains(s1.Dests[0].Attrs, "duid=a") {
			t.Errorf("first destination of set 1: %+v", s1.Dests[0])
		}
		s.Exec("INSERT INTO dispatcher (setid, destination) VALUES (3, 'sip:127.0.0.1:5090')")
		if err := m.Reload(); err != nil {
			t.Fatal(err)
		}
		if m.List().Set(3) == nil {
			t.Error("a row added is not there after a reload")
		}
		s.Exec("INSERT INTO dispatcher (setid, destination) VALUES (4, 'sip:127.0.0.1:5090 x')")
		if err := m.Reload(); err == nil || !strings.Contains(err.Error(), "white space") {
			t.Errorf("reload with a bad row: %v", err)
		}
		s.Stop()
		defer s.Start()
		if err := m.Reload(); err == nil {
			t.Error("reload with the database stopped worked")
		}
		if m.List().Set(3) == nil {
			t.Error("a failed reload dropped the sets in use")
		}
	})
}
