package tm

import (
	"fmt"
	"net/netip"
	"strconv"
	"sync"

	"kemi/core"
	"kemi/internal/memguard"
	"kemi/internal/resolve"
	"kemi/sip"
)

// cellOverhead is roughly what a cell holds besides copies of its request.
const cellOverhead = 2048

// localReplySize is the first capacity of a cell's reply buffer.
const localReplySize = 1024

// bufSlack is room for what tm and the script add to a kept message (Via,
// received, Record-Route), so a new cell's buffers are allocated once.
const bufSlack = 512

// TM is the transaction layer of one runtime: the table, the timers and the
// settings from modparams.
type TM struct {
	missing sync.Map // failure route names found missing, logged once
	rt      *core.Runtime
	clock   Clock
	tm      Timers
	mode    int // failure_reply_mode
	tab     table
	wheel   wheel
	tenv    *env // the timer goroutine's
	aenv    *env // the continuation goroutine's (async.go)
	async   asyncRunner
	stop    chan struct{}
	stopWG  sync.WaitGroup
	// guard admits new transactions (the -m budget); memguard.Default
	// unless a test gives its own.
	guard *memguard.Guard
	// unIdle cancels guard.OnIdle's trim of the pool (stop).
	unIdle func()
	// uac are the local requests (tm.t_uac_start).
	uac uacs
}

// New builds a transaction layer over rt with a clock and timer values.
// The caller drives timers with Tick (tests) or Start (a goroutine).
func New(rt *core.Runtime, clock Clock, tm Timers) *TM {
	t := &TM{rt: rt, clock: clock, tm: tm, mode: 3, guard: memguard.Default}
	t.tab.wheel = &t.wheel
	t.tab.guard = t.guard
	t.tenv = &env{t: t, out: rtSender{rt}, own: true}
	t.aenv = &env{t: t, out: rtSender{rt}, own: true}
	t.uac.init()
	return t
}

// rtSender sends through rt.Send, for timers.
type rtSender struct{ rt *core.Runtime }

func (s rtSender) SendTo(b []byte, proto core.Proto, to netip.AddrPort) error {
	if s.rt == nil || s.rt.Send == nil {
		return fmt.Errorf("tm: send to %s: no sender outside a worker", to)
	}
	return s.rt.Send(b, proto, to)
}

// env is what handling an event needs besides the cell: where to send,
// the VM and contexts to run script routes on, and scratch messages. Each
// worker Ctx has one (in its slot) and the timer goroutine has one.
type env struct {
	t     *TM
	out   core.Sender
	vm    core.VM
	newV  bool   // vm was built by this env (timer goroutine) and is closed with it
	own   bool   // the env of a goroutine of tm's own (timers, continuations): it may build a VM
	vmGen uint64 // the program generation (rt.VMGen) vm was built from

	scratch sip.Msg // building branches, CANCELs and ACKs
	rmsg    sip.Msg // the kept request, for local replies
	fmsg    sip.Msg // the request a failure route sees
	fctx    core.Ctx
	bctx    core.Ctx // branch routes
	buf     []byte
	ubuf    []byte
	batch   []tentry
	tgts    []resolve.Target // the targets of a next hop resolved in DNS
	// hopProto and hopSNI are what buildBranch found for the branch's
	// next hop: its transport, and the host name TLS verifies.
	hopProto core.Proto
	hopSNI   string
	// rrIn, rrOut build double Record-Route values (doubleRR).
	rrIn, rrOut []byte
}

func (e *env) log(level int, msg string) {
	if e.t.rt != nil && e.t.rt.Log != nil {
		e.t.rt.Log.Log(level, nil, "tm: "+msg)
	}
}

func (e *env) send(b []byte, to netip.AddrPort) {
	if err := e.out.SendTo(b, core.UDP, to); err != nil {
		e.log(core.LWarn, core.LogValue(err.Error()))
	}
}

// upProvisional sends c.reply, a provisional reply, upstream now rather
// than when the worker's UDP batch ends (core.Flusher). The final reply
// may reach another worker the moment c.mu is released, and that
// worker's batch may be sent first; Kamailio sends under its reply lock,
// so a provisional never follows the final. sipp, for one, aborts a call
// on a 180 that comes after the 200.
func (e *env) upProvisional(c *cell) {
	e.up(c, c.reply)
	if f, ok := e.out.(core.Flusher); ok {
		f.Flush()
	}
}

// up sends b upstream: to the request's source over its transport, on
// its connection for TCP and TLS.
func (e *env) up(c *cell, b []byte) {
	if !c.proto.IsStream() {
		e.send(b, c.replyTo)
		return
	}
	e.sendStream(b, c.proto, c.replyTo, core.ReplyOpts(c.connID, c.connFlags))
}

// down sends b to branch br of c's next hop over its transport. A TCP or
// TLS send that fails (no connection could be opened, or none may be:
// set_forward_no_connect) is returned, and logged; UDP errors are logged.
func (e *env) down(c *cell, br *branch, b []byte) error {
	if !br.proto.IsStream() {
		e.send(b, br.dst)
		return nil
	}
	o := core.ForwardOpts(c.connFlags, br.sni)
	o.ConnID = br.connID
	return e.sendStream(b, br.proto, br.dst, o)
}

