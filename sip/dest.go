package sip

import (
	"net/netip"
	"strconv"
)

// URIDestination resolves a SIP URI to where a request for it goes: the
// maddr parameter or the host, which must be an IP address (a name goes to
// internal/resolve, see URIDestinationOrName), and the port (5060 by default);
// the transport must be UDP.
// The reason is empty on success, else says what was wrong. tm's relays
// and the core's stateless forward share it.
func URIDestination(uri []byte) (netip.AddrPort, string) {
	dst, _, why := uriDestination(uri, false)
	return dst, why
}

// URIDestinationOrName is URIDestination, except that a host name is not
// an error: isName says so, and the caller resolves the URI in DNS. It
// does not allocate either way.
func URIDestinationOrName(uri []byte) (dst netip.AddrPort, isName bool, why string) {
	return uriDestination(uri, true)
}

func uriDestination(uri []byte, names bool) (netip.AddrPort, bool, string) {
	u, err := ParseURI(uri)
	if err != nil {
		return netip.AddrPort{}, false, "bad URI " + strconv.Quote(string(uri)) + ": " + err.Error()
	}
	if !u.IsSIP() {
		return netip.AddrPort{}, false, "URI " + strconv.Quote(string(uri)) + " is not a sip: URI"
	}
	if tr, ok := u.Param("transport"); ok && !eqFold(tr, "udp") {
		if names && !isIPHost(u) {
			return netip.AddrPort{}, true, ""
		}
		return netip.AddrPort{}, false, "transport " + strconv.Quote(string(tr)) + " of " + strconv.Quote(string(uri)) + " is not served (udp only)"
	}
	host := u.Host
	if m, ok := u.Param("maddr"); ok {
		host = m
	}
	a, ok := u.HostAddr()
	if len(host) != len(u.Host) {
		h := host
		if len(h) > 1 && h[0] == '[' {
			h = h[1 : len(h)-1]
		}
		p, err := netip.ParseAddr(string(h))
		a, ok = p, err == nil
	}
	if !ok && names && len(host) > 0 && host[0] != '[' {
		return netip.AddrPort{}, true, ""
	}
	if !ok {
		return netip.AddrPort{}, false, "host " + strconv.Quote(string(host)) + " of " + strconv.Quote(string(uri)) + " is not an IP address"
	}
	port := u.Port
	if port == 0 {
		port = 5060
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), false, ""
}

// isIPHost says whether the next hop of u (maddr, else the host) is an IP
// address or an IPv6 reference.
func isIPHost(u URI) bool {
	host := u.Host
	if m, ok := u.Param("maddr"); ok && len(m) > 0 {
		host = m
	}
	if len(host) > 1 && host[0] == '[' {
		return true
	}
	_, ok := parseIP(host)
	return ok
}
