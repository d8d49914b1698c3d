package ipops

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/internal/resolve"
	"kemi/internal/resolve/dnstest"
)

func pv(c *core.Ctx, kind, arg string) string {
	v, ok := getResult(c, kind, arg, nil)
	if !ok {
		return "<null>"
	}
	return string(v)
}

// TestIPops_DNSQueries: dns_query, srv_query, naptr_query and ptr_query
// against an in-test DNS server (dns_servers), read back through their
// pseudo-variables.
func TestIPops_DNSQueries(t *testing.T) {
	s := dnstest.Start(t,
		`gw.example.test. 60 IN A 127.0.0.2`,
		`gw.example.test. 60 IN AAAA ::1`,
		`_sip._udp.example.test. 60 IN SRV 10 0 5070 gw.example.test.`,
		`_sip._udp.example.test. 60 IN SRV 20 5 5080 b.example.test.`,
		`example.test. 60 IN NAPTR 10 50 "s" "SIP+D2U" "" _sip._udp.example.test.`,
		`2.0.0.127.in-addr.arpa. 60 IN PTR gw.example.test.`,
	)
	resolve.SetDefault(resolve.New(resolve.Config{Servers: []string{s.Addr}, Timeout: time.Second, Attempts: 1, Hosts: map[string][]netip.Addr{}}))
	t.Cleanup(func() { resolve.SetDefault(nil) })
	c, _ := ctx(t)

	if DNSQuery(c, "gw.example.test", "xyz") != 1 {
		t.Fatal("dns_query failed")
	}
	for arg, want := range map[string]string{"xyz=>count": "2", "xyz=>ipv4": "1", "xyz=>ipv6": "1",
		"xyz=>addr[0]": "127.0.0.2", "xyz=>type[0]": "4", "xyz=>addr[1]": "::1", "xyz=>type[-1]": "6", "xyz=>addr[2]": "<null>", "nope=>count": "<null>"} {
		if got := pv(c, "dns", arg); got != want {
			t.Errorf("$dns(%s) = %s, want %s", arg, got, want)
		}
	}
	if SRVQuery(c, "_sip._udp.example.test", "udp") != 1 {
		t.Fatal("srv_query failed")
	}
	for arg, want := range map[string]string{"udp=>count": "2", "udp=>target[0]": "gw.example.test", "udp=>port[0]": "5070",
		"udp=>priority[1]": "20", "udp=>weight[1]": "5"} {
		if got := pv(c, "srvquery", arg); got != want {
			t.Errorf("$srvquery(%s) = %s, want %s", arg, got, want)
		}
	}
	if NAPTRQuery(c, "example.test", "res") != 1 {
		t.Fatal("naptr_query failed")
	}
	for arg, want := range map[string]string{"res=>count": "1", "res=>order[0]": "10", "res=>pref[0]": "50", "res=>flags[0]": "s",
		"res=>services[0]": "SIP+D2U", "res=>regex[0]": "", "res=>replace[0]": "_sip._udp.example.test"} {
		if got := pv(c, "naptrquery", arg); got != want {
			t.Errorf("$naptrquery(%s) = %s, want %s", arg, got, want)
		}
	}
	if PTRQuery(c, "127.0.0.2", "rev") != 1 || pv(c, "ptrquery", "rev=>hostname") != "gw.example.test" {
		t.Errorf("ptr_query: $ptrquery(rev=>hostname) = %s", pv(c, "ptrquery", "rev=>hostname"))
	}
	// Not found: -1, and the container says count 0.
	if DNSQuery(c, "none.example.test", "xyz") != -1 || pv(c, "dns", "xyz=>count") != "0" {
		t.Errorf("dns_query of a missing name: count %s", pv(c, "dns", "xyz=>count"))
	}
	if PTRQuery(c, "not-an-ip", "rev") != -1 || DNSQuery(c, "x", "") != -1 {
		t.Errorf("bad arguments accepted")
	}
	// A flood of pvids stays bounded.
	for i := 0; i < 100; i++ {
		DNSQuery(c, "127.0.0.1", "p"+strings.Repeat("x", i%60)+string(rune('a'+i%26)))
	}
	if n := len(perWorker.Get(c).cs); n > maxContainers {
		t.Errorf("%d containers kept, bound %d", n, maxContainers)
	}
}