func (e *env) sendStream(b []byte, proto core.Proto, to netip.AddrPort, o core.SendOpts) error {
	rt := e.t.rt
	var err error
	if rt == nil || rt.SendStream == nil {
		err = fmt.Errorf("send to %s:%s: transport %s is not served (no tcp or tls listen)", proto, to, proto)
	} else {
		err = rt.SendStream(b, proto, to, o)
	}
	if err != nil {
		e.log(core.LWarn, core.LogValue(err.Error()))
	}
	return err
}

// arm sets a timer of c (or of branch br) to fire at at, moving it if it
// runs already.
func (t *TM) arm(c *cell, kind timerKind, br int, at int64) {
	t.wheel.set(tentry{at: at, c: c, gen: c.gen.Load(), kind: kind, br: int8(br)})
}

// disarm stops a timer of c (or of branch br).
func (t *TM) disarm(c *cell, kind timerKind, br int) { t.wheel.stop(c, kind, br) }

// routeCtx is how a route is run for a cell: the names are copied in at
// creation from what the script named before t_relay.
type relayArgs struct {
	ruri      []byte
	dstURI    string
	dstConnID uint64 // lookup's connection for branch 0
	path      string // branch 0's route set from Path (lookup); the others carry their own
	branches  []core.Branch
	to        netip.AddrPort // t_relay_to_proto_addr; invalid otherwise
	toProto   core.Proto     // t_relay_to_proto_addr's transport; 0 otherwise
	flags     uint64
	bflags    uint64 // branch 0's flags (setbflag, lookup); the others carry their own
	local     netip.AddrPort
	vm        core.VM
	rt        *core.Runtime
}

// createCell makes the transaction of a request that has none yet: the
// request (with the script's edits and received/rport on its top Via) is
// copied, as the receive buffer is reused. It returns the cell, locked is
// false; a retransmission racing on another worker gives the existing cell
// and isNew false.
func (t *TM) createCell(ctx *core.Ctx, id uint64, st *msgState) (c *cell, gen uint32, isNew bool, err error) {
	m := ctx.Msg
	if v, verr := m.TopVia(); verr == nil && (v.RportSet || ctx.ForceRport || sip.NeedsReceived(&v, ctx.Src.Addr())) {
		if err := m.AddViaReceived(ctx.Src, ctx.ForceRport); err != nil {
			return nil, 0, false, fmt.Errorf("adding received to the top Via: %w", err)
		}
	}
	// What the cell keeps is mostly copies of the request: base, a branch
	// each, and replies made from it. The guard counts it until its next
	// sample sees it in the heap.
	t.guard.Charge(2*len(m.Raw()) + cellOverhead)
	n := t.tab.get()
	n.mu.Lock()
	if cap(n.base) == 0 {
		// One allocation of the right size, not a doubling series as
		// AppendTo writes piece by piece; the cell keeps it when reused.
		n.base = make([]byte, 0, len(m.Raw())+bufSlack)
	}
	n.base = m.AppendTo(n.base[:0])
	n.live = true
	n.id = id
	n.inv = m.MethodID() == sip.MethodINVITE
	n.src, n.local, n.proto, n.connID, n.connFlags = ctx.Src, ctx.Local, ctx.Proto, ctx.ConnID, ctx.ConnFlags
	n.replyTo = sip.ReplyAddr(m, ctx.Src, ctx.ForceRport)
	n.flags = ctx.Flags
	n.rFrom, n.rTo = append(n.rFrom[:0], st.rFrom...), append(n.rTo[:0], st.rTo...)
	n.onFailure, n.onBranch, n.onReply, n.onBranchFailure = st.onFailure, st.onBranch, st.onReply, st.onBranchFailure
	n.fr, n.frInv = t.tm.FR, t.tm.FRInv
	if st.fr > 0 {
		n.fr = st.fr
	}
	if st.frInv > 0 {
		n.frInv = st.frInv
	}
	n.mu.Unlock()
	c, gen, isNew = t.tab.insert(n)
	if !isNew {
		n.mu.Lock()
		n.live = false
		n.clear()
		n.mu.Unlock()
		t.tab.put(n)
	}
	return c, gen, isNew, nil
}

// replay resends the last reply of c to a retransmitted request.
func (t *TM) replay(e *env, c *cell, gen uint32) {
	c.mu.Lock()
	if c.gen.Load() == gen && c.live && len(c.reply) > 0 {
		if c.replyCode < 200 {
			e.upProvisional(c)
		} else {
			e.up(c, c.reply)
		}
	}
	c.mu.Unlock()
}

// sendLocal builds a reply to the request of c and sends it upstream as
// the transaction's reply, with extra header lines (append_to_reply) and a
// body (set_reply_body).
// c.mu must be held.
func (t *TM) sendLocal(e *env, c *cell, code int, reason string, extra, body []byte, ctype string) {
	opt := sip.ReplyOptions{ServerHeader: t.rt.ServerHeader(), ExtraHeaders: extra, Body: body, ContentType: ctype}
	// The kept request is parsed only when a reply is built from it.
	if err := e.rmsg.Parse(c.base); err != nil {
		e.log(core.LErr, "re-parsing the kept request: "+core.LogValue(err.Error()))
		return
	}
	if cap(c.reply) == 0 {
		// A local reply copies a few of the request's headers (Via, From,
		// To, Call-ID, CSeq), not the request: sized for a usual one, it
		// grows by append for more.
		c.reply = make([]byte, 0, localReplySize+len(extra)+len(body))
	}
	c.reply = sip.AppendReply(c.reply[:0], &e.rmsg, code, reason, &opt)
	if len(c.rFrom) > 0 || len(c.rTo) > 0 {
		c.reply = restoreLocal(c, c.reply)
	}
	c.replyCode = code
	switch {
	case code >= 200:
		e.up(c, c.reply)
		t.completed(e, c, code)
	case code == 100:
		// t_relay's 100 leaves in the same batch as the relayed INVITE,
		// after it, and before that no branch can answer: nothing can
		// overtake it, and it need not cost a sendmmsg of its own.
		e.up(c, c.reply)
	default:
		e.upProvisional(c)
	}
}

