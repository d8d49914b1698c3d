// Package tm implements modules tm: transactions (RFC 3261 section 17) and
// the stateful proxy core (section 16).
//
// A cell is one transaction: the server transaction of a request that came
// in and the client transactions of its branches. Cells live in a hash
// table shared by every worker (a lock per bucket for the table, a lock per
// cell for its state) and come from a pool, so a call allocates next to
// nothing once the pool is warm. A cell's id is a hash of the request's
// transaction key (top Via branch and sent-by); the Via tm puts on each
// branch carries that id and the branch index, so a reply finds its cell
// directly. Retransmissions of the request find the cell by the same id
// and get the last reply again.
//
// Timers (A, B, D, E, F, G, H, I, J, K) are entries in one heap ordered by
// deadline, read by one goroutine every 10 ms against a Clock; a stopped
// timer is only forgotten by its cell and skipped when it comes due.
// Tests drive the same code with a FakeClock and TM.Tick.
//
// Script routes (branch, onreply, failure) never run with a cell locked.
// Failure routes run on a context of their own whose message is the kept
// request (Kamailio's "faked request"), on the worker's VM when a reply
// completes the transaction, or on the timer goroutine's own VM (from
// rt.NewVM) when a timeout does.
package tm

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"kemi/core"
	"kemi/internal/memguard"
	"kemi/internal/resolve"
	"kemi/sip"
)

// msgState is tm's per-message state in a worker's Ctx; a new message
// starts with every field zero but the worker's caches carry keeps.
type msgState struct {
	// The worker's cache of its runtime's transaction layer and its
	// scratch env; they outlive a message.
	rt *core.Runtime
	t  *TM
	e  *env

	c   *cell // the transaction of this message (t_newtran, t_relay, routes)
	gen uint32

	// Routes and timers named before the transaction exists.
	onFailure, onBranch, onReply, onBranchFailure string
	fr, frInv                                     int64
	rFrom, rTo                                    []byte // RestoreInReplies before the cell exists

	// What a branch, onreply or failure route is about.
	brIdx, code                  int
	inBranch, inReply, inFailure bool
}

var msgStates = core.NewMsgState(func(old *msgState) msgState {
	return msgState{rt: old.rt, t: old.t, e: old.e, rFrom: old.rFrom[:0], rTo: old.rTo[:0]}
})

// tms is each runtime's transaction layer.
var tms = core.NewRuntimeState[TM](nil)

// state returns ctx's tm state, reset when ctx carries a new message.
func state(ctx *core.Ctx) *msgState {
	st := msgStates.Get(ctx)
	// send_reply and send_reply_error answer through the transaction
	// when the message has one (after t_newtran or t_relay, or in a
	// failure route), as Kamailio's sl does: every path that gives the
	// message a cell passes here first.
	ctx.SetTxReply(txReply)
	return st
}

// txReply is the Ctx's stateful reply (core.Ctx.TxReply) for sl.
func txReply(ctx *core.Ctx, code int, reason string) (int, bool) {
	if !HasTransaction(ctx) {
		return 0, false
	}
	return Reply(ctx, code, reason), true
}

// get returns the transaction layer of ctx's runtime and ctx's state.
func get(ctx *core.Ctx) (*TM, *msgState) {
	st := state(ctx)
	if st.rt != ctx.RT || st.t == nil {
		st.rt, st.t, st.e = ctx.RT, tms.Peek(ctx.RT), nil
	}
	if st.t != nil {
		if st.e == nil {
			st.e = &env{t: st.t}
		}
		e := st.e
		e.out, e.vm = ctx.Out, ctx.VM
		// A worker's scratch buffers do not keep what a large message grew.
		if cap(e.buf) > maxKeepBuf {
			e.buf = nil
		}
		if cap(e.ubuf) > maxKeepBuf {
			e.ubuf = nil
		}
	}
	return st.t, st
}

// Attach makes t the transaction layer of rt (tests; start does it for
// a loaded module).
func Attach(rt *core.Runtime, t *TM) {
	tms.Set(rt, t)
	rt.AddReplyHook(t.Hook)
}

