package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrConnClosed is returned by Conn.Write on a closed connection.
var ErrConnClosed = errors.New("transport: connection closed")

// Conn is one TCP or TLS connection, accepted or opened. Its ID is
// Kamailio's $conid. Write may be called from any goroutine; messages
// written concurrently are not interleaved.
//
// An idle TCP connection holds no read buffer: its goroutine waits for the
// socket to become readable through the netpoller (a 1-byte MSG_PEEK), and
// only then takes a buffer from a shared pool; the buffer goes back when
// no message is in progress. See doc.go.
type Conn struct {
	s        *Streams
	id       uint64
	proto    StreamProto
	outgoing bool
	local    netip.AddrPort
	remote   netip.AddrPort
	tcp      *net.TCPConn
	sk       *sock    // tcp, with queued writes
	nc       net.Conn // sk, or the *tls.Conn over it
	rc       syscall.RawConn
	opened   int64 // unix nanoseconds

	// pl is the poll loop serving an accepted plain-TCP connection (nil:
	// the connection has its own goroutine, serve); plSlot is its index
	// in the loop's list of open connections.
	pl     *pollLoop
	plSlot int

	lastIO atomic.Int64 // unix nanoseconds of the last read or write
	reason atomic.Int32 // closeReason, set once
	closed atomic.Bool
	isWS   atomic.Bool // upgraded to WebSocket (UpgradeWS)
	ws     *wsState    // set with isWS; Write reads it under wmu

	wmu sync.Mutex

	// The reader goroutine's own state.
	buf      []byte
	r, w     int
	fr       StreamFramer
	msgStart int64
	gotData  bool
	deadline int64
	peekFn   func(fd uintptr) bool
	idleErr  error // what peek's read got besides data
}

// ID is the connection's id ($conid), unique in the process, never 0.
func (c *Conn) ID() uint64 { return c.id }

// Proto is TCP or TLS, or WS or WSS once upgraded to WebSocket.
func (c *Conn) Proto() StreamProto {
	if c.isWS.Load() {
		if c.proto == TLS {
			return WSS
		}
		return WS
	}
	return c.proto
}

// LocalAddr is this side's address; RemoteAddr the peer's. Both are
// unmapped (an IPv4 peer of a dual-stack listener shows as IPv4).
func (c *Conn) LocalAddr() netip.AddrPort  { return c.local }
func (c *Conn) RemoteAddr() netip.AddrPort { return c.remote }

// Outgoing reports whether kemi opened the connection (else it accepted it).
func (c *Conn) Outgoing() bool { return c.outgoing }

// Opened is when the connection was accepted or opened; LastIO when it
// last read or wrote (tls.list's created and idle).
func (c *Conn) Opened() time.Time { return time.Unix(0, c.opened) }
func (c *Conn) LastIO() time.Time { return time.Unix(0, c.lastIO.Load()) }

// Closed reports whether the connection is closed or closing.
func (c *Conn) Closed() bool { return c.closed.Load() }

// TLSState is the TLS connection state (peer certificates, version,
// cipher, SNI) for $tls_* pseudo-variables; ok is false on TCP.
func (c *Conn) TLSState() (st tls.ConnectionState, ok bool) {
	if tc, isTLS := c.nc.(*tls.Conn); isTLS {
		return tc.ConnectionState(), true
	}
	return st, false
}

// Write sends b whole, or queues what the kernel does not take at once;
// it does not wait for a slow peer (see StreamConfig.WriteQueue). A
// connection whose queue overflows, or whose peer does not read within
// SendTimeout, is closed; Write then returns an error.
func (c *Conn) Write(b []byte) error {
	c.wmu.Lock()
	if c.closed.Load() {
		c.wmu.Unlock()
		return ErrConnClosed
	}
	var err error
	if c.ws != nil {
		err = c.writeFramed(messageOp(b), b)
	} else {
		_, err = c.nc.Write(b)
	}
	c.wmu.Unlock()
	if err != nil {
		r := reasonSendError
		switch {
		case errors.Is(err, errQueueFull):
			r = reasonQueueFull
		case errors.Is(err, os.ErrDeadlineExceeded):
			r = reasonSendTimeout
		}
		c.closeWith(r)
		return fmt.Errorf("transport: %s send to %s (connection %d): %w", c.proto, c.remote, c.id, err)
	}
	c.lastIO.Store(time.Now().UnixNano())
	c.s.Stats.Sent.Add(1)
	return nil
}

// Close closes the connection; its goroutine ends and it leaves the table.
func (c *Conn) Close() error {
	c.closeWith(reasonLocal)
	return nil
}