// completed moves the server side on after a final reply went upstream:
// every branch still pending is cancelled (RFC 3261 16.7 step 10), and the
// cell waits for retransmissions and the ACK before it is freed. c.mu held.
func (t *TM) completed(e *env, c *cell, code int) {
	now := t.clock.Now()
	c.doneAt = now
	for i := 0; i < c.nbr; i++ {
		t.cancelBranch(e, c, i)
	}
	t.runComplete(c, code, now)
	switch {
	case c.inv && code >= 300:
		c.state = uasCompleted
		c.retrIv = t.tm.T1
		c.retrAt = now + c.retrIv
		t.arm(c, tkRetrUAS, 0, c.retrAt)
		c.ackWaitAt = now + t.tm.H()
		t.arm(c, tkAckWait, 0, c.ackWaitAt)
	case c.inv:
		c.state = uasAccepted
		t.deleteAt(c, now+t.tm.Wait)
	default:
		c.state = uasCompleted
		t.deleteAt(c, now+t.tm.Wait)
	}
}

func (t *TM) deleteAt(c *cell, at int64) {
	c.delAt = at
	t.arm(c, tkDelete, 0, at)
}

// ackIn handles an ACK that matched an INVITE cell. It returns true when
// the ACK belonged to the transaction (a non-2xx final) and was absorbed.
func (t *TM) ackIn(c *cell, gen uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen || !c.live {
		return false
	}
	switch c.state {
	case uasCompleted:
		now := t.clock.Now()
		c.state = uasConfirmed
		c.retrAt, c.ackWaitAt = 0, 0
		t.disarm(c, tkRetrUAS, 0)
		t.disarm(c, tkAckWait, 0)
		// Timer I, but the branches keep the cell for timer D.
		at := now + t.tm.T4
		if d := c.doneAt + t.tm.Wait; d > at {
			at = d
		}
		t.deleteAt(c, at)
		return true
	case uasConfirmed:
		return true
	}
	return false
}

// relay adds branches to c and sends them: the Request-URI (or a.to / $du)
// first, then a.branches. It returns how many were sent.
func (t *TM) relay(e *env, c *cell, gen uint32, a *relayArgs) (int, error) {
	c.mu.Lock()
	if c.gen.Load() != gen || !c.live {
		c.mu.Unlock()
		return 0, fmt.Errorf("the transaction ended")
	}
	if c.state != uasProceeding {
		c.mu.Unlock()
		return 0, fmt.Errorf("the transaction already has its final reply")
	}
	onBranch := c.onBranch
	round := c.round
	c.mu.Unlock()

	sent := 0
	var firstErr error
	for k := -1; k < len(a.branches); k++ {
		ruri, dstURI := a.ruri, a.dstURI
		to, toProto := a.to, a.toProto
		bflags := a.bflags
		connID := a.dstConnID
		path := a.path
		if k >= 0 {
			b := &a.branches[k]
			e.ubuf = append(e.ubuf[:0], b.URI...)
			ruri, dstURI, to, toProto, bflags, connID, path = e.ubuf, b.DstURI, netip.AddrPort{}, 0, b.Flags, b.ConnID, b.Path
		}
		c.mu.Lock()
		if c.nbr >= maxBranches {
			c.mu.Unlock()
			if firstErr == nil {
				firstErr = fmt.Errorf("more than %d branches", maxBranches)
			}
			break
		}
		idx := c.addBranch()
		c.br[idx].round = round
		out := c.br[idx].out[:0]
		c.mu.Unlock()

		out, dst, bflags, err := t.buildBranch(e, c, gen, idx, out, ruri, dstURI, path, to, toProto, bflags, onBranch, a)
		c.mu.Lock()
		br := &c.br[idx]
		br.out = out
		br.bflags = bflags
		if err != nil {
			// The branch fails at once, as if it had answered 500: it
			// competes for the reply like the others (Kamailio marks such a
			// branch failed too).
			br.final, br.local = 500, true
			c.mu.Unlock()
			if firstErr == nil {
				firstErr = err
			}
			e.log(core.LErr, "t_relay: branch "+strconv.Itoa(idx)+": "+core.LogValue(err.Error()))
			continue
		}
		br.dst, br.proto, br.sni, br.connID = dst, e.hopProto, e.hopSNI, connID
		br.alt = br.alt[:0]
		if len(e.tgts) > 1 && resolve.Default().Failover() {
			for _, x := range e.tgts[1:] {
				br.alt = append(br.alt, x.Addr)
			}
		}
		if err := e.down(c, br, br.out); err != nil {
			// A stream that cannot carry it: the branch fails at once,
			// as one whose request could not be built (no waiting for
			// fr_timer on a request that never left).
			br.final, br.local = 500, true
			c.mu.Unlock()
			if firstErr == nil {
				firstErr = sendError{err}
			}
			continue
		}
		br.ready = true
		if c.delAt != 0 {
			// t_newtran or t_suspend bounded a transaction without
			// branches; the branches' timers bound it now.
			c.delAt = 0
			t.disarm(c, tkDelete, 0)
		}
		now := t.clock.Now()
		br.retrIv = t.tm.T1
		br.retrAt = now + br.retrIv
		t.arm(c, tkRetrUAC, idx, br.retrAt)
		br.frAt = now + c.fr
		t.arm(c, tkFR, idx, br.frAt)
		if c.canceled {
			br.cancelPending = true
		}
		c.mu.Unlock()
		sent++
	}
	if sent == 0 {
		if firstErr == nil {
			firstErr = fmt.Errorf("no branch to send")
		}
		return 0, firstErr
	}
	return sent, nil
}

