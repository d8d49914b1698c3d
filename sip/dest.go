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

// Transports a next hop may name (URINextHop).
const (
	TransportUDP = 1 + iota
	TransportTCP
	TransportTLS
	// TransportWS and TransportWSS reach a WebSocket client over the
	// connection it opened (transport=ws, wss).
	TransportWS
	TransportWSS
)

// URINextHop is URIDestinationOrName for a sender that serves UDP, TCP
// and TLS: it also says which transport the URI asks for (transport=tcp
// or tls; sips: is TLS), with 5061 the default port for TLS. Other
// transports (sctp, ws) are an error. It does not allocate.
func URINextHop(uri []byte) (dst netip.AddrPort, isName bool, transport int, why string) {
	u, err := ParseURI(uri)
	if err != nil {
		return netip.AddrPort{}, false, 0, "bad URI " + strconv.Quote(string(uri)) + ": " + err.Error()
	}
	if !u.IsSIP() {
		return netip.AddrPort{}, false, 0, "URI " + strconv.Quote(string(uri)) + " is not a sip: URI"
	}
	transport = TransportUDP
	if u.IsSecure() {
		transport = TransportTLS
	}
	if tr, ok := u.Param("transport"); ok {
		switch {
		case eqFold(tr, "udp") && !u.IsSecure():
		case eqFold(tr, "tcp") && !u.IsSecure():
			transport = TransportTCP
		case eqFold(tr, "tls") || (eqFold(tr, "tcp") && u.IsSecure()):
			transport = TransportTLS
		case eqFold(tr, "ws") && !u.IsSecure():
			transport = TransportWS
		case eqFold(tr, "wss") || (eqFold(tr, "ws") && u.IsSecure()):
			transport = TransportWSS
		default:
			return netip.AddrPort{}, false, 0, "transport " + strconv.Quote(string(tr)) + " of " + strconv.Quote(string(uri)) + " is not served (udp, tcp, tls, ws, wss)"
		}
	}
	if !isIPHost(u) {
		return netip.AddrPort{}, true, transport, ""
	}
	host := u.Host
	if m, ok := u.Param("maddr"); ok && len(m) > 0 {
		host = m
	}
	if len(host) > 1 && host[0] == '[' {
		host = host[1 : len(host)-1]
	}
	a, ok := parseIP(host)
	if !ok {
		p, err := netip.ParseAddr(string(host))
		if err != nil {
			return netip.AddrPort{}, false, 0, "host " + strconv.Quote(string(host)) + " of " + strconv.Quote(string(uri)) + " is not an IP address"
		}
		a = p
	}
	port := u.Port
	if port == 0 {
		port = 5060
		if transport == TransportTLS {
			port = 5061
		}
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), false, transport, ""
}