// replyHook matches a received reply to its transaction (reply_hooks: in
// module.yaml).
func replyHook(ctx *core.Ctx) bool {
	if t := tms.Peek(ctx.RT); t != nil {
		return t.Hook(ctx)
	}
	return false
}

// stop ends the timers of rt's transaction layer (stop: in module.yaml).
func stop(rt *core.Runtime) {
	t := tms.Peek(rt)
	if t == nil {
		return
	}
	if t.unIdle != nil {
		t.unIdle()
	}
	t.stopAsync()
	if t.stop != nil {
		t.Stop() // the timer goroutine closes its VM
	} else {
		t.closeTimerVM() // kemi test's stepped clock: no goroutine ran
	}
}

// pvBranchIdx is $T_branch_idx.
func pvBranchIdx(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	st := state(ctx)
	if !st.inBranch && !st.inReply && !st.inFailure {
		return append(dst, '0'), true
	}
	return strconv.AppendInt(dst, int64(st.brIdx), 10), true
}

// pvReplyCode is $T_reply_code.
func pvReplyCode(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	code := GetStatusCode(ctx)
	if code < 0 {
		code = 0
	}
	return strconv.AppendInt(dst, int64(code), 10), true
}

// start reads the modparams, starts the timers and hooks replies.
func start(rt *core.Runtime) error {
	tm := RFCTimers()
	ms := func(name string, dst *int64) error {
		v := rt.Param("tm", name)
		n := v.I
		if v.Kind == core.KStr {
			var err error
			if n, err = strconv.ParseInt(v.S, 10, 64); err != nil {
				return fmt.Errorf("modparam %s: expected milliseconds, got %q", name, v.S)
			}
		}
		if n <= 0 {
			return fmt.Errorf("modparam %s: expected a positive number of milliseconds, got %d", name, n)
		}
		*dst = n * int64(time.Millisecond)
		return nil
	}
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"fr_timer", &tm.FR}, {"fr_inv_timer", &tm.FRInv}, {"wt_timer", &tm.Wait}} {
		if err := ms(p.name, p.dst); err != nil {
			return err
		}
	}
	var clock Clock = monoClock{base: time.Now()}
	if rt.Clock != nil {
		clock = rt.Clock
	}
	t := New(rt, clock, tm)
	if v := rt.Param("tm", "failure_reply_mode"); v.Kind == core.KInt {
		if v.I < 0 || v.I > 3 {
			return fmt.Errorf("modparam failure_reply_mode: expected 0-3, got %d", v.I)
		}
		t.mode = int(v.I)
	}
	tms.Set(rt, t) // replyHook finds it; stop ends it
	// Kamailio's tmx statistics.
	rt.AddGauge("tmx:active_transactions", func() int64 { return int64(t.Live()) })
	rt.AddGaugeVec(core.GaugeVec{Name: "kemi_transactions", Help: "Transactions in memory by the state of their server side.", Label: "state",
		Get: func(add func(string, int64)) {
			n := t.CountStates()
			for s := range n {
				add(uasState(s).String(), n[s])
			}
		}})
	if sc, ok := rt.Clock.(core.SteppedClock); ok {
		// kemi test: the timers fire when the fake clock moves.
		sc.OnAdvance(t.Tick)
	} else {
		t.Start()
	}
	// After a load the pool shrinks, so its cells' memory can go back.
	t.unIdle = t.guard.OnIdle(t.tab.trim)
	return nil
}

func logErr(ctx *core.Ctx, msg string) { ctx.Log(core.LErr, "tm: "+msg+"\n") }

func noTM(ctx *core.Ctx, fn string) int {
	logErr(ctx, fn+": module tm is not started")
	return -1
}

// Relay is t_relay.
func Relay(ctx *core.Ctx) int { return relayCounted(ctx, netip.AddrPort{}, 0, "t_relay") }

// relayCounted is relayTo counting core:fwd_requests on success.
func relayCounted(ctx *core.Ctx, to netip.AddrPort, proto core.Proto, fn string) int {
	r := relayTo(ctx, to, proto, fn)
	if r > 0 {
		ctx.Count(core.StatFwdRequests)
	}
	return r
}