// sendError is a branch that could not be sent (Kamailio's E_SEND).
type sendError struct{ error }

func (e sendError) Unwrap() error { return e.error }

// buildBranch writes branch idx's request into out and says where it
// goes: the kept request with the branch's Request-URI and our Via on top,
// after the branch route ran over it. The branch route sees the branch's
// flags (bflags) as branch 0's, as in Kamailio, and what it sets stays with
// the branch: the flags are returned. It runs without c.mu: c.base does not
// change while a relay runs (only a relay from a failure route replaces it,
// and that cannot overlap another relay of the same cell).
func (t *TM) buildBranch(e *env, c *cell, gen uint32, idx int, out []byte, ruri []byte, dstURI, path string, to netip.AddrPort, toProto core.Proto, bflags uint64, onBranch string, a *relayArgs) ([]byte, netip.AddrPort, uint64, error) {
	m := &e.scratch
	if err := m.Parse(c.base); err != nil {
		return out, netip.AddrPort{}, bflags, err
	}
	if string(ruri) != string(m.RequestURI()) {
		m.SetRequestURI(ruri)
	}
	if path != "" {
		// RFC 3327 5.3: the branch's binding came through edge proxies;
		// their Path is its route set, and its first hop the destination
		// unless one was set.
		if err := m.AddHeaderBefore("Route", "Route", []byte(path)); err != nil {
			return out, netip.AddrPort{}, bflags, fmt.Errorf("Route from Path: %w", err)
		}
		if dstURI == "" {
			sp := sip.SplitCommas([]byte(path))
			if v, ok := sp.Next(); ok {
				if na, err := sip.ParseNameAddr(v); err == nil {
					dstURI = string(na.URI)
				}
			}
		}
	}
	if onBranch != "" && a.vm != nil {
		bc := &e.bctx
		bc.Reset(m, c.src, c.local, c.proto)
		bc.RT, bc.Out, bc.VM, bc.Route = a.rt, e.out, a.vm, core.BranchRoute
		bc.Flags, bc.BranchFlags = a.flags, bflags
		bc.DstURI = dstURI
		bs := state(bc)
		bs.c, bs.gen, bs.brIdx, bs.inBranch = c, gen, idx, true
		err := core.CallRoute(a.vm, bc, onBranch)
		bs.c = nil
		if cap(bc.Scratch) > maxKeepBuf {
			bc.Scratch = nil
		}
		if err != nil && err != core.ErrNoCallback {
			e.log(core.LErr, "branch route "+onBranch+": "+core.LogValue(err.Error()))
		}
		bflags = bc.BranchFlags
		if bc.Dropped() {
			return out, netip.AddrPort{}, bflags, fmt.Errorf("dropped by branch route %s", onBranch)
		}
		dstURI = bc.DstURI
	}
	dst := to
	e.tgts = e.tgts[:0]
	e.hopProto, e.hopSNI = core.UDP, ""
	if toProto != 0 {
		e.hopProto = toProto
	}
	if !dst.IsValid() {
		target := m.RequestURI()
		if dstURI != "" {
			e.buf = append(e.buf[:0], dstURI...)
			target = e.buf
		}
		var why string
		var name bool
		var tr int
		dst, name, tr, why = sip.URINextHop(target)
		e.hopProto = core.ProtoOfTransport(tr)
		if name {
			var err error
			if e.tgts, err = resolve.Default().AppendURITargets(e.tgts[:0], target); err != nil {
				return out, netip.AddrPort{}, bflags, fmt.Errorf("destination: %v", err)
			}
			dst, why = e.tgts[0].Addr, ""
			e.hopProto, e.hopSNI = e.tgts[0].Proto.CoreProto(), e.tgts[0].Host
		}
		if why != "" {
			return out, netip.AddrPort{}, bflags, fmt.Errorf("destination: %s", why)
		}
	}
	local := c.local
	if e.hopProto.IsStream() || c.proto.IsStream() {
		// Another transport than the request's: the Via (and a second
		// Record-Route) name that transport's listen.
		rt := e.t.rt
		if rt == nil || rt.StreamLocal == nil {
			return out, netip.AddrPort{}, bflags, fmt.Errorf("destination %s:%s: transport %s is not served (no tcp or tls listen)", e.hopProto, dst, e.hopProto)
		}
		l, ok := rt.StreamLocal(e.hopProto)
		if !ok {
			return out, netip.AddrPort{}, bflags, fmt.Errorf("destination %s:%s: no %s listen for the Via", e.hopProto, dst, e.hopProto)
		}
		local = l
		if e.hopProto == c.proto {
			local = c.local // the socket the request came on, as Kamailio keeps it
		}
		if err := t.doubleRR(e, m, c.local, c.proto, local, e.hopProto); err != nil {
			return out, netip.AddrPort{}, bflags, fmt.Errorf("double Record-Route: %w", err)
		}
	}
	var vb [96]byte
	if err := m.PrependVia(appendViaProto(vb[:0], e.hopProto, local, c.id, idx)); err != nil {
		return out, netip.AddrPort{}, bflags, err
	}
	if cap(out) == 0 {
		out = make([]byte, 0, len(c.base)+bufSlack)
	}
	return m.AppendTo(out[:0]), dst, bflags, nil
}

