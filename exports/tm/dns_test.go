package tm

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/internal/resolve"
	"kemi/internal/resolve/dnstest"
)

var (
	srvA = netip.MustParseAddrPort("127.0.0.1:5071")
	srvB = netip.MustParseAddrPort("127.0.0.1:5072")
)

// dnsRig is a rig whose request route relays to sip:example.test, which
// the in-test DNS server resolves by SRV to srvA (priority 10), then srvB.
func dnsRig(t *testing.T, cfg resolve.Config) *rig {
	s := dnstest.Start(t,
		`_sip._udp.example.test. 60 IN SRV 10 0 5071 a.example.test.`,
		`_sip._udp.example.test. 60 IN SRV 20 0 5072 b.example.test.`,
		`a.example.test. 60 IN A 127.0.0.1`,
		`b.example.test. 60 IN A 127.0.0.1`)
	cfg.Servers, cfg.Timeout, cfg.Attempts, cfg.Hosts = []string{s.Addr}, time.Second, 1, map[string][]netip.Addr{}
	resolve.SetDefault(resolve.New(cfg))
	t.Cleanup(func() { resolve.SetDefault(nil) })
	r := newRig(t)
	r.route = func(ctx *core.Ctx) {
		ctx.DstURI = "sip:example.test"
		if Relay(ctx) < 0 {
			t.Errorf("t_relay failed:\n%s", r.log.String())
		}
	}
	return r
}

func TestDNSFailover_503TriesNextSRVTarget(t *testing.T) {
	r := dnsRig(t, resolve.Config{})
	r.in(invite("z9hG4bK-d1"), uac)
	r.expect("INVITE to the priority-10 target", "INVITE sip:bob@example.com SIP/2.0 -> "+srvA.String(), "SIP/2.0 100 Trying -> "+uac.String())
	r.in(replyTo(t, r.last(srvA), 503, "Service Unavailable", "a"), srvA)
	r.expect("503: ACK, then the same INVITE to the next target",
		"ACK sip:bob@example.com SIP/2.0 -> "+srvA.String(), "INVITE sip:bob@example.com SIP/2.0 -> "+srvB.String())
	if a, b := header(t, r.last(srvA), "Via"), header(t, r.last(srvB), "Via"); a == b || !strings.Contains(b, ".1") {
		t.Errorf("the failover branch needs its own Via branch: %q and %q", a, b)
	}
	r.in(replyTo(t, r.last(srvB), 200, "OK", "b"), srvB)
	r.expect("200 from the next target upstream", "SIP/2.0 200 OK -> "+uac.String())
	if !strings.Contains(r.log.String(), "DNS failover") {
		t.Errorf("no log line for the failover:\n%s", r.log.String())
	}
}

func TestDNSFailover_TimeoutTriesNextSRVTarget(t *testing.T) {
	r := dnsRig(t, resolve.Config{})
	r.in(invite("z9hG4bK-d2"), uac)
	r.sent()
	r.advance(33 * time.Second) // timer B: srvA never answered
	var toB bool
	for _, s := range r.sent() {
		toB = toB || s == "INVITE sip:bob@example.com SIP/2.0 -> "+srvB.String()
		if strings.HasPrefix(s, "SIP/2.0 408") {
			t.Errorf("408 upstream before the next target was tried: %s", s)
		}
	}
	if !toB {
		t.Fatalf("after srvA timed out, nothing went to srvB")
	}
	r.in(replyTo(t, r.last(srvB), 200, "OK", "b"), srvB)
	r.expect("200 from the next target upstream", "SIP/2.0 200 OK -> "+uac.String())
}

func TestDNSFailover_OffSendsTheFailureUpstream(t *testing.T) {
	r := dnsRig(t, resolve.Config{NoFailover: true})
	r.in(invite("z9hG4bK-d3"), uac)
	r.sent()
	r.in(replyTo(t, r.last(srvA), 503, "Service Unavailable", "a"), srvA)
	// Upstream as 500, as RFC 3261 16.7 step 6 turns a 503.
	r.expect("use_dns_failover=no: the 503 goes upstream",
		"ACK sip:bob@example.com SIP/2.0 -> "+srvA.String(), "SIP/2.0 500 Server Internal Error -> "+uac.String())
}

// TestDNSNextHop_CachedNameDoesNotAllocate: a call relayed to a host name
// whose records are in the cache allocates no more than one to an IP.
func TestDNSNextHop_CachedNameDoesNotAllocate(t *testing.T) {
	r := dnsRig(t, resolve.Config{})
	r.rec = ksrtest.Discard
	r.ctx.Out = r.rec
	r.rt.Send = func([]byte, core.Proto, netip.AddrPort) error { return nil }
	inv := invite("z9hG4bK-dalloc")
	var fwd []byte
	{
		rec := ksrtest.NewRecorder()
		r.ctx.Out = rec
		r.in(inv, uac)
		fwd = rec.Sent[0].B
		r.ctx.Out = r.rec
	}
	ok := replyTo(t, fwd, 200, "OK", "x")
	r.in(ok, srvA)
	r.advance(time.Duration(RFCTimers().Wait) + time.Second)
	var buf []byte
	allocs := testing.AllocsPerRun(200, func() {
		buf = append(buf[:0], inv...)
		r.msg.Parse(buf)
		r.ctx.Reset(&r.msg, uac, proxy, core.UDP)
		r.route(&r.ctx)
		buf = append(buf[:0], ok...)
		r.msg.Parse(buf)
		r.ctx.Reset(&r.msg, srvA, proxy, core.UDP)
		r.tm.Hook(&r.ctx)
		r.advance(time.Duration(RFCTimers().Wait) + 20*time.Millisecond)
	})
	if allocs > 0 {
		t.Errorf("%.1f allocations per call to a cached host name, want 0", allocs)
	}
}
