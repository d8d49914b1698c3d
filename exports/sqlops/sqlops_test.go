package sqlops

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	_ "kemi/exports/pv"
	"kemi/internal/testsvc"
	"kemi/sip"
)

func setup(t *testing.T, s *testsvc.SQL, extra map[string]core.Value) (*core.Runtime, *bytes.Buffer) {
	t.Helper()
	reg, err := core.NewRegistry(core.Known("pv"), core.Known("sqlops"))
	if err != nil {
		t.Fatal(err)
	}
	p := map[string][]core.Value{"sqlcon": {core.Str("ca=>" + s.URL())}}
	for k, v := range extra {
		p[k] = []core.Value{v}
	}
	log := new(bytes.Buffer)
	rt := &core.Runtime{Reg: reg, Log: &core.Logger{Level: core.LDbg, Out: log}, Params: map[string]map[string][]core.Value{"sqlops": p}}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Stop)
	return rt, log
}

func newCtx(t *testing.T, rt *core.Runtime) *core.Ctx {
	m := new(sip.Msg)
	if err := m.Parse(ksrtest.Invite()); err != nil {
		t.Fatal(err)
	}
	ctx := &core.Ctx{RT: rt}
	ctx.Reset(m, ksrtest.Src, ksrtest.Local, core.UDP)
	return ctx
}

func pvGet(ctx *core.Ctx, name, arg string) (string, bool) {
	b, ok := core.LookupPV(name)(ctx, arg, nil)
	return string(b), ok
}

