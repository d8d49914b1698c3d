package transport

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echoStreams runs a Streams with one TCP listener on addr whose handler
// writes every message back on its connection.
func echoStreams(t testing.TB, cfg StreamConfig, proto StreamProto, addr string) (*Streams, netip.AddrPort) {
	t.Helper()
	s, err := NewStreams(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Listen(proto, addr)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(func(int) StreamHandler {
		return StreamHandlerFunc(func(data []byte, c *Conn) { c.Write(data) })
	})
	t.Cleanup(func() { s.Close() })
	return s, l.LocalAddr()
}

// client is a test peer speaking SIP over one TCP connection.
type client struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func dialClient(t testing.TB, to netip.AddrPort) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", to.String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// roundTrip sends msg and reads the same number of bytes back.
func (c *client) roundTrip(msg string) error {
	c.nc.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c.nc, msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c.br, got); err != nil {
		return err
	}
	if string(got) != msg {
		return fmt.Errorf("echo %q, want %q", got, msg)
	}
	return nil
}

// waitClosed waits until the server closes the client's connection.
func (c *client) waitClosed(d time.Duration) error {
	c.nc.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c.br)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		return fmt.Errorf("connection not closed by the server: %w", err)
	}
	return nil
}

func waitFor(t testing.TB, what string, d time.Duration, ok func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !ok() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// keepServing checks, while a hostile peer runs, that another client is
// served all along. It returns a stop function that fails the test if any
// round trip failed.
func keepServing(t *testing.T, to netip.AddrPort) (stop func()) {
	t.Helper()
	good := dialClient(t, to)
	done := make(chan struct{})
	var n atomic.Int64
	var fail atomic.Value
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := good.roundTrip(sipMsg("still here")); err != nil {
				fail.Store(err)
				return
			}
			n.Add(1)
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		if err, _ := fail.Load().(error); err != nil {
			t.Fatalf("the well-behaved client was not served: %v", err)
		}
		if n.Load() == 0 {
			t.Fatal("the well-behaved client got no reply at all")
		}
	}
}

func TestStream_EchoSplitAndBatched(t *testing.T) {
	_, addr := echoStreams(t, StreamConfig{}, TCP, "127.0.0.1:0")
	c := dialClient(t, addr)
	m := sipMsg("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n")
	// Split into pieces with pauses: one message arrives over several reads.
	c.nc.SetDeadline(time.Now().Add(3 * time.Second))
	for i := 0; i < len(m); i += 17 {
		end := min(i+17, len(m))
		io.WriteString(c.nc, m[i:end])
		time.Sleep(time.Millisecond)
	}
	got := make([]byte, len(m))
	if _, err := io.ReadFull(c.br, got); err != nil || string(got) != m {
		t.Fatalf("split: %q, %v", got, err)
	}
	// Several messages in one write.
	three := sipMsg("a") + sipMsg("") + sipMsg(strings.Repeat("b", 5000))
	if err := c.roundTrip(three); err != nil {
		t.Fatal(err)
	}
}

func TestStream_IPv6Loopback(t *testing.T) {
	s, addr := echoStreams(t, StreamConfig{}, TCP, "[::1]:0")
	if !addr.Addr().Is6() {
		t.Fatalf("listening on %s", addr)
	}
	if err := dialClient(t, addr).roundTrip(sipMsg("v6")); err != nil {
		t.Fatal(err)
	}
	var seen *Conn
	waitFor(t, "the connection in the table", 5*time.Second, func() bool {
		s.table.each(func(c *Conn) { seen = c })
		return seen != nil
	})
	if !seen.RemoteAddr().Addr().Is6() || seen.Proto() != TCP {
		t.Fatalf("conn %v", seen)
	}
}

func TestStreamKeepalive_PingPong(t *testing.T) {
	s, addr := echoStreams(t, StreamConfig{}, TCP, "127.0.0.1:0")
	c := dialClient(t, addr)
	c.nc.SetDeadline(time.Now().Add(2 * time.Second))
	// A lone CRLF gets nothing back; a double CRLF gets one CRLF.
	io.WriteString(c.nc, "\r\n")
	time.Sleep(20 * time.Millisecond)
	io.WriteString(c.nc, "\r\n\r\n")
	pong := make([]byte, 2)
	if _, err := io.ReadFull(c.br, pong); err != nil || string(pong) != "\r\n" {
		t.Fatalf("pong %q, %v", pong, err)
	}
	if err := c.roundTrip(sipMsg("after ping")); err != nil {
		t.Fatal(err)
	}
	if s.Stats.Pings.Load() != 1 {
		t.Fatalf("pings %d", s.Stats.Pings.Load())
	}
}

