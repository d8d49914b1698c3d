package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// WebSocket (RFC 6455) for SIP (RFC 7118). A TCP or TLS connection whose
// HTTP request the script upgraded (websocket's handle_handshake calls
// Conn.UpgradeWS) carries WebSocket frames from then on: its goroutine
// unmasks the client's frames in its read buffer, joins fragments, answers
// pings and close frames, and hands each complete text or binary message to
// a handler as a SIP message over WS (WSS on TLS). What is written to the
// connection goes out as one unmasked frame per message.
//
// The frame rules (reserved bits and opcodes, masking per side, control
// frame size and fragmentation, continuation order, close codes) and the
// unmasking are github.com/gobwas/ws's, which is built to work on bytes
// read from a raw connection. Its ReadHeader and WriteHeader work through
// io.Reader and io.Writer and allocate per frame, so the 2 to 14 header
// bytes are decoded from and encoded into the connection's own buffers
// here, and a message costs no allocation.

// WSOptions are the websocket module's settings for an upgraded
// connection.
type WSOptions struct {
	// Keepalive is Kamailio's keepalive_mechanism: 0 none (the stream
	// IdleTimeout applies), 1 a ping after KeepaliveTimeout without a
	// frame from the client, and the connection closed when nothing
	// comes back within KeepaliveTimeout more, 2 an unsolicited pong
	// after KeepaliveTimeout idle.
	Keepalive int
	// KeepaliveTimeout is keepalive_timeout; 0 means 180 s.
	KeepaliveTimeout time.Duration
	// PingData is the payload of keepalive pings and pongs (at most 125
	// bytes; ping_application_data).
	PingData []byte
	// OnClose, when set, runs once an upgraded connection has ended and
	// left the table, on its goroutine (websocket's websocket:closed
	// event and its list of connections).
	OnClose func(c *Conn)
}

// WS and WSS are the transports of upgraded connections: Conn.Proto
// reports them, and Streams.Send takes them (only over an open
// connection: a WebSocket client cannot be connected to).
const (
	WS StreamProto = iota + 3
	WSS
)

// wsState is an upgraded connection's WebSocket state, owned by the
// reader goroutine (opt is read-only).
type wsState struct {
	opt    *WSOptions
	asm    int   // bytes of a fragmented message joined at buf[r:r+asm]
	frag   bool  // a fragmented message is in progress
	text   bool  // its first frame was a text frame
	lastRx int64 // unix nanoseconds of the last frame received
	pinged int64 // when the unanswered keepalive ping went, else 0
	// partial: a frame (or fragmented message) was left incomplete; its
	// first bytes came at the Conn's msgStart.
	partial bool
}

// frameBufs lend the buffer a frame is built in (header and payload
// together, so a message is one write, one TLS record): an idle
// connection keeps none, and a busy server reuses them without
// allocating.
var frameBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// maxPooledFrame: a buffer a larger message grew goes to the garbage
// collector instead of back to the pool.
const maxPooledFrame = 64 << 10

// writeFramed writes p as one unmasked frame of op on c (wmu held).
func (c *Conn) writeFramed(op ws.OpCode, p []byte) error {
	bp := frameBufs.Get().(*[]byte)
	b := appendFrame((*bp)[:0], op, p)
	_, err := c.nc.Write(b)
	if cap(b) <= maxPooledFrame {
		*bp = b[:0]
		frameBufs.Put(bp)
	}
	return err
}

// WebSocket close codes kemi sends (RFC 6455 §7.4.1).
const (
	wsCloseNormal   = 1000
	wsCloseProtocol = 1002
	wsCloseBadData  = 1007
	wsCloseTooBig   = 1009
)

// UpgradeWS writes resp, the script's 101 answer to a WebSocket
// handshake, and makes c a WebSocket connection from its next byte on.
// It must be called by the handler of c's current message (on c's own
// goroutine), as websocket's handle_handshake is.
func (c *Conn) UpgradeWS(resp []byte, o *WSOptions) error {
	if o == nil {
		o = &WSOptions{}
	}
	if c.ws != nil {
		return fmt.Errorf("transport: %s: already a WebSocket connection", c)
	}
	if err := c.Write(resp); err != nil {
		return err
	}
	st := &wsState{opt: o, lastRx: time.Now().UnixNano()}
	c.wmu.Lock()
	c.ws = st
	c.wmu.Unlock()
	c.isWS.Store(true)
	c.s.table.rekey(c, c.Proto())
	c.s.Stats.Upgraded.Add(1)
	return nil
}

// IsWS reports whether c was upgraded to WebSocket.
func (c *Conn) IsWS() bool { return c.isWS.Load() }

