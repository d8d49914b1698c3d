package resolve

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"kemi/internal/resolve/dnstest"
)

// zone is example.test as the tests serve it: NAPTR to UDP and TCP SRV,
// two UDP SRV priorities.
var zone = []string{
	`example.test. 60 IN NAPTR 10 50 "s" "SIP+D2T" "" _sip._tcp.example.test.`,
	`example.test. 60 IN NAPTR 20 50 "s" "SIP+D2U" "" _sip._udp.example.test.`,
	`_sip._udp.example.test. 60 IN SRV 20 0 5070 b.example.test.`,
	`_sip._udp.example.test. 60 IN SRV 10 0 5080 a.example.test.`,
	`_sip._tcp.example.test. 60 IN SRV 10 0 5090 a.example.test.`,
	`a.example.test. 60 IN A 127.0.0.2`,
	`b.example.test. 60 IN A 127.0.0.3`,
	`b.example.test. 60 IN AAAA ::1`,
	`plain.test. 60 IN A 127.0.0.4`,
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTest(t testing.TB, cfg Config, records ...string) (*Resolver, *dnstest.Server, *clock) {
	t.Helper()
	s := dnstest.Start(t, records...)
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	if cfg.Servers == nil {
		cfg.Servers = []string{s.Addr}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Second
	}
	cfg.Attempts = max(cfg.Attempts, 1)
	if cfg.Hosts == nil {
		cfg.Hosts = map[string][]netip.Addr{}
	}
	cfg.Now = c.now
	return New(cfg), s, c
}

func targets(t *testing.T, r *Resolver, uri string) string {
	t.Helper()
	ts, err := r.AppendURITargets(nil, []byte(uri))
	if err != nil {
		return "error: " + err.Error()
	}
	var b []string
	for _, x := range ts {
		b = append(b, x.String())
	}
	return strings.Join(b, " ")
}

func TestRFC3263_Order(t *testing.T) {
	r, _, _ := newTest(t, Config{}, zone...)
	rt, _, _ := newTest(t, Config{Protos: UDP | TCP}, zone...)
	for _, c := range []struct {
		r         *Resolver
		uri, want string
	}{
		// NAPTR order 10 is TCP, not served: the UDP SRV by priority.
		{r, "sip:bob@example.test", "udp:127.0.0.2:5080 udp:127.0.0.3:5070 udp:[::1]:5070"},
		// TCP served too: NAPTR order puts it first.
		{rt, "sip:bob@example.test", "tcp:127.0.0.2:5090 udp:127.0.0.2:5080 udp:127.0.0.3:5070 udp:[::1]:5070"},
		{rt, "sip:bob@example.test;transport=tcp", "tcp:127.0.0.2:5090"},
		{r, "sip:bob@EXAMPLE.test;transport=udp", "udp:127.0.0.2:5080 udp:127.0.0.3:5070 udp:[::1]:5070"},
		// An explicit port: A/AAAA only.
		{r, "sip:bob@b.example.test:5099", "udp:127.0.0.3:5099 udp:[::1]:5099"},
		// No NAPTR, no SRV: A on 5060.
		{r, "sip:plain.test", "udp:127.0.0.4:5060"},
		{r, "sip:plain.test;transport=udp", "udp:127.0.0.4:5060"},
		{r, "sip:10.0.0.1", "udp:10.0.0.1:5060"},
		{r, "sip:[2001:db8::1]:5070", "udp:[2001:db8::1]:5070"},
		{r, "sip:bob@example.test;maddr=127.0.0.9", "udp:127.0.0.9:5060"},
		{r, "sips:example.test", "error: host example.test: no SRV records, and transport tls is not served"},
		{r, "sip:bob@nowhere.test", "error: A nowhere.test.: no such record (NXDOMAIN)"},
		{r, "sip:callee.invalid:5060", "error: A callee.invalid.: no such record (.invalid names never resolve, RFC 6761)"},
		{r, "tel:+1234", `error: URI "tel:+1234" is not a sip: or sips: URI`},
		{r, "sip:x.test;transport=sctp", `error: URI "sip:x.test;transport=sctp": transport "sctp" is not served`},
	} {
		if got := targets(t, c.r, c.uri); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.uri, got, c.want)
		}
	}
	rn, _, _ := newTest(t, Config{NoNAPTR: true, NoIPv6: true, Protos: UDP | TCP}, zone...)
	// dns_try_naptr off: SRV in UDP, TCP order; dns_try_ipv6 off: no ::1.
	if got, want := targets(t, rn, "sip:example.test"), "udp:127.0.0.2:5080 udp:127.0.0.3:5070 tcp:127.0.0.2:5090"; got != want {
		t.Errorf("no NAPTR: got %s, want %s", got, want)
	}
}

