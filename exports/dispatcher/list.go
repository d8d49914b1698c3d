package dispatcher

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"kemi/core"
	"kemi/sip"
)

// Destination state flags, as in Kamailio's list file and its AIPTX
// letters (dispatcher.list in RPC).
const (
	FlagInactive = 1 << 0 // I
	FlagTrying   = 1 << 1 // T
	FlagDisabled = 1 << 2 // D
	FlagProbing  = 1 << 3 // P (X when not set)
	FlagNoDNS    = 1 << 4 // skip resolving the host at load

	stateMask = FlagInactive | FlagTrying | FlagDisabled | FlagProbing
)

// Limits on what a list file may hold, so a damaged or hostile file
// cannot make the server use memory without bound.
const (
	MaxListBytes = 16 << 20
	MaxDests     = 100000
	MaxLineBytes = 8192
)

// Dest is one destination of a set.
type Dest struct {
	URI      string // as written in the list
	Set      int
	Priority int
	Attrs    string // the attribute text, as written

	// Special attributes.
	DUID, Socket, SockName, PingFrom, OBProxy string
	Weight, RWeight, MaxLoad                  int

	Addr  netip.AddrPort // resolved; invalid when the host did not resolve
	Proto core.Proto     // from ;transport=, UDP when none
	host  string         // host[:port] for ds_select_domain
	port  int            // port as written, 0 when none

	flags atomic.Uint32 // state: FlagInactive|FlagTrying|FlagDisabled|FlagProbing
	fails atomic.Int32  // failures counted toward ds_probing_threshold
	oks   atomic.Int32  // successes counted toward ds_inactive_threshold
	line  int           // list file line, for messages
}

// Flags returns the destination's state flags.
func (d *Dest) Flags() uint32 { return d.flags.Load() }

// usable reports whether the destination may be selected: neither
// inactive nor disabled (trying ones still are, as in Kamailio).
func (d *Dest) usable() bool { return d.flags.Load()&(FlagInactive|FlagDisabled) == 0 }

// StateLetters gives Kamailio's two RPC letters: A, I, T or D, then P
// (probing) or X.
func StateLetters(f uint32) string {
	s := "A"
	switch {
	case f&FlagDisabled != 0:
		s = "D"
	case f&FlagInactive != 0:
		s = "I"
	case f&FlagTrying != 0:
		s = "T"
	}
	if f&FlagProbing != 0 {
		return s + "P"
	}
	return s + "X"
}

// Set is one destination set (group).
type Set struct {
	ID    int
	Dests []*Dest // by priority, highest first; file order among equals

	rr    atomic.Uint32 // round robin (4), auth fallback (5)
	wnext atomic.Uint32 // weight slot (9)
	rwn   atomic.Uint32 // relative weight counter (11)
	wlist [100]uint16   // weight slots: destination index per percent
	hasW  bool
}

// List is a loaded list file: its sets, sorted by id.
type List struct {
	Sets   []*Set
	byID   map[int]*Set
	loaded time.Time
}

// Set returns the set with the id, or nil.
func (l *List) Set(id int) *Set {
	if l == nil {
		return nil
	}
	return l.byID[id]
}

// ParseOptions tune ParseList.
type ParseOptions struct {
	// Strict makes a URI that does not parse, or a host that does not
	// resolve, an error (ds_load_mode 1); otherwise the line is skipped
	// (URI) or kept unresolved (host), and Warn hears of it.
	Strict bool
	// AttrsNone puts "none=yes" in empty attributes (ds_attrs_none).
	AttrsNone bool
	// Resolve looks a host name up; nil leaves names unresolved.
	Resolve func(host string) (netip.Addr, error)
	// Warn hears of skipped lines and unresolved hosts.
	Warn func(msg string)
}

