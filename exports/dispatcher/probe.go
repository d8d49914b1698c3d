package dispatcher

import (
	"bytes"
	crand "crypto/rand"
	"encoding/hex"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"kemi/core"
	"kemi/sip"
)

// Keepalives: every ds_ping_interval the prober sends ds_ping_method
// (OPTIONS) to the destinations ds_probing_mode names, one outstanding
// request per destination. A final reply whose code ds_ping_reply_codes
// accepts (200 always) is a success; another final reply, or none within
// probeTimeout, a failure. Replies are claimed by a reply hook by the Via
// branch the prober wrote, which carries a random token of this start,
// and only from the destination's own address.

// maxProbeTimeout bounds how long a keepalive waits for its reply (as
// tm's fr_timer would in Kamailio); shorter intervals wait one interval.
const maxProbeTimeout = 5 * time.Second

// tick is how often the prober looks at its timers.
const tick = 100 * time.Millisecond

// maxEvents bounds the events waiting for the callback; past it they are
// dropped and counted (a destination flapping faster than the script).
const maxEvents = 256

type event struct {
	d      *Dest
	up     bool
	code   int
	reason string
}

type probe struct {
	d    *Dest
	sent int64
}

type prober struct {
	m      *Module
	token  string
	active atomic.Bool // dispatcher.ping_active
	known  atomic.Bool // local is set
	seq    atomic.Uint64

	mu      sync.Mutex
	pending map[uint64]probe
	local   netip.AddrPort // where keepalives leave from
	noLocal bool           // "no socket known yet" was logged
	next    int64          // next round
	start   time.Time

	events        chan event
	DroppedEvents atomic.Uint64

	stop chan struct{}
	wg   sync.WaitGroup

	// The event callback's VM and context, used on the prober goroutine.
	vm    core.VM
	vmGen uint64 // the program generation vm was built from (rt.VMGen)
	ctx   core.Ctx
	msg   sip.Msg
	buf   []byte
}

// evStates is what $dsv reads in an event callback, for that callback's
// message only.
var evStates = core.NewMsgState[evState](nil)

type evState struct {
	d      *Dest
	code   int
	reason string
}

func (m *Module) startProber() {
	p := &prober{m: m, pending: map[uint64]probe{}, events: make(chan event, maxEvents), start: time.Now()}
	var tok [6]byte
	_, _ = crand.Read(tok[:])
	p.token = hex.EncodeToString(tok[:])
	p.active.Store(true)
	if s := param(m.rt, "ds_default_socket").S; s != "" {
		if _, ap, err := parseSocket(s); err == nil {
			p.local = ap
			p.known.Store(true)
		} else if m.rt.Log != nil {
			m.rt.Log.Log(core.LErr, nil, "dispatcher: ds_default_socket: "+err.Error())
		}
	}
	m.prober = p
	if m.pingInterval > 0 {
		p.next = p.now() // replies reach p.hook through replyHook
	}
	if m.pingInterval == 0 && m.eventCB == "" {
		return
	}
	if sc, ok := m.rt.Clock.(core.SteppedClock); ok {
		sc.OnAdvance(func(now int64) { p.Tick(now) })
		return // stop closes the VM
	}
	p.stop = make(chan struct{})
	p.wg.Add(1)
	go p.run()
}

func (p *prober) now() int64 {
	if c := p.m.rt.Clock; c != nil {
		return c.Now()
	}
	return int64(time.Since(p.start))
}

func (p *prober) run() {
	defer p.wg.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			p.closeVM()
			return
		case <-t.C:
			p.Tick(p.now())
		case ev := <-p.events:
			p.runEvent(ev)
		}
	}
}

// Stop ends the prober goroutine.
func (p *prober) Stop() {
	if p.stop != nil {
		close(p.stop)
		p.wg.Wait()
		p.stop = nil
	}
}

func (p *prober) closeVM() {
	if p.vm != nil {
		p.vm.Close()
		p.vm = nil
	}
}

// learn notes the socket a dispatched request came in on, for keepalives
// when ds_default_socket names none.
func (p *prober) learn(local netip.AddrPort) {
	if !local.IsValid() {
		return
	}
	p.mu.Lock()
	if !p.local.IsValid() {
		p.local = local
	}
	p.known.Store(true)
	p.mu.Unlock()
}

func (p *prober) timeout() int64 {
	return int64(min(p.m.pingInterval, maxProbeTimeout))
}

