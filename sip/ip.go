package sip

import "net/netip"

// ParseIP is parseIP for other packages: an IP address held in bytes,
// parsed without allocating.
func ParseIP(b []byte) (netip.Addr, bool) { return parseIP(b) }

// parseIP parses an IPv4 dotted quad or an IPv6 address (no brackets, no
// zone). It exists because netip.ParseAddr takes a string, and converting
// a slice of the receive buffer would allocate on the hot path.
func parseIP(b []byte) (netip.Addr, bool) {
	if indexByte(b, ':') < 0 {
		v4, ok := parseIPv4(b)
		if !ok {
			return netip.Addr{}, false
		}
		return netip.AddrFrom4(v4), true
	}
	var ip [16]byte
	ellipsis := -1
	i, n := 0, 0
	if len(b) >= 2 && b[0] == ':' && b[1] == ':' {
		ellipsis = 0
		i = 2
		if i == len(b) {
			return netip.AddrFrom16(ip), true
		}
	}
	for i < len(b) {
		if n == 16 {
			return netip.Addr{}, false
		}
		// A dotted quad may end the address.
		j := i
		for j < len(b) && isHex(b[j]) {
			j++
		}
		if j < len(b) && b[j] == '.' {
			if n > 12 {
				return netip.Addr{}, false
			}
			v4, ok := parseIPv4(b[i:])
			if !ok {
				return netip.Addr{}, false
			}
			copy(ip[n:], v4[:])
			n += 4
			i = len(b)
			break
		}
		if j == i || j-i > 4 {
			return netip.Addr{}, false
		}
		v := 0
		for k := i; k < j; k++ {
			v = v<<4 | int(unhex(b[k]))
		}
		ip[n], ip[n+1] = byte(v>>8), byte(v)
		n += 2
		i = j
		if i == len(b) {
			break
		}
		if b[i] != ':' || i+1 == len(b) {
			return netip.Addr{}, false
		}
		i++
		if b[i] == ':' {
			if ellipsis >= 0 {
				return netip.Addr{}, false
			}
			ellipsis = n
			i++
			if i == len(b) {
				break
			}
		}
	}
	if ellipsis >= 0 {
		if n == 16 {
			return netip.Addr{}, false
		}
		gap := 16 - n
		copy(ip[ellipsis+gap:], ip[ellipsis:n])
		for k := ellipsis; k < ellipsis+gap; k++ {
			ip[k] = 0
		}
	} else if n != 16 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16(ip), true
}

func parseIPv4(b []byte) ([4]byte, bool) {
	var ip [4]byte
	n, i := 0, 0
	for n < 4 {
		s := i
		v := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			v = v*10 + int(b[i]-'0')
			if v > 255 || i-s >= 3 {
				return ip, false
			}
			i++
		}
		if i == s || i-s > 1 && b[s] == '0' {
			// Empty, or a leading zero, which some stacks read as octal.
			return ip, false
		}
		ip[n] = byte(v)
		n++
		if n < 4 {
			if i >= len(b) || b[i] != '.' {
				return ip, false
			}
			i++
		}
	}
	return ip, i == len(b)
}
