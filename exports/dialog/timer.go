package dialog

import (
	"container/heap"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"kemi/core"
	"kemi/sip"
)

// maxEvents bounds the events waiting for the callback; past it they are
// dropped and counted.
const maxEvents = 1024

const tick = 100 * time.Millisecond

type event struct {
	d    *Dialog
	name string
}

type timer struct {
	m             *Module
	token         string
	seq           atomic.Uint64
	events        chan event
	DroppedEvents atomic.Uint64
	stop          chan struct{}
	wg            sync.WaitGroup

	vm  core.VM
	ctx core.Ctx
	msg sip.Msg
	buf []byte
}

// MsgState: the dialog of the message in hand.
type msgState struct {
	dlg     *Dialog
	down    bool
	looked  bool    // match ran
	created *Dialog // created by this message's dlg_manage
}

var msgStates = core.NewMsgState[msgState](nil)

func (m *Module) startTimer() {
	t := &timer{m: m, token: newToken(), events: make(chan event, maxEvents)}
	m.tmr = t
	if sc, ok := m.rt.Clock.(core.SteppedClock); ok {
		t.token = "0" // kemi test's runs are reproducible
		sc.OnAdvance(func(now int64) { t.Tick(now) })
		return
	}
	t.stop = make(chan struct{})
	t.wg.Add(1)
	go t.run()
}

func (t *timer) run() {
	defer t.wg.Done()
	tk := time.NewTicker(tick)
	defer tk.Stop()
	for {
		select {
		case <-t.stop:
			t.drain()
			t.closeVM()
			return
		case <-tk.C:
			t.Tick(t.m.now())
		case ev := <-t.events:
			t.runEvent(ev)
		}
	}
}

// Stop ends the timer goroutine, running the events already queued.
func (t *timer) Stop() {
	if t.stop != nil {
		close(t.stop)
		t.wg.Wait()
		t.stop = nil
	} else {
		t.drain()
		t.closeVM()
	}
}

func (t *timer) closeVM() {
	if t.vm != nil {
		t.vm.Close()
		t.vm = nil
	}
}

func (t *timer) drain() {
	for {
		select {
		case ev := <-t.events:
			t.runEvent(ev)
		default:
			return
		}
	}
}

// Tick ends the dialogs whose timeout passed, with a BYE to both sides,
// and runs queued events.
func (t *timer) Tick(now int64) {
	m := t.m
	var out [][]byte
	var to []netip.AddrPort
	var from []netip.AddrPort
	m.mu.Lock()
	for m.timers.Len() > 0 && m.timers[0].expireAt <= now {
		d := heap.Pop(&m.timers).(*Dialog)
		if m.sendBye || d.timeoutBye {
			out, to, from = t.byes(d, "all", out, to, from)
		}
		m.Expired.Add(1)
		m.end(d)
	}
	m.unlock()
	t.send(out, to, from)
	t.drain()
}

// byes appends the BYE requests ending d on side ("all", "caller",
// "callee"). m.mu held.
func (t *timer) byes(d *Dialog, side string, out [][]byte, to, from []netip.AddrPort) ([][]byte, []netip.AddrPort, []netip.AddrPort) {
	if d.byeDone || d.ToTag == "" {
		return out, to, from
	}
	d.byeDone = true
	local := d.Local
	if (side == "all" || side == "callee") && d.CalleeAddr.IsValid() {
		ruri := d.CalleeContact
		d.CallerCSeq++
		out = append(out, t.request(ruri, local, d.FromURI, d.FromTag, d.ToURI, d.ToTag, d.CallID, d.CallerCSeq))
		to, from = append(to, d.CalleeAddr), append(from, local)
	}
	if (side == "all" || side == "caller") && d.CallerAddr.IsValid() {
		ruri := d.CallerContact
		if ruri == "" {
			ruri = d.FromURI
		}
		d.CalleeCSeq++
		out = append(out, t.request(ruri, local, d.ToURI, d.ToTag, d.FromURI, d.FromTag, d.CallID, d.CalleeCSeq))
		to, from = append(to, d.CallerAddr), append(from, local)
	}
	return out, to, from
}

const branchPrefix = "z9hG4bKdlg"

