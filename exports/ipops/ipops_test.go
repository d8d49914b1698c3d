package ipops

import (
	"bytes"
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

func ctx(t testing.TB) (*core.Ctx, *bytes.Buffer) {
	c := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.NewRecorder())
	var log bytes.Buffer
	c.RT.Log = &core.Logger{Level: core.LDbg, Out: &log}
	return c, &log
}

func TestIPops_Kinds(t *testing.T) {
	c, _ := ctx(t)
	cases := []struct {
		in                         string
		ip, pure, ip4, ip6, r, typ int
	}{
		{"192.0.2.1", 1, 1, 1, -1, -1, 1},
		{"2001:db8::1", 1, 1, -1, 1, -1, 2},
		{"[2001:db8::1]", 1, -1, -1, -1, 1, 3},
		{"[::1]", 1, -1, -1, -1, 1, 3},
		{"::ffff:192.0.2.1", 1, 1, -1, 1, -1, 2},
		{"[192.0.2.1]", -1, -1, -1, -1, -1, -1},
		{"192.0.2.01", -1, -1, -1, -1, -1, -1},
		{"192.0.2.256", -1, -1, -1, -1, -1, -1},
		{"192.0.2", -1, -1, -1, -1, -1, -1},
		{"fe80::1%eth0", -1, -1, -1, -1, -1, -1},
		{"[::1", -1, -1, -1, -1, -1, -1},
		{"[]", -1, -1, -1, -1, -1, -1},
		{"", -1, -1, -1, -1, -1, -1},
		{"example.com", -1, -1, -1, -1, -1, -1},
		{" 192.0.2.1", -1, -1, -1, -1, -1, -1},
		{strings.Repeat("1", 1<<20), -1, -1, -1, -1, -1, -1},
	}
	for _, tc := range cases {
		got := [6]int{IsIP(c, tc.in), IsPureIP(c, tc.in), IsIP4(c, tc.in), IsIP6(c, tc.in), IsIP6Reference(c, tc.in), IPType(c, tc.in)}
		want := [6]int{tc.ip, tc.pure, tc.ip4, tc.ip6, tc.r, tc.typ}
		if got != want {
			name := tc.in
			if len(name) > 40 {
				name = name[:40] + "..."
			}
			t.Errorf("%q: is_ip, is_pure_ip, is_ip4, is_ip6, is_ip6_reference, ip_type = %v, want %v", name, got, want)
		}
	}
}

