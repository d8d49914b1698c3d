package transport

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sockaddr is big enough for both families; the family field overlays
// RawSockaddrInet4.Family, so one slot type serves IPv4 and IPv6 sockets.
type sockaddr = unix.RawSockaddrInet6

// portOf and setPort read and write a port in network byte order.
func portOf(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

func setPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// addrPortOf converts a kernel-filled socket address. IPv4-mapped IPv6
// addresses are unmapped, so a peer has one spelling whatever the socket.
func addrPortOf(sa *sockaddr) netip.AddrPort {
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), portOf(&sa4.Port))
	case unix.AF_INET6:
		a := netip.AddrFrom16(sa.Addr)
		if a.Is4In6() {
			a = a.Unmap()
		} else if sa.Scope_id != 0 && a.IsLinkLocalUnicast() {
			// Rare (link-local peers); the zone string allocates.
			a = a.WithZone(strconv.FormatUint(uint64(sa.Scope_id), 10))
		}
		return netip.AddrPortFrom(a, portOf(&sa.Port))
	}
	return netip.AddrPort{}
}

// putSockaddr fills sa for sending to ap from a socket of the given family
// and returns the address length the kernel expects.
func putSockaddr(sa *sockaddr, ap netip.AddrPort, v6 bool) (uint32, error) {
	a := ap.Addr()
	if !v6 {
		if !a.Is4() && !a.Is4In6() {
			return 0, fmt.Errorf("transport: UDP send to %s: the listener is IPv4-only", ap)
		}
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.Unmap().As4()}
		setPort(&sa4.Port, ap.Port())
		return unix.SizeofSockaddrInet4, nil
	}
	*sa = sockaddr{Family: unix.AF_INET6, Addr: a.As16()}
	setPort(&sa.Port, ap.Port())
	if z := a.Zone(); z != "" {
		id, err := zoneIndex(z)
		if err != nil {
			return 0, fmt.Errorf("transport: UDP send to %s: %w", ap, err)
		}
		sa.Scope_id = id
	}
	return unix.SizeofSockaddrInet6, nil
}

func zoneIndex(z string) (uint32, error) {
	if n, err := strconv.ParseUint(z, 10, 32); err == nil {
		return uint32(n), nil
	}
	ifi, err := net.InterfaceByName(z)
	if err != nil {
		return 0, fmt.Errorf("zone %q: %w", z, err)
	}
	return uint32(ifi.Index), nil
}
