package tm

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

// BenchmarkProxyCall is one call through tm as the bench's proxy sees it:
// INVITE relayed (100 Trying back), 180 and 200 relayed upstream, the ACK
// forwarded statelessly, BYE relayed and its 200 relayed, then the wait
// timer frees both transactions. Parsing is included; the routes are Go.
func BenchmarkProxyCall(b *testing.B) {
	r := newRig(b)
	inv := invite("z9hG4bK-bench")
	ackMsg := []byte(strings.Replace(string(ack(inv, "callee")), "z9hG4bK-bench", "z9hG4bK-bench-ack", 1))
	bye := []byte(strings.Replace(strings.Replace(strings.Replace(string(ack(inv, "callee")), "ACK sip:", "BYE sip:", 1),
		"314159 ACK", "314160 BYE", 1), "z9hG4bK-bench", "z9hG4bK-bench-bye", 1))

	// One call first, to learn the forwarded requests the replies answer.
	r.in(inv, uac)
	fwdInv := r.last(uas)
	r.in(bye, uac)
	fwdBye := r.last(uas)
	ringing := replyTo(b, fwdInv, 180, "Ringing", "callee")
	ok := replyTo(b, fwdInv, 200, "OK", "callee")
	byeOK := replyTo(b, fwdBye, 200, "OK", "callee")
	wait := time.Duration(RFCTimers().Wait) + time.Second
	r.clock.Add(wait)
	r.tm.Tick(r.clock.Now())
	r.ctx.Out = ksrtest.Discard
	r.rt.Send = func([]byte, core.Proto, netip.AddrPort) error { return nil }

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.in(inv, uac)
		r.in(ringing, uas)
		r.in(ok, uas)
		r.in(ackMsg, uac)
		r.in(bye, uac)
		r.in(byeOK, uas)
		r.clock.Add(wait)
		r.tm.Tick(r.clock.Now())
	}
	b.StopTimer()
	if n := r.tm.Live(); n != 0 {
		b.Fatalf("%d transactions live after the wait timer", n)
	}
}