// RelayToProtoAddr is t_relay_to_proto_addr: proto is udp, tcp or tls
// (any case; "" is udp).
func RelayToProtoAddr(ctx *core.Ctx, proto, host string, port int) int {
	var p core.Proto
	switch strings.ToLower(proto) {
	case "", "udp":
		p = core.UDP
	case "tcp":
		p = core.TCP
	case "tls":
		p = core.TLS
	case "ws":
		p = core.WS
	case "wss":
		p = core.WSS
	default:
		logErr(ctx, "t_relay_to_proto_addr: transport "+core.LogQuote(proto)+" is not served (udp, tcp, tls, ws, wss)")
		return -1
	}
	a, err := netip.ParseAddr(host)
	if err != nil || port <= 0 || port > 65535 {
		logErr(ctx, fmt.Sprintf("t_relay_to_proto_addr: expected an IP address and a port 1-65535, got %s and %d", core.LogQuote(host), port))
		return -1
	}
	return relayCounted(ctx, netip.AddrPortFrom(a.Unmap(), uint16(port)), p, "t_relay_to_proto_addr")
}

func relayTo(ctx *core.Ctx, to netip.AddrPort, toProto core.Proto, fn string) int {
	t, st := get(ctx)
	if t == nil {
		return noTM(ctx, fn)
	}
	m := ctx.Msg
	if m == nil || !m.IsRequest() {
		logErr(ctx, fn+": the message is not a request")
		return -1
	}
	e := st.e
	if st.inFailure && st.c != nil {
		return t.relayAgain(ctx, st, to, toProto, fn)
	}
	id, ok := requestID(m)
	if !ok {
		logErr(ctx, fn+": the request has no usable Via")
		return -1
	}
	switch m.MethodID() {
	case sip.MethodACK:
		if c, gen := t.tab.lookup(id, true); c != nil && t.ackIn(c, gen) {
			return 0
		}
		return t.stateless(ctx, id, to, toProto, fn)
	case sip.MethodCANCEL:
		c, gen := t.tab.lookup(id, true)
		if c == nil {
			return t.stateless(ctx, id, to, toProto, fn)
		}
		replyCancel(ctx)
		t.cancelIn(e, c, gen)
		return 1
	}
	inv := m.MethodID() == sip.MethodINVITE
	c, gen := st.c, st.gen
	created := false
	if c == nil {
		if oc, ogen := t.tab.lookup(id, inv); oc != nil {
			t.replay(e, oc, ogen)
			return 0
		}
		if !t.guard.Admit() {
			t.refuse(ctx, fn)
			return 0
		}
		var isNew bool
		var err error
		c, gen, isNew, err = t.createCell(ctx, id, st)
		if err != nil {
			logErr(ctx, fn+": "+core.LogValue(err.Error()))
			return -1
		}
		if !isNew {
			t.replay(e, c, gen)
			return 0
		}
		created = true
	}
	a := relayArgs{ruri: m.RequestURI(), dstURI: ctx.DstURI, dstConnID: ctx.DstConnID, path: ctx.Path, branches: ctx.Branches, to: to, toProto: toProto,
		flags: ctx.Flags, bflags: ctx.BranchFlags, local: ctx.Local, vm: ctx.VM, rt: ctx.RT}
	if _, err := t.relay(e, c, gen, &a); err != nil {
		logErr(ctx, fn+": Call-ID "+core.LogQuote(m.CallID())+": "+core.LogValue(err.Error()))
		if errors.As(err, new(sendError)) {
			ctx.SerError = core.ESend
		}
		if created {
			c.mu.Lock()
			if c.gen.Load() == gen {
				t.tab.free(c)
			} else {
				c.mu.Unlock()
			}
		}
		return -1
	}
	st.c, st.gen = c, gen
	// 100 Trying once the INVITE is relayed, also when t_newtran made the
	// transaction (it sends none, as Kamailio's t_newtran), unless a reply
	// went upstream already.
	if inv {
		c.mu.Lock()
		if c.gen.Load() == gen && c.state == uasProceeding && len(c.reply) == 0 {
			t.sendLocal(e, c, 100, "Trying", nil, nil, "")
		}
		c.mu.Unlock()
	}
	return 1
}

