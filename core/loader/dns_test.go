package loader

import (
	"testing"
	"time"

	"kemi/core"
	"kemi/core/config"
	"kemi/internal/resolve"
)

// TestDNSParams_ReachTheResolver: the dns_* core parameters, and kemi's
// dns_servers, as a config file gives them, end up in the resolver.
func TestDNSParams_ReachTheResolver(t *testing.T) {
	cfg, err := config.Parse("x", []byte(`dns_servers="127.0.0.1:5353,[::1]:53"
dns_retr_time=1
dns_retr_no=3
dns_try_ipv6=no
dns_try_naptr=no
dns_srv_loadbalancing=on
use_dns_failover=off
dns_cache_min_ttl=5
dns_cache_max_ttl=600
dns_cache_negative_ttl=0
dns_cache_mem=100
`), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := map[string]core.Value{}
	for _, v := range cfg.Globals {
		g[v.Name] = v.Value
	}
	got := dnsConfig(g)
	want := resolve.Config{Servers: []string{"127.0.0.1:5353", "[::1]:53"}, Timeout: time.Second, Attempts: 3,
		NoIPv6: true, NoNAPTR: true, SRVLoadBalance: true, NoFailover: true,
		MinTTL: 5 * time.Second, MaxTTL: 600 * time.Second, NegTTL: -1, MaxEntries: 400}
	if got.Timeout != want.Timeout || got.Attempts != want.Attempts || got.NoIPv6 != want.NoIPv6 || got.NoNAPTR != want.NoNAPTR ||
		got.SRVLoadBalance != want.SRVLoadBalance || got.NoFailover != want.NoFailover || got.MinTTL != want.MinTTL ||
		got.MaxTTL != want.MaxTTL || got.NegTTL != want.NegTTL || got.MaxEntries != want.MaxEntries ||
		len(got.Servers) != 2 || got.Servers[0] != want.Servers[0] || got.Servers[1] != want.Servers[1] {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	// Nothing set: the resolver's defaults (failover on, NAPTR on, cache on).
	if d := dnsConfig(map[string]core.Value{}); d.NoFailover || d.NoNAPTR || d.NoCache || d.Servers != nil {
		t.Errorf("defaults: %+v", d)
	}
}
