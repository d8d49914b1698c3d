//go:build linux

package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPollLoop_NoGoroutinePerConnection: accepted TCP connections are
// served by the loops, so 500 open connections add no goroutine, and all
// of them are served.
func TestPollLoop_NoGoroutinePerConnection(t *testing.T) {
	s, addr := echoStreams(t, StreamConfig{Workers: 2}, TCP, "127.0.0.1:0")
	waitFor(t, "the loops", 2*time.Second, func() bool { return s.Len() == 0 })
	before := runtime.NumGoroutine()
	var cs []*client
	for i := 0; i < 500; i++ {
		c := dialClient(t, addr)
		if err := c.roundTrip(sipMsg(fmt.Sprint(i))); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		cs = append(cs, c)
	}
	if n := s.Len(); n != 500 {
		t.Fatalf("%d connections in the table, want 500", n)
	}
	// The test's own client side has no goroutines either.
	if after := runtime.NumGoroutine(); after > before+5 {
		t.Fatalf("%d goroutines with 500 connections open, %d before", after, before)
	}
	for i, c := range cs {
		if err := c.roundTrip(sipMsg("again")); err != nil {
			t.Fatalf("connection %d, second message: %v", i, err)
		}
		c.nc.Close()
	}
	waitFor(t, "every connection closed", 5*time.Second, func() bool { return s.Len() == 0 })
	if got := s.Stats.ClosedByPeer.Load(); got != 500 {
		t.Fatalf("ClosedByPeer %d, want 500", got)
	}
	if got := s.Stats.Open.Load(); got != 0 {
		t.Fatalf("Open %d after every peer left", got)
	}
}

// TestPollLoop_AcceptedSocket: TCP_NODELAY (set on the listener) holds on
// every accepted socket, so a second small reply is not held back by
// Nagle's algorithm; the local address of a wildcard listener's
// connection is the address the peer dialled.
func TestPollLoop_AcceptedSocket(t *testing.T) {
	s, addr := echoStreams(t, StreamConfig{}, TCP, "0.0.0.0:0")
	c := dialClient(t, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), addr.Port()))
	if err := c.roundTrip(sipMsg("x")); err != nil {
		t.Fatal(err)
	}
	conn := s.ConnTo(TCP, netip.MustParseAddrPort(c.nc.LocalAddr().String()))
	if conn == nil || conn.pl == nil {
		t.Fatalf("connection %v not served by a poll loop", conn)
	}
	if got := conn.LocalAddr(); got.String() != "127.0.0.1:"+fmt.Sprint(addr.Port()) {
		t.Fatalf("local address %s", got)
	}
	conn.sk.mu.Lock()
	v, err := unix.GetsockoptInt(conn.sk.fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
	conn.sk.mu.Unlock()
	if err != nil || v == 0 {
		t.Fatalf("TCP_NODELAY %d, %v on the accepted socket", v, err)
	}
}

