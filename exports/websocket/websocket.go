// Package websocket implements module websocket: the handshake that turns
// an HTTP request's connection into a SIP-over-WebSocket one, and closing
// such connections (see module.yaml). The framing itself lives in
// sip/transport (Conn.UpgradeWS).
package websocket

import (
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"kemi/core"
	"kemi/exports/xhttp"
	"kemi/sip"
	"kemi/sip/transport"
)

type module struct {
	rt       *core.Runtime
	opt      transport.WSOptions
	protos   int
	corsMode int
	disabled atomic.Bool

	mu    sync.Mutex
	conns map[uint64]*transport.Conn // upgraded and open, for ws.dump

	eventCB string
	evMu    sync.Mutex // one websocket:closed event at a time, on evVM
	evVM    core.VM
	evGen   uint64
	evCtx   core.Ctx
	evMsg   sip.Msg
}

var modules = core.NewRuntimeState[module](func(*core.Runtime) *module { return nil })

func start(rt *core.Runtime) error {
	p := func(n string) core.Value { return rt.Param("websocket", n) }
	m := &module{rt: rt, protos: int(p("sub_protocols").I), corsMode: int(p("cors_mode").I),
		conns: map[uint64]*transport.Conn{}, eventCB: p("event_callback").S}
	m.opt.OnClose = m.closed
	m.opt.Keepalive = int(p("keepalive_mechanism").I)
	m.opt.KeepaliveTimeout = time.Duration(p("keepalive_timeout").I) * time.Second
	if m.opt.KeepaliveTimeout <= 0 {
		m.opt.KeepaliveTimeout = 180 * time.Second
	}
	data := p("ping_application_data").S
	if data == "" {
		data = rt.ServerHeader()
		if len(data) > 8 && data[:8] == "Server: " {
			data = data[8:]
		}
	}
	if len(data) > 125 {
		data = data[:125]
	}
	m.opt.PingData = []byte(data)
	modules.Set(rt, m)
	return nil
}