// Tick expires keepalives without reply and sends a round when due; the
// prober goroutine calls it, and tests on a stepped clock.
func (p *prober) Tick(now int64) {
	m := p.m
	p.mu.Lock()
	var expired []probe
	for id, pr := range p.pending {
		if now-pr.sent >= p.timeout() {
			expired = append(expired, pr)
			delete(p.pending, id)
		}
	}
	due := m.pingInterval > 0 && now >= p.next
	if due {
		p.next = now + int64(m.pingInterval)
	}
	p.mu.Unlock()
	for _, pr := range expired {
		m.result(pr.d, 408, "Request Timeout")
	}
	if due && p.active.Load() {
		p.round(now)
	}
	for {
		select {
		case ev := <-p.events:
			p.runEvent(ev)
		default:
			return
		}
	}
}

// wants reports whether ds_probing_mode pings d.
func (m *Module) wants(f uint32) bool {
	switch m.probingMode {
	case 1:
		return f&FlagDisabled == 0
	case 2:
		return f&FlagInactive != 0 && f&FlagProbing != 0
	default:
		return f&FlagProbing != 0 && f&FlagDisabled == 0
	}
}

// round sends one keepalive to each destination the mode names.
func (p *prober) round(now int64) {
	m := p.m
	p.mu.Lock()
	local := p.local
	p.mu.Unlock()
	if !local.IsValid() {
		p.mu.Lock()
		if !p.noLocal && m.rt.Log != nil {
			m.rt.Log.Log(core.LNotice, nil, "dispatcher: keepalives wait for a socket: set ds_default_socket, or they start with the first dispatched request")
		}
		p.noLocal = true
		p.mu.Unlock()
		return
	}
	for _, s := range m.list.Load().Sets {
		for _, d := range s.Dests {
			if !m.wants(d.Flags()) || !d.Addr.IsValid() || d.Proto != core.UDP {
				continue
			}
			p.send(d, local, now)
		}
	}
}

func (p *prober) busy(d *Dest) bool {
	for _, pr := range p.pending {
		if pr.d == d {
			return true
		}
	}
	return false
}