// CloseWS sends a close frame with code and reason (cut to fit a
// control frame) and closes c; on a connection that is not WebSocket it
// just closes it.
func (c *Conn) CloseWS(code int, reason string) {
	if c.IsWS() {
		c.writeClose(code, reason)
	}
	c.closeWith(reasonLocal)
}

// PingWS sends a ping frame (ws.ping).
func (c *Conn) PingWS(data []byte) error { return c.writeFrame(ws.OpPing, data) }

// PongWS sends an unsolicited pong frame (ws.pong).
func (c *Conn) PongWS(data []byte) error { return c.writeFrame(ws.OpPong, data) }

// LastIO is when the connection last carried something, either way.
func (c *Conn) LastIO() time.Time { return time.Unix(0, c.lastIO.Load()) }

func (c *Conn) writeClose(code int, reason string) {
	var b [ws.MaxControlFramePayloadSize]byte
	if len(reason) > len(b)-2 {
		reason = reason[:len(b)-2]
	}
	binary.BigEndian.PutUint16(b[:2], uint16(code))
	n := 2 + copy(b[2:], reason)
	c.writeFrame(ws.OpClose, b[:n])
}

// writeFrame writes one unmasked frame with payload p (under wmu).
func (c *Conn) writeFrame(op ws.OpCode, p []byte) error {
	c.wmu.Lock()
	if c.closed.Load() || c.ws == nil {
		c.wmu.Unlock()
		return ErrConnClosed
	}
	err := c.writeFramed(op, p)
	c.wmu.Unlock()
	if err != nil {
		c.closeWith(reasonSendError)
		return err
	}
	c.lastIO.Store(time.Now().UnixNano())
	return nil
}

// appendFrame appends an unmasked final frame of op carrying p.
func appendFrame(b []byte, op ws.OpCode, p []byte) []byte {
	b = append(b, 0x80|byte(op))
	switch n := len(p); {
	case n <= 125:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, p...)
}

// messageOp is the frame a SIP message goes out in: text when it is
// UTF-8 (RFC 7118 §5.1 lets either carry SIP), else binary.
func messageOp(p []byte) ws.OpCode {
	if utf8.Valid(p) {
		return ws.OpText
	}
	return ws.OpBinary
}

// errWSNeedMore: the frame header is not complete yet.
var errWSNeedMore = errors.New("need more")