func TestRFC3263_HostsFile(t *testing.T) {
	r, _, _ := newTest(t, Config{Hosts: ParseHosts([]byte("127.0.0.7 PBX.local pbx # comment\n::1 pbx\nbad line\n"))}, zone...)
	if got, want := targets(t, r, "sip:pbx:5062"), "udp:127.0.0.7:5062 udp:[::1]:5062"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestRFC3263_SRVWeights(t *testing.T) {
	first := map[string]int{}
	for i := 0; i < 4000; i++ {
		recs := []SRV{{Priority: 1, Weight: 90, Target: "a"}, {Priority: 1, Weight: 10, Target: "b"}, {Priority: 2, Weight: 100, Target: "c"}}
		OrderSRV(recs)
		if recs[2].Target != "c" {
			t.Fatalf("priority 2 moved ahead: %v", recs)
		}
		first[recs[0].Target]++
	}
	if a := first["a"]; a < 3400 || a > 3800 {
		t.Errorf("weight 90 of 100 first in %d of 4000 draws, want about 3600", a)
	}
	// dns_srv_lb on: both targets of priority 10 come first, in some order.
	r, _, _ := newTest(t, Config{SRVLoadBalance: true},
		`_sip._udp.lb.test. 60 IN SRV 10 50 5060 a.example.test.`,
		`_sip._udp.lb.test. 60 IN SRV 10 50 5060 b.example.test.`,
		`_sip._udp.lb.test. 60 IN SRV 20 50 5060 c.example.test.`,
		`a.example.test. 60 IN A 127.0.0.2`, `b.example.test. 60 IN A 127.0.0.3`, `c.example.test. 60 IN A 127.0.0.4`)
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		got := targets(t, r, "sip:lb.test;transport=udp")
		if !strings.HasSuffix(got, "udp:127.0.0.4:5060") {
			t.Fatalf("priority 20 not last: %s", got)
		}
		seen[got] = true
	}
	if len(seen) != 2 {
		t.Errorf("dns_srv_lb: want both orders of the priority-10 pair over 50 lookups, got %v", seen)
	}
}

func TestDNSCache_TTLExpiry(t *testing.T) {
	r, s, c := newTest(t, Config{}, `ttl.test. 30 IN A 127.0.0.2`)
	want := "udp:127.0.0.2:5060"
	if got := targets(t, r, "sip:ttl.test:5060"); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	n := s.Queries.Load()
	s.Set(t, `ttl.test. 30 IN A 127.0.0.3`)
	c.add(29 * time.Second)
	if got := targets(t, r, "sip:ttl.test:5060"); got != want || s.Queries.Load() != n {
		t.Errorf("before expiry: got %s with %d more queries, want %s from the cache", got, s.Queries.Load()-n, want)
	}
	c.add(time.Second)
	if got, want := targets(t, r, "sip:ttl.test:5060"), "udp:127.0.0.3:5060"; got != want {
		t.Errorf("after expiry: got %s, want %s", got, want)
	}
	// dns_cache_min_ttl and dns_cache_max_ttl clamp.
	r2, s2, c2 := newTest(t, Config{MaxTTL: 5 * time.Second}, `ttl.test. 3600 IN A 127.0.0.2`)
	targets(t, r2, "sip:ttl.test:5060")
	s2.Set(t, `ttl.test. 3600 IN A 127.0.0.5`)
	c2.add(5 * time.Second)
	if got, want := targets(t, r2, "sip:ttl.test:5060"), "udp:127.0.0.5:5060"; got != want {
		t.Errorf("dns_cache_max_ttl 5: got %s, want %s", got, want)
	}
	r3, s3, c3 := newTest(t, Config{MinTTL: time.Minute}, `ttl.test. 1 IN A 127.0.0.2`)
	targets(t, r3, "sip:ttl.test:5060")
	s3.Set(t, `ttl.test. 1 IN A 127.0.0.5`)
	c3.add(59 * time.Second)
	if got, want := targets(t, r3, "sip:ttl.test:5060"), "udp:127.0.0.2:5060"; got != want {
		t.Errorf("dns_cache_min_ttl 60: got %s, want %s", got, want)
	}
}