// cancelBranch cancels a pending branch: a CANCEL now if it answered with
// a provisional, or when it does (RFC 3261 9.1). c.mu held.
func (t *TM) cancelBranch(e *env, c *cell, i int) {
	br := &c.br[i]
	if br.final != 0 || br.cancelSent || !br.ready {
		return
	}
	if !br.provisional {
		br.cancelPending = true
		return
	}
	t.sendCancel(e, c, i)
}

// sendCancel builds and sends the CANCEL of branch i (RFC 3261 9.1): the
// Request-URI, Call-ID, From, To, CSeq number and Route of the request, and
// its top Via alone. c.mu held.
func (t *TM) sendCancel(e *env, c *cell, i int) {
	br := &c.br[i]
	br.cancelPending = false
	if br.cancelSent {
		return
	}
	if err := e.scratch.Parse(br.out); err != nil {
		e.log(core.LErr, "CANCEL: re-parsing branch request: "+core.LogValue(err.Error()))
		return
	}
	br.cancel = appendHopRequest(br.cancel[:0], &e.scratch, "CANCEL", nil)
	br.cancelSent = true
	e.down(c, br, br.cancel)
	now := t.clock.Now()
	br.cRetrIv = t.tm.T1
	br.cRetrAt = now + br.cRetrIv
	t.arm(c, tkRetrCancel, i, br.cRetrAt)
	br.cFRAt = now + t.tm.H()
	if c.fr < t.tm.H() {
		br.cFRAt = now + c.fr
	}
	t.arm(c, tkFRCancel, i, br.cFRAt)
}

// appendHopRequest writes a CANCEL or ACK for the request req (as sent on
// a branch): its Request-URI, top Via, Route, From, Call-ID and CSeq
// number and Max-Forwards; To from the reply being acknowledged when
// toFrom is not nil.
func appendHopRequest(dst []byte, req *sip.Msg, method string, toValue []byte) []byte {
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, req.RequestURI()...)
	dst = append(dst, " SIP/2.0\r\n"...)
	if v, err := req.TopVia(); err == nil {
		dst = append(dst, "Via: "...)
		dst = append(dst, v.Raw...)
		dst = append(dst, "\r\n"...)
	}
	for it := req.Lines("Route"); it.Next(); {
		dst = append(dst, "Route: "...)
		dst = append(dst, it.Value()...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "From: "...)
	dst = append(dst, req.Header("From")...)
	dst = append(dst, "\r\nTo: "...)
	if toValue != nil {
		dst = append(dst, toValue...)
	} else {
		dst = append(dst, req.Header("To")...)
	}
	dst = append(dst, "\r\nCall-ID: "...)
	dst = append(dst, req.CallID()...)
	n, _, _ := req.CSeq()
	dst = append(dst, "\r\nCSeq: "...)
	dst = strconv.AppendUint(dst, uint64(n), 10)
	dst = append(dst, ' ')
	dst = append(dst, method...)
	// Max-Forwards as in the request it follows, as Kamailio's CANCEL and
	// ACK built from the sent INVITE carry it; 70 when that had none.
	mf, present, err := req.MaxForwards()
	if !present || err != nil {
		mf = 70
	}
	dst = append(dst, "\r\nMax-Forwards: "...)
	dst = strconv.AppendInt(dst, int64(mf), 10)
	dst = append(dst, "\r\nContent-Length: 0\r\n\r\n"...)
	return dst
}

// cancelIn handles a CANCEL for the INVITE transaction c: branches are
// cancelled; the caller replies 200 to the CANCEL itself.
func (t *TM) cancelIn(e *env, c *cell, gen uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen || !c.live {
		return false
	}
	if c.state != uasProceeding {
		return true
	}
	c.canceled = true
	for i := 0; i < c.nbr; i++ {
		t.cancelBranch(e, c, i)
	}
	return true
}

