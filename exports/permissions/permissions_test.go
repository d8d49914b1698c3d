package permissions

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/exports/pv"
)

const addressFile = `# address file - Kamailio's format
# (groupid,int) (address,str) (netmask,int,o), (port,int,o) (tag,str,o)
1 192.0.2.10                       # the PBX, any port
1 198.51.100.0 24 5060 carrier-a   # a carrier's subnet, port 5060 only
2 2001:db8::/32 0 0 v6-lab
2 10.0.0.1 0 5080
3 gw.example.com 0 0 by-name
`

func setup(t testing.TB, params map[string][]core.Value) *core.Ctx {
	t.Helper()
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("permissions"))
	ctx.RT.Params = map[string]map[string][]core.Value{"permissions": params}
	if err := start(ctx.RT); err != nil {
		t.Fatal(err)
	}
	return ctx
}

func writeFile(t *testing.T, text string) string {
	p := filepath.Join(t.TempDir(), "address.list")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAllowSourceAddress(t *testing.T) {
	ctx := setup(t, map[string][]core.Value{
		"address_file": {core.Str(writeFile(t, addressFile))},
		"address":      {core.Str("4 203.0.113.0/28")},
		"peer_tag_avp": {core.Str("$avp(peer)")},
	})
	if n := stateOf(ctx).table.Load().Len(); n != 6 {
		t.Fatalf("%d records loaded, want 6", n)
	}
	for _, c := range []struct {
		src   string
		group int
		want  int
		grp   int
		tag   string
	}{
		{"192.0.2.10:5062", 1, 1, 1, ""},
		{"192.0.2.10:5062", 2, -1, 1, ""},
		{"192.0.2.11:5062", 1, -1, -1, ""},
		{"198.51.100.77:5060", 1, 1, 1, "carrier-a"},
		{"198.51.100.77:5061", 1, -1, -1, ""},
		{"198.51.101.1:5060", 1, -1, -1, ""},
		{"[2001:db8:1::9]:5060", 2, 1, 2, "v6-lab"},
		{"[2001:db9::9]:5060", 2, -1, -1, ""},
		{"10.0.0.1:5080", 2, 1, 2, ""},
		{"10.0.0.1:5060", 2, -1, -1, ""},
		{"[::ffff:192.0.2.10]:5060", 1, 1, 1, ""},
		{"203.0.113.15:1", 4, 1, 4, ""},
		{"203.0.113.16:1", 4, -1, -1, ""},
	} {
		ctx.Reset(ctx.Msg, netip.MustParseAddrPort(c.src), ksrtest.Local, core.UDP)
		if got := AllowSourceAddress(ctx, c.group); got != c.want {
			t.Errorf("%s in group %d: %d, want %d", c.src, c.group, got, c.want)
		}
		tag, _ := pv.AVP(ctx, "peer")
		if c.want > 0 && c.tag != "" && tag != core.Str(c.tag) {
			t.Errorf("%s: $avp(peer) = %v, want %q", c.src, tag, c.tag)
		}
		if got := AllowSourceAddressGroup(ctx); got != c.grp {
			t.Errorf("%s: allow_source_address_group = %d, want %d", c.src, got, c.grp)
		}
	}
	if AllowAddress(ctx, 3, "GW.example.com", 5060) != 1 || AllowAddress(ctx, 3, "other.example.com", 0) != -1 {
		t.Error("domain records")
	}
	if AllowAddress(ctx, 1, "198.51.100.1", 5060) != 1 || AllowAddress(ctx, 1, "198.51.100.1", 0) != -1 {
		t.Error("allow_address with port")
	}
	if AllowAddressGroup(ctx, "2001:db8::1", 0) != 2 || AllowAddressGroup(ctx, "8.8.8.8", 0) != -1 {
		t.Error("allow_address_group")
	}
	for _, bad := range []string{"", "1.2.3.4:5060", "fe80::1%eth0", "a b"} {
		if AllowAddress(ctx, 1, bad, 0) != -1 || AllowAddressGroup(ctx, bad, 0) != -1 {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	for text, want := range map[string]string{
		"1 192.0.2.1\nx 192.0.2.2\n":  ":2: group \"x\"",
		"1\n":                         ":1: expected an address",
		"1 192.0.2.1 33\n":            "netmask 33: expected at most 32",
		"1 192.0.2.1 0 70000\n":       `port "70000"`,
		"1 192.0.2.1 0 0 tag extra\n": "got 6 fields",
		"1 gw.example.com 24\n":       "expected an IP address or a domain name",
		"1 192.0.2.1/x\n":             `netmask "x"`,
	} {
		ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("permissions"))
		ctx.RT.Params = map[string]map[string][]core.Value{"permissions": {"address_file": {core.Str(writeFile(t, text))}}}
		if err := start(ctx.RT); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "address.list") {
			t.Errorf("%q: %v, want %q with the file name", text, err, want)
		}
	}
	for params, want := range map[string]map[string][]core.Value{
		"no such file":         {"address_file": {core.Str("/nonexistent/address.list")}},
		`"address", "1 x y z"`: {"address": {core.Str("1 x y z")}},
		"max_subnets 1":        {"address": {core.Str("1 10.0.0.0/8"), core.Str("1 11.0.0.0/8")}, "max_subnets": {core.Int(1)}},
		"writable pseudo-var":  {"peer_tag_avp": {core.Str("nope(")}},
	} {
		ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("permissions"))
		ctx.RT.Params = map[string]map[string][]core.Value{"permissions": want}
		if err := start(ctx.RT); err == nil || !strings.Contains(err.Error(), strings.Split(params, " ")[0]) {
			t.Errorf("%s: %v", params, err)
		}
	}
}

