//go:build linux

package transport

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The child process of TestStreamIdleMemory: it opens N connections to
// the address in the environment, says "ready", and holds them until its
// stdin closes. A separate process, so the connections' client ends count
// neither in the server's memory nor in its descriptor limit.
func init() {
	addr := os.Getenv("KEMI_IDLE_CLIENT_ADDR")
	if addr == "" {
		return
	}
	n, _ := strconv.Atoi(os.Getenv("KEMI_IDLE_CLIENT_N"))
	useTLS := os.Getenv("KEMI_IDLE_CLIENT_TLS") == "1"
	raiseFDLimitNoT()
	if os.Getenv("KEMI_IDLE_CLIENT_FLOOD") == "1" {
		// Open n connections as fast as possible, say nothing, count the
		// ones refused.
		var held []net.Conn
		failed := 0
		for i := 0; i < n; i++ {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				failed++
				continue
			}
			held = append(held, c)
		}
		fmt.Printf("ready %d %d\n", len(held), failed)
		bufio.NewReader(os.Stdin).ReadString('\n')
		os.Exit(0)
	}
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			fmt.Printf("error dial %d: %v\n", i, err)
			os.Exit(1)
		}
		if useTLS {
			tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
			if err := tc.Handshake(); err != nil {
				fmt.Printf("error handshake %d: %v\n", i, err)
				os.Exit(1)
			}
			// One message each way, so the connection has been used.
			c = tc
		}
		msg := sipMsg("")
		c.Write([]byte(msg))
		buf := make([]byte, len(msg))
		if _, err := ioReadFull(c, buf); err != nil {
			fmt.Printf("error echo %d: %v\n", i, err)
			os.Exit(1)
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
	os.Exit(0)
}

func ioReadFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func raiseFDLimitNoT() uint64 {
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	return lim.Cur
}

// memLimit relaxes a memory bound under the race detector.
func memLimit(n int64) int64 {
	if raceEnabled {
		return 4 * n
	}
	return n
}

// heapAndStacks is the Go memory in use: heap objects and goroutine stacks.
func heapAndStacks() uint64 {
	h, s := heapStacks()
	return h + s
}

func heapStacks() (heap, stacks uint64) {
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, m.StackInuse
}

func rssKB() uint64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			n, _ := strconv.ParseUint(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// measureIdle opens n idle connections from a child process to a Streams
// listening with proto, and returns the server's memory per connection:
// Go heap and stacks, and RSS.
func measureIdle(t *testing.T, proto StreamProto, tlsCfg TLSConfigs, n int) (goBytes, rssBytes float64) {
	if lim := raiseFDLimit(t); lim < uint64(n)+100 {
		t.Skipf("descriptor limit %d is too low for %d connections", lim, n)
	}
	s, addr := echoStreams(t, StreamConfig{MaxTCP: n + 10, MaxTLS: n + 10, TLS: tlsCfg}, proto, "127.0.0.1:0")
	// Warm up: the buffer pool and one connection's worth of everything.
	if proto == TCP {
		if err := dialClient(t, addr).roundTrip(sipMsg("warm")); err != nil {
			t.Fatal(err)
		}
	}
	hb, sb := heapStacks()
	before, rssBefore := hb+sb, rssKB()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KEMI_IDLE_CLIENT_ADDR="+addr.String(), "KEMI_IDLE_CLIENT_N="+strconv.Itoa(n))
	if proto == TLS {
		cmd.Env = append(cmd.Env, "KEMI_IDLE_CLIENT_TLS=1")
	}
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("client: %s", line)
	}
	waitFor(t, "all connections open", 10*time.Second, func() bool { return s.Len() >= n })
	time.Sleep(100 * time.Millisecond)
	ha, sa := heapStacks()
	after, rssAfter := ha+sa, rssKB()
	t.Logf("%s: per connection: heap %.0f B, stacks %.0f B", proto,
		float64(int64(ha)-int64(hb))/float64(n), float64(int64(sa)-int64(sb))/float64(n))
	goBytes = float64(int64(after)-int64(before)) / float64(n)
	rssBytes = float64(int64(rssAfter)-int64(rssBefore)) * 1024 / float64(n)
	t.Logf("%s: %d idle connections: Go heap+stacks %.0f B/conn, RSS %.0f B/conn (Kamailio: ~4.5 kB TCP, ~61 kB TLS)",
		proto, n, goBytes, rssBytes)
	// Still serving.
	if proto == TCP {
		if err := dialClient(t, addr).roundTrip(sipMsg("after")); err != nil {
			t.Fatal(err)
		}
	}
	return goBytes, rssBytes
}

