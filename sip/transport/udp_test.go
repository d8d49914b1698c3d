package transport

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echo writes every datagram back to its sender and remembers the last peer.
type echo struct{ from atomic.Value }

func (e *echo) HandlePacket(data []byte, from netip.AddrPort, out Writer) {
	e.from.Store(from)
	out.WriteTo(data, from)
}

// serve starts u.Serve. The returned stop (also run when the test ends)
// closes u and waits for Serve, failing the test if it returned an error;
// after stop the counters are final.
func serve(t testing.TB, u *UDP, newHandler func(int) Handler) (stop func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- u.Serve(newHandler) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			u.Close()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func listen(t testing.TB, cfg UDPConfig) *UDP {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	u, err := ListenUDP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

// dial connects a client socket to u. The read deadline only keeps a lost
// datagram from hanging the test; nothing is asserted about time.
func dial(t testing.TB, u *UDP) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(u.LocalAddr()))
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadBuffer(4 << 20)
	c.SetReadDeadline(time.Now().Add(time.Minute))
	t.Cleanup(func() { c.Close() })
	return c
}

func recv(t testing.TB, c *net.UDPConn, buf []byte) []byte {
	t.Helper()
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("client read: %v", err)
	}
	return buf[:n]
}

func TestEchoRoundTrip(t *testing.T) {
	for _, batch := range []int{1, 16} {
		t.Run(fmt.Sprint("batch", batch), func(t *testing.T) {
			u := listen(t, UDPConfig{Readers: 1, Batch: batch})
			if got := u.LocalAddr(); !got.Addr().Is4() || got.Addr() != netip.MustParseAddr("127.0.0.1") || got.Port() == 0 {
				t.Fatalf("LocalAddr() = %v, want 127.0.0.1 with a port", got)
			}
			e := &echo{}
			stop := serve(t, u, func(int) Handler { return e })
			c := dial(t, u)
			buf := make([]byte, 100)
			for _, msg := range []string{"OPTIONS sip:a SIP/2.0\r\n\r\n", "", "x"} {
				c.Write([]byte(msg))
				if got := recv(t, c, buf); string(got) != msg {
					t.Fatalf("echo of %q = %q", msg, got)
				}
			}
			want := c.LocalAddr().(*net.UDPAddr).AddrPort()
			if got := e.from.Load().(netip.AddrPort); got != want {
				t.Errorf("handler saw from = %v, want %v", got, want)
			}
			stop()
			st := u.Stats()
			if st.Received != 3 || st.Sent != 3 || st.SendErrors != 0 || st.Oversize != 0 || st.Batches == 0 {
				t.Errorf("Stats() = %+v, want 3 received, 3 sent", st)
			}
		})
	}
}

// multi answers each datagram with n replies "<data>/0" ... "<data>/n-1",
// of size bytes each when size > 0.
type multi struct {
	n, size int
	buf     []byte
}

func (m *multi) HandlePacket(data []byte, from netip.AddrPort, out Writer) {
	for i := range m.n {
		m.buf = fmt.Appendf(m.buf[:0], "%s/%d", data, i)
		for len(m.buf) < m.size {
			m.buf = append(m.buf, '.')
		}
		if err := out.WriteTo(m.buf, from); err != nil {
			panic(err)
		}
	}
}

// TestBatchFlushOrder sends a burst so that batches hold several datagrams,
// with handlers that overflow the send queue (more replies than slots) or
// its arena (large replies). Every reply must arrive, in the order written.
func TestBatchFlushOrder(t *testing.T) {
	cases := []struct {
		name           string
		batch, n, size int
	}{
		{"one-reply", 4, 1, 0},
		{"slots-overflow", 4, 5, 0},
		{"arena-overflow", 8, 2, 60000},
		{"no-batching", 1, 3, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := listen(t, UDPConfig{Readers: 1, Batch: tc.batch})
			stop := serve(t, u, func(int) Handler { return &multi{n: tc.n, size: tc.size} })
			c := dial(t, u)
			const burst = 40
			for i := range burst {
				c.Write(fmt.Appendf(nil, "m%02d", i))
			}
			buf := make([]byte, MaxDatagram)
			for i := range burst {
				for j := range tc.n {
					got := recv(t, c, buf)
					want := fmt.Sprintf("m%02d/%d", i, j)
					if !bytes.HasPrefix(got, []byte(want)) || (tc.size > 0 && len(got) != tc.size) {
						t.Fatalf("reply %d of request %d: got %q (%d bytes), want %q", j, i, got[:min(len(got), 12)], len(got), want)
					}
				}
			}
			stop()
			if st := u.Stats(); st.Sent != burst*uint64(tc.n) || st.Received != burst {
				t.Errorf("Stats() = %+v, want %d received, %d sent", st, burst, burst*tc.n)
			}
		})
	}
}