// replyIn handles a reply m for branch idx of c, after the onreply route
// ran. It forwards it upstream as RFC 3261 16.7 says, or keeps it for the
// decision once every branch has its final reply.
func (t *TM) replyIn(e *env, c *cell, gen uint32, idx int, m *sip.Msg, cancelReply bool) {
	c.mu.Lock()
	if c.gen.Load() != gen || !c.live || idx >= c.nbr {
		c.mu.Unlock()
		return
	}
	br := &c.br[idx]
	code := m.StatusCode()
	if cancelReply {
		if code >= 200 {
			br.cancelDone = true
			br.cRetrAt, br.cFRAt = 0, 0
			t.disarm(c, tkRetrCancel, idx)
			t.disarm(c, tkFRCancel, idx)
		}
		c.mu.Unlock()
		return
	}
	now := t.clock.Now()
	br.replied = true
	if code < 200 {
		if br.final != 0 {
			c.mu.Unlock()
			return
		}
		if !br.provisional {
			br.provisional = true
			if c.inv {
				br.retrAt = 0 // timer A stops
				t.disarm(c, tkRetrUAC, idx)
				br.frAt = now + c.frInv
				t.arm(c, tkFR, idx, br.frAt)
			} else if br.retrAt != 0 {
				br.retrIv = t.tm.T2
			}
		}
		if br.cancelPending {
			t.sendCancel(e, c, idx)
		}
		if code > 100 && c.state == uasProceeding {
			if m.RemoveTopVia() == nil {
				c.reply = appendMsg(c.reply, m)
				c.replyCode = code
				e.upProvisional(c)
			}
		}
		c.mu.Unlock()
		return
	}
	if br.final != 0 {
		// A retransmitted final: ACK a non-2xx again; a 2xx goes upstream
		// again (the UAS retransmits it until the ACK comes end to end).
		switch {
		case code >= 300 && c.inv && len(br.ack) > 0:
			e.down(c, br, br.ack)
		case code < 300 && !br.local:
			if m.RemoveTopVia() == nil {
				e.buf = m.AppendTo(e.buf[:0])
				e.up(c, e.buf)
			}
		}
		c.mu.Unlock()
		return
	}
	br.final = code
	br.retrAt, br.frAt = 0, 0
	t.disarm(c, tkRetrUAC, idx)
	t.disarm(c, tkFR, idx)
	if br.cancelPending {
		br.cancelPending = false
	}
	if c.inv && code >= 300 {
		if err := e.scratch.Parse(br.out); err == nil {
			br.ack = appendHopRequest(br.ack[:0], &e.scratch, "ACK", m.Header("To"))
			e.down(c, br, br.ack)
		}
	}
	if code < 300 {
		// Every 2xx goes upstream (RFC 3261 16.7 step 9).
		if m.RemoveTopVia() == nil {
			if c.state == uasProceeding {
				c.reply = appendMsg(c.reply, m)
				c.replyCode = code
				e.up(c, c.reply)
				t.completed(e, c, code)
			} else {
				e.buf = m.AppendTo(e.buf[:0])
				e.up(c, e.buf)
			}
		}
		c.mu.Unlock()
		return
	}
	if m.RemoveTopVia() == nil {
		br.reply = appendMsg(br.reply, m)
	}
	if code == 503 {
		t.failover(e, c, idx)
	}
	if code >= 600 && c.inv {
		for i := 0; i < c.nbr; i++ {
			if i != idx {
				t.cancelBranch(e, c, i)
			}
		}
	}
	t.maybeComplete(e, c, gen, idx)
}

// timeout ends branch idx with a local 408 (timer B or F). c.mu held;
// released on return.
func (t *TM) timeout(e *env, c *cell, idx int) {
	br := &c.br[idx]
	br.final, br.local, br.timedOut = 408, true, true
	br.retrAt, br.frAt = 0, 0
	t.disarm(c, tkRetrUAC, idx)
	t.disarm(c, tkFR, idx)
	if c.inv && br.provisional && !br.cancelSent {
		t.sendCancel(e, c, idx)
	}
	br.cancelPending = false
	if !br.provisional {
		t.failover(e, c, idx)
	}
	t.maybeComplete(e, c, c.gen.Load(), idx)
}

// failover is Kamailio's DNS failover (use_dns_failover): branch idx,
// whose next hop was a name resolved to more than one target, timed out
// without an answer or answered 503, so the same request goes to the next
// target as a new branch. The failed branch keeps its final reply and
// competes with the others. c.mu held.
func (t *TM) failover(e *env, c *cell, idx int) {
	br := &c.br[idx]
	if len(br.alt) == 0 || c.state != uasProceeding || c.canceled || c.nbr >= maxBranches {
		return
	}
	if err := e.scratch.Parse(br.out); err != nil {
		return
	}
	next := c.addBranch()
	br = &c.br[idx] // addBranch may have moved the branches
	nb := &c.br[next]
	nb.round, nb.bflags = br.round, br.bflags
	nb.dst, nb.proto, nb.sni = br.alt[0], br.proto, br.sni
	nb.alt = append(nb.alt[:0], br.alt[1:]...)
	br.alt = br.alt[:0]
	m := &e.scratch
	var vb [96]byte
	if m.RemoveTopVia() != nil || m.PrependVia(appendVia(vb[:0], c.local, c.id, next)) != nil {
		nb.final, nb.local = 500, true
		return
	}
	nb.out = m.AppendTo(nb.out[:0])
	nb.ready = true
	e.log(core.LInfo, "DNS failover: branch "+strconv.Itoa(idx)+" to "+br.dst.String()+" failed ("+strconv.Itoa(br.final)+"), branch "+strconv.Itoa(next)+" to "+nb.dst.String())
	now := t.clock.Now()
	e.down(c, nb, nb.out)
	nb.retrIv = t.tm.T1
	nb.retrAt = now + nb.retrIv
	t.arm(c, tkRetrUAC, next, nb.retrAt)
	fr := c.fr
	nb.frAt = now + fr
	t.arm(c, tkFR, next, nb.frAt)
}

