package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Streams owns every TCP and TLS listener, every stream connection
// (accepted or opened), their table, the handlers messages go to, and
// their limits and counters. A server has one Streams.
type Streams struct {
	cfg StreamConfig
	// Stats are the counters; read them at any time.
	Stats StreamStats

	pool chan StreamHandler // the handlers not in use
	free chan []byte        // read buffers not in use

	mu        sync.Mutex
	listeners []*StreamListener
	serving   bool
	done      chan struct{}
	closed    atomic.Bool

	accepting sync.WaitGroup // accept goroutines and poll loops
	conns     sync.WaitGroup
	loops     []*pollLoop
	pollLns   atomic.Pointer[[]*StreamListener] // the listeners the loops accept on
	table     connTable
	nextID    atomic.Uint64
}

// StreamListener is one TCP or TLS listening socket.
type StreamListener struct {
	s     *Streams
	proto StreamProto
	ln    *net.TCPListener // nil once taken by the poll loops
	local netip.AddrPort
	// fd is the socket the poll loops accept on (-1: ln's goroutine
	// accepts); wildcard: bound to every address, so each accepted
	// connection's own local address is asked for.
	fd       int
	wildcard bool
}

// LocalAddr is the bound address, with the port the kernel picked for 0.
func (l *StreamListener) LocalAddr() netip.AddrPort { return l.local }

// Proto is TCP or TLS.
func (l *StreamListener) Proto() StreamProto { return l.proto }

// freeBufs bounds the shared pool of idle read buffers (4 KiB each).
const freeBufs = 1024

// NewStreams checks cfg and returns a Streams with no listener.
func NewStreams(cfg StreamConfig) (*Streams, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Streams{
		cfg:  cfg,
		pool: make(chan StreamHandler, cfg.Workers),
		free: make(chan []byte, freeBufs),
		done: make(chan struct{}),
	}
	s.table.init()
	return s, nil
}

// Config returns the configuration in use, defaults filled in.
func (s *Streams) Config() StreamConfig { return s.cfg }

// Listen opens a TCP or TLS listening socket on addr ("127.0.0.1:5060",
// "[::1]:5061", ":5060" for every address). It accepts once Serve runs
// (at once if it already does).
func (s *Streams) Listen(proto StreamProto, addr string) (*StreamListener, error) {
	if proto != TCP && proto != TLS {
		return nil, fmt.Errorf("transport: listen %s: unknown stream transport %s", addr, proto)
	}
	if proto == TLS && s.cfg.TLS == nil {
		return nil, fmt.Errorf("transport: listen tls:%s: no TLS configuration (StreamConfig.TLS)", addr)
	}
	nw := "tcp"
	if host, _, err := net.SplitHostPort(addr); err == nil {
		if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
			nw = "tcp4"
		}
	}
	// No TCP keepalive probes (four setsockopt calls per accepted
	// connection in Go's default): idle connections end by
	// tcp_connection_lifetime, long before the kernel's probes would
	// start, as with Kamailio's default keepalive settings.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), nw, addr)
	if err != nil {
		return nil, fmt.Errorf("transport: listen %s:%s: %w", proto, addr, err)
	}
	la := ln.Addr().(*net.TCPAddr).AddrPort()
	l := &StreamListener{s: s, proto: proto, ln: ln.(*net.TCPListener),
		local: netip.AddrPortFrom(la.Addr().Unmap(), la.Port()), fd: -1}
	if usePollLoops && proto == TCP {
		if err := l.takeListener(l.ln); err != nil {
			ln.Close()
			return nil, fmt.Errorf("transport: listen %s:%s: %w", proto, addr, err)
		}
		l.ln = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		l.close()
		return nil, ErrStreamsClosed
	}
	s.listeners = append(s.listeners, l)
	if l.fd >= 0 {
		lns := []*StreamListener{l}
		if old := s.pollLns.Load(); old != nil {
			lns = append(lns, *old...)
		}
		s.pollLns.Store(&lns)
	}
	if s.serving {
		if err := s.startAccept(l); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Serve makes cfg.Workers handlers with newHandler, starts accepting on
// every listener, and blocks until Close. Messages on connections opened
// before Serve wait for it.
func (s *Streams) Serve(newHandler func(worker int) StreamHandler) error {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return nil
	}
	if s.serving {
		s.mu.Unlock()
		return errors.New("transport: streams: Serve called twice")
	}
	s.serving = true
	for i := 0; i < s.cfg.Workers; i++ {
		s.pool <- newHandler(i)
	}
	var err error
	if usePollLoops {
		err = s.startLoops()
	}
	for _, l := range s.listeners {
		if err == nil {
			err = s.startAccept(l)
		}
	}
	s.mu.Unlock()
	if err != nil {
		s.Close()
		return err
	}
	<-s.done
	return nil
}

