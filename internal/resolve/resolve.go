package resolve

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/singleflight"
)

// Limits on what one answer may bring into the cache, so an oversized or
// hostile answer costs a bounded amount of memory.
const (
	maxAddrs   = 16 // addresses kept per name and type
	maxSRV     = 16 // SRV records kept per name
	maxNAPTR   = 16 // NAPTR records kept per name
	maxTargets = 32 // targets one URI resolves to
	// failHold is how long a name whose server failed or did not answer
	// is held as failed (at most NegTTL), so a dead server costs one
	// timeout per name per hold rather than one per message.
	failHold = 5 * time.Second
)

// Errors a lookup ends with; wrapped with the name.
var (
	// ErrNotFound: the name does not exist or has no record of the type.
	ErrNotFound = errors.New("no such record")
	// ErrTimeout: no server answered in time.
	ErrTimeout = errors.New("no answer from the DNS servers in time")
	// ErrServer: a server answered with an error or a malformed message.
	ErrServer = errors.New("DNS server failure")
)

// SRV is one SRV record.
type SRV struct {
	Priority, Weight, Port uint16
	Target                 string
}

// NAPTR is one NAPTR record.
type NAPTR struct {
	Order, Pref                          uint16
	Flags, Services, Regexp, Replacement string
}

// Resolver answers A, AAAA, SRV, NAPTR and PTR queries through a cache
// shared by every worker, and resolves SIP URIs per RFC 3263. It is safe
// for concurrent use.
type Resolver struct {
	cfg     Config
	servers []string
	client  dns.Client
	tcp     dns.Client
	hosts   map[string]hostEntry
	cache   *cache
	flight  singleflight.Group
	next    atomic.Uint32 // rotates the first server asked

	// Queries counts queries sent to servers (tests read it).
	Queries atomic.Int64
}

// hostEntry is a name of /etc/hosts with its addresses; the name is kept
// so targets can carry it without a copy.
type hostEntry struct {
	name  string
	addrs []netip.Addr
}

// New builds a resolver; see Config for the defaults.
func New(cfg Config) *Resolver {
	r := &Resolver{cfg: cfg}
	timeout, attempts := time.Duration(0), 0
	if len(cfg.Servers) > 0 {
		r.servers = cfg.Servers
	} else {
		r.servers, timeout, attempts = systemServers("/etc/resolv.conf")
	}
	if r.cfg.Timeout <= 0 {
		r.cfg.Timeout = timeout
		if r.cfg.Timeout <= 0 {
			r.cfg.Timeout = 5 * time.Second
		}
	}
	if r.cfg.Attempts <= 0 {
		r.cfg.Attempts = attempts
		if r.cfg.Attempts <= 0 {
			r.cfg.Attempts = 2
		}
	}
	if r.cfg.NegTTL == 0 {
		r.cfg.NegTTL = 60 * time.Second
	}
	if r.cfg.MaxEntries <= 0 {
		r.cfg.MaxEntries = 2048
	}
	if r.cfg.Protos == 0 {
		r.cfg.Protos = UDP
	}
	if r.cfg.Now == nil {
		r.cfg.Now = time.Now
	}
	hosts := cfg.Hosts
	if hosts == nil {
		hosts = readHosts()
	}
	r.hosts = make(map[string]hostEntry, len(hosts))
	for n, as := range hosts {
		r.hosts[n] = hostEntry{name: n, addrs: as}
	}
	r.client = dns.Client{Net: "udp", Timeout: r.cfg.Timeout, UDPSize: 1232}
	r.tcp = dns.Client{Net: "tcp", Timeout: r.cfg.Timeout}
	r.cache = newCache(r.cfg.MaxEntries)
	return r
}

// Config returns the configuration in effect, defaults filled in.
func (r *Resolver) Config() Config { return r.cfg }

// Servers returns the name servers asked.
func (r *Resolver) Servers() []string { return r.servers }

// Flush empties the cache.
func (r *Resolver) Flush() { r.cache.flush() }

// CacheLen is how many entries the cache holds.
func (r *Resolver) CacheLen() int { return r.cache.len() }

// queryBudget is the longest one query can take: every attempt at every
// server timing out.
func (r *Resolver) queryBudget() time.Duration {
	return r.cfg.Timeout * time.Duration(r.cfg.Attempts*len(r.servers))
}