// maybeComplete runs the branch failure route for branch idx and, once
// every branch has its final reply, the failure route; then it sends the
// best reply upstream unless the route relayed again or replied. c.mu is
// held on entry and released on return; routes run without it.
func (t *TM) maybeComplete(e *env, c *cell, gen uint32, idx int) {
	if name := c.onBranchFailure; name != "" && idx >= 0 && c.state == uasProceeding {
		code := c.br[idx].final
		c.mu.Unlock()
		t.runRoute(e, c, gen, name, core.EventRoute, idx, code)
		c.mu.Lock()
		if c.gen.Load() != gen || !c.live {
			c.mu.Unlock()
			return
		}
	}
	for {
		if c.state != uasProceeding || c.inFailure {
			c.mu.Unlock()
			return
		}
		for i := 0; i < c.nbr; i++ {
			if c.br[i].final == 0 {
				c.mu.Unlock()
				return
			}
		}
		best := t.best(c)
		if c.onFailure == "" || best < 0 {
			break
		}
		name := c.onFailure
		c.onFailure = "" // the script names it again for another round
		c.inFailure = true
		before := c.nbr
		code := c.br[best].final
		if c.br[best].local && c.canceled {
			code = 487
		}
		c.mu.Unlock()
		t.runRoute(e, c, gen, name, core.FailureRoute, best, code)
		c.mu.Lock()
		if c.gen.Load() != gen || !c.live {
			c.mu.Unlock()
			return
		}
		c.inFailure = false
		if c.nbr == before {
			break
		}
		c.round++
		for i := before; i < c.nbr; i++ {
			c.br[i].round = c.round
		}
		// New branches: wait for them, or decide again if they all failed.
	}
	if c.state != uasProceeding {
		c.mu.Unlock()
		return
	}
	t.sendBest(e, c)
	c.mu.Unlock()
}

// best picks the reply to send upstream among the branches that compete
// (failure_reply_mode) per RFC 3261 16.7 step 6: a 6xx, else the lowest
// class, preferring 401, 407, 415, 420 and 484 within it. -1 when no
// branch competes.
func (t *TM) best(c *cell) int {
	best, bestRank := -1, 1<<30
	for i := 0; i < c.nbr; i++ {
		br := &c.br[i]
		if t.mode != 0 && br.round != c.round {
			continue
		}
		code := br.final
		rank := code / 100 * 10
		if code >= 600 {
			rank = 0
		}
		switch code {
		case 401, 407, 415, 420, 484:
		default:
			rank++
		}
		if br.local {
			rank += 2 // a reply that came beats a local timeout of its class
		}
		if rank < bestRank {
			best, bestRank = i, rank
		}
	}
	return best
}

// sendBest sends the chosen failure upstream. c.mu held.
func (t *TM) sendBest(e *env, c *cell) {
	best := t.best(c)
	if best < 0 {
		t.sendLocal(e, c, 500, "No Branch", nil, nil, "")
		return
	}
	br := &c.br[best]
	switch {
	case br.local && c.canceled:
		t.sendLocal(e, c, 487, "Request Terminated", nil, nil, "")
	case br.local && br.timedOut:
		t.sendLocal(e, c, 408, "Request Timeout", nil, nil, "")
	case br.local:
		t.sendLocal(e, c, br.final, "", nil, nil, "")
	case br.final == 503:
		// RFC 3261 16.7 step 6: a 503 is not passed on.
		t.sendLocal(e, c, 500, "Server Internal Error", nil, nil, "")
	default:
		c.reply = append(c.reply[:0], br.reply...)
		c.replyCode = br.final
		e.up(c, c.reply)
		t.completed(e, c, br.final)
	}
}

// runRoute runs a failure (or branch failure) route for c on a context of
// its own whose message is the kept request, as Kamailio's faked request.
func (t *TM) runRoute(e *env, c *cell, gen uint32, name string, kind core.RouteKind, idx, code int) {
	t.runRouteWith(e, c, gen, name, kind, idx, code, nil)
}

// runRouteWith is runRoute with prep run on the route's context before
// the route (t_continue's callers put their results there).
func (t *TM) runRouteWith(e *env, c *cell, gen uint32, name string, kind core.RouteKind, idx, code int, prep func(*core.Ctx)) {
	vm := e.vmFor(t)
	if vm == nil {
		e.log(core.LErr, "no VM to run "+name+" on")
		return
	}
	c.mu.Lock()
	if c.gen.Load() != gen || !c.live {
		c.mu.Unlock()
		return
	}
	err := e.fmsg.Parse(c.base)
	src, local, proto, flags := c.src, c.local, c.proto, c.flags
	var bflags uint64
	if idx >= 0 && idx < c.nbr {
		// Kamailio's faked request carries the flags of the branch picked.
		bflags = c.br[idx].bflags
	}
	c.mu.Unlock()
	if err != nil {
		e.log(core.LErr, "re-parsing the kept request: "+core.LogValue(err.Error()))
		return
	}
	f := &e.fctx
	f.Reset(&e.fmsg, src, local, proto)
	f.RT, f.Out, f.VM, f.Route, f.Flags, f.BranchFlags = t.rt, e.out, vm, kind, flags, bflags
	if f.Scratch == nil {
		f.Scratch = make([]byte, 0, 2048)
	}
	fs := state(f)
	fs.c, fs.gen, fs.brIdx, fs.code, fs.inFailure = c, gen, idx, code, true
	if prep != nil {
		prep(f)
	}
	err = core.CallRoute(vm, f, name)
	fs.c = nil
	if cap(f.Scratch) > maxKeepBuf {
		f.Scratch = nil // made again at the next route
	}
	if err != nil && err != core.ErrNoCallback {
		e.log(core.LErr, name+" failed for Call-ID "+core.LogQuote(e.fmsg.CallID())+": "+core.LogValue(err.Error()))
	} else if err == core.ErrNoCallback {
		// After a reload the function may have gone: said once per name.
		if _, said := t.missing.LoadOrStore(name, true); !said {
			e.log(core.LErr, "the script has no function "+name+" (named by t_on_failure, t_on_branch_failure, t_continue or http_async_client); transactions naming it do not run it")
		}
	}
}

