package transport

import (
	"net/netip"
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestSockaddrRoundTrip(t *testing.T) {
	cases := []struct {
		to   string
		v6   bool
		want string // as read back by addrPortOf
	}{
		{"127.0.0.1:5060", false, "127.0.0.1:5060"},
		{"192.0.2.1:65535", false, "192.0.2.1:65535"},
		{"[::ffff:192.0.2.1]:5061", false, "192.0.2.1:5061"},
		{"192.0.2.1:5062", true, "192.0.2.1:5062"}, // sent v4-mapped, read back unmapped
		{"[2001:db8::1]:258", true, "[2001:db8::1]:258"},
		{"[fe80::1%7]:5060", true, "[fe80::1%7]:5060"},
	}
	for _, tc := range cases {
		var sa sockaddr
		n, err := putSockaddr(&sa, netip.MustParseAddrPort(tc.to), tc.v6)
		if err != nil {
			t.Errorf("putSockaddr(%s, v6=%v): %v", tc.to, tc.v6, err)
			continue
		}
		if want := map[bool]uint32{false: unix.SizeofSockaddrInet4, true: unix.SizeofSockaddrInet6}[tc.v6]; n != want {
			t.Errorf("putSockaddr(%s, v6=%v) length %d, want %d", tc.to, tc.v6, n, want)
		}
		if got := addrPortOf(&sa).String(); got != tc.want {
			t.Errorf("addrPortOf(putSockaddr(%s, v6=%v)) = %s, want %s", tc.to, tc.v6, got, tc.want)
		}
	}
	var sa sockaddr
	putSockaddr(&sa, netip.MustParseAddrPort("10.0.0.1:5060"), false)
	if b := (*[4]byte)(unsafe.Pointer(&sa))[2:4]; b[0] != 0x13 || b[1] != 0xc4 {
		t.Errorf("port bytes %x, want network order 13c4", b)
	}
}

func TestSocketBuffers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("forcing buffers past net.core.rmem_max needs CAP_NET_ADMIN")
	}
	u := listen(t, UDPConfig{})
	for _, opt := range []int{unix.SO_RCVBUF, unix.SO_SNDBUF} {
		var got int
		var err error
		u.rc.Control(func(fd uintptr) { got, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, opt) })
		// The kernel reports twice the size asked for (bookkeeping room).
		if err != nil || got < 2*DefaultRecvBuffer {
			t.Errorf("socket buffer option %d = %d, %v; want >= %d", opt, got, err, 2*DefaultRecvBuffer)
		}
	}
}
