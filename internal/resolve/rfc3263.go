package resolve

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"kemi/sip"
)

// Target is one place a request for a URI can be sent.
type Target struct {
	Proto Proto
	Addr  netip.AddrPort
	// Host is the name the address was found for (the SRV target or the
	// URI host), for TLS's server name; empty for a numeric host.
	Host string
}

func (t Target) String() string { return t.Proto.String() + ":" + t.Addr.String() }

// op carries one resolution's deadline, set when the first query goes
// out: a resolution answered from the cache never reads the clock for it.
type op struct {
	r        *Resolver
	deadline time.Time
}

func (o *op) dl() time.Time {
	if o.deadline.IsZero() {
		// Every step of RFC 3263 may query; a dead server aborts at the
		// first timeout, so two query budgets bound a whole resolution.
		o.deadline = time.Now().Add(2 * o.r.queryBudget())
	}
	return o.deadline
}

// AppendURITargets resolves a sip: or sips: URI to the places a request
// for it goes, per RFC 3263, appended to dst in the order to try them:
//
//   - the host (or maddr) is an IP address: that address, the URI's port
//     or 5060 (5061 for TLS), its transport or UDP (TLS for sips:);
//   - a name with a port: its A (and AAAA) records, /etc/hosts first;
//   - a name with ;transport=: the SRV records of that transport
//     (_sip._udp, _sip._tcp, _sips._tcp), else A/AAAA;
//   - otherwise NAPTR (SIP+D2U, SIP+D2T, SIPS+D2T by order and preference;
//     sips: only SIPS+D2T), else SRV for every transport served, else
//     A/AAAA on the default port.
//
// SRV targets come by priority; within one, by RFC 2782's weighted random
// choice when dns_srv_lb is on, else by descending weight. Transports kemi
// does not send over (Config.Protos) are left out. Answers come from the
// shared cache; a cached resolution does not allocate when dst has room.
func (r *Resolver) AppendURITargets(dst []Target, uri []byte) ([]Target, error) {
	u, err := sip.ParseURI(uri)
	if err != nil {
		return dst, fmt.Errorf("bad URI %q: %v", uri, err)
	}
	if !u.IsSIP() {
		return dst, fmt.Errorf("URI %q is not a sip: or sips: URI", uri)
	}
	secure := u.IsSecure()
	var tr Proto
	if t, ok := u.Param("transport"); ok {
		switch {
		case eqFold(t, "udp") && !secure:
			tr = UDP
		case eqFold(t, "tcp"):
			tr = TCP
			if secure {
				tr = TLS
			}
		case eqFold(t, "tls"):
			tr = TLS
		default:
			return dst, fmt.Errorf("URI %q: transport %q is not served", uri, t)
		}
	}
	host := u.Host
	if m, ok := u.Param("maddr"); ok && len(m) > 0 {
		host = m
	}
	return r.appendHost(dst, host, u.Port, tr, secure)
}

func eqFold(b []byte, s string) bool { return len(b) == len(s) && strings.EqualFold(string(b), s) }

func defaultPort(p Proto) uint16 {
	if p == TLS {
		return 5061
	}
	return 5060
}

