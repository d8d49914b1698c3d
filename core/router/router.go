// Package router runs the routing script over messages: it owns the workers,
// each with one VM of the active engine, one reusable sip.Msg and one
// core.Ctx, so handling a message creates nothing. Listeners hand datagrams
// to workers; a worker parses, calls the script's callbacks and sends what
// they produce.
package router

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	"kemi/core"
	"kemi/sip"
	"kemi/sip/transport"
)

// Router dispatches messages to the routing script.
type Router struct {
	rt   *core.Runtime
	prog atomic.Pointer[program]

	requestCB, replyCB string

	// Streams sends what workers send over TCP and TLS; the server sets
	// it before the workers start. nil: only UDP is served.
	Streams *transport.Streams
	// AcceptAliases is tcp_accept_aliases: a request over TCP or TLS
	// whose top Via has an alias parameter makes its connection carry
	// requests to the Via's port at the peer's IP (RFC 5923 style, as
	// Kamailio's core does).
	AcceptAliases bool

	// Counters, read by tests and printed at shutdown.
	Received, Malformed, ScriptErrors, Panics atomic.Uint64

	// One LogLimit per kind of line a peer can make kemi write on every
	// message: malformed input, script errors, and panics in modules.
	malformedLog, errorLog, panicLog core.LogLimit

	// The live workers, for Swap to build their next VMs; swapMu makes
	// swaps one at a time.
	wmu     sync.Mutex
	workers map[*Worker]struct{}
	swapMu  sync.Mutex
}

// pendingVM is a VM of program generation gen built for a worker ahead
// of its next message.
type pendingVM struct {
	vm  core.VM
	gen uint64
}

// Kamailio's core counters, bumped in the worker's block.
var (
	statRcvRequests = core.NewCounter("", "core", "rcv_requests")
	statRcvReplies  = core.NewCounter("", "core", "rcv_replies")
	statBadMsgHdr   = core.NewCounter("", "core", "bad_msg_hdr")
	statScriptErr   = core.NewCounter("", "kemi", "script_errors")
)

// Malformed messages by why they did not parse: kemi:malformed_REASON,
// kemi_malformed_messages_total{reason} in Prometheus.
const (
	malTooLarge = iota
	malEmpty
	malFirstLine
	malHeader
	malContentLength
	malOther
	numMal
)

var statMalformed = func() (c [numMal]core.Counter) {
	for i, r := range [numMal]string{"too_large", "empty", "first_line", "header", "content_length", "other"} {
		c[i] = core.NewLabeledCounter("", "kemi", "malformed_"+r, "kemi_malformed_messages_total", "reason", r)
	}
	return
}()

// malformedReason sorts a parse error into one of the reasons above by its
// text (sip.ParseError's reasons), without allocating.
func malformedReason(err error) int {
	var pe *sip.ParseError
	if !errors.As(err, &pe) {
		return malOther
	}
	r := pe.Reason
	switch {
	case strings.HasPrefix(r, "message larger than"), strings.HasPrefix(r, "more than "):
		return malTooLarge
	case strings.HasPrefix(r, "empty message"), strings.HasPrefix(r, "no message"):
		return malEmpty
	case strings.HasPrefix(r, "first line"), strings.HasPrefix(r, "request line"), strings.HasPrefix(r, "status line"):
		return malFirstLine
	case strings.HasPrefix(r, "Content-Length"):
		return malContentLength
	case strings.Contains(r, "header"):
		return malHeader
	}
	return malOther
}

type program struct {
	p   core.Program
	gen uint64
}

// New builds a router for a compiled program. The program must define the
// request callback; that is checked here, at load time.
func New(rt *core.Runtime, p core.Program) (*Router, error) {
	r := &Router{rt: rt}
	r.malformedLog.What = "malformed-message lines"
	r.errorLog.What = "script errors"
	r.panicLog.What = "internal errors"
	r.requestCB = rt.Callback("ksr_request_route")
	r.replyCB = rt.Callback("ksr_reply_route")
	if !p.Has(r.requestCB) {
		return nil, fmt.Errorf("routing script defines no %s(): it is required", r.requestCB)
	}
	r.prog.Store(&program{p: p, gen: 1})
	rt.NewVM = func() (core.VM, error) { return r.prog.Load().p.NewVM() }
	rt.VMGen = r.Generation
	return r, nil
}