func TestCloseUnblocksServe(t *testing.T) {
	for _, readers := range []int{1, 3} {
		u, err := ListenUDP(UDPConfig{Addr: "127.0.0.1:0", Readers: readers})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() { done <- u.Serve(func(int) Handler { return &echo{} }) }()
		// Make sure the readers are up and blocked in a receive before
		// closing: one round trip through the listener.
		c := dial(t, u)
		c.Write([]byte("ping"))
		recv(t, c, make([]byte, 10))
		if err := u.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve after Close returned %v, want nil", err)
		}
		if err := u.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if err := u.WriteTo([]byte("x"), c.LocalAddr().(*net.UDPAddr).AddrPort()); !errors.Is(err, ErrClosed) {
			t.Errorf("WriteTo after Close = %v, want ErrClosed", err)
		}
	}
}

func TestServeAfterClose(t *testing.T) {
	u, err := ListenUDP(UDPConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
	if err := u.Serve(func(int) Handler { t.Error("newHandler called after Close"); return nil }); err != nil {
		t.Errorf("Serve after Close = %v, want nil", err)
	}
}

// owned fails the test when two goroutines use it at once.
type owned struct {
	t      testing.TB
	busy   atomic.Bool
	reader int
	seen   *[8]atomic.Uint64
}

func (o *owned) HandlePacket(data []byte, from netip.AddrPort, out Writer) {
	if !o.busy.CompareAndSwap(false, true) {
		o.t.Error("handler used by two goroutines at once")
	}
	o.seen[o.reader].Add(1)
	out.WriteTo(data, from)
	o.busy.Store(false)
}

func TestConcurrentReaders(t *testing.T) {
	const readers, clients, each = 4, 8, 300
	u := listen(t, UDPConfig{Readers: readers, Batch: 8})
	var seen [8]atomic.Uint64
	made := make([]bool, readers)
	stop := serve(t, u, func(i int) Handler {
		made[i] = true
		return &owned{t: t, reader: i, seen: &seen}
	})
	var wg sync.WaitGroup
	for k := range clients {
		c := dial(t, u)
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 100)
			for i := range each {
				msg := fmt.Sprintf("c%d-%d", k, i)
				c.Write([]byte(msg))
				n, err := c.Read(buf)
				if err != nil || string(buf[:n]) != msg {
					t.Errorf("client %d: echo of %q = %q, %v", k, msg, buf[:n], err)
					return
				}
			}
		}()
	}
	wg.Wait()
	stop()
	var total uint64
	for i := range readers {
		if !made[i] {
			t.Errorf("no handler made for reader %d", i)
		}
		total += seen[i].Load()
	}
	if total != clients*each || u.Stats().Received != total {
		t.Errorf("handled %d, Stats %+v; want %d", total, u.Stats(), clients*each)
	}
}

func TestZeroAllocPerDatagram(t *testing.T) {
	u := listen(t, UDPConfig{Readers: 1, Batch: 16})
	serve(t, u, func(int) Handler {
		return HandlerFunc(func(data []byte, from netip.AddrPort, out Writer) { out.WriteTo(data, from) })
	})
	c := dial(t, u)
	msg := []byte("OPTIONS sip:x SIP/2.0\r\n\r\n")
	buf := make([]byte, 100)
	roundTrip := func() {
		c.Write(msg)
		c.Read(buf)
	}
	roundTrip()
	if a := testing.AllocsPerRun(2000, roundTrip); a > 0.05 {
		t.Errorf("a round trip through the listener allocates %.2f times", a)
	}
	to := c.LocalAddr().(*net.UDPAddr).AddrPort()
	direct := func() {
		u.WriteTo(msg, to)
		c.Read(buf)
	}
	if a := testing.AllocsPerRun(2000, direct); a > 0.05 {
		t.Errorf("UDP.WriteTo allocates %.2f times per datagram", a)
	}
}

func TestOversizeDropped(t *testing.T) {
	u := listen(t, UDPConfig{Readers: 1})
	u.maxData = 100
	got := make(chan int, 10)
	stop := serve(t, u, func(int) Handler {
		return HandlerFunc(func(data []byte, from netip.AddrPort, out Writer) {
			got <- len(data)
			out.WriteTo(data, from)
		})
	})
	c := dial(t, u)
	c.Write(make([]byte, 101))
	c.Write(make([]byte, 100))
	recv(t, c, make([]byte, 200))
	if n := <-got; n != 100 {
		t.Errorf("handler got a %d-byte datagram, want only the 100-byte one", n)
	}
	stop()
	if st := u.Stats(); st.Oversize != 1 || st.Received != 1 {
		t.Errorf("Stats() = %+v, want Oversize 1, Received 1", st)
	}
}

func TestWriteToErrors(t *testing.T) {
	u := listen(t, UDPConfig{})
	ok := netip.MustParseAddrPort("127.0.0.1:9")
	cases := []struct {
		b    []byte
		to   netip.AddrPort
		want string
	}{
		{make([]byte, MaxDatagram+1), ok, "datagram of 65536 bytes"},
		{nil, netip.AddrPort{}, "invalid destination"},
		{nil, netip.MustParseAddrPort("127.0.0.1:0"), "invalid destination"},
		{nil, netip.MustParseAddrPort("[2001:db8::1]:5060"), "IPv4-only"},
	}
	for _, tc := range cases {
		err := u.WriteTo(tc.b, tc.to)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("WriteTo(%d bytes, %v) = %v, want an error with %q", len(tc.b), tc.to, err, tc.want)
		}
	}
}