func TestDNSCache_Negative(t *testing.T) {
	r, s, c := newTest(t, Config{NegTTL: 10 * time.Second})
	for i := 0; i < 3; i++ {
		if _, err := r.AppendURITargets(nil, []byte("sip:gone.test:5060")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("want ErrNotFound, got %v", err)
		}
	}
	n := s.Queries.Load() // A and AAAA once
	if n != 2 {
		t.Errorf("3 lookups of a missing name sent %d queries, want 2 (A, AAAA) then the negative cache", n)
	}
	s.Set(t, `gone.test. 60 IN A 127.0.0.2`)
	c.add(10 * time.Second)
	if got, want := targets(t, r, "sip:gone.test:5060"), "udp:127.0.0.2:5060"; got != want {
		t.Errorf("after dns_cache_negative_ttl: got %s, want %s", got, want)
	}
}

func TestDNSCache_BoundedUnderFlood(t *testing.T) {
	r, _, _ := newTest(t, Config{MaxEntries: 100}, `x.test. 60 IN A 127.0.0.2`)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < 3000; i++ {
		r.AppendURITargets(nil, fmt.Appendf(nil, "sip:n%d.x.test:5060", i))
	}
	if n := r.CacheLen(); n > 100 {
		t.Errorf("cache holds %d entries after 3000 unique names, bound 100", n)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 2<<20 {
		t.Errorf("heap grew %d bytes over 3000 unique names", grew)
	}
}

func TestDNSTimeout_DeadServerDoesNotHoldWorkers(t *testing.T) {
	dead := dnstest.Silent(t)
	r, _, _ := newTest(t, Config{Servers: []string{dead}, Timeout: 150 * time.Millisecond, Attempts: 2})
	var wg sync.WaitGroup
	var slow atomic.Int64
	start := time.Now()
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			_, err := r.AppendURITargets(nil, []byte("sip:dead.test"))
			if !errors.Is(err, ErrTimeout) {
				t.Errorf("want ErrTimeout, got %v", err)
			}
			if time.Since(t0) > 2*time.Second {
				slow.Add(1)
			}
		}()
	}
	wg.Wait()
	if slow.Load() > 0 || time.Since(start) > 3*time.Second {
		t.Errorf("%d of 20 lookups took over 2s against a dead server", slow.Load())
	}
	if q := r.Queries.Load(); q != 2 {
		t.Errorf("20 concurrent lookups of one name sent %d queries, want 2 (coalesced, 2 attempts)", q)
	}
	// The failure is held briefly: the next lookup fails at once.
	t0 := time.Now()
	if _, err := r.AppendURITargets(nil, []byte("sip:dead.test")); !errors.Is(err, ErrTimeout) || time.Since(t0) > 50*time.Millisecond {
		t.Errorf("held failure: got %v after %s", err, time.Since(t0))
	}
}