// Worker is one reader's routing state. It implements transport.Handler.
type Worker struct {
	r    *Router
	gen  uint64
	vm   core.VM
	next atomic.Pointer[pendingVM] // the VM Swap built for this worker
	msg  sip.Msg
	ctx  core.Ctx
	out  transport.Writer

	local netip.AddrPort
	conn  *transport.Conn // the stream connection of the message in hand
	// streamOut takes what a HandleAs message sends over TCP or TLS.
	streamOut transport.Writer
}

// NewWorker builds a worker with its own VM.
func (r *Router) NewWorker(local netip.AddrPort) (*Worker, error) {
	w := &Worker{r: r, local: local}
	if err := w.refresh(); err != nil {
		return nil, err
	}
	w.ctx.RT = r.rt
	w.ctx.Out = w
	w.ctx.Stats = r.rt.NewStatBlock()
	w.ctx.Scratch = make([]byte, 0, scratchSize)
	r.wmu.Lock()
	if r.workers == nil {
		r.workers = map[*Worker]struct{}{}
	}
	r.workers[w] = struct{}{}
	r.wmu.Unlock()
	return w, nil
}

// scratchSize is a worker's Ctx.Scratch; a message that grows it past
// maxScratch (a large message built in it) leaves it behind, so each
// worker does not keep the largest message it ever built.
const (
	scratchSize = 4096
	maxScratch  = 16 << 10
)

// Swap makes p the running program. A VM of it (fresh globals) is built
// here for every worker, off the message path, and each worker takes its
// own before its next message: a worker does not stall on a VM build
// while others go on, which would reorder a dialog's requests (an ACK
// overtaken by its BYE). Code outside the workers (tm's timers) gets VMs
// of p from now on. p must define the request callback.
func (r *Router) Swap(p core.Program) error {
	if !p.Has(r.requestCB) {
		return fmt.Errorf("the script defines no %s() function; it is required", r.requestCB)
	}
	r.swapMu.Lock()
	defer r.swapMu.Unlock()
	gen := r.prog.Load().gen + 1
	r.wmu.Lock()
	ws := make([]*Worker, 0, len(r.workers))
	for w := range r.workers {
		ws = append(ws, w)
	}
	r.wmu.Unlock()
	built := make([]core.VM, 0, len(ws))
	for range ws {
		vm, err := p.NewVM()
		if err != nil {
			for _, v := range built {
				v.Close()
			}
			return err
		}
		built = append(built, vm)
	}
	for i, w := range ws {
		if old := w.next.Swap(&pendingVM{vm: built[i], gen: gen}); old != nil {
			old.vm.Close()
		}
	}
	r.prog.Store(&program{p: p, gen: gen})
	return nil
}

// Generation counts the programs run so far (1 before any reload).
func (r *Router) Generation() uint64 { return r.prog.Load().gen }

// refresh builds a VM from the current program when it changed (reload).
func (w *Worker) refresh() error {
	p := w.r.prog.Load()
	if p.gen == w.gen && w.vm != nil {
		return nil
	}
	var vm core.VM
	if nx := w.next.Swap(nil); nx != nil && nx.gen == p.gen {
		vm = nx.vm
	} else {
		if nx != nil {
			nx.vm.Close()
		}
		var err error
		if vm, err = p.p.NewVM(); err != nil {
			return err
		}
	}
	if w.vm != nil {
		w.vm.Close()
	}
	w.vm, w.gen = vm, p.gen
	return nil
}

// Close releases the worker's VM.
func (w *Worker) Close() {
	w.r.wmu.Lock()
	delete(w.r.workers, w)
	w.r.wmu.Unlock()
	if nx := w.next.Swap(nil); nx != nil {
		nx.vm.Close()
	}
	if w.vm != nil {
		w.vm.Close()
		w.vm = nil
	}
}

// SendTo implements core.Sender: UDP through the transport's batch
// writer, TCP and TLS through the router's Streams. A stream send to the
// source of the message in hand (a reply) goes back on its connection.
func (w *Worker) SendTo(b []byte, proto core.Proto, to netip.AddrPort) error {
	if proto.IsStream() {
		if w.streamOut != nil {
			return w.streamOut.WriteTo(b, to)
		}
		var o transport.SendOptions
		if to == w.ctx.Src && proto == w.ctx.Proto { // a reply to the message in hand
			f := w.ctx.ConnFlags
			o.ConnID = w.ctx.ConnID
			o.NoConnect, o.CloseAfter = f&core.ConnReplyNoConnect != 0, f&core.ConnReplyClose != 0
		}
		return SendStream(w.r.Streams, b, proto, to, o)
	}
	if proto != core.UDP && proto != 0 {
		return fmt.Errorf("send to %s: transport %s is not served", to, proto)
	}
	if w.out == nil {
		// A stream worker (or a worker fed by hand) has no batch
		// writer: UDP leaves through the runtime's sender.
		if w.r.rt.Send != nil {
			return w.r.rt.Send(b, core.UDP, to)
		}
		return errors.New("send: no transport for this message")
	}
	return w.out.WriteTo(b, to)
}