// startAccept starts accepting on l: in every poll loop, or on a
// goroutine of its own. s.mu is held.
func (s *Streams) startAccept(l *StreamListener) error {
	if l.fd >= 0 {
		for _, p := range s.loops {
			if err := p.addListener(l); err != nil {
				return err
			}
		}
		return nil
	}
	s.accepting.Add(1)
	go func() {
		defer s.accepting.Done()
		l.accept()
	}()
	return nil
}

// close closes the listening socket.
func (l *StreamListener) close() {
	if l.ln != nil {
		l.ln.Close()
	} else {
		l.closeListenerFd()
	}
}

// Close stops accepting, closes every connection and waits for their
// goroutines. Later calls do nothing.
func (s *Streams) Close() error {
	s.mu.Lock()
	if s.closed.Swap(true) {
		s.mu.Unlock()
		return nil
	}
	for _, l := range s.listeners {
		if l.ln != nil {
			l.ln.Close()
		}
	}
	for _, p := range s.loops {
		p.stop()
	}
	close(s.done)
	s.mu.Unlock()
	s.accepting.Wait()
	// The loops have ended (and closed their connections): no one
	// accepts on their listeners any more.
	for _, l := range s.listeners {
		if l.ln == nil {
			l.closeListenerFd()
		}
	}
	s.table.each(func(c *Conn) { c.closeWith(reasonLocal) })
	s.conns.Wait()
	return nil
}

