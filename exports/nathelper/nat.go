package nathelper

import (
	"bytes"
	"net/netip"

	"kemi/core"
	"kemi/sip"
)

// Private ranges, as nathelper's nets_1918 (RFC 1918, RFC 6598 CGN, the
// RFC 7335 /29) and, with nat_addr_mode 1, the RFC 7335 /24.
type net4 struct{ addr, mask uint32 }

var (
	nets1918 = []net4{
		{10 << 24, 0xff000000},
		{172<<24 | 16<<16, 0xfff00000},
		{192<<24 | 168<<16, 0xffff0000},
		{100<<24 | 64<<16, 0xffc00000},
		{192 << 24, 0xfffffff8},
	}
	netsExtra = []net4{{192 << 24, 0xffffff00}}
)

func private4(a netip.Addr, extra bool) bool {
	a = a.Unmap()
	if !a.Is4() {
		return false
	}
	b := a.As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	for _, r := range nets1918 {
		if n&r.mask == r.addr {
			return true
		}
	}
	if extra {
		for _, r := range netsExtra {
			if n&r.mask == r.addr {
				return true
			}
		}
	}
	return false
}

// hostPrivate reports whether a URI or Via host is a private IPv4 address.
func hostPrivate(host []byte, extra bool) bool {
	a, ok := parseHost(host)
	return ok && private4(a, extra)
}

// parseHost parses an IP host ("192.0.2.1", "[2001:db8::1]"); IPv4, the
// common case, without allocating.
func parseHost(h []byte) (netip.Addr, bool) {
	if len(h) >= 2 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	if a, ok := parseIPv4(h); ok {
		return a, true
	}
	if len(h) == 0 || len(h) > 45 || bytes.IndexByte(h, ':') < 0 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(string(h))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}

// parseIPv4 parses dotted-quad decimal.
func parseIPv4(h []byte) (netip.Addr, bool) {
	var b [4]byte
	k, n, digits := 0, 0, 0
	for i := 0; i <= len(h); i++ {
		if i == len(h) || h[i] == '.' {
			if digits == 0 || k > 3 {
				return netip.Addr{}, false
			}
			b[k] = byte(n)
			k, n, digits = k+1, 0, 0
			continue
		}
		c := h[i]
		if c < '0' || c > '9' || digits == 3 {
			return netip.Addr{}, false
		}
		n = n*10 + int(c-'0')
		digits++
		if n > 255 {
			return netip.Addr{}, false
		}
	}
	if k != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(b), true
}

// Test flags of nat_uac_test, Kamailio's NAT_UAC_TEST_*.
const (
	testContact1918 = 0x01
	testReceived    = 0x02
	testVia1918     = 0x04
	testSDP1918     = 0x08
	testRport       = 0x10
	testSource1918  = 0x20
	testWS          = 0x40
	testContactPort = 0x80
	testSDPCLine    = 0x100
	testDest        = 0x200
)

// NatUACTest is nat_uac_test.
func NatUACTest(ctx *core.Ctx, flags int) int {
	m := ctx.Msg
	extra := cfg(ctx).addrMode == 1
	src := ctx.Src.Addr().Unmap()
	var via sip.Via
	viaOK := false
	if flags&(testReceived|testVia1918|testRport) != 0 {
		v, err := m.TopVia()
		via, viaOK = v, err == nil
	}
	if flags&testRport != 0 && viaOK {
		port := via.Port
		if port == 0 {
			port = 5060
		}
		if int(ctx.Src.Port()) != port {
			return 1
		}
	}
	if flags&testReceived != 0 && viaOK {
		// A host name never equals the source: kemi, like Kamailio by
		// default, does no DNS here.
		if a, ok := parseHost(via.Host); !ok || a.Unmap() != src {
			return 1
		}
	}
	var cu sip.URI
	cOK := false
	if flags&(testContact1918|testContactPort) != 0 {
		cu, cOK = firstContactURI(m)
	}
	if flags&testContact1918 != 0 && cOK && hostPrivate(cu.Host, extra) {
		return 1
	}
	if flags&testSDP1918 != 0 && sdpPrivate(m, extra) {
		return 1
	}
	if flags&testVia1918 != 0 && viaOK && hostPrivate(via.Host, extra) {
		return 1
	}
	if flags&testSource1918 != 0 && private4(src, extra) {
		return 1
	}
	if flags&testWS != 0 && (ctx.Proto == core.WS || ctx.Proto == core.WSS) {
		return 1
	}
	if flags&testContactPort != 0 && cOK {
		port := cu.Port
		if port == 0 {
			port = 5060
		}
		if int(ctx.Src.Port()) != port {
			return 1
		}
	}
	if flags&testSDPCLine != 0 && sdpCLineOther(m, src) {
		return 1
	}
	if flags&testDest != 0 && destDiffers(ctx) {
		return 1
	}
	return -1
}

// firstContactURI parses the first Contact URI; ok is false when there is
// none, it is "*", or it is malformed.
func firstContactURI(m *sip.Msg) (sip.URI, bool) {
	it := m.Contacts()
	if !it.Next() || it.Contact().Star {
		return sip.URI{}, false
	}
	u, err := sip.ParseURI(it.Contact().URI)
	if err != nil || len(u.Host) == 0 {
		return sip.URI{}, false
	}
	return u, true
}