// relayAgain is t_relay in a failure route: new branches for the same
// transaction, from the request as the failure route left it.
func (t *TM) relayAgain(ctx *core.Ctx, st *msgState, to netip.AddrPort, toProto core.Proto, fn string) int {
	c, gen := st.c, st.gen
	m := ctx.Msg
	e := st.e
	if m.PendingEdits() {
		c.mu.Lock()
		if c.gen.Load() != gen {
			c.mu.Unlock()
			return -1
		}
		c.tmp = m.AppendTo(c.tmp[:0])
		c.base, c.tmp = c.tmp, c.base
		c.mu.Unlock()
		// The script's message now reads the new request (its edits are in).
		if err := m.Parse(c.base); err != nil {
			logErr(ctx, fn+": re-parsing the request: "+core.LogValue(err.Error()))
			return -1
		}
	}
	a := relayArgs{ruri: m.RequestURI(), dstURI: ctx.DstURI, dstConnID: ctx.DstConnID, path: ctx.Path, branches: ctx.Branches, to: to, toProto: toProto,
		flags: ctx.Flags, bflags: ctx.BranchFlags, local: ctx.Local, vm: ctx.VM, rt: ctx.RT}
	if _, err := t.relay(e, c, gen, &a); err != nil {
		logErr(ctx, fn+": Call-ID "+core.LogQuote(m.CallID())+": "+core.LogValue(err.Error()))
		if errors.As(err, new(sendError)) {
			ctx.SerError = core.ESend
		}
		return -1
	}
	return 1
}

// stateless forwards ACK (to a 2xx) and an unmatched CANCEL: our Via with
// a branch derived from the request, to $du or the Request-URI.
func (t *TM) stateless(ctx *core.Ctx, id uint64, to netip.AddrPort, toProto core.Proto, fn string) int {
	m := ctx.Msg
	dst := to
	proto, sni := core.UDP, ""
	if toProto != 0 {
		proto = toProto
	}
	if !dst.IsValid() {
		target := m.RequestURI()
		if ctx.DstURI != "" {
			e := state(ctx).e
			e.buf = append(e.buf[:0], ctx.DstURI...)
			target = e.buf
		}
		var why string
		var name bool
		var tr int
		dst, name, tr, why = sip.URINextHop(target)
		proto = core.ProtoOfTransport(tr)
		if name {
			ts, err := resolve.Default().AppendURITargets(nil, target)
			if err != nil {
				why = err.Error()
			} else {
				dst, why = ts[0].Addr, ""
				proto, sni = ts[0].Proto.CoreProto(), ts[0].Host
			}
		}
		if why != "" {
			logErr(ctx, fn+": "+core.LogValue(m.Method())+" for Call-ID "+core.LogQuote(m.CallID())+": destination: "+why)
			return -1
		}
	}
	if v, err := m.TopVia(); err == nil && (v.RportSet || ctx.ForceRport || sip.NeedsReceived(&v, ctx.Src.Addr())) {
		if err := m.AddViaReceived(ctx.Src, ctx.ForceRport); err != nil {
			logErr(ctx, fn+": "+core.LogValue(err.Error()))
			return -1
		}
	}
	local := ctx.Local
	if proto.IsStream() {
		var ok bool
		if ctx.RT == nil || ctx.RT.StreamLocal == nil {
			ok = false
		} else {
			local, ok = ctx.RT.StreamLocal(proto)
		}
		if !ok {
			logErr(ctx, fn+": destination "+proto.String()+":"+dst.String()+": no "+proto.String()+" listen")
			return -1
		}
	}
	var vb [96]byte
	if err := m.PrependVia(appendViaProto(vb[:0], proto, local, id, 0)); err != nil {
		logErr(ctx, fn+": "+core.LogValue(err.Error()))
		return -1
	}
	b := m.AppendTo(ctx.Scratch[:0])
	ctx.Scratch = b[:0]
	if ctx.Out == nil {
		logErr(ctx, fn+": no sender for this message")
		return -1
	}
	if proto.IsStream() {
		if err := ctx.RT.SendStream(b, proto, dst, core.ForwardOpts(ctx.ConnFlags, sni)); err != nil {
			logErr(ctx, fn+": "+core.LogValue(err.Error()))
			return -1
		}
		return 1
	}
	if err := ctx.Out.SendTo(b, core.UDP, dst); err != nil {
		logErr(ctx, fn+": "+core.LogValue(err.Error()))
		return -1
	}
	return 1
}

