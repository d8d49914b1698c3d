package transport

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"kemi/sip"
)

// wsStreams serves cfg with a handler that upgrades an HTTP request to
// WebSocket with opt and echoes every other message.
func wsStreams(t *testing.T, cfg StreamConfig, opt *WSOptions) (*Streams, netip.AddrPort) {
	t.Helper()
	s, err := NewStreams(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Listen(TCP, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(func(int) StreamHandler {
		return StreamHandlerFunc(func(data []byte, c *Conn) {
			if IsHTTPRequest(data) {
				c.UpgradeWS([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n"), opt)
				return
			}
			c.Write(data)
		})
	})
	t.Cleanup(func() { s.Close() })
	return s, l.LocalAddr()
}

type wsTestClient struct {
	nc net.Conn
	br *bufio.Reader
}

// wsDial connects and upgrades (the handshake's checks are the
// websocket module's; the transport only switches framing).
func wsDial(t *testing.T, addr netip.AddrPort) *wsTestClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n")
	c := &wsTestClient{nc: nc, br: bufio.NewReader(nc)}
	for {
		l, err := c.br.ReadString('\n')
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		if l == "\r\n" {
			break
		}
	}
	return c
}

func (c *wsTestClient) frame(op ws.OpCode, fin bool, p []byte) {
	ws.WriteFrame(c.nc, ws.MaskFrameInPlace(ws.NewFrame(op, fin, append([]byte(nil), p...))))
}

func (c *wsTestClient) read(t *testing.T) ws.Frame {
	t.Helper()
	f, err := ws.ReadFrame(c.br)
	if err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	if f.Header.Masked {
		t.Fatalf("the server masked a frame")
	}
	return f
}

// closedWith reads until the connection ends and returns the close code
// the server sent first (0 for none).
func (c *wsTestClient) closedWith(t *testing.T) ws.StatusCode {
	t.Helper()
	var code ws.StatusCode
	for {
		f, err := ws.ReadFrame(c.br)
		if err != nil {
			return code
		}
		if f.Header.OpCode == ws.OpClose && code == 0 {
			code, _ = ws.ParseCloseFrameData(f.Payload)
		}
	}
}

// TestWS_FramingFragmentsPingBinaryClose (issue 14, websocket framing):
// a message in three fragments with a ping between them comes back as
// one text frame after the pong; a CRLFCRLF keepalive frame gets CRLF; a
// message that is not UTF-8 goes out as a binary frame; a close frame is
// answered with its code and the connection ends.
func TestWS_FramingFragmentsPingBinaryClose(t *testing.T) {
	_, addr := wsStreams(t, StreamConfig{}, nil)
	c := wsDial(t, addr)
	msg := []byte(sipMsg(strings.Repeat("x", 300)))
	c.frame(ws.OpText, false, msg[:100])
	c.frame(ws.OpPing, true, []byte("are you there"))
	c.frame(ws.OpContinuation, false, msg[100:200])
	c.frame(ws.OpContinuation, true, msg[200:])
	if f := c.read(t); f.Header.OpCode != ws.OpPong || string(f.Payload) != "are you there" {
		t.Fatalf("got opcode %v %q, want the pong", f.Header.OpCode, f.Payload)
	}
	if f := c.read(t); f.Header.OpCode != ws.OpText || !f.Header.Fin || !bytes.Equal(f.Payload, msg) {
		t.Fatalf("got opcode %v fin %v %d bytes, want the message joined in one text frame", f.Header.OpCode, f.Header.Fin, len(f.Payload))
	}
	// A CRLFCRLF keepalive in a frame (SIP.js) gets a CRLF frame back.
	c.frame(ws.OpText, true, []byte("\r\n\r\n"))
	if f := c.read(t); f.Header.OpCode != ws.OpText || string(f.Payload) != "\r\n" {
		t.Fatalf("keepalive answered with opcode %v %q, want a CRLF text frame", f.Header.OpCode, f.Payload)
	}
	bin := []byte(sipMsg("\xff\xfe\x00"))
	c.frame(ws.OpBinary, true, bin)
	if f := c.read(t); f.Header.OpCode != ws.OpBinary || !bytes.Equal(f.Payload, bin) {
		t.Fatalf("got opcode %v, want the binary message back as binary", f.Header.OpCode)
	}
	c.frame(ws.OpClose, true, ws.NewCloseFrameBody(ws.StatusGoingAway, "bye"))
	if code := c.closedWith(t); code != ws.StatusGoingAway {
		t.Fatalf("close answered with %d, want 1001", code)
	}
}

// TestWSHostile_UnmaskedFrame (issue 14, bad input): a client frame
// without a mask breaks RFC 6455 §5.1: close 1002 and the connection
// ends, and another client is still served.
func TestWSHostile_UnmaskedFrame(t *testing.T) {
	s, addr := wsStreams(t, StreamConfig{}, nil)
	stop := keepServing(t, addr)
	c := wsDial(t, addr)
	ws.WriteFrame(c.nc, ws.NewTextFrame([]byte(sipMsg("unmasked"))))
	if code := c.closedWith(t); code != ws.StatusProtocolError {
		t.Fatalf("closed with %d, want 1002", code)
	}
	stop()
	waitFor(t, "the bad-frame counter", 5*time.Second, func() bool { return s.Stats.ClosedBadFrame.Load() == 1 })
}

// TestWSHostile_FrameOverLimit (issue 14, bad input): a frame whose
// header claims more than the message size limit (10 MB here) is refused
// before its payload is read: close 1009.
func TestWSHostile_FrameOverLimit(t *testing.T) {
	s, addr := wsStreams(t, StreamConfig{MaxMessage: 4096}, nil)
	c := wsDial(t, addr)
	h := ws.Header{Fin: true, OpCode: ws.OpText, Masked: true, Length: 10 << 20}
	ws.WriteHeader(c.nc, h)
	c.nc.Write(make([]byte, 64<<10))
	if code := c.closedWith(t); code != ws.StatusMessageTooBig {
		t.Fatalf("closed with %d, want 1009", code)
	}
	// Fragments that each fit but together do not are refused too.
	c = wsDial(t, addr)
	for i := 0; i < 3; i++ {
		c.frame(map[bool]ws.OpCode{true: ws.OpText, false: ws.OpContinuation}[i == 0], false, make([]byte, 2000))
	}
	if code := c.closedWith(t); code != ws.StatusMessageTooBig {
		t.Fatalf("fragments: closed with %d, want 1009", code)
	}
	waitFor(t, "two too-big closes", 5*time.Second, func() bool { return s.Stats.ClosedTooBig.Load() == 2 })
}

// TestWSHostile_PingsNeverAnswered (issue 14, bad input): with
// keepalive_mechanism 1, a silent client gets a ping after the keepalive
// timeout and is closed when it does not answer within as long again; a
// client that answers stays.
func TestWSHostile_PingsNeverAnswered(t *testing.T) {
	opt := &WSOptions{Keepalive: 1, KeepaliveTimeout: 300 * time.Millisecond, PingData: []byte("kemi")}
	s, addr := wsStreams(t, StreamConfig{}, opt)
	good := wsDial(t, addr)
	good.nc.SetDeadline(time.Now().Add(10 * time.Second))
	goodDone := make(chan error, 1)
	go func() {
		for i := 0; i < 3; i++ {
			f, err := ws.ReadFrame(good.br)
			if err != nil {
				goodDone <- err
				return
			}
			if f.Header.OpCode == ws.OpPing {
				good.frame(ws.OpPong, true, f.Payload)
			}
		}
		goodDone <- nil
	}()
	bad := wsDial(t, addr)
	start := time.Now()
	f := bad.read(t)
	if f.Header.OpCode != ws.OpPing || string(f.Payload) != "kemi" {
		t.Fatalf("got opcode %v %q, want a ping with the ping data", f.Header.OpCode, f.Payload)
	}
	bad.closedWith(t)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("closed %v after the first ping", d)
	}
	if err := <-goodDone; err != nil {
		t.Fatalf("the client that answers pings lost its connection: %v", err)
	}
	waitFor(t, "one no-pong close", 5*time.Second, func() bool { return s.Stats.ClosedNoPong.Load() == 1 })
	if n := s.Stats.WSPings.Load(); n < 4 {
		t.Fatalf("pings sent %d, want at least 4 (one to the silent client, three answered)", n)
	}
}

// TestWS_WriteDoesNotAllocate (issue 14): writing a message to a
// WebSocket peer allocates nothing: the frame is built in a pooled
// buffer, which an idle connection does not keep.
func TestWS_WriteDoesNotAllocate(t *testing.T) {
	c := &Conn{nc: discardConn{}, ws: &wsState{opt: &WSOptions{}}}
	msg := []byte(sipMsg(strings.Repeat("y", 1000)))
	if n := testing.AllocsPerRun(200, func() { c.writeFramed(messageOp(msg), msg) }); n != 0 {
		t.Fatalf("framing and writing allocates %v times", n)
	}
	if messageOp([]byte("\xff")) != ws.OpBinary || messageOp(msg) != ws.OpText {
		t.Fatal("not UTF-8 must go as binary, UTF-8 as text")
	}
	b := appendFrame(nil, ws.OpText, msg)
	hdr, hl, err := parseWSHeader(b)
	if err != nil || hdr.Length != int64(len(msg)) || !bytes.Equal(b[hl:], msg) || hdr.Masked {
		t.Fatalf("frame header %+v (%d bytes), %v", hdr, hl, err)
	}
}

// discardConn takes writes and drops them.
type discardConn struct{ net.Conn }

func (discardConn) Write(b []byte) (int, error) { return len(b), nil }

// FuzzWSFrames (issue 14): any bytes after an upgrade, cut anywhere,
// never panic the connection's framing, and every message handed on is
// within the size limit.
func FuzzWSFrames(f *testing.F) {
	var b bytes.Buffer
	ws.WriteFrame(&b, ws.MaskFrameInPlace(ws.NewTextFrame([]byte("OPTIONS sip:a SIP/2.0\r\n\r\n"))))
	ws.WriteFrame(&b, ws.MaskFrameInPlace(ws.NewFrame(ws.OpText, false, []byte("ab"))))
	ws.WriteFrame(&b, ws.MaskFrameInPlace(ws.NewPingFrame([]byte("p"))))
	ws.WriteFrame(&b, ws.MaskFrameInPlace(ws.NewFrame(ws.OpContinuation, true, []byte("cd"))))
	f.Add(b.Bytes(), 3)
	f.Add([]byte{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 1)
	f.Add([]byte{0x88, 0x81, 1, 2, 3, 4, 5}, 2)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		s := &Streams{cfg: StreamConfig{MaxMessage: 256}, pool: make(chan StreamHandler, 1)}
		s.pool <- StreamHandlerFunc(func(m []byte, _ *Conn) {
			if len(m) > 257 {
				t.Fatalf("a %d-byte message passed the 256-byte limit", len(m))
			}
		})
		// A Conn with no socket: what it writes is dropped.
		c := &Conn{s: s, ws: &wsState{opt: &WSOptions{}}, buf: make([]byte, 64), nc: discardConn{}}
		feed := func(p []byte) bool {
			for len(p) > 0 {
				if c.w == len(c.buf) {
					if c.r > 0 {
						copy(c.buf, c.buf[c.r:c.w])
						c.w -= c.r
						c.r = 0
					} else if len(c.buf) < s.cfg.MaxMessage+1 {
						c.grow()
					} else {
						return false
					}
				}
				n := copy(c.buf[c.w:], p)
				c.w += n
				p = p[n:]
				if !c.wsFrames() {
					return false
				}
			}
			return true
		}
		if cut < 0 {
			cut = -cut
		}
		if cut > len(data) {
			cut = len(data)
		}
		if feed(data[:cut]) {
			feed(data[cut:])
		}
	})
}

// FuzzHTTPRequest (issue 14, xhttp): bytes on a stream, cut into
// messages by the framer as the connection does, never panic the
// framer's HTTP checks or the SIP parser that reads HTTP requests, and
// whatever the framer refuses gets an HTTP answer only when the bytes
// start with a request line.
func FuzzHTTPRequest(f *testing.F) {
	f.Add([]byte("GET /status HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte("POST /RPC HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}GET / HTTP/1.0\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost x\r\n\r\n"))
	f.Add([]byte("OPTIONS sip:a SIP/2.0\r\nContent-Length: 0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := StreamFramer{Max: 512}
		var m sip.Msg
		for len(data) > 0 {
			kind, n, err := fr.Next(data)
			if err != nil {
				if ans := httpRefusal(err); IsHTTPRequest(data) && !bytes.HasPrefix(ans, []byte("HTTP/1.1 4")) {
					t.Fatalf("refusal %q", ans)
				}
				return
			}
			if kind == FrameMore {
				return
			}
			msg := data[:n]
			data = data[n:]
			if kind != FrameMessage {
				continue
			}
			if m.Parse(msg) == nil && m.IsHTTP() {
				if !IsHTTPRequest(msg) && !bytes.HasPrefix(msg, []byte("\r\n")) {
					t.Fatalf("the parser reads %q as HTTP, the transport does not", msg)
				}
				_ = m.Header("Upgrade")
				_ = m.Body()
			}
		}
	})
}

// BenchmarkWSFrames is the server's cost of one SIP message in a masked
// text frame: header decode, rule checks, unmasking, handing it on.
func BenchmarkWSFrames(b *testing.B) {
	var fb bytes.Buffer
	msg := []byte(sipMsg(strings.Repeat("v=0\r\n", 100)))
	ws.WriteFrame(&fb, ws.MaskFrameInPlace(ws.NewTextFrame(msg)))
	frame := fb.Bytes()
	s := &Streams{cfg: StreamConfig{MaxMessage: DefaultMaxMessage}, pool: make(chan StreamHandler, 1)}
	s.pool <- StreamHandlerFunc(func([]byte, *Conn) {})
	c := &Conn{s: s, ws: &wsState{opt: &WSOptions{}}, buf: make([]byte, 4096), nc: discardConn{}}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c.r, c.w = 0, copy(c.buf, frame)
		if !c.wsFrames() {
			b.Fatal("closed")
		}
	}
}

// BenchmarkWSWrite is the cost of framing and writing one SIP message to
// a WebSocket peer (the socket write itself excluded).
func BenchmarkWSWrite(b *testing.B) {
	c := &Conn{nc: discardConn{}, ws: &wsState{opt: &WSOptions{}}}
	msg := []byte(sipMsg(strings.Repeat("v=0\r\n", 100)))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c.writeFramed(messageOp(msg), msg)
	}
}