// Flush implements core.Flusher: the UDP datagrams queued during the
// current batch are sent now.
func (w *Worker) Flush() {
	if f, ok := w.out.(transport.Flusher); ok {
		f.Flush()
	}
}

// HandlePacket parses one datagram and runs the script over it.
func (w *Worker) HandlePacket(data []byte, from netip.AddrPort, out transport.Writer) {
	w.out = out
	w.Handle(data, from, core.UDP)
	w.out = nil
}

// SendStream sends b over TCP or TLS through st with o; a nil st (no
// stream listener configured) is an error naming the destination.
func SendStream(st *transport.Streams, b []byte, proto core.Proto, to netip.AddrPort, o transport.SendOptions) error {
	if st == nil {
		return fmt.Errorf("send to %s:%s: transport %s is not served (no tcp or tls listen)", proto, to, proto)
	}
	_, err := st.Send(StreamProto(proto), to, b, o)
	return err
}

// StreamProto is the transport's name for a stream proto.
func StreamProto(p core.Proto) transport.StreamProto {
	switch p {
	case core.TLS:
		return transport.TLS
	case core.WS:
		return transport.WS
	case core.WSS:
		return transport.WSS
	}
	return transport.TCP
}

// CoreProto is core's name for a connection's transport.
func CoreProto(p transport.StreamProto) core.Proto {
	switch p {
	case transport.TLS:
		return core.TLS
	case transport.WS:
		return core.WS
	case transport.WSS:
		return core.WSS
	}
	return core.TCP
}

// HandleStream routes one message received on a TCP or TLS connection:
// $proto, $conid and $Ri/$Rp come from c, and replies to its source go
// back on it. It implements transport.StreamHandler.
func (w *Worker) HandleStream(data []byte, c *transport.Conn) {
	proto := CoreProto(c.Proto())
	w.conn = c
	w.handle(data, c.RemoteAddr(), c.LocalAddr(), proto, c.ID())
	w.conn = nil
}

// HandleAs routes one message as if it came over proto on connection
// connID, and writes what the worker sends, over any transport, to out:
// kemi test's way to run TCP and TLS messages without sockets.
func (w *Worker) HandleAs(data []byte, src netip.AddrPort, proto core.Proto, connID uint64, out transport.Writer) {
	w.out, w.streamOut = out, out
	w.handle(data, src, w.local, proto, connID)
	w.out, w.streamOut = nil, nil
}

// Conn is the stream connection of the message being handled, nil for
// UDP (for the tls module's $tls_* variables).
func (w *Worker) Conn() *transport.Conn { return w.conn }

// Handle routes one message received on proto from src.
func (w *Worker) Handle(data []byte, src netip.AddrPort, proto core.Proto) {
	w.handle(data, src, w.local, proto, 0)
}