// refuse answers a request that would have created a transaction while
// the heap is over the memory budget's high-water mark: a stateless 503
// with Retry-After, as small as a reply to it can be (no body, none of the
// script's reply headers). The caller returns 0, so the script does not
// answer again. Counted and logged (at most a line a second) by the guard.
func (t *TM) refuse(ctx *core.Ctx, fn string) {
	if line := t.guard.Refuse(); line != "" {
		logErr(ctx, fn+": "+line)
	}
	m := ctx.Msg
	if ctx.Out == nil {
		return
	}
	opt := sip.ReplyOptions{ServerHeader: t.rt.ServerHeader(), Src: ctx.Src, ForceRport: ctx.ForceRport, ExtraHeaders: retryAfter}
	b := sip.AppendReply(ctx.Scratch[:0], m, 503, "Service Unavailable", &opt)
	ctx.Scratch = b[:0]
	if err := ctx.Out.SendTo(b, replyProto(ctx), sip.ReplyAddr(m, ctx.Src, ctx.ForceRport)); err != nil {
		logErr(ctx, fn+": 503 over the memory budget: "+err.Error())
	}
}

// replyProto is the transport a reply to ctx's message goes back over:
// the request's (the worker sends it on the request's connection).
func replyProto(ctx *core.Ctx) core.Proto {
	if ctx.Proto.IsStream() {
		return ctx.Proto
	}
	return core.UDP
}

var retryAfter = []byte("Retry-After: " + strconv.Itoa(memguard.RetryAfter) + "\r\n")

// replyCancel answers a CANCEL that matched its INVITE with 200.
func replyCancel(ctx *core.Ctx) {
	m := ctx.Msg
	opt := sip.ReplyOptions{ServerHeader: ctx.ServerHeader(), Src: ctx.Src, ForceRport: ctx.ForceRport}
	b := sip.AppendReply(ctx.Scratch[:0], m, 200, "OK", &opt)
	ctx.Scratch = b[:0]
	if ctx.Out != nil {
		if err := ctx.Out.SendTo(b, replyProto(ctx), sip.ReplyAddr(m, ctx.Src, ctx.ForceRport)); err != nil {
			logErr(ctx, "200 to CANCEL: "+core.LogValue(err.Error()))
		}
	}
}

// Hook takes replies that belong to a transaction (registered with
// rt.AddReplyHook): the onreply route runs, then the reply is handled.
func (t *TM) Hook(ctx *core.Ctx) bool {
	m := ctx.Msg
	v, err := m.TopVia()
	if err != nil {
		return false
	}
	if t.uacReply(ctx, &v) {
		return true
	}
	id, idx, ok := parseBranch(v.Branch)
	if !ok || idx >= maxBranches {
		return false
	}
	_, meth, err := m.CSeq()
	if err != nil {
		return false
	}
	mid := sip.LookupMethod(meth)
	isCancel := mid == sip.MethodCANCEL
	c, gen := t.tab.lookup(id, mid == sip.MethodINVITE || isCancel)
	if c == nil {
		return false
	}
	_, st := get(ctx)
	if st.t != t {
		st.t, st.e = t, &env{t: t, out: ctx.Out, vm: ctx.VM}
	}
	if !isCancel {
		c.mu.Lock()
		onReply := ""
		if c.gen.Load() == gen && c.live {
			onReply = c.onReply
			if len(c.rFrom) > 0 || len(c.rTo) > 0 {
				restoreReply(c, m)
			}
			// As in Kamailio, the onreply route sees the request's flags
			// and the branch's flags, and what it sets goes back to them.
			ctx.Flags = c.flags
			if idx < c.nbr {
				ctx.BranchFlags = c.br[idx].bflags
			}
		}
		c.mu.Unlock()
		if onReply != "" && ctx.VM != nil {
			code := m.StatusCode()
			st.c, st.gen, st.brIdx, st.code, st.inReply = c, gen, idx, code, true
			prev := ctx.Route
			ctx.Route = core.OnReplyRoute
			err := core.CallRoute(ctx.VM, ctx, onReply)
			ctx.Route = prev
			st.c, st.inReply = nil, false
			c.mu.Lock()
			if c.gen.Load() == gen && c.live {
				c.flags = ctx.Flags
				if idx < c.nbr {
					c.br[idx].bflags = ctx.BranchFlags
				}
			}
			c.mu.Unlock()
			if err != nil {
				logErr(ctx, "onreply route "+onReply+": "+core.LogValue(err.Error()))
			}
			if ctx.Dropped() && code < 200 {
				return true
			}
		}
	}
	t.replyIn(st.e, c, gen, idx, m, isCancel)
	return true
}