// vmFor returns the VM routes run on for e: a worker's, or for tm's own
// goroutines one built from rt.NewVM and built again after a reload.
// nil when there is none.
func (e *env) vmFor(t *TM) core.VM {
	vm := e.vm
	if vm != nil && e.own && e.newV && t.rt != nil && t.rt.VMGen != nil && t.rt.VMGen() != e.vmGen {
		// The script was reloaded: tm's own routes run the new one.
		vm.Close()
		e.vm, vm = nil, nil
	}
	if vm != nil {
		return vm
	}
	if !e.own || t.rt == nil || t.rt.NewVM == nil {
		return nil
	}
	v, err := t.rt.NewVM()
	if err != nil {
		e.log(core.LErr, "building a VM for tm's routes: "+core.LogValue(err.Error()))
		return nil
	}
	e.vm, e.newV = v, true
	if t.rt.VMGen != nil {
		e.vmGen = t.rt.VMGen()
	}
	return v
}

// Tick fires the timers due at now; the timer goroutine calls it, and
// tests with a FakeClock.
func (t *TM) Tick(now int64) {
	e := t.tenv
	e.batch = t.wheel.due(now, e.batch[:0])
	for i := range e.batch {
		t.fire(e, &e.batch[i], now)
		e.batch[i] = tentry{}
	}
}

func (t *TM) fire(e *env, x *tentry, now int64) {
	c := x.c
	c.mu.Lock()
	if c.gen.Load() != x.gen || !c.live {
		c.mu.Unlock()
		return
	}
	var br *branch
	if x.kind >= tkRetrUAC {
		br = &c.br[x.br]
	}
	switch x.kind {
	case tkRetrUAS: // timer G
		if c.retrAt == x.at && c.state == uasCompleted {
			if !c.proto.IsStream() { // RFC 3261 17.2.1: timer G only for unreliable transports
				e.up(c, c.reply)
			}
			c.retrIv = min(2*c.retrIv, t.tm.T2)
			c.retrAt = now + c.retrIv
			t.arm(c, tkRetrUAS, 0, c.retrAt)
		}
	case tkAckWait: // timer H: no ACK; the transaction ends
		if c.ackWaitAt == x.at && c.state == uasCompleted {
			c.retrAt, c.ackWaitAt = 0, 0
			c.state = uasConfirmed
			e.log(core.LNotice, "no ACK within timer H for a final reply "+strconv.Itoa(c.replyCode)+" to "+c.replyTo.String())
			t.tab.free(c)
			return
		}
	case tkDelete:
		if c.delAt == x.at {
			t.tab.free(c)
			return
		}
	case tkRetrUAC: // timers A and E
		if br.retrAt == x.at && br.final == 0 {
			if !br.proto.IsStream() { // 17.1.1.2: timers A and E only for unreliable transports
				e.down(c, br, br.out)
			}
			if c.inv {
				br.retrIv *= 2
			} else {
				br.retrIv = min(2*br.retrIv, t.tm.T2)
			}
			br.retrAt = now + br.retrIv
			t.arm(c, tkRetrUAC, int(x.br), br.retrAt)
		}
	case tkFR: // timers B and F
		if br.frAt == x.at && br.final == 0 {
			t.timeout(e, c, int(x.br))
			return
		}
	case tkRetrCancel:
		if br.cRetrAt == x.at && !br.cancelDone {
			e.down(c, br, br.cancel)
			br.cRetrIv = min(2*br.cRetrIv, t.tm.T2)
			br.cRetrAt = now + br.cRetrIv
			t.arm(c, tkRetrCancel, int(x.br), br.cRetrAt)
		}
	case tkFRCancel:
		if br.cFRAt == x.at && !br.cancelDone {
			br.cancelDone = true
			br.cRetrAt = 0
			t.disarm(c, tkRetrCancel, int(x.br))
		}
	}
	c.mu.Unlock()
}

// Start runs the timers on a goroutine, at a 10 ms resolution, until Stop.
func (t *TM) Start() {
	t.stop = make(chan struct{})
	t.stopWG.Add(1)
	go func() {
		defer t.stopWG.Done()
		tk := newTicker()
		defer tk.Stop()
		for {
			select {
			case <-t.stop:
				if t.tenv.newV && t.tenv.vm != nil {
					t.tenv.vm.Close()
				}
				return
			case <-tk.C:
				t.Tick(t.clock.Now())
			}
		}
	}()
}

// closeTimerVM closes the VM the timers built, when no goroutine of
// theirs does (a SteppedClock drives them).
func (t *TM) closeTimerVM() {
	if t.tenv.newV && t.tenv.vm != nil {
		t.tenv.vm.Close()
		t.tenv.vm = nil
	}
}

// Stop ends the timer goroutine.
func (t *TM) Stop() {
	if t.stop != nil {
		close(t.stop)
		t.stopWG.Wait()
		t.stop = nil
	}
}

// Live is the number of transactions in the table.
func (t *TM) Live() int { return int(t.tab.live.Load()) }

// appendMsg writes m (with its edits) into buf, reusing buf's capacity and
// sizing it once when it has none.
func appendMsg(buf []byte, m *sip.Msg) []byte {
	if cap(buf) == 0 {
		buf = make([]byte, 0, len(m.Raw())+bufSlack)
	}
	return m.AppendTo(buf[:0])
}