func TestDNSMalformedAnswers(t *testing.T) {
	for name, reply := range map[string]func(q []byte) []byte{
		"garbage": func(q []byte) []byte { return []byte("\x00\x01garbage") },
		"wrong id": func(q []byte) []byte {
			m := new(dns.Msg)
			m.Unpack(q)
			r := new(dns.Msg)
			r.SetReply(m)
			r.Id++
			b, _ := r.Pack()
			return b
		},
		"wrong question": func(q []byte) []byte {
			m := new(dns.Msg)
			m.Unpack(q)
			r := new(dns.Msg)
			r.SetReply(m)
			r.Question[0].Name = "other.test."
			r.Answer = append(r.Answer, &dns.A{Hdr: dns.RR_Header{Name: "other.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: []byte{6, 6, 6, 6}})
			b, _ := r.Pack()
			return b
		},
		"bad count": func(q []byte) []byte {
			m := new(dns.Msg)
			m.Unpack(q)
			r := new(dns.Msg)
			r.SetReply(m)
			b, _ := r.Pack()
			binary.BigEndian.PutUint16(b[6:], 65535) // 65535 answers claimed, none there
			return b
		},
		"servfail": func(q []byte) []byte {
			m := new(dns.Msg)
			m.Unpack(q)
			r := new(dns.Msg)
			r.SetRcode(m, dns.RcodeServerFailure)
			b, _ := r.Pack()
			return b
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := dnstest.Raw(t, reply)
			r, _, _ := newTest(t, Config{Servers: []string{srv}, Timeout: 200 * time.Millisecond})
			ts, err := r.AppendURITargets(nil, []byte("sip:m.test:5060"))
			if err == nil || len(ts) != 0 {
				t.Errorf("want an error and no targets, got %v %v", ts, err)
			}
		})
	}
}

func TestDNSOversizedAnswerIsCapped(t *testing.T) {
	var recs []string
	for i := 0; i < 300; i++ {
		recs = append(recs, fmt.Sprintf(`_sip._udp.big.test. 60 IN SRV %d 0 %d t%d.big.test.`, i%3, 5000+i, i))
		recs = append(recs, fmt.Sprintf(`t%d.big.test. 60 IN A 127.0.%d.%d`, i, i/250, 1+i%250))
	}
	r, _, _ := newTest(t, Config{}, recs...)
	srv, err := r.SRVs("_sip._udp.big.test")
	if err != nil {
		t.Fatal(err) // truncated over UDP, fetched over TCP
	}
	if len(srv) != maxSRV {
		t.Errorf("kept %d SRV records of 300, want the cap %d", len(srv), maxSRV)
	}
	ts, err := r.AppendURITargets(nil, []byte("sip:big.test;transport=udp"))
	if err != nil || len(ts) == 0 || len(ts) > maxTargets {
		t.Errorf("got %d targets (%v), want 1..%d", len(ts), err, maxTargets)
	}
}

func TestDNSCacheHitDoesNotAllocate(t *testing.T) {
	r, _, _ := newTest(t, Config{}, zone...)
	dst := make([]Target, 0, maxTargets)
	uri := []byte("sip:bob@example.test")
	if _, err := r.AppendURITargets(dst, uri); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { dst, _ = r.AppendURITargets(dst[:0], uri) }); n != 0 {
		t.Errorf("a cached resolution allocates %.1f times, want 0", n)
	}
	ip := []byte("sip:bob@127.0.0.1:5070")
	if n := testing.AllocsPerRun(100, func() { dst, _ = r.AppendURITargets(dst[:0], ip) }); n != 0 {
		t.Errorf("an IP next hop allocates %.1f times, want 0", n)
	}
}

func TestParseServers(t *testing.T) {
	got, err := ParseServers("127.0.0.1:5353, [::1]:53,10.0.0.1,[::2]")
	if err != nil || strings.Join(got, " ") != "127.0.0.1:5353 [::1]:53 10.0.0.1:53 [::2]:53" {
		t.Errorf("got %v %v", got, err)
	}
	for _, bad := range []string{"", "dns.example:53", "127.0.0.1:0", "127.0.0.1:99999", "[fe80::1%eth0]:53", ",", "1.2.3.4:53,x"} {
		if _, err := ParseServers(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func FuzzParseServers(f *testing.F) {
	f.Add("127.0.0.1:5353,[::1]:53")
	f.Add("[::1]")
	f.Fuzz(func(t *testing.T, s string) {
		out, err := ParseServers(s)
		if err != nil {
			return
		}
		again, err := ParseServers(strings.Join(out, ","))
		if err != nil || strings.Join(again, ",") != strings.Join(out, ",") {
			t.Fatalf("%q: parsed to %v, which reparses to %v %v", s, out, again, err)
		}
	})
}

func FuzzParseHosts(f *testing.F) {
	f.Add([]byte("127.0.0.1 localhost\n::1 ip6-localhost # x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for n, as := range ParseHosts(b) {
			if n != strings.ToLower(n) || len(as) == 0 || len(as) > maxAddrs {
				t.Fatalf("%q: %v", n, as)
			}
		}
	})
}

// FuzzNAPTRAndSRVOrder: any NAPTR record maps to at most one served
// transport, and OrderSRV keeps priorities ascending and the same records.
func FuzzNAPTRAndSRVOrder(f *testing.F) {
	f.Add("s", "SIP+D2U", "", "_sip._udp.x.", uint16(1), uint16(2), uint16(1), uint16(0))
	f.Fuzz(func(t *testing.T, flags, svc, re, repl string, p1, w1, p2, w2 uint16) {
		p := naptrProto(NAPTR{Flags: flags, Services: svc, Regexp: re, Replacement: repl})
		if p != 0 && (re != "" || p&(UDP|TCP|TLS) == 0) {
			t.Fatalf("naptr %q %q %q: %v", flags, svc, re, p)
		}
		recs := []SRV{{Priority: p1, Weight: w1, Target: "a"}, {Priority: p2, Weight: w2, Target: "b"}}
		if p2 < p1 {
			recs[0], recs[1] = recs[1], recs[0]
		}
		OrderSRV(recs)
		if recs[0].Priority > recs[1].Priority || recs[0].Target == recs[1].Target {
			t.Fatalf("OrderSRV: %v", recs)
		}
	})
}

// FuzzAnswer: whatever a server sends that unpacks as DNS, the records
// kept stay within their caps and nothing panics.
func FuzzAnswer(f *testing.F) {
	m := new(dns.Msg)
	m.SetQuestion("_sip._udp.x.test.", dns.TypeSRV)
	m.Answer = append(m.Answer, &dns.SRV{Hdr: dns.RR_Header{Name: "_sip._udp.x.test.", Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 60}, Priority: 1, Weight: 2, Port: 5060, Target: "a.x.test."},
		&dns.NAPTR{Hdr: dns.RR_Header{Name: "x.test.", Rrtype: dns.TypeNAPTR, Class: dns.ClassINET, Ttl: 60}, Order: 1, Flags: "s", Service: "SIP+D2U", Replacement: "_sip._udp.x.test."},
		&dns.A{Hdr: dns.RR_Header{Name: "a.x.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: []byte{127, 0, 0, 1}})
	b, _ := m.Pack()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var m dns.Msg
		if m.Unpack(b) != nil {
			return
		}
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV, dns.TypeNAPTR, dns.TypePTR} {
			v, ttl := records(m.Answer, qt)
			if ttl < 0 {
				t.Fatalf("negative TTL %v", ttl)
			}
			switch x := v.(type) {
			case []netip.Addr:
				if len(x) > maxAddrs {
					t.Fatalf("%d addresses", len(x))
				}
			case []SRV:
				if len(x) > maxSRV {
					t.Fatalf("%d SRV", len(x))
				}
				OrderSRV(x)
			case []NAPTR:
				if len(x) > maxNAPTR {
					t.Fatalf("%d NAPTR", len(x))
				}
				for _, n := range x {
					naptrProto(n)
				}
			case []string:
				if len(x) > maxAddrs {
					t.Fatalf("%d PTR", len(x))
				}
			}
		}
	})
}