// CheckTrans is t_check_trans.
func CheckTrans(ctx *core.Ctx) int {
	t, st := get(ctx)
	if t == nil {
		return noTM(ctx, "t_check_trans")
	}
	m := ctx.Msg
	if m == nil {
		return -1
	}
	if !m.IsRequest() {
		id, _, ok := parseBranch(m.ViaBranch())
		if !ok {
			return -1
		}
		_, meth, _ := m.CSeq()
		mid := sip.LookupMethod(meth)
		if c, _ := t.tab.lookup(id, mid == sip.MethodINVITE || mid == sip.MethodCANCEL); c != nil {
			return 1
		}
		return -1
	}
	id, ok := requestID(m)
	if !ok {
		return -1
	}
	switch m.MethodID() {
	case sip.MethodCANCEL:
		if c, _ := t.tab.lookup(id, true); c != nil {
			return 1
		}
		return -1
	case sip.MethodACK:
		c, gen := t.tab.lookup(id, true)
		if c == nil {
			return -1
		}
		if t.ackIn(c, gen) {
			return 0
		}
		return 1
	}
	c, gen := t.tab.lookup(id, m.MethodID() == sip.MethodINVITE)
	if c == nil {
		return -1
	}
	t.replay(st.e, c, gen)
	return 0
}

// Precheck tells whether a request belongs to a transaction already,
// without side effects (tmx t_precheck_trans).
func Precheck(ctx *core.Ctx) int {
	t, _ := get(ctx)
	if t == nil || ctx.Msg == nil || !ctx.Msg.IsRequest() {
		return -1
	}
	id, ok := requestID(ctx.Msg)
	if !ok {
		return -1
	}
	mid := ctx.Msg.MethodID()
	if c, _ := t.tab.lookup(id, mid == sip.MethodINVITE || mid == sip.MethodACK || mid == sip.MethodCANCEL); c != nil {
		return 1
	}
	return -1
}

// NewTran is t_newtran.
func NewTran(ctx *core.Ctx) int {
	t, st := get(ctx)
	if t == nil {
		return noTM(ctx, "t_newtran")
	}
	m := ctx.Msg
	if m == nil || !m.IsRequest() || m.MethodID() == sip.MethodACK || m.MethodID() == sip.MethodCANCEL {
		logErr(ctx, "t_newtran: expected a request other than ACK and CANCEL")
		return -1
	}
	if st.c != nil {
		return 1
	}
	id, ok := requestID(m)
	if !ok {
		logErr(ctx, "t_newtran: the request has no usable Via")
		return -1
	}
	inv := m.MethodID() == sip.MethodINVITE
	if c, gen := t.tab.lookup(id, inv); c != nil {
		t.replay(st.e, c, gen)
		return 0
	}
	if !t.guard.Admit() {
		t.refuse(ctx, "t_newtran")
		return 0
	}
	c, gen, isNew, err := t.createCell(ctx, id, st)
	if err != nil {
		logErr(ctx, "t_newtran: "+core.LogValue(err.Error()))
		return -1
	}
	if !isNew {
		t.replay(st.e, c, gen)
		return 0
	}
	st.c, st.gen = c, gen
	c.mu.Lock()
	// No 100 Trying here, as in Kamailio: an INVITE the script answers at
	// once (t_reply) gets only its final reply; t_relay sends the 100.
	// A transaction without branches ends by t_reply; until then fr_timer
	// bounds it, so a script that never replies leaks nothing.
	c.ackWaitAt = 0
	t.deleteAt(c, t.clock.Now()+c.fr+t.tm.Wait)
	c.mu.Unlock()
	return 1
}