func TestNoRecordsDenies(t *testing.T) {
	ctx := setup(t, map[string][]core.Value{"db_url": {core.Str("text:///etc/kamailio/dbtext")}})
	if AllowSourceAddress(ctx, 1) != -1 || AllowSourceAddressGroup(ctx) != -1 {
		t.Error("an empty table allowed an address")
	}
}

// An SQL database that does not answer at start stops the start, as in
// Kamailio, naming the URL (without the password).
func TestSQL_PermissionsDatabaseDownAtStart(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("permissions"))
	ctx.RT.Params = map[string]map[string][]core.Value{"permissions": {"db_url": {core.Str("mysql://kamailio:kamailiorw@127.0.0.1:1/kamailio")}}}
	err := start(ctx.RT)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || strings.Contains(err.Error(), "kamailiorw") {
		t.Errorf("start with the database down: %v", err)
	}
}

func TestAllocs(t *testing.T) {
	ctx := setup(t, map[string][]core.Value{"address_file": {core.Str(writeFile(t, addressFile))}})
	if n := testing.AllocsPerRun(500, func() {
		AllowSourceAddress(ctx, 1)
		AllowSourceAddress(ctx, 2)
		AllowAddress(ctx, 1, "198.51.100.9", 5060)
	}); n != 0 {
		t.Errorf("checks allocate %v times", n)
	}
}

func TestThunk(t *testing.T) {
	ctx := setup(t, map[string][]core.Value{"address": {core.Str("1 192.0.2.10")}})
	reg, _ := core.NewRegistry(core.Known("permissions"))
	if v := reg.Lookup("permissions", "allow_source_address").Call(ctx, []core.Value{core.Int(1)}); v != core.Int(1) {
		t.Errorf("thunk = %v", v)
	}
}

