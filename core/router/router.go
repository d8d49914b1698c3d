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
	"sync"
	"sync/atomic"
	"time"

	"kemi/core"
	"kemi/sip"
	"kemi/sip/transport"
)

// Router dispatches messages to the routing script.
type Router struct {
	rt   *core.Runtime
	prog atomic.Pointer[program]

	requestCB, replyCB string

	// Counters, read by tests and printed at shutdown.
	Received, Malformed, ScriptErrors, Panics atomic.Uint64

	malformedLog rateLimit
	errorLog     rateLimit
}

type program struct {
	p   core.Program
	gen uint64
}

// New builds a router for a compiled program. The program must define the
// request callback; that is checked here, at load time.
func New(rt *core.Runtime, p core.Program) (*Router, error) {
	r := &Router{rt: rt}
	r.requestCB = rt.Callback("ksr_request_route")
	r.replyCB = rt.Callback("ksr_reply_route")
	if !p.Has(r.requestCB) {
		return nil, fmt.Errorf("routing script defines no %s(): it is required", r.requestCB)
	}
	r.prog.Store(&program{p: p, gen: 1})
	rt.NewVM = func() (core.VM, error) { return r.prog.Load().p.NewVM() }
	return r, nil
}

// Worker is one reader's routing state. It implements transport.Handler.
type Worker struct {
	r   *Router
	gen uint64
	vm  core.VM
	msg sip.Msg
	ctx core.Ctx
	out transport.Writer

	local netip.AddrPort
}

// NewWorker builds a worker with its own VM.
func (r *Router) NewWorker(local netip.AddrPort) (*Worker, error) {
	w := &Worker{r: r, local: local}
	if err := w.refresh(); err != nil {
		return nil, err
	}
	w.ctx.RT = r.rt
	w.ctx.Out = w
	w.ctx.Scratch = make([]byte, 0, 4096)
	return w, nil
}

// refresh builds a VM from the current program when it changed (reload).
func (w *Worker) refresh() error {
	p := w.r.prog.Load()
	if p.gen == w.gen && w.vm != nil {
		return nil
	}
	vm, err := p.p.NewVM()
	if err != nil {
		return err
	}
	if w.vm != nil {
		w.vm.Close()
	}
	w.vm, w.gen = vm, p.gen
	return nil
}

// Close releases the worker's VM.
func (w *Worker) Close() {
	if w.vm != nil {
		w.vm.Close()
		w.vm = nil
	}
}

// SendTo implements core.Sender through the transport's batch writer.
func (w *Worker) SendTo(b []byte, proto core.Proto, to netip.AddrPort) error {
	if proto != core.UDP && proto != 0 {
		return fmt.Errorf("send to %s: transport %s is not served", to, proto)
	}
	if w.out == nil {
		return errors.New("send: no transport for this message")
	}
	return w.out.WriteTo(b, to)
}

// HandlePacket parses one datagram and runs the script over it.
func (w *Worker) HandlePacket(data []byte, from netip.AddrPort, out transport.Writer) {
	w.out = out
	w.Handle(data, from, core.UDP)
	w.out = nil
}

// Handle routes one message received on proto from src.
func (w *Worker) Handle(data []byte, src netip.AddrPort, proto core.Proto) {
	r := w.r
	r.Received.Add(1)
	// A bug in a module must cost one message, not the server: what comes
	// from the network never takes the process down.
	defer func() {
		if p := recover(); p != nil {
			n := r.Panics.Add(1)
			if r.errorLog.allow() {
				r.rt.Log.Log(core.LCrit, nil, fmt.Sprintf("internal error routing a message from %s (Call-ID %q): %v (so far: %d)\n%s",
					src, w.msg.CallID(), p, n, debug.Stack()))
			}
		}
	}()
	if err := w.msg.Parse(data); err != nil {
		n := r.Malformed.Add(1)
		if r.malformedLog.allow() {
			r.rt.Log.Log(core.LWarn, nil, fmt.Sprintf("dropped malformed message from %s (%d bytes): %s (malformed so far: %d)", src, len(data), clip(err.Error()), n))
		}
		return
	}
	if w.gen != r.prog.Load().gen {
		if err := w.refresh(); err != nil {
			r.rt.Log.Log(core.LErr, nil, "reload: building a VM failed, keeping the old one: "+err.Error())
		}
	}
	ctx := &w.ctx
	ctx.Reset(&w.msg, src, w.local, proto)
	ctx.VM = w.vm
	cb := r.requestCB
	if !w.msg.IsRequest() {
		ctx.Route = core.ReplyRoute
		cb = r.replyCB
	}
	err := w.vm.Call(ctx, cb)
	switch {
	case err == nil:
	case errors.Is(err, core.ErrNoCallback):
		// Only the reply callback may be missing; the request one is checked at load.
	default:
		n := r.ScriptErrors.Add(1)
		if r.errorLog.allow() {
			ctx.Log(core.LErr, fmt.Sprintf("%s failed for Call-ID %q: %v (script errors so far: %d)", cb, w.msg.CallID(), err, n))
		}
	}
	if w.msg.IsRequest() || ctx.Dropped() {
		return
	}
	for _, h := range r.rt.ReplyHooks() {
		if h(ctx) {
			return
		}
	}
	w.forwardReply()
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
	if my := w.r.rt.Myself; my == nil || !my(top.Host, top.Port) {
		if log.Enabled(core.LDbg) {
			w.ctx.Log(core.LDbg, fmt.Sprintf("reply for Call-ID %q: top Via %s is not ours; dropped", w.msg.CallID(), top.Host))
		}
		return
	}
	if !it.Next() {
		if log.Enabled(core.LDbg) {
			w.ctx.Log(core.LDbg, fmt.Sprintf("reply for Call-ID %q has no second Via; dropped", w.msg.CallID()))
		}
		return
	}
	dst, ok := ViaDestination(it.Via())
	if !ok {
		w.ctx.Log(core.LWarn, fmt.Sprintf("reply for Call-ID %q: next Via %q has no address to send to; dropped", w.msg.CallID(), it.Via().Raw))
		return
	}
	if err := w.msg.RemoveTopVia(); err != nil {
		w.ctx.Log(core.LWarn, fmt.Sprintf("reply for Call-ID %q: %v", w.msg.CallID(), err))
		return
	}
	b := w.msg.AppendTo(w.ctx.Scratch[:0])
	w.ctx.Scratch = b[:0]
	if err := w.SendTo(b, core.UDP, dst); err != nil {
		w.ctx.Log(core.LWarn, fmt.Sprintf("reply for Call-ID %q to %s: %v", w.msg.CallID(), dst, err))
	}
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

// clip keeps a log line short when an error quotes hostile input.
func clip(s string) string {
	const max = 300
	if len(s) <= max {
		return s
	}
	return s[:max] + fmt.Sprintf("... (%d bytes more)", len(s)-max)
}

// rateLimit lets a burst of log lines through, then one per interval, so a
// flood of bad input cannot flood the log while single events still show.
type rateLimit struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

const (
	logBurst  = 20
	logPerSec = 5
)

func (l *rateLimit) allow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.last.IsZero() {
		l.tokens = logBurst
	} else {
		l.tokens += now.Sub(l.last).Seconds() * logPerSec
		if l.tokens > logBurst {
			l.tokens = logBurst
		}
	}
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}