// TestStreamIdleMemory: 10000 idle TCP connections cost the server a few
// kilobytes each (no read buffer while idle).
func TestStreamIdleMemory(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	goB, _ := measureIdle(t, TCP, nil, n)
	if goB > float64(memLimit(8192)) {
		t.Fatalf("%.0f bytes per idle TCP connection, want at most 8 KiB", goB)
	}
}

// staticTLS serves one self-signed certificate made in the test.
type staticTLS struct{ cfg *tls.Config }

func (s staticTLS) ServerConfig(netip.AddrPort) (*tls.Config, error) { return s.cfg, nil }
func (s staticTLS) ClientConfig(netip.AddrPort, string) (*tls.Config, error) {
	return &tls.Config{InsecureSkipVerify: true}, nil
}

func selfSigned(t testing.TB) staticTLS {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kemi test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return staticTLS{&tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}}
}

// TestStreamIdleMemoryTLS: idle TLS connections (handshake done, one
// message each way).
func TestStreamIdleMemoryTLS(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	goB, _ := measureIdle(t, TLS, selfSigned(t), n)
	if goB > 61<<10 {
		t.Fatalf("%.0f bytes per idle TLS connection, more than Kamailio's 61 kB", goB)
	}
}

//go:noinline
func deepStack(n int) int {
	var pad [1024]byte
	pad[n%1024] = byte(n)
	if n == 0 {
		return int(pad[0])
	}
	return deepStack(n-1) + int(pad[n%1024])
}

// TestStreamIdleMemory_AfterDeepHandler: handlers run on the connection's
// goroutine, so a handler with a deep stack (a script VM) grows it; the
// garbage collector shrinks the stacks of idle connections back.
func TestStreamIdleMemory_AfterDeepHandler(t *testing.T) {
	raiseFDLimit(t)
	s, err := NewStreams(StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := s.Listen(TCP, "127.0.0.1:0")
	go s.Serve(func(int) StreamHandler {
		return StreamHandlerFunc(func(d []byte, c *Conn) { deepStack(60); c.Write(d) }) // ~64 KiB of stack
	})
	defer s.Close()
	_, st0 := heapStacks()
	const n = 1000
	for i := 0; i < n; i++ {
		if err := dialClient(t, l.LocalAddr()).roundTrip(sipMsg("x")); err != nil {
			t.Fatal(err)
		}
	}
	var per int64
	for gc := 1; gc <= 3; gc++ {
		_, st := heapStacks()
		per = (int64(st) - int64(st0)) / n
		t.Logf("after %d GCs: stacks %d B per idle connection", gc, per)
	}
	if lim := memLimit(8192); per > lim {
		t.Fatalf("stacks of idle connections stay at %d B each", per)
	}
}

// TestStreams_CloseLeavesNothing: after Close, every goroutine (accept
// loops, connections, write flushers) has ended.
func TestStreams_CloseLeavesNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := NewStreams(StreamConfig{TLS: selfSigned(t)})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := s.Listen(TCP, "127.0.0.1:0")
	l6, _ := s.Listen(TLS, "[::1]:0")
	_ = l6
	go s.Serve(func(int) StreamHandler { return StreamHandlerFunc(func(d []byte, c *Conn) { c.Write(d) }) })
	var cs []net.Conn
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", l.LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(sipMsg("x")))
		cs = append(cs, c)
	}
	if _, err := s.Send(TCP, l.LocalAddr(), []byte(sipMsg("self")), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "connections", 2*time.Second, func() bool { return s.Len() >= 22 })
	s.Close()
	for _, c := range cs {
		c.Close()
	}
	waitFor(t, "goroutines to end", 3*time.Second, func() bool { return runtime.NumGoroutine() <= before+1 })
	if s.Stats.Open.Load() != 0 || s.Len() != 0 {
		t.Fatalf("open %d, table %d", s.Stats.Open.Load(), s.Len())
	}
}