// Addrs returns the addresses of name: /etc/hosts first, else A (and
// AAAA unless dns_try_ipv6 is off), IPv4 first.
func (r *Resolver) Addrs(name string) ([]netip.Addr, error) {
	if h, ok := r.hosts[strings.ToLower(strings.TrimSuffix(name, "."))]; ok {
		return h.addrs, nil
	}
	v4, err4 := r.lookupName(name, dns.TypeA)
	if err4 != nil && !errors.Is(err4, ErrNotFound) {
		return nil, err4
	}
	var v6 any
	err6 := ErrNotFound
	if !r.cfg.NoIPv6 {
		v6, err6 = r.lookupName(name, dns.TypeAAAA)
	}
	switch {
	case err4 == nil && err6 == nil:
		a, b := v4.([]netip.Addr), v6.([]netip.Addr)
		return append(append(make([]netip.Addr, 0, len(a)+len(b)), a...), b...), nil
	case err4 == nil:
		return v4.([]netip.Addr), nil
	case err6 == nil:
		return v6.([]netip.Addr), nil
	}
	if errors.Is(err6, ErrNotFound) {
		return nil, err4
	}
	return nil, err6
}

// SRVs returns the SRV records of name in priority, then descending
// weight order (the order the cache keeps; see OrderSRV for RFC 2782's).
func (r *Resolver) SRVs(name string) ([]SRV, error) {
	v, err := r.lookupName(name, dns.TypeSRV)
	if err != nil {
		return nil, err
	}
	return v.([]SRV), nil
}

// NAPTRs returns the NAPTR records of name by order, then preference.
func (r *Resolver) NAPTRs(name string) ([]NAPTR, error) {
	v, err := r.lookupName(name, dns.TypeNAPTR)
	if err != nil {
		return nil, err
	}
	return v.([]NAPTR), nil
}

// PTR returns the names an address maps back to.
func (r *Resolver) PTR(a netip.Addr) ([]string, error) {
	arpa, err := dns.ReverseAddr(a.Unmap().String())
	if err != nil {
		return nil, fmt.Errorf("PTR %s: %w", a, err)
	}
	v, err := r.lookupName(arpa, dns.TypePTR)
	if err != nil {
		return nil, err
	}
	return v.([]string), nil
}

// query asks the servers, in turn, Attempts rounds, and makes the cache
// entry of the answer (expiring now when it should not be kept).
func (r *Resolver) query(name string, qtype uint16) *entry {
	now := r.cfg.Now()
	tname := dns.TypeToString[qtype]
	fail := func(err error) *entry {
		hold := min(failHold, r.cfg.NegTTL)
		return &entry{expires: now.Add(hold), err: fmt.Errorf("%s %s: %w", tname, name, err)}
	}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = true
	m.SetEdns0(1232, false)
	var last error = ErrTimeout
	first := int(r.next.Add(1))
	for try := 0; try < r.cfg.Attempts*len(r.servers); try++ {
		srv := r.servers[(first+try)%len(r.servers)]
		r.Queries.Add(1)
		in, _, err := r.client.Exchange(m, srv)
		if err == nil && in.Truncated {
			r.Queries.Add(1)
			in, _, err = r.tcp.Exchange(m, srv)
		}
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				last = ErrTimeout
			} else {
				last = fmt.Errorf("%w: %s: %v", ErrServer, srv, err)
			}
			continue
		}
		if len(in.Question) != 1 || !strings.EqualFold(in.Question[0].Name, name) || in.Question[0].Qtype != qtype {
			last = fmt.Errorf("%w: %s answered another question", ErrServer, srv)
			continue
		}
		switch in.Rcode {
		case dns.RcodeSuccess:
		case dns.RcodeNameError:
			return r.negative(now, in, fmt.Errorf("%s %s: %w (NXDOMAIN)", tname, name, ErrNotFound))
		default:
			last = fmt.Errorf("%w: %s: rcode %s", ErrServer, srv, dns.RcodeToString[in.Rcode])
			continue
		}
		val, ttl := records(in.Answer, qtype)
		if val == nil {
			return r.negative(now, in, fmt.Errorf("%s %s: %w", tname, name, ErrNotFound))
		}
		return &entry{expires: now.Add(r.clamp(ttl)), val: val}
	}
	return fail(last)
}