func BenchmarkAllowSourceAddress(b *testing.B) {
	ctx := setup(b, map[string][]core.Value{"address": {core.Str("1 192.0.2.10"), core.Str("1 198.51.100.0/24")}})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		AllowSourceAddress(ctx, 1)
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{"1 192.0.2.1 32 5060 tag", "2 2001:db8::/32", "3 gw.example.com", "# c", "1 1.2.3.4/40"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, ok, err := ParseRecord(line)
		if err != nil || !ok {
			return
		}
		if r.Domain == "" && !r.Prefix.IsValid() {
			t.Errorf("%q: record with neither address nor domain", line)
		}
		tb := newTable()
		tb.add(r)
		if r.Domain == "" {
			if _, ok := tb.match(r.Group, r.Prefix.Addr(), "", r.Port); !ok {
				t.Errorf("%q: the record does not match its own address", line)
			}
		}
	})
}

func TestAllowTrusted(t *testing.T) {
	file := writeFile(t, "# src proto from ruri tag priority\n"+
		"192.0.2.10 udp ^sip:alice@ - alice-peer 5\n"+
		"192.0.2.10 any - ^sip:bob@example\\.com$ anyone 1\n"+
		"198.51.100.1 tcp\n")
	ctx := setup(t, map[string][]core.Value{
		"trusted_file": {core.Str(file)},
		"trusted":      {core.Str("[2001:db8::1] tls - - v6 0")},
		"peer_tag_avp": {core.Str("$avp(peer)")},
	})
	// ksrtest.Invite: From sip:alice@example.org, R-URI sip:bob@example.com, from 192.0.2.10 over UDP.
	if AllowTrusted(ctx) != 1 {
		t.Fatal("the invite is not trusted")
	}
	if v, _ := pv.AVP(ctx, "peer"); v != core.Str("alice-peer") {
		t.Errorf("$avp(peer) = %v: the higher priority record should match first", v)
	}
	for _, c := range []struct {
		src   string
		proto core.Proto
		want  int
	}{
		{"192.0.2.10:5060", core.TCP, 1}, // the "any" record by R-URI
		{"192.0.2.11:5060", core.UDP, -1},
		{"198.51.100.1:5060", core.TCP, 1},
		{"198.51.100.1:5060", core.UDP, -1},
		{"[2001:db8::1]:5061", core.TLS, 1},
	} {
		ctx.Reset(ctx.Msg, netip.MustParseAddrPort(c.src), ksrtest.Local, c.proto)
		if got := AllowTrusted(ctx); got != c.want {
			t.Errorf("%s over %v: %d, want %d", c.src, c.proto, got, c.want)
		}
	}
	// peer_tag_mode 1 counts every match.
	ctx = setup(t, map[string][]core.Value{"trusted_file": {core.Str(file)}, "peer_tag_mode": {core.Int(1)}})
	if got := AllowTrusted(ctx); got != 2 {
		t.Errorf("peer_tag_mode 1: %d matches, want 2", got)
	}
	for text, want := range map[string]string{
		"192.0.2.1\n":             "got 1 fields",
		"nothost udp\n":           "expected an IP address",
		"192.0.2.1 sctp\n":        `proto "sctp"`,
		"192.0.2.1 udp (\n":       `pattern "("`,
		"192.0.2.1 udp - - t x\n": `priority "x"`,
	} {
		c := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("permissions"))
		c.RT.Params = map[string]map[string][]core.Value{"permissions": {"trusted_file": {core.Str(writeFile(t, text))}}}
		if err := start(c.RT); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ":1:") {
			t.Errorf("%q: %v, want %q at line 1", text, err, want)
		}
	}
}

func TestAllowTrustedAllocs(t *testing.T) {
	ctx := setup(t, map[string][]core.Value{"trusted": {core.Str("192.0.2.10 udp ^sip:alice@")}})
	if n := testing.AllocsPerRun(500, func() { AllowTrusted(ctx) }); n != 0 {
		t.Errorf("allow_trusted allocates %v times", n)
	}
}

func FuzzParseTrusted(f *testing.F) {
	for _, s := range []string{"192.0.2.10 udp ^sip:alice@ - tag 5", "[::1] any", "1.2.3.4 tcp ( -", "# x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, ok, err := ParseTrusted(line)
		if err == nil && ok && r.SrcIP == "" {
			t.Errorf("%q: record without a source", line)
		}
	})
}