func TestListenErrors(t *testing.T) {
	cases := []struct {
		cfg  UDPConfig
		want string
	}{
		{UDPConfig{Addr: "127.0.0.1:0", Readers: -1}, "Readers must be >= 1, got -1"},
		{UDPConfig{Addr: "127.0.0.1:0", Batch: MaxBatch + 1}, "Batch must be 1..1024, got 1025"},
		{UDPConfig{Addr: "127.0.0.1:0", RecvBuffer: -1}, "buffer sizes must be >= 0"},
		{UDPConfig{Addr: "127.0.0.1:x"}, "UDP listen 127.0.0.1:x: "},
	}
	for _, tc := range cases {
		_, err := ListenUDP(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ListenUDP(%+v) = %v, want an error with %q", tc.cfg, err, tc.want)
		}
	}
	u := listen(t, UDPConfig{})
	if _, err := ListenUDP(UDPConfig{Addr: u.LocalAddr().String()}); err == nil {
		t.Errorf("second ListenUDP on %v succeeded, want address in use", u.LocalAddr())
	}
}

func TestNetwork(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:5060": "udp4",
		"0.0.0.0:5060":   "udp4",
		"[::]:5060":      "udp",
		"[::1]:5060":     "udp",
		":5060":          "udp",
		"localhost:5060": "udp",
	} {
		if got := network(addr); got != want {
			t.Errorf("network(%q) = %q, want %q", addr, got, want)
		}
	}
}

func TestServeTwice(t *testing.T) {
	u := listen(t, UDPConfig{Readers: 1})
	serve(t, u, func(int) Handler { return &echo{} })
	// The first Serve may not have started yet; a round trip proves it has.
	c := dial(t, u)
	c.Write([]byte("x"))
	recv(t, c, make([]byte, 10))
	if err := u.Serve(func(int) Handler { return &echo{} }); err == nil || !strings.Contains(err.Error(), "Serve called twice") {
		t.Errorf("second Serve = %v, want an error", err)
	}
}

// TestDirectWriteConcurrent sends with UDP.WriteTo from several goroutines
// at once (as timers do) and expects every datagram.
func TestDirectWriteConcurrent(t *testing.T) {
	const senders, each = 4, 100
	u := listen(t, UDPConfig{})
	c := dial(t, u)
	to := c.LocalAddr().(*net.UDPAddr).AddrPort()
	var wg sync.WaitGroup
	for k := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := u.WriteTo(fmt.Appendf(nil, "%d-%d", k, i), to); err != nil {
					t.Errorf("WriteTo: %v", err)
					return
				}
			}
		}()
	}
	got := map[string]bool{}
	buf := make([]byte, 100)
	for range senders * each {
		got[string(recv(t, c, buf))] = true
	}
	wg.Wait()
	if len(got) != senders*each || u.Stats().Sent != senders*each {
		t.Errorf("got %d distinct datagrams, Stats %+v; want %d", len(got), u.Stats(), senders*each)
	}
}

// holdAfterFlush writes "early", flushes, waits until the test has read
// it, then writes "late", which leaves when the batch ends.
type holdAfterFlush struct {
	seen     chan struct{}
	timedOut atomic.Bool
}

func (h *holdAfterFlush) HandlePacket(data []byte, from netip.AddrPort, out Writer) {
	out.WriteTo([]byte("early"), from)
	f, ok := out.(Flusher)
	if !ok {
		panic("the batch writer is not a Flusher")
	}
	f.Flush()
	select {
	case <-h.seen:
	case <-time.After(30 * time.Second): // only keeps a broken Flush from hanging the test
		h.timedOut.Store(true)
	}
	out.WriteTo([]byte("late"), from)
}

// TestFlushSendsBeforeBatchEnds: a handler's Flush sends what it queued
// while it is still handling its datagram (tm relies on it to keep a
// provisional reply ahead of a final one another reader relays).
func TestFlushSendsBeforeBatchEnds(t *testing.T) {
	u := listen(t, UDPConfig{Readers: 1, Batch: 16})
	h := &holdAfterFlush{seen: make(chan struct{})}
	stop := serve(t, u, func(int) Handler { return h })
	c := dial(t, u)
	c.Write([]byte("go"))
	buf := make([]byte, 100)
	if got := recv(t, c, buf); string(got) != "early" {
		t.Fatalf("first datagram %q, want early", got)
	}
	close(h.seen)
	if got := recv(t, c, buf); string(got) != "late" {
		t.Fatalf("second datagram %q, want late", got)
	}
	if h.timedOut.Load() {
		t.Errorf("the flushed datagram did not arrive while the handler held its batch")
	}
	stop()
	if st := u.Stats(); st.Sent != 2 || st.SendErrors != 0 {
		t.Errorf("Stats() = %+v, want 2 sent", st)
	}
}