// negative makes the entry of a name without records: kept NegTTL
// (dns_cache_negative_ttl), or not at all when that is negative.
func (r *Resolver) negative(now time.Time, _ *dns.Msg, err error) *entry {
	ttl := r.cfg.NegTTL
	if ttl < 0 {
		ttl = 0
	}
	return &entry{expires: now.Add(ttl), err: err}
}

func (r *Resolver) clamp(ttl time.Duration) time.Duration {
	if ttl < r.cfg.MinTTL {
		ttl = r.cfg.MinTTL
	}
	if r.cfg.MaxTTL > 0 && ttl > r.cfg.MaxTTL {
		ttl = r.cfg.MaxTTL
	}
	return ttl
}

// records picks the records of type qtype out of an answer section (a
// CNAME chain's records come with their own owner names, which are
// accepted), capped per type, and the smallest TTL among them. nil when
// there are none.
func records(ans []dns.RR, qtype uint16) (any, time.Duration) {
	ttl := uint32(1<<31 - 1)
	seen := false
	keep := func(h *dns.RR_Header) {
		seen = true
		ttl = min(ttl, h.Ttl)
	}
	switch qtype {
	case dns.TypeA, dns.TypeAAAA:
		var out []netip.Addr
		for _, rr := range ans {
			var a netip.Addr
			switch v := rr.(type) {
			case *dns.A:
				if qtype != dns.TypeA {
					continue
				}
				a, _ = netip.AddrFromSlice(v.A.To4())
			case *dns.AAAA:
				if qtype != dns.TypeAAAA {
					continue
				}
				a, _ = netip.AddrFromSlice(v.AAAA.To16())
			default:
				continue
			}
			if a.IsValid() && len(out) < maxAddrs && !slices.Contains(out, a.Unmap()) {
				out = append(out, a.Unmap())
				keep(rr.Header())
			}
		}
		if seen {
			return out, time.Duration(ttl) * time.Second
		}
	case dns.TypeSRV:
		var out []SRV
		for _, rr := range ans {
			if v, ok := rr.(*dns.SRV); ok && len(out) < maxSRV {
				out = append(out, SRV{Priority: v.Priority, Weight: v.Weight, Port: v.Port, Target: strings.ToLower(v.Target)})
				keep(rr.Header())
			}
		}
		if seen {
			slices.SortStableFunc(out, func(a, b SRV) int {
				if a.Priority != b.Priority {
					return int(a.Priority) - int(b.Priority)
				}
				return int(b.Weight) - int(a.Weight)
			})
			return out, time.Duration(ttl) * time.Second
		}
	case dns.TypeNAPTR:
		var out []NAPTR
		for _, rr := range ans {
			if v, ok := rr.(*dns.NAPTR); ok && len(out) < maxNAPTR {
				out = append(out, NAPTR{Order: v.Order, Pref: v.Preference, Flags: v.Flags, Services: v.Service,
					Regexp: v.Regexp, Replacement: strings.ToLower(v.Replacement)})
				keep(rr.Header())
			}
		}
		if seen {
			slices.SortStableFunc(out, func(a, b NAPTR) int {
				if a.Order != b.Order {
					return int(a.Order) - int(b.Order)
				}
				return int(a.Pref) - int(b.Pref)
			})
			return out, time.Duration(ttl) * time.Second
		}
	case dns.TypePTR:
		var out []string
		for _, rr := range ans {
			if v, ok := rr.(*dns.PTR); ok && len(out) < maxAddrs {
				out = append(out, strings.TrimSuffix(v.Ptr, "."))
				keep(rr.Header())
			}
		}
		if seen {
			return out, time.Duration(ttl) * time.Second
		}
	}
	return nil, 0
}

var def atomic.Pointer[Resolver]

// Default is the resolver the loaded config set up (SetDefault), or one
// over /etc/resolv.conf with Kamailio's defaults when none was set.
func Default() *Resolver {
	if r := def.Load(); r != nil {
		return r
	}
	r := New(Config{})
	if def.CompareAndSwap(nil, r) {
		return r
	}
	return def.Load()
}

// SetDefault installs the resolver tm, forward and ipops use; the loader
// calls it on every load, so a reload starts with an empty cache.
func SetDefault(r *Resolver) { def.Store(r) }

// Failover says whether tm tries the next target of a resolved next hop
// after a timeout or a 503 (use_dns_failover).
func (r *Resolver) Failover() bool { return !r.cfg.NoFailover }