func (w *Worker) handle(data []byte, src, local netip.AddrPort, proto core.Proto, connID uint64) {
	r := w.r
	r.Received.Add(1)
	// A bug in a module must cost one message, not the server: what comes
	// from the network never takes the process down.
	defer func() {
		if p := recover(); p != nil {
			n := r.Panics.Add(1)
			if ok, note := r.panicLog.Allow(); ok {
				r.rt.Log.LogStack(core.LCrit, nil, fmt.Sprintf("internal error routing a message from %s (Call-ID %s): %s (so far: %d)%s",
					src, core.LogQuote(w.msg.CallID()), core.LogValue(fmt.Sprint(p)), n, note), debug.Stack())
			}
		}
	}()
	if err := w.msg.Parse(data); err != nil {
		if w.conn != nil && (proto == core.TCP || proto == core.TLS) && transport.IsHTTPRequest(data) {
			// A malformed HTTP request: 400, and the connection closes
			// (there is no telling where the next request starts).
			w.conn.Write(transport.HTTPBadRequest)
			w.conn.Close()
		}
		n := r.Malformed.Add(1)
		w.ctx.Stats.Add(statBadMsgHdr, 1)
		w.ctx.Stats.Add(statMalformed[malformedReason(err)], 1)
		if ok, note := r.malformedLog.Allow(); ok {
			r.rt.Log.Log(core.LWarn, nil, fmt.Sprintf("dropped malformed message from %s (%d bytes): %s (malformed so far: %d)%s",
				src, len(data), core.LogValue(err.Error()), n, note))
		}
		return
	}
	if w.gen != r.prog.Load().gen {
		if err := w.refresh(); err != nil {
			r.rt.Log.Log(core.LErr, nil, "reload: building a VM failed, keeping the old one: "+err.Error())
		}
	}
	ctx := &w.ctx
	ctx.Reset(&w.msg, src, local, proto)
	ctx.ConnID = connID
	if w.conn != nil {
		ctx.Conn = w.conn
	}
	ctx.VM = w.vm
	if w.msg.IsHTTP() {
		w.handleHTTP(ctx)
		return
	}
	if r.AcceptAliases && w.conn != nil && w.msg.IsRequest() {
		w.viaAlias(src)
	}
	cb := r.requestCB
	if !w.msg.IsRequest() {
		ctx.Route = core.ReplyRoute
		cb = r.replyCB
		ctx.Stats.Add(statRcvReplies, 1)
	} else {
		ctx.Stats.Add(statRcvRequests, 1)
	}
	defer w.trimScratch()
	err := core.CallRoute(w.vm, ctx, cb)
	switch {
	case err == nil:
	case errors.Is(err, core.ErrNoCallback):
		// Only the reply callback may be missing; the request one is checked at load.
	default:
		n := r.ScriptErrors.Add(1)
		ctx.Stats.Add(statScriptErr, 1)
		if ok, note := r.errorLog.Allow(); ok {
			r.rt.Log.Log(core.LErr, ctx, fmt.Sprintf("%s failed for Call-ID %s: %s (script errors so far: %d)%s",
				cb, core.LogQuote(w.msg.CallID()), core.LogValue(err.Error()), n, note))
		}
	}
	if w.msg.IsRequest() {
		r.rt.RequestDone(ctx)
		return
	}
	if ctx.Dropped() {
		return
	}
	for _, h := range r.rt.ReplyHooks() {
		if h(ctx) {
			return
		}
	}
	w.forwardReply()
}

// httpNotFound answers an HTTP request no module took.
var httpNotFound = []byte("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")

// handleHTTP gives an HTTP request (on a TCP or TLS listen) to the
// modules' HTTP hooks: xhttp runs the script's event callback. One that
// none takes is answered 404 and its connection closed. HTTP inside a
// WebSocket or over UDP is dropped as malformed.
func (w *Worker) handleHTTP(ctx *core.Ctx) {
	r := w.r
	if ctx.Proto != core.TCP && ctx.Proto != core.TLS {
		n := r.Malformed.Add(1)
		if ok, note := r.malformedLog.Allow(); ok {
			r.rt.Log.Log(core.LWarn, nil, fmt.Sprintf("dropped an HTTP request from %s over %s: HTTP is served on tcp and tls listens (malformed so far: %d)%s",
				ctx.Src, ctx.Proto, n, note))
		}
		return
	}
	ctx.Route = core.EventRoute
	defer w.trimScratch()
	for _, h := range r.rt.HTTPHooks() {
		if h(ctx) {
			return
		}
	}
	if err := w.SendTo(httpNotFound, ctx.Proto, ctx.Src); err == nil && w.conn != nil {
		w.conn.Close()
	}
}

// viaAlias adds the alias a top Via's alias parameter asks for: the
// peer's IP (not the Via's host, which the peer could name freely) with
// the Via's port, to the message's connection, as Kamailio's
// tcpconn_add_alias does for tcp_accept_aliases.
func (w *Worker) viaAlias(src netip.AddrPort) {
	v, err := w.msg.TopVia()
	if err != nil || !v.Params.Has("alias") {
		return
	}
	port := v.Port
	if port == 0 {
		port = 5060
		if w.conn.Proto() == transport.TLS {
			port = 5061
		}
	}
	if w.r.Streams != nil && !w.conn.Closed() {
		w.r.Streams.AddAlias(w.conn, netip.AddrPortFrom(src.Addr(), uint16(port)))
	}
}

// trimScratch drops a Scratch buffer a large message grew.
func (w *Worker) trimScratch() {
	if cap(w.ctx.Scratch) > maxScratch {
		w.ctx.Scratch = make([]byte, 0, scratchSize)
	}
}