// parseWSHeader decodes the frame header at the start of b and returns
// its length.
func parseWSHeader(b []byte) (h ws.Header, n int, err error) {
	if len(b) < 2 {
		return h, 0, errWSNeedMore
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = (b[0] & 0x70) >> 4
	h.OpCode = ws.OpCode(b[0] & 0x0f)
	h.Masked = b[1]&0x80 != 0
	n = 2
	switch l := b[1] & 0x7f; l {
	case 126:
		if len(b) < 4 {
			return h, 0, errWSNeedMore
		}
		h.Length = int64(binary.BigEndian.Uint16(b[2:4]))
		n = 4
	case 127:
		if len(b) < 10 {
			return h, 0, errWSNeedMore
		}
		u := binary.BigEndian.Uint64(b[2:10])
		if u>>63 != 0 {
			return h, 0, ws.ErrHeaderLengthMSB
		}
		h.Length = int64(u)
		n = 10
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		if len(b) < n+4 {
			return h, 0, errWSNeedMore
		}
		copy(h.Mask[:], b[n:n+4])
		n += 4
	}
	return h, n, nil
}

// wsFrames handles every complete frame in the buffer: messages go to a
// handler, pings are answered, a close frame is answered and ends the
// connection. It returns false when the connection must close.
func (c *Conn) wsFrames() bool {
	st := c.ws
	s := c.s
	now := time.Now().UnixNano()
	for {
		start := c.r + st.asm
		raw := c.buf[start:c.w]
		if len(raw) == 0 {
			c.wsPartial(now)
			return true
		}
		h, hl, err := parseWSHeader(raw)
		if err == errWSNeedMore {
			break
		}
		state := ws.StateServerSide
		if st.frag {
			state |= ws.StateFragmented
		}
		if err == nil {
			err = ws.CheckHeader(h, state)
		}
		if err != nil {
			s.Stats.WSBadFrames.Add(1)
			c.writeClose(wsCloseProtocol, err.Error())
			c.closeWith(reasonBadFrame)
			return false
		}
		// Length is checked alone first: up to 2^63-1, it would overflow
		// the sum.
		total := int64(hl) + h.Length
		if h.Length > int64(s.cfg.MaxMessage) || int64(st.asm)+total > int64(s.cfg.MaxMessage)+1 {
			s.Stats.WSBadFrames.Add(1)
			c.writeClose(wsCloseTooBig, "message larger than the size limit")
			c.closeWith(reasonTooBig)
			return false
		}
		if int64(len(raw)) < total {
			if int64(len(c.buf)-c.r) < int64(st.asm)+total {
				c.makeRoom(st.asm + int(total))
			}
			break
		}
		st.lastRx, st.pinged = now, 0
		end := start + int(total)
		payload := c.buf[start+hl : end]
		ws.Cipher(payload, h.Mask, 0)
		if h.OpCode.IsControl() {
			switch h.OpCode {
			case ws.OpPing:
				if c.writeFrame(ws.OpPong, payload) != nil {
					return false
				}
			case ws.OpClose:
				code, reason := ws.ParseCloseFrameDataUnsafe(payload)
				if err := ws.CheckCloseFrameData(code, reason); err != nil || len(payload) == 1 {
					c.writeClose(wsCloseProtocol, "bad close frame")
				} else {
					if code.Empty() {
						code = wsCloseNormal
					}
					c.writeClose(int(code), "")
				}
				c.closeWith(reasonPeer)
				return false
			}
			c.consume(start, end)
			continue
		}
		if h.OpCode != ws.OpContinuation {
			st.text = h.OpCode == ws.OpText
		}
		if st.asm == 0 && h.Fin {
			// The common case: one frame, one message, no copy.
			c.r = end
			if !c.wsDeliver(payload, st.text) {
				return false
			}
			continue
		}
		// A fragment: join its payload to the message at buf[r:r+asm].
		copy(c.buf[start:], payload)
		st.asm += len(payload)
		c.consume(start+len(payload), end)
		st.frag = !h.Fin
		if h.Fin {
			msg := c.buf[c.r : c.r+st.asm]
			c.r += st.asm
			st.asm = 0
			if !c.wsDeliver(msg, st.text) {
				return false
			}
		}
	}
	c.wsPartial(now)
	return true
}

// wsPartial starts the MessageTimeout clock when an incomplete frame or
// message is left in the buffer, and stops it when none is.
func (c *Conn) wsPartial(now int64) {
	st := c.ws
	switch p := c.pending(); {
	case p && !st.partial:
		st.partial, c.msgStart = true, now
	case !p:
		st.partial = false
	}
}

// consume removes buf[from:to] (a frame handled), keeping a fragmented
// message's bytes before it in place.
func (c *Conn) consume(from, to int) {
	if from == c.r {
		c.r = to
		return
	}
	n := copy(c.buf[from:], c.buf[to:c.w])
	c.w = from + n
}

// wsDeliver hands one message to a handler.
func (c *Conn) wsDeliver(msg []byte, text bool) bool {
	s := c.s
	if text && !utf8.Valid(msg) {
		s.Stats.WSBadFrames.Add(1)
		c.writeClose(wsCloseBadData, "text frame is not UTF-8")
		c.closeWith(reasonBadFrame)
		return false
	}
	switch {
	case len(msg) == 4 && string(msg) == "\r\n\r\n":
		// An RFC 5626 keepalive in a frame, as SIP.js sends them:
		// answered with CRLF, as on TCP.
		s.Stats.Pings.Add(1)
		if !s.cfg.NoCRLFPong {
			return c.writeFrame(ws.OpText, crlfcrlf[:2]) == nil
		}
		return true
	case len(msg) == 2 && string(msg) == "\r\n":
		return true
	}
	s.Stats.Received.Add(1)
	h := <-s.pool
	h.HandleStream(msg, c)
	s.pool <- h
	return !c.closed.Load()
}

// pending reports whether a message (or frame) has started.
func (c *Conn) pending() bool {
	if c.ws != nil {
		return c.ws.asm > 0 || c.r < c.w
	}
	return c.fr.Pending()
}

// wsKeepalive is armDeadline's part for an upgraded connection with
// keepalives: when the next ping (or pong) is due, and whether the
// unanswered ping's time is up.
func (c *Conn) wsKeepalive(now int64) (due int64, why closeReason) {
	st := c.ws
	d := int64(st.opt.KeepaliveTimeout)
	if d <= 0 {
		d = int64(180 * time.Second)
	}
	if st.pinged != 0 {
		return st.pinged + d, reasonNoPong
	}
	return st.lastRx + d, reasonPingDue
}

// wsPing sends the keepalive that is due. It returns false when the
// connection must close.
func (c *Conn) wsPing(now int64) bool {
	st := c.ws
	data := st.opt.PingData
	if len(data) > ws.MaxControlFramePayloadSize {
		data = data[:ws.MaxControlFramePayloadSize]
	}
	if st.opt.Keepalive == 2 {
		st.lastRx = now // pongs expect no answer: the next one a period later
		return c.writeFrame(ws.OpPong, data) == nil
	}
	st.pinged = now
	c.s.Stats.WSPings.Add(1)
	return c.writeFrame(ws.OpPing, data) == nil
}
