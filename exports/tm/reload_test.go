package tm

import (
	"strings"
	"testing"
	"time"

	"kemi/core"
)

// TestOps_TimerRouteRunsReloadedScript (issue 15 item 5): after a reload
// (rt.VMGen changes) the timer's failure routes run on a VM of the new
// script, by name; a name the new script lacks is logged once.
func TestOps_TimerRouteRunsReloadedScript(t *testing.T) {
	r := newRig(t)
	gen := uint64(1)
	vms := map[uint64]fnVM{
		1: {"failure": func(ctx *core.Ctx) { Reply(ctx, 408, "Old") }},
		2: {"failure": func(ctx *core.Ctx) { Reply(ctx, 408, "New") }},
		3: {},
	}
	r.rt.NewVM = func() (core.VM, error) { return vms[gen], nil }
	r.rt.VMGen = func() uint64 { return gen }
	r.route = func(ctx *core.Ctx) {
		OnFailure(ctx, "failure")
		SetFr(ctx, 2000, 1000)
		ctx.DstURI = "sip:" + uas.String()
		Relay(ctx)
	}
	call := func(branch string) string {
		r.in(invite(branch), uac)
		r.sent()
		r.in(replyTo(t, r.last(uas), 180, "Ringing", "a"), uas)
		r.sent()
		r.advance(2100 * time.Millisecond)
		got := ""
		for _, s := range r.sent() {
			if strings.HasPrefix(s, "SIP/2.0 4") {
				got = s
			}
		}
		return got
	}
	if got := call("z9hG4bK-r1"); !strings.Contains(got, "408 Old") {
		t.Errorf("before reload: %q", got)
	}
	gen = 2
	if got := call("z9hG4bK-r2"); !strings.Contains(got, "408 New") {
		t.Errorf("after reload: %q", got)
	}
	gen = 3
	call("z9hG4bK-r3")
	call("z9hG4bK-r4")
	if n := strings.Count(r.log.String(), "has no function failure"); n != 1 {
		t.Errorf("vanished failure route logged %d times, want once:\n%s", n, r.log.String())
	}
}