func (r *Resolver) appendHost(dst []Target, host []byte, port int, tr Proto, secure bool) ([]Target, error) {
	def := UDP
	if secure {
		def = TLS
	}
	h := host
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	if a, ok := sip.ParseIP(h); ok {
		p := tr
		if p == 0 {
			p = def
		}
		if p&r.cfg.Protos == 0 {
			return dst, fmt.Errorf("host %s: transport %s is not served", string(host), p)
		}
		if port == 0 {
			port = int(defaultPort(p))
		}
		return append(dst, Target{Proto: p, Addr: netip.AddrPortFrom(a.Unmap(), uint16(port))}), nil
	}
	o := op{r: r}
	n0 := len(dst)
	if port != 0 {
		p := tr
		if p == 0 {
			p = def
		}
		if p&r.cfg.Protos == 0 {
			return dst, fmt.Errorf("host %s: transport %s is not served", string(host), p)
		}
		return appendAddrs(r, &o, dst, h, p, uint16(port))
	}
	var nb [300]byte
	var why error
	if tr != 0 {
		if tr&r.cfg.Protos == 0 {
			return dst, fmt.Errorf("host %s: transport %s is not served", string(host), tr)
		}
		dst, why = appendSRV(r, &o, dst, srvName(nb[:0], tr, h), tr)
		if len(dst) > n0 || (why != nil && !errors.Is(why, ErrNotFound)) {
			return dst, why
		}
		return appendAddrs(r, &o, dst, h, tr, defaultPort(tr))
	}
	if !r.cfg.NoNAPTR {
		e, err := lookup(r, &o, h, dns.TypeNAPTR)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return dst, err
		}
		if err == nil {
			for _, n := range e.val.([]NAPTR) {
				p := naptrProto(n)
				if p == 0 || p&r.cfg.Protos == 0 || (secure && p != TLS) {
					continue
				}
				dst, why = appendSRV(r, &o, dst, n.Replacement, p)
				if why != nil && !errors.Is(why, ErrNotFound) {
					return dst, why
				}
			}
			if len(dst) > n0 {
				return dst, nil
			}
		}
	}
	for _, p := range [...]Proto{UDP, TCP, TLS} {
		if p&r.cfg.Protos == 0 || (secure && p != TLS) {
			continue
		}
		dst, why = appendSRV(r, &o, dst, srvName(nb[:0], p, h), p)
		if why != nil && !errors.Is(why, ErrNotFound) {
			return dst, why
		}
	}
	if len(dst) > n0 {
		return dst, nil
	}
	if def&r.cfg.Protos == 0 {
		return dst, fmt.Errorf("host %s: no SRV records, and transport %s is not served", string(host), def)
	}
	return appendAddrs(r, &o, dst, h, def, defaultPort(def))
}

// naptrProto maps a NAPTR record usable for SIP (flag "s", no regexp, a
// replacement) to its transport; 0 for any other.
func naptrProto(n NAPTR) Proto {
	if !strings.EqualFold(n.Flags, "s") || n.Regexp != "" || n.Replacement == "" || n.Replacement == "." {
		return 0
	}
	switch {
	case strings.EqualFold(n.Services, "SIP+D2U"):
		return UDP
	case strings.EqualFold(n.Services, "SIP+D2T"):
		return TCP
	case strings.EqualFold(n.Services, "SIPS+D2T"):
		return TLS
	}
	return 0
}

func srvName(dst []byte, p Proto, host []byte) []byte {
	switch p {
	case UDP:
		dst = append(dst, "_sip._udp."...)
	case TCP:
		dst = append(dst, "_sip._tcp."...)
	default:
		dst = append(dst, "_sips._tcp."...)
	}
	return append(dst, host...)
}

// appendSRV appends the targets of the SRV records of name.
func appendSRV[S ~string | ~[]byte](r *Resolver, o *op, dst []Target, name S, p Proto) ([]Target, error) {
	e, err := lookup(r, o, name, dns.TypeSRV)
	if err != nil {
		return dst, err
	}
	var ord [maxSRV]SRV
	recs := ord[:copy(ord[:], e.val.([]SRV))]
	if r.cfg.SRVLoadBalance {
		OrderSRV(recs)
	}
	var last error
	n0 := len(dst)
	for _, s := range recs {
		if s.Target == "." || s.Target == "" {
			continue
		}
		var err error
		dst, err = appendAddrs(r, o, dst, s.Target, p, s.Port)
		if err != nil {
			last = err
			if !errors.Is(err, ErrNotFound) {
				break
			}
		}
	}
	if len(dst) == n0 && last != nil {
		return dst, last
	}
	if len(dst) == n0 {
		return dst, fmt.Errorf("SRV %s: %w (no target with an address)", e.name, ErrNotFound)
	}
	return dst, nil
}

// appendAddrs appends the addresses of name on port over p: /etc/hosts
// first, else A, then AAAA unless dns_try_ipv6 is off.
func appendAddrs[S ~string | ~[]byte](r *Resolver, o *op, dst []Target, name S, p Proto, port uint16) ([]Target, error) {
	var lb [256]byte
	low := lowerInto(lb[:0], name)
	if n := len(low); n > 0 && low[n-1] == '.' {
		low = low[:n-1]
	}
	if h, ok := r.hosts[string(low)]; ok {
		for _, a := range h.addrs {
			if !r.cfg.NoIPv6 || a.Is4() {
				dst = appendTarget(dst, Target{Proto: p, Addr: netip.AddrPortFrom(a, port), Host: h.name})
			}
		}
		return dst, nil
	}
	n0 := len(dst)
	e4, err4 := lookup(r, o, low, dns.TypeA)
	if err4 != nil && !errors.Is(err4, ErrNotFound) {
		return dst, err4
	}
	var e6 *entry
	err6 := ErrNotFound
	if !r.cfg.NoIPv6 {
		e6, err6 = lookup(r, o, low, dns.TypeAAAA)
		if err6 != nil && !errors.Is(err6, ErrNotFound) && err4 != nil {
			return dst, err6
		}
	}
	if err4 == nil {
		for _, a := range e4.val.([]netip.Addr) {
			dst = appendTarget(dst, Target{Proto: p, Addr: netip.AddrPortFrom(a, port), Host: e4.name})
		}
	}
	if err6 == nil {
		for _, a := range e6.val.([]netip.Addr) {
			dst = appendTarget(dst, Target{Proto: p, Addr: netip.AddrPortFrom(a, port), Host: e6.name})
		}
	}
	if len(dst) == n0 {
		return dst, err4
	}
	return dst, nil
}