// ParseList parses a dispatcher.list file. name is used in messages,
// which say file:line, what was expected and what was found.
func ParseList(name string, data []byte, opt ParseOptions) (*List, error) {
	if len(data) > MaxListBytes {
		return nil, fmt.Errorf("%s: %d bytes: expected at most %d", name, len(data), MaxListBytes)
	}
	l := &List{byID: map[int]*Set{}, loaded: time.Now()}
	n := 0
	for ln := 1; len(data) > 0; ln++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(line) > MaxLineBytes {
			return nil, fmt.Errorf("%s:%d: line of %d bytes: expected at most %d", name, ln, len(line), MaxLineBytes)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		d, err := parseLine(string(line), opt)
		if err != nil {
			_, skip := err.(skipErr)
			err = fmt.Errorf("%s:%d: %w", name, ln, err)
			if !skip || opt.Strict {
				return nil, err
			}
			if opt.Warn != nil {
				opt.Warn(err.Error() + "; line skipped (ds_load_mode 0)")
			}
			continue
		}
		d.line = ln
		if d.Addr == (netip.AddrPort{}) && d.Flags()&FlagNoDNS == 0 {
			ip, err := resolve(d, opt)
			if err != nil {
				if opt.Strict {
					return nil, fmt.Errorf("%s:%d: %s: %v", name, ln, d.URI, err)
				}
				if opt.Warn != nil {
					opt.Warn(fmt.Sprintf("%s:%d: %s: %v; kept, but ds_is_from_list cannot match it", name, ln, d.URI, err))
				}
			} else {
				d.Addr = netip.AddrPortFrom(ip, uint16(d.defaultPort()))
			}
		}
		if n++; n > MaxDests {
			return nil, fmt.Errorf("%s:%d: more than %d destinations", name, ln, MaxDests)
		}
		s := l.byID[d.Set]
		if s == nil {
			s = &Set{ID: d.Set}
			l.byID[d.Set] = s
			l.Sets = append(l.Sets, s)
		}
		s.Dests = append(s.Dests, d)
	}
	sort.Slice(l.Sets, func(i, j int) bool { return l.Sets[i].ID < l.Sets[j].ID })
	for _, s := range l.Sets {
		sort.SliceStable(s.Dests, func(i, j int) bool { return s.Dests[i].Priority > s.Dests[j].Priority })
		s.initWeights()
	}
	return l, nil
}

// skipErr is a line error ds_load_mode 0 skips instead of failing on.
type skipErr struct{ error }

func resolve(d *Dest, opt ParseOptions) (netip.Addr, error) {
	if opt.Resolve == nil {
		return netip.Addr{}, fmt.Errorf("host %q not resolved", d.hostOnly())
	}
	return opt.Resolve(d.hostOnly())
}

func (d *Dest) hostOnly() string {
	h := d.host
	if d.port != 0 {
		h = h[:strings.LastIndexByte(h, ':')]
	}
	return strings.Trim(h, "[]")
}

func (d *Dest) defaultPort() int {
	if d.port != 0 {
		return d.port
	}
	if d.Proto == core.TLS || strings.HasPrefix(strings.ToLower(d.URI), "sips:") {
		return 5061
	}
	return 5060
}

// parseLine parses "setid uri [flags [priority [attrs]]]".
func parseLine(line string, opt ParseOptions) (*Dest, error) {
	f := strings.Fields(line)
	set, err := strconv.Atoi(f[0])
	if err != nil {
		return nil, fmt.Errorf("expected a set id (integer) first, got %s", core.LogQuote(f[0]))
	}
	if len(f) < 2 {
		return nil, fmt.Errorf("set %d: expected a destination URI after the set id", set)
	}
	d := &Dest{Set: set, URI: f[1]}
	u, err := sip.ParseURI([]byte(f[1]))
	if err != nil || !u.IsSIP() || len(u.Host) == 0 {
		return nil, skipErr{fmt.Errorf("expected a sip: or sips: URI, got %s", core.LogQuote(f[1]))}
	}
	d.host = string(u.Host)
	if u.Port != 0 {
		d.port = u.Port
		d.host += ":" + strconv.Itoa(u.Port)
	}
	d.Proto = core.UDP
	if t, ok := u.Param("transport"); ok {
		switch strings.ToLower(string(t)) {
		case "udp":
		case "tcp":
			d.Proto = core.TCP
		case "tls":
			d.Proto = core.TLS
		case "ws", "wss":
			d.Proto = core.WS
		default:
			return nil, skipErr{fmt.Errorf("%s: transport %s: expected udp, tcp, tls, ws or wss", f[1], core.LogQuote(t))}
		}
	} else if u.IsSecure() {
		d.Proto = core.TLS
	}
	if a, ok := u.HostAddr(); ok {
		d.Addr = netip.AddrPortFrom(a.Unmap(), uint16(d.defaultPort()))
	}
	if len(f) > 2 {
		fl, err := strconv.ParseUint(f[2], 0, 32)
		if err != nil {
			return nil, fmt.Errorf("%s: expected flags (an integer) after the URI, got %s", f[1], core.LogQuote(f[2]))
		}
		d.flags.Store(uint32(fl) & (stateMask | FlagNoDNS))
	}
	if len(f) > 3 {
		p, err := strconv.Atoi(f[3])
		if err != nil {
			return nil, fmt.Errorf("%s: expected a priority (an integer) after the flags, got %s", f[1], core.LogQuote(f[3]))
		}
		d.Priority = p
	}
	if len(f) > 4 {
		// The attributes are the rest of the line (Kamailio reads one
		// token; a line with spaces in them reads the same there only up
		// to the first space, so kemi keeps them whole).
		rest := line
		for i := 0; i < 4; i++ {
			rest = strings.TrimLeft(rest, " \t")
			rest = rest[strings.IndexAny(rest, " \t"):]
		}
		d.Attrs = strings.TrimSpace(rest)
		if err := d.parseAttrs(); err != nil {
			return nil, fmt.Errorf("%s: %w", f[1], err)
		}
	}
	if d.Attrs == "" && opt.AttrsNone {
		d.Attrs = "none=yes"
	}
	return d, nil
}