// wsGUID is RFC 6455's key suffix for Sec-WebSocket-Accept.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// HandleHandshake is KSR.websocket.handle_handshake.
func HandleHandshake(ctx *core.Ctx) int {
	msg := ctx.Msg
	if msg == nil || !msg.IsHTTP() || (ctx.Proto != core.TCP && ctx.Proto != core.TLS) {
		ctx.Log(core.LErr, "websocket: handle_handshake: the message is not an HTTP request on a tcp or tls connection\n")
		return -1
	}
	m := modules.Peek(ctx.RT)
	if m == nil {
		return -1
	}
	refuse := func(code int, reason, why string, hdr string) int {
		ctx.Log(core.LInfo, "websocket: handshake from "+ctx.Src.String()+" refused: "+why+"\n")
		if hdr != "" {
			ctx.AddReplyHeader([]byte(hdr), []byte("13"))
		}
		ctx.ConnFlags |= core.ConnReplyClose
		b := xhttp.AppendResponse(ctx.Scratch[:0], ctx, code, reason, "", "")
		ctx.Scratch = b[:0]
		xhttp.Send(ctx, b, "websocket: handle_handshake")
		return 0
	}
	if string(msg.Method()) != "GET" {
		return refuse(405, "Method Not Allowed", "method "+core.LogQuote(msg.Method())+", want GET", "")
	}
	if len(msg.Header("Host")) == 0 {
		return refuse(400, "Bad Request", "no Host", "")
	}
	if !xhttp.HasToken(msg.Header("Upgrade"), "websocket") || !xhttp.HasToken(msg.Header("Connection"), "upgrade") {
		return refuse(400, "Bad Request", "no Upgrade: websocket or Connection: upgrade", "")
	}
	key := trim(msg.Header("Sec-WebSocket-Key"))
	var raw [24]byte
	if n, err := base64.StdEncoding.Decode(raw[:], key); err != nil || n != 16 || len(key) != 24 {
		return refuse(400, "Bad Request", "Sec-WebSocket-Key is not 16 bytes in base64", "")
	}
	if string(trim(msg.Header("Sec-WebSocket-Version"))) != "13" {
		return refuse(426, "Upgrade Required", "Sec-WebSocket-Version is not 13", "Sec-WebSocket-Version")
	}
	if m.protos&1 == 0 || !hasProtocol(msg, "sip") {
		return refuse(400, "Bad Request", "no sip in Sec-WebSocket-Protocol", "")
	}
	if m.disabled.Load() {
		return refuse(503, "Service Unavailable", "WebSocket is disabled (ws.disable)", "")
	}
	conn, _ := ctx.Conn.(*transport.Conn)
	h := sha1.New()
	h.Write(key)
	h.Write([]byte(wsGUID))
	var sum [sha1.Size]byte
	var accept [28]byte
	base64.StdEncoding.Encode(accept[:], h.Sum(sum[:0]))
	b := append(ctx.Scratch[:0], "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = append(b, accept[:]...)
	b = append(b, "\r\nSec-WebSocket-Protocol: sip\r\n"...)
	switch origin := msg.Header("Origin"); {
	case m.corsMode == 1:
		b = append(b, "Access-Control-Allow-Origin: *\r\n"...)
	case m.corsMode == 2 && len(origin) > 0:
		b = append(b, "Access-Control-Allow-Origin: "...)
		b = append(b, origin...)
		b = append(b, "\r\n"...)
	}
	if s := ctx.RT.ServerHeader(); s != "" {
		b = append(b, s...)
		b = append(b, "\r\n"...)
	}
	b = append(b, ctx.ReplyHeaders()...)
	b = append(b, "Content-Length: 0\r\n\r\n"...)
	ctx.Scratch = b[:0]
	xhttp.MarkAnswered(ctx)
	if conn == nil {
		// No connection (kemi test): the 101 goes where replies go.
		return xhttp.Send(ctx, b, "websocket: handle_handshake")
	}
	m.mu.Lock()
	m.conns[conn.ID()] = conn
	m.mu.Unlock()
	if err := conn.UpgradeWS(b, &m.opt); err != nil {
		m.mu.Lock()
		delete(m.conns, conn.ID())
		m.mu.Unlock()
		ctx.Log(core.LErr, "websocket: handle_handshake: "+core.LogValue(err.Error())+"\n")
		return -1
	}
	return 1
}

func trim(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// hasProtocol looks for a sub-protocol in every Sec-WebSocket-Protocol
// header.
func hasProtocol(msg *sip.Msg, p string) bool {
	for i := 0; i < msg.NumHeaders(); i++ {
		name, v := msg.HeaderAt(i)
		if len(name) == len("Sec-WebSocket-Protocol") && sip.HasPrefixFold(name, "sec-websocket-protocol") && xhttp.HasToken(v, p) {
			return true
		}
	}
	return false
}

// wsConn is the WebSocket connection of the message in hand, or nil.
func wsConn(ctx *core.Ctx) *transport.Conn {
	c, _ := ctx.Conn.(*transport.Conn)
	if c == nil || !c.IsWS() {
		return nil
	}
	return c
}

// Close is KSR.websocket.close.
func Close(ctx *core.Ctx) int { return CloseReason(ctx, 1000, "Normal closure") }

// CloseReason is KSR.websocket.close_reason.
func CloseReason(ctx *core.Ctx, status int, reason string) int {
	c := wsConn(ctx)
	if c == nil {
		ctx.Log(core.LErr, "websocket: close: the message did not come over WebSocket\n")
		return -1
	}
	c.CloseWS(status, reason)
	return 1
}

// CloseConid is KSR.websocket.close_conid.
func CloseConid(ctx *core.Ctx, status int, reason string, conid int) int {
	if ctx.RT == nil || ctx.RT.StreamConn == nil {
		return -1
	}
	c, _ := ctx.RT.StreamConn(uint64(conid)).(*transport.Conn)
	if c == nil || !c.IsWS() {
		ctx.Log(core.LErr, "websocket: close_conid: no open WebSocket connection "+strconv.Itoa(conid)+"\n")
		return -1
	}
	c.CloseWS(status, reason)
	return 1
}