func appendTarget(dst []Target, t Target) []Target {
	if len(dst) >= maxTargets {
		return dst
	}
	for _, d := range dst {
		if d.Proto == t.Proto && d.Addr == t.Addr {
			return dst
		}
	}
	return append(dst, t)
}

func lowerInto[S ~string | ~[]byte](dst []byte, s S) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// OrderSRV puts SRV records (sorted by priority) in RFC 2782's order:
// within each priority, repeatedly pick one at random with probability
// proportional to its weight (records of weight 0 get a small chance).
func OrderSRV(recs []SRV) {
	for i := 0; i < len(recs); {
		j := i
		for j < len(recs) && recs[j].Priority == recs[i].Priority {
			j++
		}
		run := recs[i:j]
		for k := 0; k < len(run)-1; k++ {
			sum := 0
			for _, s := range run[k:] {
				sum += int(s.Weight) + 1 // +1: weight 0 keeps a chance, as RFC 2782 asks
			}
			x := rand.IntN(sum)
			for m := k; m < len(run); m++ {
				x -= int(run[m].Weight) + 1
				if x < 0 {
					run[k], run[m] = run[m], run[k]
					break
				}
			}
		}
		i = j
	}
}

// lookup answers (name, qtype) from the cache, or asks the servers once
// however many callers ask for it at the same time. name may alias a
// caller's buffer; a cache hit does not allocate.
func lookup[S ~string | ~[]byte](r *Resolver, o *op, name S, qtype uint16) (*entry, error) {
	var kb [264]byte
	key := append(kb[:0], byte(qtype), byte(qtype>>8))
	if len(name) > 254 {
		return nil, fmt.Errorf("%s %.40q...: %w (name longer than 253)", dns.TypeToString[qtype], string(name), ErrNotFound)
	}
	key = lowerInto(key, name)
	if key[len(key)-1] != '.' || len(key) == 2 {
		key = append(key, '.')
	}
	if !r.cfg.NoCache {
		if e, ok := r.cache.get(key, r.cfg.Now()); ok {
			return e, e.err
		}
	}
	if k := key[2:]; len(k) >= 8 && string(k[len(k)-8:]) == "invalid." && (len(k) == 8 || k[len(k)-9] == '.') {
		return nil, fmt.Errorf("%s %s: %w (.invalid names never resolve, RFC 6761)", dns.TypeToString[qtype], string(k), ErrNotFound)
	}
	skey := string(key)
	fqdn := skey[2:]
	if _, ok := dns.IsDomainName(fqdn); !ok || fqdn == "." {
		return nil, fmt.Errorf("%s %q: %w (not a domain name)", dns.TypeToString[qtype], fqdn, ErrNotFound)
	}
	ch := r.flight.DoChan(skey, func() (any, error) {
		e := r.query(fqdn, qtype)
		e.key = skey
		e.name = strings.TrimSuffix(fqdn, ".")
		if !r.cfg.NoCache && e.expires.After(r.cfg.Now()) {
			r.cache.put(e)
		}
		return e, nil
	})
	wait := time.Until(o.dl())
	if wait <= 0 {
		return nil, fmt.Errorf("%s %s: %w", dns.TypeToString[qtype], fqdn, ErrTimeout)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case res := <-ch:
		e := res.Val.(*entry)
		return e, e.err
	case <-t.C:
		return nil, fmt.Errorf("%s %s: %w (waited %s)", dns.TypeToString[qtype], fqdn, ErrTimeout, wait)
	}
}

// lookupName is lookup for the exported, single-query methods.
func (r *Resolver) lookupName(name string, qtype uint16) (any, error) {
	o := op{r: r}
	e, err := lookup(r, &o, name, qtype)
	if err != nil {
		return nil, err
	}
	return e.val, nil
}