func BenchmarkStreamEchoTLS(b *testing.B) {
	_, addr := echoStreams(b, StreamConfig{TLS: selfSigned(b)}, TLS, "127.0.0.1:0")
	nc, err := tls.Dial("tcp", addr.String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	msg := []byte(sipMsg(strings.Repeat("s", 300)))
	got := make([]byte, len(msg))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		nc.Write(msg)
		if _, err := ioReadFull(nc, got); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// TestStreamHostile_ManyIdleConnections: 20000 connections opened (from a
// child process, as many as its descriptors allow) and left idle stop at
// MaxTCP, the rest refused at once; the server's memory stays bounded by
// the limit; the client already talking keeps being served; IdleTimeout
// clears the idle ones, after which new clients get in.
func TestStreamHostile_ManyIdleConnections(t *testing.T) {
	lim := raiseFDLimit(t)
	const limit = 500
	flood := 20000
	if uint64(flood) > lim-100 {
		flood = int(lim - 100)
	}
	if testing.Short() {
		flood = 3000
	}
	s, addr := echoStreams(t, StreamConfig{MaxTCP: limit, IdleTimeout: 2 * time.Second}, TCP, "127.0.0.1:0")
	stop := keepServing(t, addr)
	mem0 := heapAndStacks()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KEMI_IDLE_CLIENT_ADDR="+addr.String(), "KEMI_IDLE_CLIENT_N="+strconv.Itoa(flood), "KEMI_IDLE_CLIENT_FLOOD=1")
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	line, _ := bufio.NewReader(out).ReadString('\n')
	var held, failed int
	if _, err := fmt.Sscanf(line, "ready %d %d", &held, &failed); err != nil {
		t.Fatalf("flooder: %q", line)
	}
	waitFor(t, "every connection seen", 10*time.Second, func() bool {
		return s.Stats.RefusedMax.Load()+s.Stats.Accepted.Load() >= uint64(flood)+1
	})
	t.Logf("%d connections opened (%d refused during connect), %d accepted, %d refused at the limit",
		flood, failed, s.Stats.Accepted.Load()-1, s.Stats.RefusedMax.Load())
	if n := s.Stats.OpenTCP.Load(); n != limit {
		t.Fatalf("open %d, want the limit %d", n, limit)
	}
	if grew := int64(heapAndStacks()) - int64(mem0); grew > limit*16<<10+4<<20 {
		t.Fatalf("memory grew by %d bytes for %d connections", grew, limit)
	}
	stop() // served all along
	waitFor(t, "idle connections closed", 10*time.Second, func() bool { return s.Stats.OpenTCP.Load() == 0 })
	if err := dialClient(t, addr).roundTrip(sipMsg("new")); err != nil {
		t.Fatal(err)
	}
	if s.Stats.ClosedIdle.Load() < limit-1 {
		t.Fatalf("closed idle %d", s.Stats.ClosedIdle.Load())
	}
}

// TestStreamHostile_OverTLS: the same limits hold inside TLS: headers
// that never end, a body that never completes, a missing Content-Length.
func TestStreamHostile_OverTLS(t *testing.T) {
	s, addr := echoStreams(t, StreamConfig{TLS: selfSigned(t), MessageTimeout: 300 * time.Millisecond}, TLS, "127.0.0.1:0")
	dial := func() *tls.Conn {
		nc, err := tls.Dial("tcp", addr.String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return nc
	}
	closed := func(nc *tls.Conn) {
		nc.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 512)
		for {
			if _, err := nc.Read(buf); err != nil {
				if strings.Contains(err.Error(), "timeout") {
					t.Fatal("not closed")
				}
				return
			}
		}
	}
	good := dial()
	check := func() {
		good.SetDeadline(time.Now().Add(2 * time.Second))
		m := sipMsg("ok")
		good.Write([]byte(m))
		if _, err := ioReadFull(good, make([]byte, len(m))); err != nil {
			t.Fatalf("the good TLS client was not served: %v", err)
		}
	}
	bad := dial()
	go func(bad *tls.Conn) {
		bad.Write([]byte("OPTIONS sip:a SIP/2.0\r\n"))
		junk := []byte(strings.Repeat("X-Junk: jjjjjjjjjjjjjjjjjjjjjjjj\r\n", 1000))
		for i := 0; i < 400; i++ { // 13 MB
			if _, err := bad.Write(junk); err != nil {
				return
			}
		}
	}(bad)
	closed(bad)
	check()
	bad = dial()
	bad.Write([]byte("INVITE sip:a SIP/2.0\r\nContent-Length: 500\r\n\r\nshort"))
	closed(bad)
	check()
	bad = dial()
	bad.Write([]byte("INVITE sip:a SIP/2.0\r\nCall-ID: x\r\n\r\n"))
	closed(bad)
	check()
	// The endless headers hit the size limit, or on a loaded machine the
	// 300 ms MessageTimeout first.
	st := &s.Stats
	for end := time.Now().Add(2 * time.Second); !(st.ClosedTooBig.Load()+st.ClosedSlow.Load() == 2 && st.ClosedSlow.Load() >= 1 && st.ClosedNoCL.Load() == 1); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("closed: too big %d, slow %d, no CL %d, by peer %d, read error %d, handshake %d, silent %d",
				st.ClosedTooBig.Load(), st.ClosedSlow.Load(), st.ClosedNoCL.Load(), st.ClosedByPeer.Load(),
				st.ClosedReadError.Load(), st.ClosedHandshake.Load(), st.ClosedSilent.Load())
		}
	}
}
