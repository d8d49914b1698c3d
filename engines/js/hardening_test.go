package js

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"kemi/core"
)

// TestHardening_JSNestedCallbackCtx: a callback run inside another (the
// branch route t_relay runs inside the request route) gets its own
// context, and the outer callback gets its own back when it returns, at
// any depth, after an exit and after an error in the nested one (issue 10
// item 6: every KSR call after the nested one panicked on a nil context).
func TestHardening_JSNestedCallbackCtx(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.js")
	ctx.VM = vm
	f.Names = map[*core.Ctx]string{ctx: "ctx0"}
	f.Infos = nil
	if err := vm.Call(ctx, "nest_outer"); err != nil {
		t.Fatal(err)
	}
	want := []string{"outer ctx0", "mid ctx1", "inner ctx2", "mid again ctx1", "outer again ctx0", "outer last ctx0"}
	if strings.Join(f.Infos, "\n") != strings.Join(want, "\n") {
		t.Errorf("infos:\n%s\nwant:\n%s", strings.Join(f.Infos, "\n"), strings.Join(want, "\n"))
	}
	if len(f.NestErrs) != 4 || f.NestErrs[2] != nil || f.NestErrs[3] == nil || !strings.Contains(f.NestErrs[3].Error(), "by the script") {
		t.Errorf("nested errors = %v, want nil, nil, nil (exit), the thrown error", f.NestErrs)
	}
	if ctx.Stopped() {
		t.Error("the nested route's exit stopped the outer one")
	}
	if vm.ctx != nil || vm.depth != 0 {
		t.Errorf("after the call: ctx=%p depth=%d, want nil, 0", vm.ctx, vm.depth)
	}
	f.Replies = nil
	if err := vm.Call(ctx, "ksr_request_route"); err != nil || len(f.Replies) != 1 {
		t.Errorf("next message: err=%v replies=%q", err, f.Replies)
	}
}

// TestHardening_JSNestedCallbackBudget: the budget is the message's, not
// the nested route's: a runaway branch route stops the request route too,
// and the VM serves the next message.
func TestHardening_JSNestedCallbackBudget(t *testing.T) {
	f, p, _, ctx := load(t, "engine.js")
	p.rt.TimeBudget = 20 * time.Millisecond
	v, err := p.NewVM()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx.VM = v
	f.Infos = nil
	err = v.Call(ctx, "nest_runaway")
	if !errors.Is(err, core.ErrBudget) {
		t.Errorf("outer route: err = %v, want the budget error", err)
	}
	if len(f.NestErrs) != 1 || !errors.Is(f.NestErrs[0], core.ErrBudget) {
		t.Errorf("nested route: errs = %v, want the budget error", f.NestErrs)
	}
	if len(f.Infos) != 0 {
		t.Errorf("infos = %q: the outer route went on after the budget ran out", f.Infos)
	}
	f.Replies = nil
	if err := v.Call(ctx, "ksr_request_route"); err != nil || len(f.Replies) != 1 {
		t.Errorf("next message: err=%v replies=%q", err, f.Replies)
	}
}

// TestHardening_JSKSRReadOnly: assigning or deleting KSR members throws a
// TypeError naming the member, in sloppy mode too, and the next message
// still sees the real functions (issue 10 item 8: `KSR.sl = null` left
// every worker unable to answer).
func TestHardening_JSKSRReadOnly(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.js")
	f.Infos = nil
	if err := vm.Call(ctx, "assign_ksr"); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"TypeError: KSR.sl: cannot assign, KSR is read-only",
		"TypeError: KSR.sl.sl_send_reply: cannot assign, KSR.sl is read-only",
		"TypeError: KSR.info: cannot assign, KSR is read-only",
		"TypeError: KSR.sl: cannot delete, KSR is read-only",
		"TypeError: KSR.sl.sl_send_reply: cannot delete, KSR.sl is read-only",
		"TypeError: KSR.sl: cannot assign, KSR is read-only",
		"TypeError: KSR.newmodule: cannot assign, KSR is read-only",
	}, "\n")
	if len(f.Infos) != 2 || f.Infos[0] != want || f.Infos[1] != "keys sl_send_reply,sreply,send_reply" {
		t.Errorf("infos:\n%s\nwant:\n%s\nkeys sl_send_reply,send_reply", strings.Join(f.Infos, "\n"), want)
	}
	err := vm.Call(ctx, "assign_ksr_uncaught")
	wantErr := fmt.Sprintf("testdata/engine.js:%d:", lineOf(t, "engine.js", "assign_ksr"))
	if err == nil || !strings.HasPrefix(err.Error(), wantErr) || !strings.Contains(err.Error(), "TypeError: KSR.sl: cannot assign, KSR is read-only") {
		t.Errorf("uncaught assignment: err = %v, want %s ... TypeError: KSR.sl: cannot assign", err, wantErr)
	}
	f.Replies = nil
	if err := vm.Call(ctx, "ksr_request_route"); err != nil || len(f.Replies) != 1 {
		t.Errorf("next message: err=%v replies=%q, want the real sl_send_reply", err, f.Replies)
	}
}
