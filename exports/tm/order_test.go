package tm

import (
	"net/netip"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/sip"
)

// batchOut is a worker's UDP sender as the transport gives it: what the
// worker sends is held until its batch ends (end) or it flushes.
type batchOut struct {
	rec  *ksrtest.Recorder
	held []ksrtest.Sent
}

func (o *batchOut) SendTo(b []byte, p core.Proto, to netip.AddrPort) error {
	o.held = append(o.held, ksrtest.Sent{B: append([]byte(nil), b...), Proto: p, To: to})
	return nil
}

func (o *batchOut) Flush() {
	for _, s := range o.held {
		o.rec.SendTo(s.B, s.Proto, s.To)
	}
	o.held = o.held[:0]
}

// worker is another handler with its own context and batch sender.
type worker struct {
	r   *rig
	ctx core.Ctx
	msg sip.Msg
	buf []byte
	out *batchOut
}

func (r *rig) worker() *worker {
	w := &worker{r: r, out: &batchOut{rec: r.rec}}
	w.ctx.RT, w.ctx.Out, w.ctx.VM = r.rt, w.out, r.vm
	w.ctx.Scratch = make([]byte, 0, 4096)
	return w
}

// in hands raw to this worker; nothing it sends leaves before end unless
// tm flushes.
func (w *worker) in(raw []byte, src netip.AddrPort) {
	w.r.t.Helper()
	w.buf = append(w.buf[:0], raw...)
	w.r.deliver(&w.ctx, &w.msg, w.buf, src)
}

func (w *worker) end() { w.out.Flush() }

// TestProvisionalNotOvertakenAcrossWorkers: the UAS sends 180 then 200;
// one worker takes the 180 and is still in its batch when another takes
// the 200 and ends its batch. The UAC must get the 180 first, as from
// Kamailio, which relays under its reply lock. (With both held to the
// end of their batches, the 200 left first and sipp aborted the call:
// TestOps_Reload_UnderCallLoad under load.)
func TestProvisionalNotOvertakenAcrossWorkers(t *testing.T) {
	r := newRig(t)
	r.route = func(ctx *core.Ctx) {
		ctx.DstURI = "sip:" + uas.String()
		Relay(ctx)
	}
	r.in(invite("z9hG4bK-order"), uac)
	fwd := r.last(uas)
	r.sent()

	a, b := r.worker(), r.worker()
	a.in(replyTo(t, fwd, 180, "Ringing", "callee"), uas)
	b.in(replyTo(t, fwd, 200, "OK", "callee"), uas)
	b.end()
	a.end()
	r.expect("180 and 200 from two workers",
		"SIP/2.0 180 Ringing -> "+uac.String(),
		"SIP/2.0 200 OK -> "+uac.String())

	// A retransmitted INVITE gets the 180 again; that copy cannot follow
	// the 200 either.
	inv3 := invite("z9hG4bK-order3")
	r.in(inv3, uac)
	fwd3 := r.last(uas)
	r.in(replyTo(t, fwd3, 180, "Ringing", "callee"), uas)
	r.sent()
	a.in(inv3, uac)
	b.in(replyTo(t, fwd3, 200, "OK", "callee"), uas)
	b.end()
	a.end()
	r.expect("180 replayed to a retransmission, and the 200 from another worker",
		"SIP/2.0 180 Ringing -> "+uac.String(),
		"SIP/2.0 200 OK -> "+uac.String())

	// Nothing else is flushed early: a final reply waits for its batch.
	inv2 := invite("z9hG4bK-order2")
	r.in(inv2, uac)
	fwd2 := r.last(uas)
	r.sent()
	b.in(replyTo(t, fwd2, 486, "Busy Here", "callee"), uas)
	if len(b.out.held) == 0 {
		t.Errorf("486 relayed upstream was flushed at once; want it held to the end of the batch")
	}
	b.end()
	// Nor is t_relay's 100, which follows the relayed INVITE in its batch.
	a.in(invite("z9hG4bK-order4"), uac)
	if len(a.out.held) != 2 {
		t.Errorf("INVITE relayed: %d datagrams held, want the INVITE and the 100 held to the end of the batch", len(a.out.held))
	}
	a.end()
}
