package loader

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"kemi/core/config"
	"kemi/sip"
)

// Lookup is a reverse lookup (net.Resolver.LookupAddr's shape).
type Lookup func(ctx context.Context, addr string) ([]string, error)

// AutoAliasTimeout bounds all reverse lookups done for auto_aliases at
// start; a resolver that does not answer costs this much once.
var AutoAliasTimeout = 2 * time.Second

// HostsFile is read for auto_aliases beside the resolver.
var HostsFile = "/etc/hosts"

// myEntry is one host this server answers for; port 0 is any port.
type myEntry struct {
	ip   netip.Addr // set for an address
	name string     // lower case, for a name
	port int
}

// Myself builds the is_myself policy from the listen sockets and the
// aliases, as Kamailio's check_self does: a socket matches its own port
// (a wildcard socket, 0.0.0.0 or ::, stands for every local interface
// address); an alias with a port matches only that port, one without
// matches any port; a host asked about without a port (0) matches
// whatever the port. The protocol of an alias (alias=udp:host:port) is
// not compared, as the hook is not given one. When lookup is not nil
// (auto_aliases, Kamailio's default), the names each listen address
// resolves back to, by lookup and by the hosts file, are aliases for
// that socket's port, as Kamailio adds them at start; the lookups run
// once, here, together within AutoAliasTimeout.
//
// The returned function does not allocate.
func Myself(listens []config.Listen, aliases []config.Alias, lookup Lookup) func(host []byte, port int) bool {
	var ents []myEntry
	var sockAddrs []myEntry // listen addresses, for auto_aliases
	add := func(host string, port int, sock bool) {
		host = strings.Trim(host, "[]")
		if a, err := netip.ParseAddr(host); err == nil {
			if a.IsUnspecified() {
				if addrs, err := net.InterfaceAddrs(); err == nil {
					for _, ia := range addrs {
						if n, ok := ia.(*net.IPNet); ok {
							if ip, ok := netip.AddrFromSlice(n.IP); ok {
								e := myEntry{ip: ip.Unmap(), port: port}
								ents = append(ents, e)
								if sock {
									sockAddrs = append(sockAddrs, e)
								}
							}
						}
					}
				}
				return
			}
			e := myEntry{ip: a.Unmap(), port: port}
			ents = append(ents, e)
			if sock {
				sockAddrs = append(sockAddrs, e)
			}
			return
		}
		ents = append(ents, myEntry{name: strings.ToLower(host), port: port})
	}
	for _, l := range listens {
		add(l.Host, l.Port, true)
		if l.AdvHost != "" {
			p := l.AdvPort
			if p == 0 {
				p = l.Port
			}
			add(l.AdvHost, p, false)
		}
	}
	for _, a := range aliases {
		add(a.Host, a.Port, false)
	}
	if lookup != nil {
		ents = append(ents, autoAliases(sockAddrs, lookup)...)
	}
	return func(host []byte, port int) bool {
		if len(host) == 0 {
			return false
		}
		ip, isIP := sip.URI{Host: host}.HostAddr()
		if !isIP && bytes.IndexByte(host, ':') >= 0 {
			// A bare IPv6 address, not in brackets.
			if a, err := netip.ParseAddr(string(host)); err == nil {
				ip, isIP = a, true
			}
		}
		ip = ip.Unmap()
		for i := range ents {
			e := &ents[i]
			if e.port != 0 && port > 0 && e.port != port {
				continue
			}
			if isIP {
				if e.ip == ip {
					return true
				}
			} else if e.name != "" && sip.EqualFold(host, e.name) {
				return true
			}
		}
		return false
	}
}

// autoAliases resolves each listen address back to its names, through
// the hosts file and lookup, in parallel within AutoAliasTimeout.
func autoAliases(socks []myEntry, lookup Lookup) []myEntry {
	hosts := readHosts(HostsFile)
	ctx, cancel := context.WithTimeout(context.Background(), AutoAliasTimeout)
	defer cancel()
	names := make([][]string, len(socks))
	var wg sync.WaitGroup
	for i, s := range socks {
		names[i] = append(names[i], hosts[s.ip]...)
		wg.Add(1)
		go func(i int, ip netip.Addr) {
			defer wg.Done()
			ns, err := lookup(ctx, ip.String())
			if err == nil {
				names[i] = append(names[i], ns...)
			}
		}(i, s.ip)
	}
	wg.Wait()
	var out []myEntry
	seen := map[myEntry]bool{}
	for i, s := range socks {
		for _, n := range names[i] {
			n = strings.ToLower(strings.TrimSuffix(n, "."))
			if n == "" {
				continue
			}
			if _, err := netip.ParseAddr(n); err == nil {
				continue
			}
			e := myEntry{name: n, port: s.port}
			if !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	return out
}

// readHosts maps each address of a hosts file to its names.
func readHosts(path string) map[netip.Addr][]string {
	out := map[netip.Addr][]string{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fs := strings.Fields(line)
		if len(fs) < 2 {
			continue
		}
		a, err := netip.ParseAddr(fs[0])
		if err != nil {
			continue
		}
		a = a.Unmap()
		out[a] = append(out[a], fs[1:]...)
	}
	return out
}
