package resolve

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"kemi/core"
)

// Proto is a SIP transport a target is reached over.
type Proto uint8

// CoreProto is p as core names transports.
func (p Proto) CoreProto() core.Proto {
	switch p {
	case TCP:
		return core.TCP
	case TLS:
		return core.TLS
	}
	return core.UDP
}

// The transports RFC 3263 resolves to.
const (
	UDP Proto = 1 << iota
	TCP
	TLS
)

func (p Proto) String() string {
	switch p {
	case UDP:
		return "udp"
	case TCP:
		return "tcp"
	case TLS:
		return "tls"
	}
	return "proto(" + strconv.Itoa(int(p)) + ")"
}

// Config is what a Resolver is built from. Zero fields take the defaults
// noted; Kamailio's core parameter each one stands for is named.
type Config struct {
	// Servers are the name servers, host:port; empty means the
	// nameserver lines of /etc/resolv.conf (kemi's own dns_servers).
	Servers []string
	// Timeout is how long one query waits for one server (dns_retr_time,
	// seconds in Kamailio; default resolv.conf's timeout, else 5s).
	Timeout time.Duration
	// Attempts is how many times each server is tried (dns_retr_no;
	// default resolv.conf's attempts, else 2).
	Attempts int
	// NoIPv6 leaves AAAA out (dns_try_ipv6=no).
	NoIPv6 bool
	// NoNAPTR skips the NAPTR step (dns_try_naptr=no).
	NoNAPTR bool
	// SRVLoadBalance orders targets of one SRV priority by RFC 2782's
	// weighted random choice on every lookup (dns_srv_lb); off, they are
	// in priority, then descending weight order.
	SRVLoadBalance bool
	// MinTTL and MaxTTL clamp record TTLs (dns_cache_min_ttl,
	// dns_cache_max_ttl); MaxTTL 0 means no upper clamp.
	MinTTL, MaxTTL time.Duration
	// NegTTL is how long a name that does not exist, or has no record of
	// a type, is remembered (dns_cache_negative_ttl; default 60s, as
	// Kamailio's; negative means no negative caching).
	NegTTL time.Duration
	// MaxEntries bounds the cache (from dns_cache_mem; default 2048).
	MaxEntries int
	// NoCache turns the cache off (use_dns_cache=no); lookups are still
	// coalesced.
	NoCache bool
	// Protos are the transports kemi can send over; targets of others
	// are left out (RFC 3263 4.1). Default UDP.
	Protos Proto
	// Hosts maps lower-case names to addresses, from /etc/hosts; nil
	// reads it (an empty map reads nothing).
	Hosts map[string][]netip.Addr
	// NoFailover: tm sends to the first target only (use_dns_failover=no).
	// kemi's default is on, unlike Kamailio's, as RFC 3263 4.3 asks a
	// client to try the next target when one does not answer.
	NoFailover bool
	// Now is the clock (tests inject one).
	Now func() time.Time
}

// ParseServers reads kemi's dns_servers value: a comma-separated list of
// host:port, an IPv6 host in brackets ("127.0.0.1:5353,[::1]:53"); a
// missing port is 53. The hosts must be IP addresses (a name server named
// by a name would need a name server to find it).
func ParseServers(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		var ap netip.AddrPort
		if a, err := netip.ParseAddr(f); err == nil && !strings.HasPrefix(f, "[") {
			ap = netip.AddrPortFrom(a, 53)
		} else if p, err := netip.ParseAddrPort(f); err == nil {
			ap = p
		} else if strings.HasPrefix(f, "[") && strings.HasSuffix(f, "]") {
			a, err := netip.ParseAddr(f[1 : len(f)-1])
			if err != nil {
				return nil, fmt.Errorf("dns_servers: %q: expected an IP address in brackets, got %q", f, f[1:len(f)-1])
			}
			ap = netip.AddrPortFrom(a, 53)
		} else {
			return nil, fmt.Errorf("dns_servers: expected IP:port or [IPv6]:port, got %q", f)
		}
		if ap.Port() == 0 || ap.Addr().Zone() != "" {
			return nil, fmt.Errorf("dns_servers: %q: expected a port 1-65535 and no zone", f)
		}
		out = append(out, ap.String())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("dns_servers: expected at least one IP:port, got %q", s)
	}
	if len(out) > maxServers {
		return nil, fmt.Errorf("dns_servers: at most %d servers, got %d", maxServers, len(out))
	}
	return out, nil
}

const maxServers = 8

// systemServers reads the nameserver lines and timeout/attempts options
// of a resolv.conf file.
func systemServers(path string) ([]string, time.Duration, int) {
	cc, err := dns.ClientConfigFromFile(path)
	if err != nil || len(cc.Servers) == 0 {
		return []string{"127.0.0.1:53"}, 5 * time.Second, 2
	}
	var out []string
	for _, s := range cc.Servers {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.AddrPortFrom(a, portOr(cc.Port)).String())
		}
		if len(out) == maxServers {
			break
		}
	}
	if len(out) == 0 {
		out = []string{"127.0.0.1:53"}
	}
	return out, time.Duration(cc.Timeout) * time.Second, cc.Attempts
}

func portOr(p string) uint16 {
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return 53
	}
	return uint16(n)
}

// ParseHosts reads an /etc/hosts file: an address, then names; # starts
// a comment. Names are lower-cased; lines that do not parse are skipped.
func ParseHosts(b []byte) map[string][]netip.Addr {
	m := map[string][]netip.Addr{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 64<<10)
	for sc.Scan() {
		line := sc.Bytes()
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(string(line))
		if len(f) < 2 {
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil || a.Zone() != "" {
			continue
		}
		for _, n := range f[1:] {
			n = strings.ToLower(strings.TrimSuffix(n, "."))
			if len(m[n]) < maxAddrs {
				m[n] = append(m[n], a.Unmap())
			}
		}
	}
	return m
}

func readHosts() map[string][]netip.Addr {
	b, err := os.ReadFile("/etc/hosts")
	if err != nil {
		return map[string][]netip.Addr{}
	}
	return ParseHosts(b)
}
