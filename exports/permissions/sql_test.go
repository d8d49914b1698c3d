package permissions

import (
	"fmt"
	"strings"
	"testing"

	"kemi/core"
	"kemi/internal/testsvc"
)

// TestSQL_PermissionsAddressTable covers issue 18 item 4: the address
// table, made by Kamailio's permissions schema file in PostgreSQL and
// MariaDB, is read at start; permissions.addressReload reads it again
// (and keeps the running records when the database is down);
// permissions.addressDump lists the records.
func TestSQL_PermissionsAddressTable(t *testing.T) {
	testsvc.AllSQLEngines(t, func(t *testing.T, s *testsvc.SQL) {
		s.LoadKamailioSchema("permissions")
		s.Exec("INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES (1, '192.0.2.10', 32, 0, 'pbx'), " +
			"(2, '198.51.100.0', 24, 5060, NULL), (3, '2001:db8::', 32, 0, 'v6')")
		ctx := setup(t, map[string][]core.Value{"db_url": {core.Str(s.URL())}, "peer_tag_avp": {core.Str("$avp(peer)")}})
		if n := stateOf(ctx).table.Load().Len(); n != 3 {
			t.Fatalf("%d records, want 3", n)
		}
		if AllowSourceAddress(ctx, 1) != 1 || AllowSourceAddress(ctx, 2) != -1 {
			t.Error("allow_source_address against the table")
		}
		if AllowAddress(ctx, 2, "198.51.100.77", 5060) != 1 || AllowAddress(ctx, 2, "198.51.100.77", 5061) != -1 ||
			AllowAddress(ctx, 3, "2001:db8:1::5", 5060) != 1 {
			t.Error("allow_address against the table")
		}
		s.Exec("INSERT INTO address (grp, ip_addr, mask, port) VALUES (4, '203.0.113.9', 32, 0)")
		if AllowAddress(ctx, 4, "203.0.113.9", 5060) != -1 {
			t.Error("a row added is used before the reload")
		}
		if out, err := rpcAddressReload(ctx.RT, nil); err != nil || out != "Reload OK" {
			t.Fatalf("addressReload: %v %v", out, err)
		}
		if AllowAddress(ctx, 4, "203.0.113.9", 5060) != 1 {
			t.Error("the row added is not used after the reload")
		}
		dump, err := rpcAddressDump(ctx.RT, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(dump); !strings.Contains(got, "map[group:1 ip:192.0.2.10 mask:32 port:0 tag:pbx]") ||
			!strings.Contains(got, "map[group:2 ip:198.51.100.0 mask:24 port:5060 tag:]") || len(dump.([]any)) != 4 {
			t.Errorf("addressDump: %s", got)
		}
		// A bad row stops the reload and the running records stay.
		s.Exec("INSERT INTO address (grp, ip_addr, mask, port) VALUES (5, 'not an address!', 32, 0)")
		if _, err := rpcAddressReload(ctx.RT, nil); err == nil || !strings.Contains(err.Error(), "not an address!") {
			t.Errorf("reload with a bad row: %v", err)
		}
		s.Exec("DELETE FROM address WHERE grp = 5")
		s.Stop()
		defer s.Start()
		if _, err := rpcAddressReload(ctx.RT, nil); err == nil || !strings.Contains(err.Error(), "the 4 records loaded before stay") {
			t.Errorf("reload with the database stopped: %v", err)
		}
		if AllowAddress(ctx, 4, "203.0.113.9", 5060) != 1 {
			t.Error("a failed reload dropped the records")
		}
	})
}
