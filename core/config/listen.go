package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Listen is one socket to listen on. From ParseListen, Port 0 means none
// was written; Parse fills it in as Kamailio does (the global port
// parameter, else 5060; 5061 for tls and wss). AdvPort 0 means the
// socket's own port. Proto "" means every protocol kemi serves.
type Listen struct {
	Proto   string // "", "udp", "tcp", "tls", "sctp", "ws", "wss"
	Host    string // IP address (IPv6 without brackets), host name or interface name
	Port    int
	AdvHost string // advertise host, "" when none
	AdvPort int
	Name    string // socket name (name "x")
	Pos     Pos
}

var listenProtos = []string{"udp", "tcp", "tls", "sctp", "ws", "wss"}

// ParseListen reads a listen value as written after "listen=":
//
//	[proto:]host[:port] [advertise host[:port]] [name "x"]
//
// The command line form [proto:]host[:port][/advhost[:advport]] is
// accepted too. IPv6 addresses with a port need brackets: tcp:[::1]:5061.
func ParseListen(s string) (Listen, error) {
	var l Listen
	s = strings.TrimSpace(s)
	if s == "" {
		return l, fmt.Errorf("listen: empty value; want [proto:]host[:port]")
	}
	fields := splitListenFields(s)
	sock := fields[0]
	adv := ""
	if i := strings.IndexByte(sock, '/'); i >= 0 {
		sock, adv = sock[:i], sock[i+1:]
		if adv == "" {
			return l, fmt.Errorf("listen %q: empty address after /", s)
		}
	}
	var err error
	l.Proto, l.Host, l.Port, err = parseSocket(sock, true)
	if err != nil {
		return l, fmt.Errorf("listen %q: %v", s, err)
	}
	for i := 1; i < len(fields); i++ {
		kw := strings.ToLower(fields[i])
		switch kw {
		case "advertise":
			if i+1 >= len(fields) {
				return l, fmt.Errorf("listen %q: advertise needs host[:port] after it", s)
			}
			if adv != "" {
				return l, fmt.Errorf("listen %q: advertise given twice", s)
			}
			adv = fields[i+1]
			i++
		case "name":
			if i+1 >= len(fields) {
				return l, fmt.Errorf("listen %q: name needs a quoted name after it", s)
			}
			l.Name = unquote(fields[i+1])
			i++
		case "virtual":
			// Kamailio's virtual IP flag; kemi binds what it is given.
		case "agname", "vrf":
			if i+1 >= len(fields) {
				return l, fmt.Errorf("listen %q: %s needs a value after it", s, kw)
			}
			i++
		default:
			return l, fmt.Errorf("listen %q: unexpected %q; want advertise, name, virtual, agname or vrf", s, fields[i])
		}
	}
	if adv != "" {
		p, h, port, err := parseSocket(adv, false)
		if err != nil {
			return l, fmt.Errorf("listen %q: advertise %q: %v", s, adv, err)
		}
		if p != "" {
			return l, fmt.Errorf("listen %q: advertise %q: no protocol allowed here", s, adv)
		}
		l.AdvHost, l.AdvPort = h, port
	}
	return l, nil
}

// splitListenFields splits on blanks, keeping "quoted names" whole.
func splitListenFields(s string) []string {
	var out []string
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			break
		}
		st := i
		if s[i] == '"' {
			i++
			for i < len(s) && s[i] != '"' {
				i++
			}
			if i < len(s) {
				i++
			}
		} else {
			for i < len(s) && s[i] != ' ' && s[i] != '\t' {
				i++
			}
		}
		out = append(out, s[st:i])
	}
	return out
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// parseSocket reads [proto:]host[:port].
func parseSocket(s string, allowProto bool) (proto, host string, port int, err error) {
	if i := strings.IndexByte(s, ':'); i > 0 {
		p := strings.ToLower(s[:i])
		for _, lp := range listenProtos {
			if p == lp {
				if !allowProto {
					return "", "", 0, fmt.Errorf("no protocol allowed here")
				}
				proto, s = p, s[i+1:]
				break
			}
		}
	}
	if s == "" {
		return "", "", 0, fmt.Errorf("missing host")
	}
	rest := ""
	switch {
	case s[0] == '[':
		e := strings.IndexByte(s, ']')
		if e < 0 {
			return "", "", 0, fmt.Errorf("missing ] after IPv6 address")
		}
		host, rest = s[1:e], s[e+1:]
		a, perr := netip.ParseAddr(host)
		if perr != nil || !a.Is6() {
			return "", "", 0, fmt.Errorf("%q is not an IPv6 address", host)
		}
	default:
		if a, perr := netip.ParseAddr(s); perr == nil && a.Is6() {
			// A bare IPv6 address cannot carry a port.
			return proto, s, 0, nil
		}
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			host, rest = s[:i], s[i:]
		} else {
			host = s
		}
		if !validHost(host) {
			return "", "", 0, fmt.Errorf("%q is not an IP address, host or interface name", host)
		}
	}
	if rest != "" {
		if rest[0] != ':' || len(rest) == 1 {
			return "", "", 0, fmt.Errorf("unexpected %q after the host; want :port", rest)
		}
		n, perr := strconv.Atoi(rest[1:])
		if perr != nil {
			return "", "", 0, fmt.Errorf("port %q is not a number", rest[1:])
		}
		if n < 1 || n > 65535 {
			return "", "", 0, fmt.Errorf("port %d out of range 1-65535", n)
		}
		port = n
	}
	return proto, host, port, nil
}

func validHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(isAlnum(c) || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// Alias is one name of this server from alias=, as Kamailio reads it:
//
//	alias = host | "host" | proto:host | host:port | "host":port | proto:host:port
//
// and several of them separated by blanks. Port 0 means the name stands
// for every port (Kamailio's grep_aliases matches any port then); Proto ""
// means every protocol.
type Alias struct {
	Proto string
	Host  string // lower case; IPv6 without brackets
	Port  int
	Pos   Pos
}

// ParseAlias reads one alias written as [proto:]host[:port]; the host may
// have been quoted in the config ("sip.example.com":5060), which the
// parser unquotes before calling this.
func ParseAlias(s string) (Alias, error) {
	var a Alias
	s = strings.TrimSpace(s)
	if s == "" {
		return a, fmt.Errorf("alias: empty value; want [proto:]host[:port]")
	}
	p, h, port, err := parseSocket(s, true)
	if err != nil {
		return a, fmt.Errorf("alias %q: %v", s, err)
	}
	a.Proto, a.Host, a.Port = p, strings.ToLower(h), port
	return a, nil
}
