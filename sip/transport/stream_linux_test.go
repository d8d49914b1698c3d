//go:build linux

package transport

import (
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// raiseFDLimit lifts the soft descriptor limit to the hard one, for tests
// that open thousands of connections.
func raiseFDLimit(t testing.TB) uint64 {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
	}
	return lim.Cur
}

// TestStreamSend_ConnectTimeout: a peer whose accept queue is full drops
// the SYN, so connecting hangs; ConnectTimeout ends the wait, the send
// fails and nothing is left behind.
func TestStreamSend_ConnectTimeout(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	to := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*unix.SockaddrInet4).Port))
	// Fill the accept queue (never accepted).
	for i := 0; i < 4; i++ {
		c, err := net.DialTimeout("tcp", to.String(), 100*time.Millisecond)
		if err != nil {
			break
		}
		defer c.Close()
	}
	s, err := NewStreams(StreamConfig{ConnectTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	_, err = s.Send(TCP, to, []byte(sipMsg("")), SendOptions{})
	el := time.Since(start)
	if err == nil {
		t.Skip("the kernel accepted the connection; the accept queue did not fill")
	}
	if el < 250*time.Millisecond || el > 2*time.Second {
		t.Fatalf("failed after %v (%v), want ~300ms", el, err)
	}
	if s.Stats.ConnectFail.Load() != 1 || s.Stats.Open.Load() != 0 {
		t.Fatalf("connect failures %d, open %d", s.Stats.ConnectFail.Load(), s.Stats.Open.Load())
	}
}