// request builds a BYE.
func (t *timer) request(ruri string, local netip.AddrPort, fromURI, fromTag, toURI, toTag, callID string, cseq uint32) []byte {
	b := make([]byte, 0, 512)
	b = append(b, "BYE "...)
	b = append(b, ruri...)
	b = append(b, " SIP/2.0\r\nVia: SIP/2.0/UDP "...)
	if local.IsValid() {
		b = sip.AppendHostPort(b, local)
	} else {
		b = append(b, "127.0.0.1"...)
	}
	b = append(b, ";branch="+branchPrefix...)
	b = append(b, t.token...)
	b = append(b, '.')
	b = strconv.AppendUint(b, t.seq.Add(1), 16)
	b = append(b, "\r\nMax-Forwards: 70\r\nFrom: <"...)
	b = append(b, fromURI...)
	b = append(b, ">;tag="...)
	b = append(b, fromTag...)
	b = append(b, "\r\nTo: <"...)
	b = append(b, toURI...)
	b = append(b, ">;tag="...)
	b = append(b, toTag...)
	b = append(b, "\r\nCall-ID: "...)
	b = append(b, callID...)
	b = append(b, "\r\nCSeq: "...)
	b = strconv.AppendUint(b, uint64(cseq), 10)
	b = append(b, " BYE\r\n"...)
	if s := t.m.rt.UserAgentHeader(); s != "" {
		b = append(b, s...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Content-Length: 0\r\n\r\n"...)
	return b
}

func (t *timer) send(out [][]byte, to, from []netip.AddrPort) {
	rt := t.m.rt
	for i, b := range out {
		var err error
		switch {
		case rt.SendFrom != nil && from[i].IsValid():
			err = rt.SendFrom(from[i], b, core.UDP, to[i])
		case rt.Send != nil:
			err = rt.Send(b, core.UDP, to[i])
		}
		if err != nil && rt.Log != nil {
			rt.Log.Log(core.LWarn, nil, "dialog: BYE to "+to[i].String()+": "+err.Error())
		}
	}
}

// hook claims the replies to the BYEs sent here.
func (t *timer) hook(ctx *core.Ctx) bool {
	v, err := ctx.Msg.TopVia()
	if err != nil {
		return false
	}
	return strings.HasPrefix(string(v.Branch), branchPrefix+t.token+".")
}

// queue hands an event to the timer goroutine. m.mu held.
func (m *Module) queue(d *Dialog, name string) {
	if m.rt.Log != nil && m.rt.Log.Enabled(core.LDbg) {
		m.rt.Log.Log(core.LDbg, nil, "dialog: "+name+" Call-ID "+core.LogQuote(d.CallID))
	}
	if m.eventCB == "" || m.tmr == nil {
		return
	}
	select {
	case m.tmr.events <- event{d, name}:
	default:
		m.tmr.DroppedEvents.Add(1)
	}
}

// runEvent runs the event callback with the event name as its argument,
// on a context whose message is the dialog's INVITE as kept (Request-URI,
// From, To, Call-ID), and whose dialog is d ($dlg, $dlg_var).
func (t *timer) runEvent(ev event) {
	m := t.m
	rt := m.rt
	if m.eventCB == "" {
		return
	}
	if t.vm == nil {
		if rt.NewVM == nil {
			return
		}
		vm, err := rt.NewVM()
		if err != nil {
			if rt.Log != nil {
				rt.Log.Log(core.LErr, nil, "dialog: building a VM for event_callback: "+err.Error())
			}
			return
		}
		t.vm = vm
	}
	m.mu.Lock()
	raw := FakeRequest(ev.d)
	src, local := ev.d.CallerAddr, ev.d.Local
	m.unlock()
	if t.msg.Parse(raw) != nil {
		return
	}
	c := &t.ctx
	c.Reset(&t.msg, src, local, core.UDP)
	c.RT, c.VM, c.Route, c.Out = rt, t.vm, core.EventRoute, sendOut{rt}
	st := msgStates.Get(c)
	st.dlg, st.looked, st.down = ev.d, true, true
	var err error
	t0 := time.Now()
	if ac, ok := t.vm.(core.ArgCaller); ok {
		err = ac.CallArg(c, m.eventCB, ev.name)
	} else {
		err = t.vm.Call(c, m.eventCB)
	}
	c.ObserveRoute(t0, err)
	st.dlg = nil
	if err != nil && rt.Log != nil {
		rt.Log.Log(core.LErr, nil, "dialog: event_callback "+m.eventCB+" for "+ev.name+": "+err.Error())
	}
}

// FakeRequest is d's INVITE as kept: Request-URI, From, To (with their
// tags), Call-ID and CSeq. m.mu held (or d no longer changing).
func FakeRequest(d *Dialog) []byte {
	ruri := d.ReqURI
	if ruri == "" {
		ruri = d.ToURI
	}
	var b strings.Builder
	b.WriteString("INVITE " + ruri + " SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKdlgfake\r\n")
	b.WriteString("From: <" + d.FromURI + ">;tag=" + d.FromTag + "\r\nTo: <" + d.ToURI + ">")
	if d.ToTag != "" {
		b.WriteString(";tag=" + d.ToTag)
	}
	b.WriteString("\r\nCall-ID: " + d.CallID + "\r\nCSeq: " + strconv.FormatUint(uint64(d.CallerCSeq), 10) + " INVITE\r\nContent-Length: 0\r\n\r\n")
	return []byte(b.String())
}

type sendOut struct{ rt *core.Runtime }

func (s sendOut) SendTo(b []byte, proto core.Proto, to netip.AddrPort) error {
	if s.rt.Send == nil {
		return nil
	}
	return s.rt.Send(b, proto, to)
}