// closeWith closes the socket, recording the first reason given. The TCP
// socket itself is closed, not the TLS layer: no close_notify is written,
// so closing never waits for a peer that does not read.
func (c *Conn) closeWith(r closeReason) {
	if !c.markClosed(r) {
		return
	}
	switch {
	case c.tcp != nil:
		c.tcp.Close()
	case c.pl != nil:
		// The poll loop owns the descriptor: it sees the shutdown and
		// closes it.
		c.sk.shutdown()
	}
	// Neither: a framing test without a socket.
}

// markClosed records r (the first reason given wins) and marks the
// connection closed; it reports whether this call closed it. The socket
// is left to the caller.
func (c *Conn) markClosed(r closeReason) bool {
	c.reason.CompareAndSwap(int32(reasonNone), int32(r))
	return !c.closed.Swap(true)
}

func (c *Conn) String() string {
	return fmt.Sprintf("%s connection %d %s->%s", c.proto, c.id, c.local, c.remote)
}

// serve is the connection's goroutine: handshake, then read and frame
// until the connection ends.
func (c *Conn) serve() {
	defer c.finish()
	s := c.s
	if tc, ok := c.nc.(*tls.Conn); ok && !c.outgoing {
		if d := s.cfg.MessageTimeout; d > 0 {
			c.tcp.SetDeadline(time.Now().Add(d))
		}
		if err := tc.HandshakeContext(context.Background()); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				c.closeWith(reasonSlow)
			} else {
				c.closeWith(reasonHandshake)
			}
			return
		}
		c.tcp.SetDeadline(time.Time{})
	}
	for {
		now := time.Now().UnixNano()
		if c.r == c.w && c.buf != nil {
			c.r, c.w = 0, 0
			if !c.pending() {
				c.releaseBuf()
			}
		}
		if r := c.armDeadline(now); r == reasonPingDue {
			if !c.wsPing(now) {
				return
			}
			continue
		} else if r != reasonNone {
			c.closeWith(r)
			return
		}
		if c.buf == nil && c.rc != nil {
			// Idle: wait for data without holding a buffer; peek reads
			// it into one from the pool once it is there.
			if err := c.rc.Read(c.peekFn); err != nil {
				if c.readFailed(err) {
					return
				}
				continue
			}
			if canPeek {
				err := c.idleErr
				if err == nil && c.w == 0 {
					err = io.EOF
				}
				if c.w > 0 {
					c.gotData = true
					c.lastIO.Store(time.Now().UnixNano())
					if !c.frames() {
						return
					}
				}
				if err != nil && c.readFailed(err) {
					return
				}
				continue
			}
		}
		if !c.readRoom() {
			c.closeWith(reasonTooBig)
			return
		}
		n, err := c.nc.Read(c.buf[c.w:])
		if n > 0 {
			c.gotData = true
			c.w += n
			c.lastIO.Store(time.Now().UnixNano())
			if !c.frames() {
				return
			}
		}
		if err != nil {
			if c.readFailed(err) {
				return
			}
		}
	}
}

// frames hands every complete message in the buffer to a handler and
// answers keepalives. It returns false when the connection must close.
func (c *Conn) frames() bool {
	if c.ws != nil {
		return c.wsFrames()
	}
	s := c.s
	for c.r < c.w {
		wasPending := c.fr.Pending()
		kind, n, err := c.fr.Next(c.buf[c.r:c.w])
		if err != nil {
			if IsHTTPRequest(c.buf[c.r:c.w]) {
				c.Write(httpRefusal(err))
				c.closeWith(reasonHTTP)
				return false
			}
			c.closeWith(frameReason(err))
			return false
		}
		switch kind {
		case FrameMore:
			if !wasPending && c.fr.Pending() {
				c.msgStart = time.Now().UnixNano()
			}
			if n > len(c.buf)-c.r {
				// The headers said how long the message is: make room once.
				c.makeRoom(n)
			}
			return true
		case FramePing:
			s.Stats.Pings.Add(1)
			c.r += n
			if !s.cfg.NoCRLFPong {
				if c.Write(crlfcrlf[:2]) != nil {
					return false
				}
			}
		case FrameCRLF:
			c.r += n
		case FrameMessage:
			msg := c.buf[c.r : c.r+n]
			c.r += n
			s.Stats.Received.Add(1)
			h := <-s.pool
			h.HandleStream(msg, c)
			s.pool <- h
			if c.closed.Load() {
				return false
			}
			if c.ws != nil {
				// The handler upgraded the connection: what follows
				// is WebSocket frames.
				return c.wsFrames()
			}
		}
	}
	return true
}