// TestSQLOps_QueryResults covers issue 18 item 3 in PostgreSQL and
// MariaDB: sql_query into a result read through $dbr and
// sql_result_get*, sql_xquery, sql_pvquery, $sqlrows, sql_result_free,
// and the bounds on a result (rows, bytes, names).
func TestSQLOps_QueryResults(t *testing.T) {
	testsvc.AllSQLEngines(t, func(t *testing.T, s *testsvc.SQL) {
		s.LoadKamailioSchema("auth_db")
		s.Exec("INSERT INTO subscriber (username, domain, password, ha1) VALUES ('alice', 'example.com', 'a', 'x'), ('bob', 'example.org', 'b', 'y')")
		rt, log := setup(t, s, map[string]core.Value{"results_max_rows": core.Int(50), "results_max_bytes": core.Int(4096), "results_maxsize": core.Int(3)})
		ctx := newCtx(t, rt)

		if rc := Query(ctx, "ca", "SELECT id, username, domain, NULL AS nothing FROM subscriber ORDER BY id", "ra"); rc != 1 {
			t.Fatalf("sql_query: %d\n%s", rc, log)
		}
		for arg, want := range map[string]string{"ra=>rows": "2", "ra=>cols": "4", "ra=>[0,1]": "alice", "ra=>[1,2]": "example.org",
			"ra=>colname[2]": "domain", "ra=>[0,0]": "1"} {
			if got, ok := pvGet(ctx, "dbr", arg); !ok || got != want {
				t.Errorf("$dbr(%s) = %q %v, want %q", arg, got, ok, want)
			}
		}
		if _, ok := pvGet(ctx, "dbr", "ra=>[0,3]"); ok {
			t.Error("$dbr of a NULL is not null")
		}
		if _, ok := pvGet(ctx, "dbr", "ra=>[5,0]"); ok {
			t.Error("$dbr out of range")
		}
		if v := ResultGet(ctx, "ra", 0, 0); v.Kind != core.KInt || v.I != 1 {
			t.Errorf("sql_result_get of an integer column: %+v", v)
		}
		if v := ResultGete(ctx, "ra", 0, 3); v.Kind != core.KStr || v.S != "" {
			t.Errorf("sql_result_gete of NULL: %+v", v)
		}
		if v := ResultGetz(ctx, "ra", 0, 3); v.Kind != core.KInt || v.I != 0 {
			t.Errorf("sql_result_getz of NULL: %+v", v)
		}
		if IsNull(ctx, "ra", 0, 3) != 1 || IsNull(ctx, "ra", 0, 1) != 2 || IsNull(ctx, "ra", 9, 9) != -1 {
			t.Error("sql_is_null")
		}
		if NumRows(ctx, "ra") != 2 || NumColumns(ctx, "ra") != 4 {
			t.Error("sql_num_rows/columns")
		}
		// The result stays for the worker's next message, as in Kamailio.
		ctx2 := newCtx(t, rt)
		ctx2.Seq = ctx.Seq + 1
		if NumRows(ctx, "ra") != 2 {
			t.Error("the result did not outlive the message")
		}
		ResultFree(ctx, "ra")
		if _, ok := pvGet(ctx, "dbr", "ra=>rows"); ok {
			t.Error("sql_result_free kept the result")
		}
		if rc := Query(ctx, "ca", "SELECT username FROM subscriber WHERE username = 'nobody'", "rb"); rc != 2 {
			t.Errorf("no rows: %d", rc)
		}
		if rc := Query(ctx, "ca", "SELECT username FROM subscriber", ""); rc != 3 {
			t.Errorf("rows without a result name: %d", rc)
		}
		if rc := Query(ctx, "ca", "UPDATE subscriber SET ha1 = 'z' WHERE domain = 'example.com'", ""); rc != 2 {
			t.Errorf("update: %d\n%s", rc, log)
		}
		if got, _ := pvGet(ctx, "sqlrows", "ca"); got != "1" {
			t.Errorf("$sqlrows(ca) = %q", got)
		}
		// sql_xquery: one xavp item per row, the first row first.
		if rc := XQuery(ctx, "ca", "SELECT username, domain FROM subscriber ORDER BY id", "xr"); rc != 1 {
			t.Fatalf("sql_xquery: %d\n%s", rc, log)
		}
		if got, _ := pvGet(ctx, "xavp", "xr=>username"); got != "alice" {
			t.Errorf("$xavp(xr=>username) = %q", got)
		}
		if got, _ := pvGet(ctx, "xavp", "xr[1]=>domain"); got != "example.org" {
			t.Errorf("$xavp(xr[1]=>domain) = %q", got)
		}
		// sql_pvquery: a plain variable ends with the first row.
		if rc := PVQuery(ctx, "ca", "SELECT username, id FROM subscriber ORDER BY id", "$var(u); $var(i)"); rc != 1 {
			t.Fatalf("sql_pvquery: %d\n%s", rc, log)
		}
		if got, _ := pvGet(ctx, "var", "u"); got != "alice" {
			t.Errorf("$var(u) = %q", got)
		}
		if rc := PVQuery(ctx, "ca", "SELECT username FROM subscriber", "$nosuch(x)"); rc != -1 {
			t.Errorf("sql_pvquery into a read-only pv: %d", rc)
		}
		// Errors: unknown connection, bad SQL.
		if Query(ctx, "nope", "SELECT 1", "r") != -1 || !strings.Contains(log.String(), `no connection "nope"`) {
			t.Error("unknown connection")
		}
		if Query(ctx, "ca", "SELEC nonsense", "r") != -1 {
			t.Error("bad SQL")
		}
		// Bounds: rows, bytes, result names.
		big := "SELECT 1 AS n FROM subscriber a, subscriber b, subscriber c, subscriber d, subscriber e, subscriber f"
		if rc := Query(ctx, "ca", big, "rbig"); rc != -1 || !strings.Contains(log.String(), "results_max_rows (50)") {
			t.Errorf("64 rows past results_max_rows 50: %d\n%s", rc, log)
		}
		wide := "SELECT '" + strings.Repeat("x", 200) + "' AS a FROM subscriber a, subscriber b, subscriber c, subscriber d, subscriber e"
		if rc := Query(ctx, "ca", wide, "rwide"); rc != -1 || !strings.Contains(log.String(), "results_max_bytes (4096)") {
			t.Errorf("32 rows of 200 bytes past results_max_bytes 4096: %d", rc)
		}
		Query(ctx, "ca", "SELECT 1", "r1")
		Query(ctx, "ca", "SELECT 1", "r2")
		if rc := Query(ctx, "ca", "SELECT 1", "r3"); rc != -1 || !strings.Contains(log.String(), "results_maxsize (3)") {
			t.Errorf("a fourth result name past results_maxsize 3: %d", rc)
		}
		if rc := Query(ctx, "ca", "SELECT 2", "r1"); rc != 1 {
			t.Errorf("reusing a name within results_maxsize: %d", rc)
		}
		// sql_query_async: queued, run outside the worker.
		if rc := QueryAsync(ctx, "ca", "UPDATE subscriber SET ha1 = 'async' WHERE username = 'bob'"); rc != 1 {
			t.Errorf("sql_query_async: %d", rc)
		}
		if QueryAsync(ctx, "nope", "SELECT 1") != -1 {
			t.Error("sql_query_async on an unknown connection")
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			r, _ := s.Query("SELECT ha1 FROM subscriber WHERE username = 'bob'")
			if r == "async\n" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the async update did not land: %q", r)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// A database that is down: -1 and a log line, not a crash.
		s.Stop()
		defer s.Start()
		if rc := Query(ctx, "ca", "UPDATE subscriber SET ha1 = 'q'", ""); rc != -1 {
			t.Errorf("update with the database stopped: %d", rc)
		}
	})
}