// HasTransaction reports whether the current message has a transaction
// that t_reply can answer (after t_newtran or t_relay, or in a failure
// route), so sl's send_reply can reply statefully then.
func HasTransaction(ctx *core.Ctx) bool {
	t, st := get(ctx)
	if t == nil || st.c == nil {
		return false
	}
	st.c.mu.Lock()
	defer st.c.mu.Unlock()
	return st.c.gen.Load() == st.gen && st.c.live && st.c.state == uasProceeding
}

// Reply is t_reply.
func Reply(ctx *core.Ctx, code int, reason string) int {
	t, st := get(ctx)
	if t == nil {
		return noTM(ctx, "t_reply")
	}
	if code < 100 || code > 699 {
		logErr(ctx, "t_reply: status code "+strconv.Itoa(code)+" is out of range 100-699")
		return -1
	}
	c, gen := st.c, st.gen
	if c == nil {
		logErr(ctx, "t_reply: no transaction for this message; call t_newtran first")
		return -1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen || !c.live {
		logErr(ctx, "t_reply: the transaction ended")
		return -1
	}
	if c.state != uasProceeding {
		logErr(ctx, "t_reply: the transaction already has its final reply ("+strconv.Itoa(c.replyCode)+")")
		return -1
	}
	body, ctype, _ := ctx.ReplyBody()
	t.sendLocal(st.e, c, code, reason, ctx.ReplyHeaders(), body, ctype)
	return 1
}

// withCell runs fn on the message's transaction under its lock; false when
// there is none.
func withCell(ctx *core.Ctx, fn func(c *cell, st *msgState)) bool {
	_, st := get(ctx)
	c := st.c
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != st.gen || !c.live {
		return false
	}
	fn(c, st)
	return true
}

func setRoute(ctx *core.Ctx, name string, which func(c *cell) *string, pending func(st *msgState) *string) int {
	if !withCell(ctx, func(c *cell, _ *msgState) { *which(c) = name }) {
		*pending(state(ctx)) = name
	}
	return 1
}

// OnFailure is t_on_failure.
func OnFailure(ctx *core.Ctx, name string) int {
	return setRoute(ctx, name, func(c *cell) *string { return &c.onFailure }, func(st *msgState) *string { return &st.onFailure })
}

// OnBranch is t_on_branch.
func OnBranch(ctx *core.Ctx, name string) int {
	return setRoute(ctx, name, func(c *cell) *string { return &c.onBranch }, func(st *msgState) *string { return &st.onBranch })
}

// OnReply is t_on_reply.
func OnReply(ctx *core.Ctx, name string) int {
	return setRoute(ctx, name, func(c *cell) *string { return &c.onReply }, func(st *msgState) *string { return &st.onReply })
}

// OnBranchFailure is t_on_branch_failure.
func OnBranchFailure(ctx *core.Ctx, name string) int {
	return setRoute(ctx, name, func(c *cell) *string { return &c.onBranchFailure }, func(st *msgState) *string { return &st.onBranchFailure })
}

// IsSet is t_is_set.
func IsSet(ctx *core.Ctx, target string) int {
	var v string
	if !withCell(ctx, func(c *cell, _ *msgState) {
		switch target {
		case "failure_route":
			v = c.onFailure
		case "branch_route":
			v = c.onBranch
		case "onreply_route":
			v = c.onReply
		}
	}) {
		st := state(ctx)
		switch target {
		case "failure_route":
			v = st.onFailure
		case "branch_route":
			v = st.onBranch
		case "onreply_route":
			v = st.onReply
		}
	}
	switch target {
	case "failure_route", "branch_route", "onreply_route":
	default:
		logErr(ctx, "t_is_set: expected failure_route, branch_route or onreply_route, got "+core.LogQuote(target))
		return -1
	}
	if v != "" {
		return 1
	}
	return -1
}

func yes(b bool) int {
	if b {
		return 1
	}
	return -1
}

// IsCanceled is t_is_canceled.
func IsCanceled(ctx *core.Ctx) int {
	r := false
	withCell(ctx, func(c *cell, _ *msgState) { r = c.canceled })
	return yes(r)
}

// GetBranchIndex is t_get_branch_index.
func GetBranchIndex(ctx *core.Ctx) int {
	st := state(ctx)
	if st.inBranch || st.inReply || st.inFailure {
		return st.brIdx
	}
	return -1
}

// SetFr is t_set_fr.
func SetFr(ctx *core.Ctx, frInv, fr int) int {
	if frInv < 0 || fr < 0 {
		logErr(ctx, fmt.Sprintf("t_set_fr: expected milliseconds >= 0, got %d, %d", frInv, fr))
		return -1
	}
	t, st := get(ctx)
	if t == nil {
		return noTM(ctx, "t_set_fr")
	}
	inv, f := int64(frInv)*int64(time.Millisecond), int64(fr)*int64(time.Millisecond)
	if !withCell(ctx, func(c *cell, _ *msgState) {
		if inv > 0 {
			c.frInv = inv
		}
		if f > 0 {
			c.fr = f
		}
	}) {
		if inv > 0 {
			st.frInv = inv
		}
		if f > 0 {
			st.fr = f
		}
	}
	return 1
}

// ResetFr is t_reset_fr.
func ResetFr(ctx *core.Ctx) int {
	t, st := get(ctx)
	if t == nil {
		return noTM(ctx, "t_reset_fr")
	}
	st.fr, st.frInv = 0, 0
	withCell(ctx, func(c *cell, _ *msgState) { c.fr, c.frInv = t.tm.FR, t.tm.FRInv })
	return 1
}

func branchIs(ctx *core.Ctx, f func(b *branch) bool) int {
	r := false
	withCell(ctx, func(c *cell, st *msgState) {
		if st.inFailure && st.brIdx >= 0 && st.brIdx < c.nbr {
			r = f(&c.br[st.brIdx])
		}
	})
	return yes(r)
}

func anyIs(ctx *core.Ctx, f func(b *branch) bool) int {
	r := false
	withCell(ctx, func(c *cell, _ *msgState) {
		for i := 0; i < c.nbr; i++ {
			r = r || f(&c.br[i])
		}
	})
	return yes(r)
}

// BranchTimeout is t_branch_timeout.
func BranchTimeout(ctx *core.Ctx) int {
	return branchIs(ctx, func(b *branch) bool { return b.timedOut })
}

// BranchReplied is t_branch_replied.
func BranchReplied(ctx *core.Ctx) int {
	return branchIs(ctx, func(b *branch) bool { return b.replied })
}

// AnyTimeout is t_any_timeout.
func AnyTimeout(ctx *core.Ctx) int { return anyIs(ctx, func(b *branch) bool { return b.timedOut }) }

// AnyReplied is t_any_replied.
func AnyReplied(ctx *core.Ctx) int { return anyIs(ctx, func(b *branch) bool { return b.replied }) }

// GetStatusCode is t_get_status_code.
func GetStatusCode(ctx *core.Ctx) int {
	st := state(ctx)
	if st.inReply || st.inFailure {
		return st.code
	}
	code := -1
	withCell(ctx, func(c *cell, _ *msgState) { code = c.replyCode })
	return code
}

var statusREs sync.Map // pattern -> *regexp.Regexp (or error)

// CheckStatus is t_check_status.
func CheckStatus(ctx *core.Ctx, re string) int {
	code := GetStatusCode(ctx)
	if code <= 0 {
		return -1
	}
	v, ok := statusREs.Load(re)
	if !ok {
		r, err := regexp.Compile(re)
		if err != nil {
			logErr(ctx, "t_check_status: bad regular expression "+core.LogQuote(re)+": "+core.LogValue(err.Error()))
			return -1
		}
		v, _ = statusREs.LoadOrStore(re, r)
	}
	var b [4]byte
	return yes(v.(*regexp.Regexp).Match(strconv.AppendInt(b[:0], int64(code), 10)))
}