// forwardReply sends a reply on statelessly, as Kamailio's core does when
// no transaction takes it: the top Via must be ours; it is removed and the
// reply goes where the next Via says.
func (w *Worker) forwardReply() {
	log := w.r.rt.Log
	it := w.msg.Vias()
	if !it.Next() {
		return
	}
	top := it.Via()
	if !w.ctx.IsMyself(top.Host, top.Port) { // the Myself hook, or else the socket it came on
		if log.Enabled(core.LDbg) {
			w.ctx.Log(core.LDbg, fmt.Sprintf("reply for Call-ID %s: top Via %s is not ours; dropped", core.LogQuote(w.msg.CallID()), core.LogValue(top.Host)))
		}
		return
	}
	if !it.Next() {
		if log.Enabled(core.LDbg) {
			w.ctx.Log(core.LDbg, fmt.Sprintf("reply for Call-ID %s has no second Via; dropped", core.LogQuote(w.msg.CallID())))
		}
		return
	}
	next := it.Via()
	dst, ok := ViaDestination(next)
	if !ok {
		if ok, note := w.replyLog(); ok {
			w.ctx.Log(core.LWarn, fmt.Sprintf("reply for Call-ID %s: next Via %s has no address to send to; dropped%s",
				core.LogQuote(w.msg.CallID()), core.LogQuote(it.Via().Raw), note))
		}
		return
	}
	if err := w.msg.RemoveTopVia(); err != nil {
		if ok, note := w.replyLog(); ok {
			w.ctx.Log(core.LWarn, fmt.Sprintf("reply for Call-ID %s: %s%s", core.LogQuote(w.msg.CallID()), core.LogValue(err.Error()), note))
		}
		return
	}
	b := w.msg.AppendTo(w.ctx.Scratch[:0])
	w.ctx.Scratch = b[:0]
	if err := w.SendTo(b, ViaProto(next), dst); err != nil {
		if ok, note := w.replyLog(); ok {
			w.ctx.Log(core.LWarn, fmt.Sprintf("reply for Call-ID %s to %s: %s%s", core.LogQuote(w.msg.CallID()), dst, core.LogValue(err.Error()), note))
		}
		return
	}
	w.ctx.Stats.Add(core.StatFwdReplies, 1)
}

// ViaProto is the transport a Via names (UDP for what kemi does not
// send over).
func ViaProto(v *sip.Via) core.Proto {
	switch {
	case asciiEq(v.Transport, "TCP"):
		return core.TCP
	case asciiEq(v.Transport, "TLS"):
		return core.TLS
	case asciiEq(v.Transport, "WS"):
		return core.WS
	case asciiEq(v.Transport, "WSS"):
		return core.WSS
	}
	return core.UDP
}

func asciiEq(b []byte, upper string) bool {
	if len(b) != len(upper) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != upper[i] {
			return false
		}
	}
	return true
}

// replyLog says whether to log why a reply was not forwarded, and the
// limit's note: a peer can cause such a line on every datagram, so it
// goes under the malformed-message limit.
func (w *Worker) replyLog() (bool, string) {
	if !w.r.rt.Log.Enabled(core.LWarn) {
		return false, ""
	}
	return w.r.malformedLog.Allow()
}

// ViaDestination is where a response goes for a Via that is not ours
// (RFC 3261 §18.2.2, RFC 3581): received= or the sent-by IP, and rport=
// or the sent-by port (5060 by default).
//
// maddr is ignored here as for local replies, unless the core parameter
// reply_to_via_maddr is on: the next Via was written by whoever sent us
// the request, and the forward path adds received= only when the sent-by
// host differs from the source, so a sender that names itself in sent-by
// and a victim in maddr would otherwise have the downstream's reply (a
// 401, a 200 with every binding) reflected at the victim.
func ViaDestination(v *sip.Via) (netip.AddrPort, bool) {
	if a, ok := sip.MaddrDestination(v); ok {
		port := 5060
		if v.Port > 0 {
			port = v.Port
		}
		return netip.AddrPortFrom(a.Unmap(), uint16(port)), true
	}
	host := v.Received
	if len(host) == 0 {
		host = v.Host
	}
	// The sip parser reads IPs from the buffer without allocating.
	a, ok := (sip.URI{Host: host}).HostAddr()
	if !ok {
		return netip.AddrPort{}, false
	}
	port := 5060
	switch {
	case v.Rport > 0:
		port = v.Rport
	case v.Port > 0:
		port = v.Port
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), true
}