func TestIPops_Compare(t *testing.T) {
	c, _ := ctx(t)
	cases := []struct {
		a, b      string
		cmp, pure int
	}{
		{"192.0.2.1", "192.0.2.1", 1, 1},
		{"2001:db8::1", "2001:DB8:0:0::1", 1, 1},
		{"2001:db8::1", "[2001:db8::1]", 1, -1},
		{"[::1]", "[0::1]", 1, -1},
		{"192.0.2.1", "::ffff:192.0.2.1", -1, -1},
		{"192.0.2.1", "192.0.2.2", -1, -1},
		{"bad", "bad", -1, -1},
	}
	for _, tc := range cases {
		if got := CompareIPs(c, tc.a, tc.b); got != tc.cmp {
			t.Errorf("compare_ips(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.cmp)
		}
		if got := ComparePureIPs(c, tc.a, tc.b); got != tc.pure {
			t.Errorf("compare_pure_ips(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.pure)
		}
	}
}

func TestIPops_Subnet(t *testing.T) {
	c, log := ctx(t)
	cases := []struct {
		ip, nets string
		want     int
		logs     bool
	}{
		{"10.1.2.3", "10.0.0.0/8", 1, false},
		{"10.1.2.3", "192.168.0.0/16, 10.0.0.0/8", 1, false},
		{"10.1.2.3", " 192.168.0.0/16 ,, 172.16.0.0/12 ", -1, false},
		{"10.1.2.3", "10.1.2.3", 1, false},
		{"10.1.2.3", "10.1.2.4", -1, false},
		{"10.1.2.3", "0.0.0.0/0", 1, false},
		{"2001:db8::5", "2001:db8::/32", 1, false},
		{"2001:db8::5", "10.0.0.0/8,2001:db8::/125", 1, false},
		// The IPv6 address is not changed by the first subnet's mask
		// (Kamailio masks it in place).
		{"2001:db8::5", "2001:db8::/16,2001:db8::5/128", 1, false},
		{"[2001:db8::5]", "2001:db8::/32", -1, false},
		{"2001:db8::5", "[2001:db8::]/32", -1, true},
		{"::ffff:10.0.0.1", "10.0.0.0/8", -1, false},
		{"10.0.0.1", "10.0.0.0/33", -1, true},
		{"10.0.0.1", "10.0.0.0/abc", -1, true},
		{"10.0.0.1", "10.0.0.0/", -1, true},
		{"10.0.0.1", "not-a-net/8, 10.0.0.0/8", 1, true},
		{"bad", "10.0.0.0/8", -1, false},
		{"10.0.0.1", "", -1, false},
	}
	for _, tc := range cases {
		log.Reset()
		if got := IPIsInSubnet(c, tc.ip, tc.nets); got != tc.want {
			t.Errorf("ip_is_in_subnet(%q, %q) = %d, want %d", tc.ip, tc.nets, got, tc.want)
		}
		if got := IsInSubnet(c, tc.ip, tc.nets); got != tc.want {
			t.Errorf("is_in_subnet(%q, %q) = %d, want %d", tc.ip, tc.nets, got, tc.want)
		}
		if logged := strings.Contains(log.String(), "KSR.ipops.ip_is_in_subnet: subnet"); logged != tc.logs {
			t.Errorf("ip_is_in_subnet(%q, %q): logged %v, want %v: %s", tc.ip, tc.nets, logged, tc.logs, log)
		}
	}
}

func TestIPops_HostileSubnetList(t *testing.T) {
	c, log := ctx(t)
	huge := strings.Repeat("x/"+strings.Repeat("9", 100)+",", 1000)
	if got := IPIsInSubnet(c, "10.0.0.1", huge+"10.0.0.0/8"); got != 1 {
		t.Errorf("a long list ending in a match gave %d", got)
	}
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		if len(line) > 300 {
			t.Fatalf("a bad entry logged a %d-byte line", len(line))
		}
	}
}

func TestIPops_RFC1918(t *testing.T) {
	c, _ := ctx(t)
	for in, want := range map[string]int{
		"10.0.0.1": 1, "10.255.255.255": 1, "172.16.0.1": 1, "172.31.255.1": 1,
		"172.32.0.1": -1, "172.15.0.1": -1, "192.168.1.1": 1, "192.169.1.1": -1,
		"8.8.8.8": -1, "10.0.0.1x": -1, "10.0.0.1.5": -1, "::ffff:10.0.0.1": -1, "": -1,
	} {
		if got := IsIPRFC1918(c, in); got != want {
			t.Errorf("is_ip_rfc1918(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestIPops_NoAllocs(t *testing.T) {
	c, _ := ctx(t)
	n := testing.AllocsPerRun(100, func() {
		IPIsInSubnet(c, "2001:db8::5", "10.0.0.0/8, 2001:db8::/32")
		CompareIPs(c, "[2001:db8::1]", "2001:db8::1")
		IsIPRFC1918(c, "192.168.0.1")
	})
	if n != 0 {
		t.Errorf("ipops allocates %v times per call", n)
	}
}

func FuzzIPops(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "[::1]", "10.0.0.0/8, ::/0", "fe80::1%x", "1.2.3.4/33"} {
		f.Add(s, s)
	}
	c, _ := ctx(f)
	f.Fuzz(func(t *testing.T, a, b string) {
		IPType(c, a)
		CompareIPs(c, a, b)
		IPIsInSubnet(c, a, b)
		IsIPRFC1918(c, a)
	})
}

func BenchmarkIPIsInSubnet(b *testing.B) {
	c, _ := ctx(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		IPIsInSubnet(c, "192.168.10.20", "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16")
	}
}