// isSDP reports whether the body is an SDP document.
func isSDP(m *sip.Msg) bool {
	ct := m.ContentType()
	const want = "application/sdp"
	if len(ct) < len(want) || len(m.Body()) == 0 {
		return false
	}
	if !sip.HasPrefixFold(ct, want) {
		return false
	}
	return len(ct) == len(want) || ct[len(want)] == ';' || ct[len(want)] == ' '
}

// sdpLines walks the lines of an SDP body: fn gets the type letter and the
// value after "x=". Returning false stops.
func sdpLines(body []byte, fn func(t byte, v []byte) bool) {
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(line) < 2 || line[1] != '=' {
			continue
		}
		if !fn(line[0], line[2:]) {
			return
		}
	}
}

// cAddr parses a c= value, "IN IP4 192.0.2.1"; v4 tells the address type.
func cAddr(v []byte) (a netip.Addr, v4 bool, ok bool) {
	var f [3][]byte
	n := 0
	for len(v) > 0 && n < 3 {
		v = bytes.TrimLeft(v, " \t")
		end := bytes.IndexAny(v, " \t")
		if end < 0 {
			end = len(v)
		}
		if end > 0 {
			f[n] = v[:end]
			n++
		}
		v = v[end:]
	}
	if n < 3 || string(f[0]) != "IN" {
		return a, false, false
	}
	addr := f[2]
	if i := bytes.IndexByte(addr, '/'); i >= 0 { // multicast TTL
		addr = addr[:i]
	}
	a, ok = parseHost(addr)
	return a, string(f[1]) == "IP4", ok
}

// sdpPrivate is Kamailio's sdp_1918: any media stream (or its session's
// c= when the stream has none) on a private IPv4 address. A stream that is
// not IPv4 or is on 0.0.0.0 ends the check of its session.
func sdpPrivate(m *sip.Msg, extra bool) bool {
	if !isSDP(m) {
		return false
	}
	var sessC, streamC []byte
	inMedia, stopSession, found := false, false, false
	check := func() bool {
		c := streamC
		if c == nil {
			c = sessC
		}
		a, v4, ok := cAddr(c)
		if !ok || !v4 || a.IsUnspecified() {
			stopSession = true
			return false
		}
		return private4(a, extra)
	}
	sdpLines(m.Body(), func(t byte, v []byte) bool {
		switch {
		case t == 'v':
			if inMedia && !stopSession && check() {
				found = true
				return false
			}
			sessC, streamC, inMedia, stopSession = nil, nil, false, false
		case t == 'm':
			if inMedia && !stopSession && check() {
				found = true
				return false
			}
			streamC, inMedia = nil, true
		case t == 'c' && inMedia:
			streamC = v
		case t == 'c':
			sessC = v
		}
		return true
	})
	if !found && inMedia && !stopSession && check() {
		found = true
	}
	return found
}

// sdpCLineOther is Kamailio's test_sdp_cline: some session's c= address
// is not the source address.
func sdpCLineOther(m *sip.Msg, src netip.Addr) bool {
	if !isSDP(m) {
		return false
	}
	other, inMedia, seen := false, false, false
	sdpLines(m.Body(), func(t byte, v []byte) bool {
		switch t {
		case 'v':
			inMedia, seen = false, false
		case 'm':
			inMedia = true
		case 'c':
			if inMedia || seen {
				return true
			}
			seen = true
			if a, _, ok := cAddr(v); !ok || a.Unmap() != src {
				other = true
				return false
			}
		}
		return true
	})
	return other
}

// destDiffers is Kamailio's nh_test_destination for requests: the
// destination URI goes elsewhere than the Request-URI, or to WebSocket.
func destDiffers(ctx *core.Ctx) bool {
	m := ctx.Msg
	if !m.IsRequest() {
		return false // kemi does not look at the second Via of replies
	}
	ru, err := sip.ParseURI(m.RequestURI())
	if err != nil {
		return false
	}
	if ctx.DstURI == "" {
		return isWS(ru)
	}
	var buf [256]byte
	du, err := sip.ParseURI(append(buf[:0], ctx.DstURI...))
	if err != nil {
		return false
	}
	if isWS(du) {
		return true
	}
	if defPort(du) != defPort(ru) {
		return true
	}
	da, dok := parseHost(du.Host)
	ra, rok := parseHost(ru.Host)
	switch {
	case !dok && !rok:
		return !bytes.Equal(du.Host, ru.Host)
	case dok != rok:
		return true
	}
	return da.Unmap() != ra.Unmap()
}

func isWS(u sip.URI) bool {
	t, _ := u.Param("transport")
	return len(t) > 0 && (bytes.EqualFold(t, []byte("ws")) || bytes.EqualFold(t, []byte("wss")))
}

func defPort(u sip.URI) int {
	if u.Port != 0 {
		return u.Port
	}
	if t, _ := u.Param("transport"); u.IsSecure() || bytes.EqualFold(t, []byte("tls")) {
		return 5061
	}
	return 5060
}

// IsRFC1918 is is_rfc1918.
func IsRFC1918(ctx *core.Ctx, address string) int {
	a, err := netip.ParseAddr(address)
	if err != nil || !a.Is4() {
		return -1
	}
	if private4(a, cfg(ctx).addrMode == 1) {
		return 1
	}
	return -1
}