// request builds the keepalive for d.
func (p *prober) request(buf []byte, d *Dest, local netip.AddrPort, id uint64) []byte {
	m := p.m
	from := m.pingFrom
	if d.PingFrom != "" && core.LineOK(d.PingFrom) {
		from = d.PingFrom
	}
	idb := strconv.AppendUint(nil, id, 16)
	b := append(buf, m.pingMethod...)
	b = append(b, ' ')
	b = append(b, d.URI...)
	b = append(b, " SIP/2.0\r\nVia: SIP/2.0/UDP "...)
	b = sip.AppendHostPort(b, local)
	b = append(b, ";branch=z9hG4bKds"...)
	b = append(b, p.token...)
	b = append(b, '.')
	b = append(b, idb...)
	b = append(b, "\r\nMax-Forwards: 70\r\nFrom: <"...)
	b = append(b, from...)
	b = append(b, ">;tag="...)
	b = append(b, p.token...)
	b = append(b, "\r\nTo: <"...)
	b = append(b, d.URI...)
	b = append(b, ">\r\nCall-ID: ds"...)
	b = append(b, p.token...)
	b = append(b, '-')
	b = append(b, idb...)
	b = append(b, "\r\nCSeq: 1 "...)
	b = append(b, m.pingMethod...)
	b = append(b, "\r\n"...)
	if s := m.rt.UserAgentHeader(); s != "" {
		b = append(b, s...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Content-Length: 0\r\n\r\n"...)
	return b
}

func (p *prober) send(d *Dest, local netip.AddrPort, now int64) {
	p.mu.Lock()
	if p.busy(d) {
		p.mu.Unlock()
		return
	}
	id := p.seq.Add(1)
	p.pending[id] = probe{d: d, sent: now}
	p.mu.Unlock()
	p.buf = p.request(p.buf[:0], d, local, id)
	rt := p.m.rt
	var err error
	switch {
	case rt.SendFrom != nil:
		err = rt.SendFrom(local, p.buf, core.UDP, d.Addr)
	case rt.Send != nil:
		err = rt.Send(p.buf, core.UDP, d.Addr)
	}
	if err != nil && rt.Log != nil {
		rt.Log.Log(core.LWarn, nil, "dispatcher: keepalive to "+d.URI+": "+err.Error())
	}
}

// hook claims replies to keepalives.
func (p *prober) hook(ctx *core.Ctx) bool {
	v, err := ctx.Msg.TopVia()
	if err != nil {
		return false
	}
	pre := len("z9hG4bKds") + len(p.token) + 1
	if len(v.Branch) <= pre || !bytes.HasPrefix(v.Branch, []byte("z9hG4bKds")) ||
		string(v.Branch[len("z9hG4bKds"):pre-1]) != p.token || v.Branch[pre-1] != '.' {
		return false
	}
	id, err := strconv.ParseUint(string(v.Branch[pre:]), 16, 64)
	if err != nil {
		return true
	}
	code := ctx.Msg.StatusCode()
	if code < 200 {
		return true
	}
	p.mu.Lock()
	pr, ok := p.pending[id]
	if ok && pr.d.Addr.Addr() == ctx.Src.Addr().Unmap() {
		delete(p.pending, id)
	} else {
		ok = false
	}
	p.mu.Unlock()
	if ok {
		p.m.result(pr.d, code, string(ctx.Msg.Reason()))
	}
	return true
}

// result applies a keepalive outcome to d.
func (m *Module) result(d *Dest, code int, reason string) {
	old := d.flags.Load()
	nf := old
	if m.replyCodes.ok(code) {
		switch {
		case old&FlagInactive != 0:
			if d.oks.Add(1) >= m.inactiveThreshold {
				nf &^= FlagInactive | FlagTrying
				d.oks.Store(0)
				d.fails.Store(0)
			}
		case old&FlagTrying != 0:
			nf &^= FlagTrying
			d.fails.Store(0)
		}
		if m.probingMode == 0 && nf&(FlagInactive|FlagTrying) == 0 {
			nf &^= FlagProbing
		}
	} else {
		if old&FlagDisabled != 0 {
			return
		}
		if m.probingMode == 1 {
			nf |= FlagProbing
		}
		d.oks.Store(0)
		if old&FlagInactive == 0 {
			if d.fails.Add(1) >= m.probeThreshold {
				nf = nf&^FlagTrying | FlagInactive
				d.fails.Store(0)
			} else {
				nf |= FlagTrying
			}
		}
	}
	if nf == old {
		return
	}
	if !d.flags.CompareAndSwap(old, nf) {
		return // someone else changed it meanwhile; the next keepalive decides
	}
	m.transition(d, old, nf, code, reason)
}

// event queues dispatcher:dst-down or dst-up for the callback.
func (m *Module) event(d *Dest, up bool, code int, reason string) {
	p := m.prober
	if m.rt.Log != nil {
		what := "down (inactive)"
		if up {
			what = "up (active)"
		}
		m.rt.Log.Log(core.LNotice, nil, "dispatcher: destination "+d.URI+" of set "+strconv.Itoa(d.Set)+" is "+what)
	}
	if p == nil || m.eventCB == "" {
		return
	}
	select {
	case p.events <- event{d, up, code, reason}:
	default:
		p.DroppedEvents.Add(1)
	}
}

// runEvent runs the event callback for ev on the prober's own VM, with a
// context whose message is the keepalive request for the destination:
// $ru and $du are its URI, $rm the ping method.
func (p *prober) runEvent(ev event) {
	m := p.m
	rt := m.rt
	if p.vm != nil && rt.VMGen != nil && rt.VMGen() != p.vmGen {
		// The script was reloaded: event routes run the new one.
		p.vm.Close()
		p.vm = nil
	}
	if p.vm == nil {
		if rt.NewVM == nil {
			return
		}
		vm, err := rt.NewVM()
		if err != nil {
			if rt.Log != nil {
				rt.Log.Log(core.LErr, nil, "dispatcher: building a VM for event_callback: "+err.Error())
			}
			return
		}
		p.vm = vm
		if rt.VMGen != nil {
			p.vmGen = rt.VMGen()
		}
	}
	p.mu.Lock()
	local := p.local
	p.mu.Unlock()
	if !local.IsValid() {
		local = netip.AddrPortFrom(netip.IPv4Unspecified(), 5060)
	}
	p.buf = p.request(p.buf[:0], ev.d, local, 0)
	raw := append([]byte(nil), p.buf...)
	if err := p.msg.Parse(raw); err != nil {
		return
	}
	c := &p.ctx
	c.Reset(&p.msg, ev.d.Addr, local, core.UDP)
	c.RT, c.VM, c.Route, c.Out = rt, p.vm, core.EventRoute, sendOut{rt}
	c.DstURI = ev.d.URI
	es := evStates.Get(c)
	es.d, es.code, es.reason = ev.d, ev.code, ev.reason
	name := "dispatcher:dst-down"
	if ev.up {
		name = "dispatcher:dst-up"
	}
	var err error
	t0 := time.Now()
	if ac, ok := p.vm.(core.ArgCaller); ok {
		err = ac.CallArg(c, m.eventCB, name)
	} else {
		err = p.vm.Call(c, m.eventCB)
	}
	c.ObserveRoute(t0, err)
	es.d = nil
	if err != nil && rt.Log != nil {
		rt.Log.Log(core.LErr, nil, "dispatcher: event_callback "+m.eventCB+" for "+name+": "+err.Error())
	}
}

// sendOut sends what an event callback sends through the runtime.
type sendOut struct{ rt *core.Runtime }

func (s sendOut) SendTo(b []byte, proto core.Proto, to netip.AddrPort) error {
	if s.rt.Send == nil {
		return nil
	}
	return s.rt.Send(b, proto, to)
}