// TestPollLoop_CloseFromAnotherGoroutine: Conn.Close from outside the
// loop (an RPC, set_forward_close) ends the connection: the peer sees
// the end, the table forgets it, and a later write fails at once.
func TestPollLoop_CloseFromAnotherGoroutine(t *testing.T) {
	s, addr := echoStreams(t, StreamConfig{}, TCP, "127.0.0.1:0")
	c := dialClient(t, addr)
	if err := c.roundTrip(sipMsg("x")); err != nil {
		t.Fatal(err)
	}
	conn := s.ConnTo(TCP, netip.MustParseAddrPort(c.nc.LocalAddr().String()))
	done := make(chan struct{})
	go func() { conn.Close(); close(done) }()
	<-done
	if err := c.waitClosed(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the table to forget it", 2*time.Second, func() bool { return s.Conn(conn.ID()) == nil })
	if err := conn.Write([]byte("late")); err == nil {
		t.Fatal("write on a closed connection")
	}
	if got := s.Stats.ClosedLocal.Load(); got != 1 {
		t.Fatalf("ClosedLocal %d, want 1", got)
	}
}

// TestPollLoop_OutOfDescriptors runs in a child process whose descriptor
// limit is low: a flood of connections past it makes accept4 fail with
// EMFILE; the loop pauses that listener instead of spinning, and once the
// flood is gone a new client is served.
func TestPollLoop_OutOfDescriptors(t *testing.T) {
	if os.Getenv("KEMI_POLL_EMFILE_CHILD") == "1" {
		pollEMFILEChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPollLoop_OutOfDescriptors$", "-test.v")
	cmd.Env = append(os.Environ(), "KEMI_POLL_EMFILE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func pollEMFILEChild(t *testing.T) {
	s, addr := echoStreams(t, StreamConfig{Workers: 1}, TCP, "127.0.0.1:0")
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// The flood's client sockets are in another process' share of the
	// limit: here, only the server's count. Room for about 40.
	open := countFds(t)
	low := lim
	low.Cur = uint64(open + 40)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skipf("setrlimit: %v", err)
	}
	flood := exec.Command(os.Args[0], "-test.run=^TestPollLoop_FloodHelper$")
	flood.Env = append(os.Environ(), "KEMI_POLL_FLOOD="+addr.String())
	// The child process inherits the low limit; lift it for the flooder.
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	pr, pw, _ := os.Pipe()
	flood.Stdout = pw
	if err := flood.Start(); err != nil {
		t.Fatal(err)
	}
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low)
	pw.Close()
	// The flooder says how many it opened, then holds them.
	buf := make([]byte, 64)
	pr.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _ := pr.Read(buf)
	t.Logf("flooder: %s", buf[:n])
	time.Sleep(300 * time.Millisecond)
	var user0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &user0)
	time.Sleep(500 * time.Millisecond)
	var user1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &user1)
	spent := time.Duration(syscall.TimevalToNsec(user1.Utime)+syscall.TimevalToNsec(user1.Stime)) -
		time.Duration(syscall.TimevalToNsec(user0.Utime)+syscall.TimevalToNsec(user0.Stime))
	if spent > 250*time.Millisecond {
		t.Fatalf("%v of CPU in 500 ms while out of descriptors: the loop spins", spent)
	}
	flood.Process.Kill()
	flood.Wait()
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	waitFor(t, "the flood's connections closed", 10*time.Second, func() bool { return s.Len() == 0 })
	c := dialClient(t, addr)
	if err := c.roundTrip(sipMsg("after the flood")); err != nil {
		t.Fatal(err)
	}
}

// TestPollLoop_FloodHelper is the flooder of TestPollLoop_OutOfDescriptors.
func TestPollLoop_FloodHelper(t *testing.T) {
	to := os.Getenv("KEMI_POLL_FLOOD")
	if to == "" {
		t.Skip("run by TestPollLoop_OutOfDescriptors")
	}
	var held []net.Conn
	for i := 0; i < 200; i++ {
		c, err := net.DialTimeout("tcp", to, time.Second)
		if err != nil {
			break
		}
		held = append(held, c)
	}
	fmt.Printf("%d connections\n", len(held))
	os.Stdout.Sync()
	time.Sleep(time.Minute)
}

func countFds(t *testing.T) int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// TestPollLoop_RefusedPastMax: past tcp_max_connections a new connection
// is reset at once (SO_LINGER 0), counted, and takes no table entry; the
// open one is still served.
func TestPollLoop_RefusedPastMax(t *testing.T) {
	s, addr := echoStreams(t, StreamConfig{MaxTCP: 1}, TCP, "127.0.0.1:0")
	first := dialClient(t, addr)
	if err := first.roundTrip(sipMsg("first")); err != nil {
		t.Fatal(err)
	}
	// The reset may come before Dial has looked at the socket, so Dial
	// or the read reports it.
	nc, err := net.Dial("tcp", addr.String())
	if err == nil {
		defer nc.Close()
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = nc.Read(make([]byte, 1))
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("refused connection: %v, want a reset", err)
	}
	if got := s.Stats.RefusedMax.Load(); got != 1 {
		t.Fatalf("RefusedMax %d, want 1", got)
	}
	if n := s.Len(); n != 1 {
		t.Fatalf("%d connections in the table, want 1", n)
	}
	if err := first.roundTrip(sipMsg("still")); err != nil {
		t.Fatalf("the open connection after a refusal: %v", err)
	}
}
