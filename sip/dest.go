package sip

import (
	"net/netip"
	"strconv"
)

// URIDestination resolves a SIP URI to where a request for it goes: the
// maddr parameter or the host, which must be an IP address (a name goes to
// internal/resolve, see URIHostIsName), and the port (5060 by default);
// the transport must be UDP.
// The reason is empty on success, else says what was wrong. tm's relays
// and the core's stateless forward share it.
func URIDestination(uri []byte) (netip.AddrPort, string) {
	u, err := ParseURI(uri)
	if err != nil {
		return netip.AddrPort{}, "bad URI " + strconv.Quote(string(uri)) + ": " + err.Error()
	}
	if !u.IsSIP() {
		return netip.AddrPort{}, "URI " + strconv.Quote(string(uri)) + " is not a sip: URI"
	}
	if tr, ok := u.Param("transport"); ok && !eqFold(tr, "udp") {
		return netip.AddrPort{}, "transport " + strconv.Quote(string(tr)) + " of " + strconv.Quote(string(uri)) + " is not served (udp only)"
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
	if !ok {
		return netip.AddrPort{}, "host " + strconv.Quote(string(host)) + " of " + strconv.Quote(string(uri)) + " is not an IP address"
	}
	port := u.Port
	if port == 0 {
		port = 5060
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), ""
}

// URIHostIsName says whether a sip: or sips: URI's next hop (maddr, else
// the host) is a host name rather than an IP address: one to resolve in
// DNS per RFC 3263.
func URIHostIsName(uri []byte) bool {
	u, err := ParseURI(uri)
	if err != nil || !u.IsSIP() {
		return false
	}
	host := u.Host
	if m, ok := u.Param("maddr"); ok && len(m) > 0 {
		host = m
	}
	if len(host) > 1 && host[0] == '[' {
		return false
	}
	_, ok := parseIP(host)
	return !ok && len(host) > 0
}