func (l *StreamListener) accept() {
	s := l.s
	var backoff time.Duration
	for {
		tc, err := l.ln.AcceptTCP()
		if err != nil {
			if s.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors or memory: wait instead of spinning.
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff < time.Second {
				backoff *= 2
			}
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !s.reserve(l.proto) {
			s.Stats.RefusedMax.Add(1)
			tc.SetLinger(0)
			tc.Close()
			continue
		}
		s.Stats.Accepted.Add(1)
		sk := newSock(tc, &s.cfg)
		var nc net.Conn = sk
		if l.proto == TLS {
			cfg, err := s.cfg.TLS.ServerConfig(l.local)
			if err != nil || cfg == nil {
				s.release(l.proto)
				s.Stats.ClosedHandshake.Add(1)
				tc.Close()
				continue
			}
			nc = tls.Server(sk, cfg)
		}
		c := s.newConn(l.proto, sk, nc, false)
		s.start(c)
	}
}

// reserve counts a new connection against its limit.
func (s *Streams) reserve(p StreamProto) bool {
	n, max := &s.Stats.OpenTCP, s.cfg.MaxTCP
	if p == TLS {
		n, max = &s.Stats.OpenTLS, s.cfg.MaxTLS
	}
	if n.Add(1) > int64(max) {
		n.Add(-1)
		return false
	}
	s.Stats.Open.Add(1)
	return true
}

func (s *Streams) release(p StreamProto) {
	if p == TLS {
		s.Stats.OpenTLS.Add(-1)
	} else {
		s.Stats.OpenTCP.Add(-1)
	}
	s.Stats.Open.Add(-1)
}

func (s *Streams) newConn(p StreamProto, sk *sock, nc net.Conn, outgoing bool) *Conn {
	tc := sk.TCPConn
	la := tc.LocalAddr().(*net.TCPAddr).AddrPort()
	ra := tc.RemoteAddr().(*net.TCPAddr).AddrPort()
	c := s.makeConn(p, sk, nc, outgoing, unmap(la), unmap(ra), time.Now().UnixNano())
	c.tcp = tc
	if sk.rc != nil && p == TCP {
		c.rc = sk.rc
		c.peekFn = c.peek
	}
	return c
}

// makeConn makes the Conn over sk and counts it open; the caller puts it
// in the table and serves it.
func (s *Streams) makeConn(p StreamProto, sk *sock, nc net.Conn, outgoing bool, local, remote netip.AddrPort, now int64) *Conn {
	c := &Conn{s: s, id: s.nextID.Add(1), proto: p, outgoing: outgoing, sk: sk, nc: nc, opened: now,
		local: local, remote: remote}
	sk.setFail(c.closeWith)
	c.lastIO.Store(now)
	c.fr = StreamFramer{Max: s.cfg.MaxMessage, AcceptNoCL: s.cfg.AcceptNoCL}
	s.conns.Add(1)
	return c
}

// start puts c in the table and runs its goroutine. A connection that
// comes in while Close runs is closed at once.
func (s *Streams) start(c *Conn) {
	s.table.add(c)
	if s.closed.Load() {
		c.closeWith(reasonLocal)
	}
	go c.serve()
}

func (s *Streams) getBuf() []byte {
	select {
	case b := <-s.free:
		return b
	default:
		return make([]byte, streamReadBuf)
	}
}

// putBuf keeps a buffer of the initial size for reuse; a grown one is left
// to the garbage collector, so a large message's buffer is not kept.
func (s *Streams) putBuf(b []byte) {
	if cap(b) != streamReadBuf {
		return
	}
	select {
	case s.free <- b[:streamReadBuf]:
	default:
	}
}

// Conn returns the open connection with this id, or nil.
func (s *Streams) Conn(id uint64) *Conn { return s.table.byID(id) }

// ConnTo returns an open connection of proto to addr (the latest one
// opened or accepted, or one given that address by AddAlias), or nil.
func (s *Streams) ConnTo(p StreamProto, addr netip.AddrPort) *Conn {
	return s.table.byAddr(p, unmap(addr))
}

// AddAlias makes c the connection for addr too, as Kamailio's
// add_tcp_alias and the Via alias parameter do: a peer behind NAT that
// listens on addr is reached over the connection it opened. It is
// false when c is closed or already has MaxAliases aliases.
func (s *Streams) AddAlias(c *Conn, addr netip.AddrPort) bool {
	return s.table.alias(c, unmap(addr))
}

// Each calls f for every open connection (tls.list), outside the
// table's lock.
func (s *Streams) Each(f func(*Conn)) { s.table.each(f) }

// Len is the number of open connections.
func (s *Streams) Len() int { return s.table.len() }

// Send writes b to the peer at to over proto, as Kamailio does: on the
// connection o.ConnID when it is still open (the one a request came on),
// else on an open connection to to, else on a new one (unless
// o.NoConnect). It returns the connection used.
func (s *Streams) Send(p StreamProto, to netip.AddrPort, b []byte, o SendOptions) (*Conn, error) {
	if s.closed.Load() {
		return nil, ErrStreamsClosed
	}
	var c *Conn
	if o.ConnID != 0 {
		if c = s.table.byID(o.ConnID); c != nil && c.Proto() != p {
			c = nil // another transport: not the connection meant
		}
	}
	if c == nil || c.closed.Load() {
		c = s.table.byAddr(p, unmap(to))
	}
	if c == nil || c.closed.Load() {
		if o.NoConnect || p == WS || p == WSS {
			// A WebSocket client is reached only over the
			// connection it opened.
			return nil, fmt.Errorf("transport: %s send to %s: %w", p, to, ErrNoConnection)
		}
		var err error
		if c, err = s.Dial(p, to, o.ServerName); err != nil {
			return nil, err
		}
	}
	if err := c.Write(b); err != nil {
		return c, err
	}
	if o.CloseAfter {
		c.Close()
	}
	return c, nil
}

// Dial opens a connection to to (a TLS handshake included) within
// ConnectTimeout, and serves it like an accepted one: messages the peer
// sends on it go to the handlers.
func (s *Streams) Dial(p StreamProto, to netip.AddrPort, serverName string) (*Conn, error) {
	to = unmap(to)
	if !to.IsValid() || to.Port() == 0 {
		return nil, fmt.Errorf("transport: %s connect: invalid destination %s", p, to)
	}
	if p == TLS && s.cfg.TLS == nil {
		return nil, fmt.Errorf("transport: tls connect to %s: no TLS configuration", to)
	}
	if !s.reserve(p) {
		s.Stats.RefusedMax.Add(1)
		return nil, fmt.Errorf("transport: %s connect to %s: at the limit of %d connections", p, to, s.max(p))
	}
	ctx := context.Background()
	if d := s.cfg.ConnectTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	fail := func(err error) (*Conn, error) {
		s.release(p)
		s.Stats.ConnectFail.Add(1)
		return nil, fmt.Errorf("transport: %s connect to %s: %w", p, to, err)
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", to.String())
	if err != nil {
		return fail(err)
	}
	tc := raw.(*net.TCPConn)
	sk := newSock(tc, &s.cfg)
	var nc net.Conn = sk
	if p == TLS {
		cfg, err := s.cfg.TLS.ClientConfig(to, serverName)
		if err != nil {
			tc.Close()
			return fail(err)
		}
		if serverName != "" && cfg.ServerName == "" {
			cfg = cfg.Clone()
			cfg.ServerName = serverName
		}
		tl := tls.Client(sk, cfg)
		if err := tl.HandshakeContext(ctx); err != nil {
			tc.Close()
			return fail(err)
		}
		nc = tl
	}
	if s.closed.Load() {
		tc.Close()
		s.release(p)
		return nil, ErrStreamsClosed
	}
	s.Stats.Opened.Add(1)
	c := s.newConn(p, sk, nc, true)
	s.start(c)
	return c, nil
}

func (s *Streams) max(p StreamProto) int {
	if p == TLS {
		return s.cfg.MaxTLS
	}
	return s.cfg.MaxTCP
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}
