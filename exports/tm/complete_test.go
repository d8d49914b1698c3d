package tm

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"kemi/core"
)

// OnComplete runs once per transaction when its final reply goes
// upstream, with the request, the reply sent, the code and the flags: for
// a 2xx (not again for its retransmission), a 486, and tm's own 408.
func TestOnComplete_RunsOncePerFinalReply(t *testing.T) {
	r := newRig(t)
	type got struct {
		code  int
		flags uint64
		req   string
		reply string
		inv   bool
	}
	var seen []got
	OnComplete(r.rt, func(c *Completion) {
		seen = append(seen, got{c.Code, c.Flags, firstLine(c.Req), firstLine(c.Reply), c.Inv})
	})
	route := r.route
	r.route = func(ctx *core.Ctx) { ctx.Flags = 1 << 3; route(ctx) }

	inv := invite("z9hG4bK-c1")
	r.in(inv, uac)
	fwd := r.last(uas)
	ok := replyTo(t, fwd, 200, "OK", "callee")
	r.in(ok, uas)
	r.in(ok, uas) // retransmitted 2xx: no second run

	inv2 := invite("z9hG4bK-c2")
	r.in(inv2, uac)
	r.in(replyTo(t, r.last(uas), 486, "Busy Here", "callee"), uas)

	r.in(invite("z9hG4bK-c3"), uac)
	r.advance(40 * time.Second) // timer B: tm's own 408

	want := []string{"200 SIP/2.0 200 OK", "486 SIP/2.0 486 Busy Here", "408 SIP/2.0 408 Request Timeout"}
	if len(seen) != len(want) {
		t.Fatalf("%d runs, want %d: %+v", len(seen), len(want), seen)
	}
	for i, w := range want {
		s := seen[i]
		if got := strconv.Itoa(s.code) + " " + s.reply; got != w || s.flags != 1<<3 || !s.inv ||
			!strings.HasPrefix(s.req, "INVITE sip:bob@example.com") {
			t.Errorf("run %d: %+v, want %s with flags 8 and the INVITE", i, s, w)
		}
	}
}
