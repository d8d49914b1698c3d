// Package ipops implements module ipops: checks on strings that should hold
// IP addresses, and subnet membership, with Kamailio's return values.
//
// Addresses are parsed with net/netip, which allocates nothing for the
// forms accepted here; an IPv6 reference is the bracketed form a SIP URI
// carries ("[2001:db8::1]").
package ipops

import (
	"net/netip"
	"strconv"
	"strings"

	"kemi/core"
)

// kind is what parse found, numbered as Kamailio's ip_type returns it.
type kind int

const (
	bad  kind = -1
	ipv4 kind = 1
	ipv6 kind = 2
	ref  kind = 3 // IPv6 reference, "[...]"
)

// maxIPLen is the longest text that can be an IP address: an IPv6
// reference holding IPv4-mapped notation with every group written out.
const maxIPLen = len("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]")

// parse reads s as an IPv4 address, an IPv6 address or an IPv6 reference.
// Zones ("fe80::1%eth0") are refused: they are not in the SIP grammar, and
// Kamailio's parser refuses them too.
func parse(s string) (netip.Addr, kind) {
	if len(s) == 0 || len(s) > maxIPLen || strings.IndexByte(s, '%') >= 0 {
		return netip.Addr{}, bad
	}
	if s[0] == '[' {
		if len(s) < 3 || s[len(s)-1] != ']' {
			return netip.Addr{}, bad
		}
		a, err := netip.ParseAddr(s[1 : len(s)-1])
		if err != nil || !a.Is6() {
			return netip.Addr{}, bad
		}
		return a, ref
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, bad
	}
	if a.Is4() {
		return a, ipv4
	}
	return a, ipv6
}

func ret(ok bool) int {
	if ok {
		return 1
	}
	return -1
}

// IsIP is KSR.ipops.is_ip.
func IsIP(ctx *core.Ctx, s string) int { _, k := parse(s); return ret(k != bad) }

// IsPureIP is KSR.ipops.is_pure_ip.
func IsPureIP(ctx *core.Ctx, s string) int {
	_, k := parse(s)
	return ret(k == ipv4 || k == ipv6)
}

// IsIP4 is KSR.ipops.is_ip4.
func IsIP4(ctx *core.Ctx, s string) int { _, k := parse(s); return ret(k == ipv4) }

// IsIP6 is KSR.ipops.is_ip6.
func IsIP6(ctx *core.Ctx, s string) int { _, k := parse(s); return ret(k == ipv6) }

// IsIP6Reference is KSR.ipops.is_ip6_reference.
func IsIP6Reference(ctx *core.Ctx, s string) int { _, k := parse(s); return ret(k == ref) }

// IPType is KSR.ipops.ip_type: 1, 2, 3 or -1.
func IPType(ctx *core.Ctx, s string) int { _, k := parse(s); return int(k) }

// CompareIPs is KSR.ipops.compare_ips: an IPv6 reference compares as the
// address inside it.
func CompareIPs(ctx *core.Ctx, s1, s2 string) int {
	a, k1 := parse(s1)
	b, k2 := parse(s2)
	return ret(k1 != bad && k2 != bad && a == b)
}

// ComparePureIPs is KSR.ipops.compare_pure_ips: references are refused.
func ComparePureIPs(ctx *core.Ctx, s1, s2 string) int {
	a, k1 := parse(s1)
	b, k2 := parse(s2)
	return ret(k1 != bad && k1 != ref && k2 != bad && k2 != ref && a == b)
}

// IsInSubnet is KSR.ipops.is_in_subnet, the other name of ip_is_in_subnet.
func IsInSubnet(ctx *core.Ctx, ip, subnets string) int { return IPIsInSubnet(ctx, ip, subnets) }

// IPIsInSubnet is KSR.ipops.ip_is_in_subnet. subnets is a comma-separated
// list of "addr/bits" and plain addresses, with spaces allowed around each
// entry. Empty entries are skipped, as Kamailio does; a malformed one is
// logged and skipped.
func IPIsInSubnet(ctx *core.Ctx, ip, subnets string) int {
	a, k := parse(ip)
	if k != ipv4 && k != ipv6 {
		return -1
	}
	for rest := subnets; ; {
		entry, tail, more := strings.Cut(rest, ",")
		entry = strings.Trim(entry, " ")
		if entry != "" && inSubnet(ctx, a, entry) {
			return 1
		}
		if !more {
			return -1
		}
		rest = tail
	}
}

// inSubnet checks a against one "addr[/bits]" entry.
func inSubnet(ctx *core.Ctx, a netip.Addr, entry string) bool {
	addr, bits, hasBits := strings.Cut(entry, "/")
	n, k := parse(addr)
	if k != ipv4 && k != ipv6 {
		badEntry(ctx, entry, "not an IPv4 or IPv6 address")
		return false
	}
	if !hasBits {
		return n == a
	}
	b, err := strconv.Atoi(bits)
	if err != nil || b < 0 || b > n.BitLen() {
		badEntry(ctx, entry, "the mask is not a number from 0 to "+strconv.Itoa(n.BitLen()))
		return false
	}
	if n.Is4() != a.Is4() {
		return false
	}
	p, err := n.Prefix(b)
	return err == nil && p.Contains(a)
}

// badEntry logs a malformed subnet, cut short: the list may come from a
// message.
func badEntry(ctx *core.Ctx, entry, why string) {
	if len(entry) > 64 {
		entry = entry[:64] + "..."
	}
	ctx.Log(core.LErr, "KSR.ipops.ip_is_in_subnet: subnet "+strconv.Quote(entry)+": "+why+"; skipped\n")
}

// IsIPRFC1918 is KSR.ipops.is_ip_rfc1918.
func IsIPRFC1918(ctx *core.Ctx, s string) int {
	a, k := parse(s)
	return ret(k == ipv4 && rfc1918(a))
}

var private = [...]netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
}

func rfc1918(a netip.Addr) bool {
	for _, p := range private {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