// armDeadline sets the read deadline for what the connection waits for: the
// rest of a message (MessageTimeout), or the next one (IdleTimeout), never
// past MaxLifetime. The deadline is only moved when it must come earlier or
// has passed, so a busy connection does not reset a timer per message; a
// deadline that fires early is re-armed. It returns the reason to close when
// a limit has passed.
func (c *Conn) armDeadline(now int64) closeReason {
	want, why := c.due(now)
	if want != 0 && want <= now {
		return why
	}
	if want == 0 {
		if c.deadline != 0 {
			c.tcp.SetReadDeadline(time.Time{})
			c.deadline = 0
		}
		return reasonNone
	}
	if c.deadline == 0 || want < c.deadline || c.deadline <= now {
		c.tcp.SetReadDeadline(time.Unix(0, want))
		c.deadline = want
	}
	return reasonNone
}

// due is when the connection's next limit passes (0: none) and the reason
// to close it then (reasonPingDue: a WebSocket keepalive is to be sent).
func (c *Conn) due(now int64) (int64, closeReason) {
	cfg := &c.s.cfg
	var want int64
	why := reasonNone
	if cfg.MaxLifetime > 0 {
		want, why = c.opened+int64(cfg.MaxLifetime), reasonLifetime
	}
	if c.pending() {
		if cfg.MessageTimeout > 0 {
			if t := c.msgStart + int64(cfg.MessageTimeout); want == 0 || t < want {
				want, why = t, reasonSlow
			}
		}
	} else if c.ws != nil && c.ws.opt.Keepalive != 0 {
		// WebSocket keepalives replace the idle timeout.
		if t, r := c.wsKeepalive(now); want == 0 || t < want {
			want, why = t, r
		}
	} else {
		if cfg.IdleTimeout > 0 {
			if t := c.lastIO.Load() + int64(cfg.IdleTimeout); want == 0 || t < want {
				want, why = t, reasonIdle
			}
		}
		if !c.gotData && !c.outgoing && cfg.FirstDataTimeout > 0 {
			if t := c.opened + int64(cfg.FirstDataTimeout); want == 0 || t < want {
				want, why = t, reasonSilent
			}
		}
	}
	return want, why
}

// readFailed sorts out a read error: a deadline that fired is re-checked
// by the loop (it may have been early, or a write kept the connection
// alive); anything else ends the connection. It reports whether to stop.
func (c *Conn) readFailed(err error) bool {
	switch {
	case c.closed.Load():
		return true
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.deadline = 0
		return false
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, net.ErrClosed):
		c.closeWith(reasonPeer)
	default:
		c.closeWith(reasonReadError)
	}
	return true
}

// readRoom makes room to read into: a buffer from the pool when there is
// none, the pending bytes moved to its start, or a larger one. It is false
// when there is no room, which cannot happen: the framer refuses a message
// before the buffer reaches MaxMessage+1. Never read into nothing.
func (c *Conn) readRoom() bool {
	if c.buf == nil {
		c.buf = c.s.getBuf()
	}
	if c.w == len(c.buf) {
		if c.r > 0 {
			copy(c.buf, c.buf[c.r:c.w])
			c.w -= c.r
			c.r = 0
		} else {
			c.grow()
		}
	}
	return c.w < len(c.buf)
}

// grow doubles the buffer, up to MaxMessage+1 (one byte more than a
// message may have, so an oversize one is seen as such).
func (c *Conn) grow() {
	c.makeRoom(2 * len(c.buf))
}

// makeRoom makes the buffer hold at least n bytes from c.r on.
func (c *Conn) makeRoom(n int) {
	if max := c.s.cfg.MaxMessage + 1; n > max {
		n = max
	}
	if c.r > 0 {
		copy(c.buf, c.buf[c.r:c.w])
		c.w -= c.r
		c.r = 0
	}
	if n <= len(c.buf) {
		return
	}
	nb := make([]byte, n)
	copy(nb, c.buf[:c.w])
	c.s.putBuf(c.buf)
	c.buf = nb
}

func (c *Conn) releaseBuf() {
	c.s.putBuf(c.buf)
	c.buf = nil
	c.r, c.w = 0, 0
}

// finish runs when the goroutine ends: the connection leaves the table
// and the counters.
func (c *Conn) finish() {
	c.closeWith(reasonLocal)
	if c.buf != nil {
		c.releaseBuf()
	}
	s := c.s
	s.table.remove(c)
	s.release(c.proto)
	s.Stats.closed(closeReason(c.reason.Load()))
	if c.ws != nil && c.ws.opt.OnClose != nil {
		c.ws.opt.OnClose(c)
	}
	s.conns.Done()
}