func TestStream_MissingContentLengthCloses(t *testing.T) {
	s, addr := echoStreams(t, StreamConfig{}, TCP, "127.0.0.1:0")
	stop := keepServing(t, addr)
	bad := dialClient(t, addr)
	io.WriteString(bad.nc, "OPTIONS sip:a SIP/2.0\r\nCall-ID: x\r\n\r\n")
	if err := bad.waitClosed(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ClosedNoCL", 5*time.Second, func() bool { return s.Stats.ClosedNoCL.Load() == 1 })
	stop()
}

func TestStream_AcceptNoCL(t *testing.T) {
	_, addr := echoStreams(t, StreamConfig{AcceptNoCL: true}, TCP, "127.0.0.1:0")
	if err := dialClient(t, addr).roundTrip("OPTIONS sip:a SIP/2.0\r\nCall-ID: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
}

// TestStreamHostile_ContentLengthLargerThanSent: the body never completes;
// MessageTimeout closes the connection.
func TestStreamHostile_ContentLengthLargerThanSent(t *testing.T) {
	s, addr := echoStreams(t, StreamConfig{MessageTimeout: 300 * time.Millisecond}, TCP, "127.0.0.1:0")
	stop := keepServing(t, addr)
	bad := dialClient(t, addr)
	start := time.Now()
	io.WriteString(bad.nc, "INVITE sip:a SIP/2.0\r\nContent-Length: 1000\r\n\r\nonly this")
	if err := bad.waitClosed(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 250*time.Millisecond || el > 2*time.Second {
		t.Fatalf("closed after %v, want ~300ms", el)
	}
	waitFor(t, "ClosedSlow", 5*time.Second, func() bool { return s.Stats.ClosedSlow.Load() == 1 })
	stop()
}

// TestStreamHostile_HeadersNeverEnd: header lines keep coming; the size
// limit closes the connection long before memory grows.
func TestStreamHostile_HeadersNeverEnd(t *testing.T) {
	s, addr := echoStreams(t, StreamConfig{}, TCP, "127.0.0.1:0")
	stop := keepServing(t, addr)
	bad := dialClient(t, addr)
	go func() {
		io.WriteString(bad.nc, "OPTIONS sip:a SIP/2.0\r\n")
		line := strings.Repeat("X-Junk: "+strings.Repeat("j", 100)+"\r\n", 100)
		for i := 0; i < 1000; i++ { // up to 10 MB
			if _, err := io.WriteString(bad.nc, line); err != nil {
				return
			}
		}
	}()
	if err := bad.waitClosed(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ClosedTooBig", 5*time.Second, func() bool { return s.Stats.ClosedTooBig.Load() == 1 })
	stop()
}

// TestStreamHostile_HeadersNeverEndSlowly: header lines come slowly, below
// the size limit; MessageTimeout closes the connection.
func TestStreamHostile_HeadersNeverEndSlowly(t *testing.T) {
	s, addr := echoStreams(t, StreamConfig{MessageTimeout: 300 * time.Millisecond}, TCP, "127.0.0.1:0")
	stop := keepServing(t, addr)
	bad := dialClient(t, addr)
	go func() {
		io.WriteString(bad.nc, "OPTIONS sip:a SIP/2.0\r\n")
		for i := 0; i < 100; i++ {
			if _, err := io.WriteString(bad.nc, "X-Junk: j\r\n"); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	if err := bad.waitClosed(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ClosedSlow", 5*time.Second, func() bool { return s.Stats.ClosedSlow.Load() == 1 })
	stop()
}

// TestStreamHostile_TenMegabyteMessage: a 10 MB message (announced and
// sent) is cut at the size limit.
func TestStreamHostile_TenMegabyteMessage(t *testing.T) {
	s, addr := echoStreams(t, StreamConfig{}, TCP, "127.0.0.1:0")
	stop := keepServing(t, addr)
	bad := dialClient(t, addr)
	go func() {
		io.WriteString(bad.nc, "MESSAGE sip:a SIP/2.0\r\nContent-Length: 10485760\r\n\r\n")
		chunk := bytes.Repeat([]byte("b"), 64<<10)
		for i := 0; i < 160; i++ {
			if _, err := bad.nc.Write(chunk); err != nil {
				return
			}
		}
	}()
	if err := bad.waitClosed(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ClosedTooBig", 5*time.Second, func() bool { return s.Stats.ClosedTooBig.Load() == 1 })
	// The same without Content-Length: 10 MB of header bytes.
	bad2 := dialClient(t, addr)
	go func() {
		chunk := bytes.Repeat([]byte("h"), 64<<10)
		for i := 0; i < 160; i++ {
			if _, err := bad2.nc.Write(chunk); err != nil {
				return
			}
		}
	}()
	if err := bad2.waitClosed(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ClosedTooBig", 5*time.Second, func() bool { return s.Stats.ClosedTooBig.Load() == 2 })
	stop()
}

// TestStreamHostile_OneByteASecond: a message dribbled a byte at a time
// (scaled: one byte per 50 ms against a 400 ms MessageTimeout).
func TestStreamHostile_OneByteASecond(t *testing.T) {
	s, addr := echoStreams(t, StreamConfig{MessageTimeout: 400 * time.Millisecond}, TCP, "127.0.0.1:0")
	stop := keepServing(t, addr)
	bad := dialClient(t, addr)
	m := sipMsg("")
	go func() {
		for i := 0; i < len(m); i++ {
			if _, err := bad.nc.Write([]byte{m[i]}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	if err := bad.waitClosed(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ClosedSlow", 5*time.Second, func() bool { return s.Stats.ClosedSlow.Load() == 1 })
	stop()
}

func TestStream_MaxLifetime(t *testing.T) {
	s, addr := echoStreams(t, StreamConfig{MaxLifetime: 300 * time.Millisecond}, TCP, "127.0.0.1:0")
	c := dialClient(t, addr)
	start := time.Now()
	for time.Since(start) < 150*time.Millisecond {
		if err := c.roundTrip(sipMsg("busy")); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.waitClosed(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ClosedLifetime", 5*time.Second, func() bool { return s.Stats.ClosedLifetime.Load() == 1 })
}

// TestStream_IdleCountsWrites: a connection kemi keeps writing to is not
// idle even if the peer sends nothing.
func TestStream_IdleCountsWrites(t *testing.T) {
	s, addr := echoStreams(t, StreamConfig{IdleTimeout: 500 * time.Millisecond}, TCP, "127.0.0.1:0")
	c := dialClient(t, addr)
	if err := c.roundTrip(sipMsg("x")); err != nil {
		t.Fatal(err)
	}
	conn := s.ConnTo(TCP, netip.MustParseAddrPort(c.nc.LocalAddr().String()))
	if conn == nil {
		t.Fatal("connection not found by address")
	}
	for i := 0; i < 10; i++ {
		time.Sleep(80 * time.Millisecond)
		if err := conn.Write([]byte("\r\n")); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if conn.Closed() {
		t.Fatal("closed as idle while written to")
	}
	waitFor(t, "ClosedIdle", 2*time.Second, func() bool { return s.Stats.ClosedIdle.Load() == 1 })
}

// TestStreamSend_ReuseNoConnectCloseAfter: replies go back on the request's
// connection; sends to an address reuse its open connection; NoConnect
// does not open one; CloseAfter closes it; a new connection is opened when
// none exists.
func TestStreamSend_ReuseNoConnectCloseAfter(t *testing.T) {
	// A peer server: records every message with the connection it came on.
	type got struct {
		msg  string
		conn uint64
	}
	peerMsgs := make(chan got, 16)
	peer, err := NewStreams(StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	pl, _ := peer.Listen(TCP, "127.0.0.1:0")
	go peer.Serve(func(int) StreamHandler {
		return StreamHandlerFunc(func(d []byte, c *Conn) { peerMsgs <- got{string(d), c.ID()} })
	})
	defer peer.Close()

	s, err := NewStreams(StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ours := make(chan got, 16)
	go s.Serve(func(int) StreamHandler {
		return StreamHandlerFunc(func(d []byte, c *Conn) { ours <- got{string(d), c.ID()} })
	})
	defer s.Close()
	to := pl.LocalAddr()

	if _, err := s.Send(TCP, to, []byte(sipMsg("1")), SendOptions{NoConnect: true}); !errors.Is(err, ErrNoConnection) {
		t.Fatalf("NoConnect with no connection: %v", err)
	}
	c1, err := s.Send(TCP, to, []byte(sipMsg("1")), SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := s.Send(TCP, to, []byte(sipMsg("2")), SendOptions{NoConnect: true})
	if err != nil || c2 != c1 {
		t.Fatalf("second send: %v, same connection %v", err, c2 == c1)
	}
	a, b := <-peerMsgs, <-peerMsgs
	if a.conn != b.conn {
		t.Fatal("peer saw two connections")
	}
	if s.Stats.Opened.Load() != 1 {
		t.Fatalf("opened %d", s.Stats.Opened.Load())
	}
	// By id, then close after.
	c3, err := s.Send(TCP, netip.MustParseAddrPort("127.0.0.1:9"), []byte(sipMsg("3")), SendOptions{ConnID: c1.ID(), CloseAfter: true})
	if err != nil || c3 != c1 {
		t.Fatalf("send by id: %v", err)
	}
	<-peerMsgs
	waitFor(t, "the connection to leave the table", 5*time.Second, func() bool { return s.Conn(c1.ID()) == nil })
	if s.ConnTo(TCP, to) != nil {
		t.Fatal("closed connection still found by address")
	}
	// The id is gone: fall back to a new connection unless NoConnect.
	if _, err := s.Send(TCP, to, []byte(sipMsg("4")), SendOptions{ConnID: c1.ID(), NoConnect: true}); !errors.Is(err, ErrNoConnection) {
		t.Fatalf("reply with NoConnect on a closed connection: %v", err)
	}
	c4, err := s.Send(TCP, to, []byte(sipMsg("4")), SendOptions{ConnID: c1.ID()})
	if err != nil || c4 == c1 {
		t.Fatalf("reconnect: %v", err)
	}
	// Alias: the connection also answers for another address.
	alias := netip.MustParseAddrPort("127.0.0.1:5099")
	s.AddAlias(c4, alias)
	if s.ConnTo(TCP, alias) != c4 {
		t.Fatal("alias not found")
	}
	// A reply from the peer goes back on the connection the request came
	// on, whatever address it is sent to.
	d := <-peerMsgs
	if _, err := peer.Send(TCP, netip.MustParseAddrPort("127.0.0.1:9"), []byte(sipMsg("reply")), SendOptions{ConnID: d.conn, NoConnect: true}); err != nil {
		t.Fatalf("reply on the request's connection: %v", err)
	}
	select {
	case r := <-ours:
		if r.conn != c4.ID() || !strings.HasSuffix(r.msg, "reply") {
			t.Fatalf("reply on connection %d (%q), want %d", r.conn, r.msg, c4.ID())
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no reply")
	}
}

func TestStreamSend_ConnectRefused(t *testing.T) {
	s, err := NewStreams(StreamConfig{ConnectTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	to := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	if _, err := s.Send(TCP, to, []byte(sipMsg("")), SendOptions{}); err == nil {
		t.Fatal("send to a closed port succeeded")
	}
	if s.Stats.ConnectFail.Load() != 1 || s.Stats.OpenTCP.Load() != 0 {
		t.Fatalf("connect failures %d, open %d", s.Stats.ConnectFail.Load(), s.Stats.OpenTCP.Load())
	}
}

// TestStreamSend_SlowReader: a peer that never reads never holds up the
// writer (each Write returns at once); its queue fills and it loses its
// connection. With less queued, SendTimeout closes it.
func TestStreamSend_SlowReader(t *testing.T) {
	s, addr := echoStreams(t, StreamConfig{SendTimeout: 300 * time.Millisecond, WriteQueue: 256 << 10}, TCP, "127.0.0.1:0")
	stopped := func(c *client) *Conn {
		if err := c.roundTrip(sipMsg("x")); err != nil {
			t.Fatal(err)
		}
		conn := s.ConnTo(TCP, netip.MustParseAddrPort(c.nc.LocalAddr().String()))
		if conn == nil {
			t.Fatal("connection not found")
		}
		return conn
	}
	conn := stopped(dialClient(t, addr))
	big := bytes.Repeat([]byte("z"), 60000)
	var werr error
	var slowest time.Duration
	for i := 0; i < 5000 && werr == nil; i++ {
		start := time.Now()
		werr = conn.Write(big)
		slowest = max(slowest, time.Since(start))
	}
	if werr == nil {
		t.Fatal("300 MB written to a peer that does not read")
	}
	if slowest > 100*time.Millisecond {
		t.Fatalf("a write waited %v for the peer", slowest)
	}
	waitFor(t, "ClosedQueueFull", 5*time.Second, func() bool { return s.Stats.ClosedQueueFull.Load() == 1 })

	// Fill the kernel's buffers and queue a little: the queue waits for
	// the peer, which does not read, until SendTimeout.
	conn = stopped(dialClient(t, addr))
	for i := 0; i < 5000 && conn.sk.queued() == 0; i++ {
		if err := conn.Write(big); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	waitFor(t, "ClosedSendTimeout", 3*time.Second, func() bool { return s.Stats.ClosedSendTimeout.Load() == 1 })
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("closed after %v, before SendTimeout", el)
	}
	if err := conn.Write(big); err == nil {
		t.Fatal("write on a connection closed by SendTimeout")
	}
}

func BenchmarkStreamSend(b *testing.B) {
	// A peer that reads and discards.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c)
		}
	}()
	// The writer outruns the reader; a large queue lets it.
	s, err := NewStreams(StreamConfig{WriteQueue: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	to := ln.Addr().(*net.TCPAddr).AddrPort()
	msg := []byte(sipMsg(strings.Repeat("s", 300)))
	c, err := s.Send(TCP, to, msg, SendOptions{})
	if err != nil {
		b.Fatal(err)
	}
	o := SendOptions{ConnID: c.ID()}
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := s.Send(TCP, to, msg, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamEcho: one client, one message in flight, through the
// whole read path (wait, read, frame, lend a handler, write the reply).
func BenchmarkStreamEcho(b *testing.B) {
	_, addr := echoStreams(b, StreamConfig{}, TCP, "127.0.0.1:0")
	c := dialClient(b, addr)
	msg := []byte(sipMsg(strings.Repeat("s", 300)))
	got := make([]byte, len(msg))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		c.nc.Write(msg)
		if _, err := io.ReadFull(c.br, got); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// TestStreamHostile_SilentConnections: a connection that never sends
// anything is closed after FirstDataTimeout, well before IdleTimeout; one
// that spoke keeps the idle timeout.
func TestStreamHostile_SilentConnections(t *testing.T) {
	s, addr := echoStreams(t, StreamConfig{FirstDataTimeout: 200 * time.Millisecond, IdleTimeout: 10 * time.Second}, TCP, "127.0.0.1:0")
	talker := dialClient(t, addr)
	if err := talker.roundTrip(sipMsg("hi")); err != nil {
		t.Fatal(err)
	}
	silent := dialClient(t, addr)
	start := time.Now()
	if err := silent.waitClosed(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("silent connection closed after %v", el)
	}
	waitFor(t, "ClosedSilent", 5*time.Second, func() bool { return s.Stats.ClosedSilent.Load() == 1 })
	if err := talker.roundTrip(sipMsg("still")); err != nil {
		t.Fatalf("a connection that spoke was closed: %v", err)
	}
}

func TestStreamConfig_SetParam(t *testing.T) {
	var c StreamConfig
	for _, p := range [][2]string{
		{"tcp_connection_lifetime", "3605"}, {"tcp_max_connections", "4096"}, {"tls_max_connections", "100"},
		{"tcp_connect_timeout", "5"}, {"tcp_send_timeout", "3"}, {"tcp_accept_no_cl", "yes"},
		{"tcp_crlf_ping", "no"}, {"tcp_msg_read_timeout", "0"}, {"tcp_max_message_size", "131072"},
	} {
		if ok, err := c.SetParam(p[0], p[1]); !ok || err != nil {
			t.Fatalf("%s=%s: %v %v", p[0], p[1], ok, err)
		}
	}
	c, _ = c.withDefaults()
	if c.IdleTimeout != 3605*time.Second || c.MaxTCP != 4096 || c.MaxTLS != 100 || c.ConnectTimeout != 5*time.Second ||
		c.SendTimeout != 3*time.Second || !c.AcceptNoCL || !c.NoCRLFPong || c.MessageTimeout != 0 || c.MaxMessage != 131072 {
		t.Fatalf("%+v", c)
	}
	if ok, _ := c.SetParam("udp_mtu", "1300"); ok {
		t.Fatal("unknown name taken")
	}
	if _, err := c.SetParam("tcp_send_timeout", "soon"); err == nil || !strings.Contains(err.Error(), `tcp_send_timeout: expected a number of seconds >= 0, got "soon"`) {
		t.Fatalf("error %v", err)
	}
}