// parseAttrs reads the special attributes; others stay in Attrs only.
func (d *Dest) parseAttrs() error {
	it := sip.Params(d.Attrs).Iter()
	for it.Next() {
		k, v := strings.ToLower(string(it.Name())), strings.Trim(string(it.Value()), `"`)
		pct := func() int {
			// Kamailio ignores (zeroes) a weight outside 1-100.
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100 {
				return 0
			}
			return n
		}
		switch k {
		case "duid":
			d.DUID = v
		case "maxload":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("attribute maxload=%s: expected an integer 0 or more", core.LogValue(v))
			}
			d.MaxLoad = n
		case "weight":
			d.Weight = pct()
		case "rweight":
			d.RWeight = pct()
		case "socket":
			if _, _, err := parseSocket(v); err != nil {
				return fmt.Errorf("attribute socket=%s: %v", core.LogValue(v), err)
			}
			d.Socket = v
		case "sockname":
			d.SockName = v
		case "ping_from":
			d.PingFrom = v
		case "obproxy":
			d.OBProxy = v
		}
	}
	return nil
}

// parseSocket parses "udp:127.0.0.1:5060" (the proto may be left out).
func parseSocket(s string) (core.Proto, netip.AddrPort, error) {
	proto := core.UDP
	if p, rest, ok := strings.Cut(s, ":"); ok {
		switch strings.ToLower(p) {
		case "udp":
			s = rest
		case "tcp", "tls", "ws", "wss", "sctp":
			return 0, netip.AddrPort{}, fmt.Errorf("expected a udp socket (kemi serves udp only), got %s", p)
		}
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return 0, netip.AddrPort{}, fmt.Errorf("expected [udp:]IP:port, got %s", core.LogQuote(s))
	}
	return proto, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// initWeights fills the weight slots as Kamailio does: each destination
// takes weight percent of the 100 slots in order, the last one fills what
// is left, and the slots are interleaved so consecutive calls spread.
func (s *Set) initWeights() {
	t := 0
	for j, d := range s.Dests {
		if d.Weight > 0 {
			s.hasW = true
		}
		for k := 0; k < d.Weight && t < 100; k++ {
			s.wlist[t] = uint16(j)
			t++
		}
	}
	if !s.hasW || len(s.Dests) == 0 {
		return
	}
	for ; t < 100; t++ {
		s.wlist[t] = uint16(len(s.Dests) - 1)
	}
	// A fixed permutation (stride 37, coprime with 100) instead of
	// Kamailio's random shuffle: the same spread, and reproducible.
	var out [100]uint16
	for i := 0; i < 100; i++ {
		out[i] = s.wlist[(i*37)%100]
	}
	s.wlist = out
}

// DefaultResolve resolves a host name with a 2 s timeout, preferring
// IPv4, as the list loads.
func DefaultResolve(host string) (netip.Addr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, err
	}
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			return ip.Unmap(), nil
		}
	}
	if len(ips) == 0 {
		return netip.Addr{}, fmt.Errorf("host %q has no address", host)
	}
	return ips[0], nil
}
