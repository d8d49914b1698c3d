package htable

import (
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/internal/testsvc"
)

// TestSQL_HtableDBTableLoadedAtStart covers issue 18 item 4: a table
// with dbtable= is loaded at start from Kamailio's htable table (made by
// Kamailio's schema file) in PostgreSQL and MariaDB: string and integer
// values, arrays (key_type 1), expiry; a row that expired is skipped;
// dbmode=1 writes the items back at stop; dbtable without an SQL db_url
// is a load error.
func TestSQL_HtableDBTableLoadedAtStart(t *testing.T) {
	testsvc.AllSQLEngines(t, func(t *testing.T, s *testsvc.SQL) {
		s.LoadKamailioSchema("htable")
		future := time.Now().Unix() + 3600
		s.Exec("INSERT INTO htable (key_name, key_type, value_type, key_value, expires) VALUES " +
			"('192.0.2.9', 0, 1, '3', 0), ('greeting', 0, 0, 'hello', 0), ('gw', 1, 0, 'a', 0), ('gw', 1, 0, 'b', 0), " +
			"('old', 0, 0, 'gone', 1), ('soon', 0, 0, 'later', " + itoa64(future) + ")")
		ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("htable"))
		ctx.RT.Params = map[string]map[string][]core.Value{"htable": {
			"htable": {core.Str("ipban=>size=4;autoexpire=7200;dbtable=htable;dbmode=1")},
			"db_url": {core.Str(s.URL())}}}
		if err := start(ctx.RT); err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]core.Value{"192.0.2.9": core.Int(3), "greeting": core.Str("hello"),
			"gw[0]": core.Str("a"), "gw[1]": core.Str("b"), "gw::size": core.Int(2), "soon": core.Str("later")} {
			if got := Get(ctx, "ipban", key); got != want {
				t.Errorf("%s = %+v, want %+v", key, got, want)
			}
		}
		if got := Get(ctx, "ipban", "old"); !got.IsNull() {
			t.Errorf("an expired row was loaded: %+v", got)
		}
		if n := Of(ctx.RT).Table("ipban").ExpiresIn("soon"); n < 3500 || n > 3600 {
			t.Errorf("soon expires in %d s, want about 3600", n)
		}
		// dbmode=1: the items go back at stop.
		Of(ctx.RT).Table("ipban").Set("198.51.100.1", item{n: 7}, 0)
		Of(ctx.RT).Table("ipban").Delete("greeting")
		stopSweeper(ctx.RT)
		got, err := s.Query("SELECT key_name, value_type, key_value FROM htable ORDER BY key_name")
		if err != nil {
			t.Fatal(err)
		}
		want := "192.0.2.9\t1\t3\n198.51.100.1\t1\t7\ngw::size\t1\t2\ngw[0]\t0\ta\ngw[1]\t0\tb\nsoon\t0\tlater\n"
		if got != want {
			t.Errorf("rows written back:\n%s\nwant\n%s", got, want)
		}
		// dbtable without an SQL db_url stops the start.
		ctx2 := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("htable"))
		ctx2.RT.Params = map[string]map[string][]core.Value{"htable": {"htable": {core.Str("t=>dbtable=htable")}}}
		if err := start(ctx2.RT); err == nil || !strings.Contains(err.Error(), "needs modparam(\"htable\", \"db_url\"") {
			t.Errorf("dbtable without db_url: %v", err)
		}
	})
}

func itoa64(n int64) string { return core.Int(n).String() }

// htable.reload on a dbtable= table replaces the items by the rows, and
// a database error keeps the items that were there.
func TestSQL_HtableReloadFromDBTable(t *testing.T) {
	testsvc.AllSQLEngines(t, func(t *testing.T, s *testsvc.SQL) {
		s.LoadKamailioSchema("htable")
		s.Exec("INSERT INTO htable (key_name, key_type, value_type, key_value, expires) VALUES ('a', 0, 0, 'one', 0)")
		ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("htable"))
		ctx.RT.Params = map[string]map[string][]core.Value{"htable": {
			"htable": {core.Str("gw=>size=4;dbtable=htable"), core.Str("plain=>size=2")},
			"db_url": {core.Str(s.URL())}}}
		if err := start(ctx.RT); err != nil {
			t.Fatal(err)
		}
		defer stopSweeper(ctx.RT)
		Of(ctx.RT).Table("gw").Set("local", item{n: 1}, 0)
		s.Exec("INSERT INTO htable (key_name, key_type, value_type, key_value, expires) VALUES ('b', 0, 1, '2', 0)")
		res, err := rpcReload(ctx.RT, []core.Value{core.Str("gw")})
		if err != nil {
			t.Fatal(err)
		}
		if m := res.(map[string]any); m["items"] != 2 {
			t.Errorf("htable.reload = %v, want 2 items", m)
		}
		for key, want := range map[string]core.Value{"a": core.Str("one"), "b": core.Int(2), "local": core.Null()} {
			if got := Get(ctx, "gw", key); got != want {
				t.Errorf("after reload %s = %+v, want %+v", key, got, want)
			}
		}
		s.Exec("DROP TABLE htable")
		if _, err := rpcReload(ctx.RT, []core.Value{core.Str("gw")}); err == nil || !strings.Contains(err.Error(), "htable.reload: table \"gw\"") {
			t.Errorf("reload from a dropped table: err %v, want one naming htable.reload and the table", err)
		}
		if got := Get(ctx, "gw", "a"); got != core.Str("one") {
			t.Errorf("after a failed reload a = %+v, want the items kept", got)
		}
		if _, err := rpcReload(ctx.RT, []core.Value{core.Str("plain")}); err == nil || !strings.Contains(err.Error(), "neither dbtable=") {
			t.Errorf("reload of a table with no source: err %v", err)
		}
	})
}
