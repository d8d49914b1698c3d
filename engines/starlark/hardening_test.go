package starlark

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"kemi/core"
)

// TestHardening_StarlarkNestedCallbackCtx: a callback run inside another (the
// branch route t_relay runs inside the request route) gets its own
// context, and the outer callback gets its own back when it returns, at
// any depth, after an exit and after an error in the nested one (issue 10
// item 6: every KSR call after the nested one panicked on a nil context).
func TestHardening_StarlarkNestedCallbackCtx(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.star")
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
	if len(f.NestErrs) != 4 || f.NestErrs[2] != nil || f.NestErrs[3] == nil || !strings.Contains(f.NestErrs[3].Error(), "NoneType") {
		t.Errorf("nested errors = %v, want nil, nil, nil (exit), the runtime error", f.NestErrs)
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

// TestHardening_StarlarkNestedCallbackBudget: the budget is the message's, not
// the nested route's: a runaway branch route stops the request route too,
// and the VM serves the next message.
func TestHardening_StarlarkNestedCallbackBudget(t *testing.T) {
	f, p, _, ctx := load(t, "engine.star")
	p.rt.StepBudget = 100_000
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

// TestHardening_StarlarkKSRReadOnly: KSR and its modules have no settable
// fields, so assigning to a member is a script error at that line and the
// next message sees the real functions (issue 10 item 8). A local named
// KSR only shadows it inside that one call.
func TestHardening_StarlarkKSRReadOnly(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.star")
	for _, c := range []struct{ cb, mark, want string }{
		{"assign_ksr", "assign_ksr", "can't assign to .sl field of KSR"},
		{"assign_ksr_member", "assign_ksr_member", "can't assign to .sl_send_reply field of KSR.sl"},
	} {
		err := vm.Call(ctx, c.cb)
		pos := fmt.Sprintf("testdata/engine.star:%d:", lineOf(t, "engine.star", c.mark))
		if err == nil || !strings.HasPrefix(err.Error(), pos) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %s ... %s", c.cb, err, pos, c.want)
		}
	}
	if err := vm.Call(ctx, "shadow_ksr"); err != nil {
		t.Errorf("shadow_ksr: %v", err)
	}
	f.Replies = nil
	if err := vm.Call(ctx, "ksr_request_route"); err != nil || len(f.Replies) != 1 {
		t.Errorf("next message: err=%v replies=%q, want the real sl_send_reply", err, f.Replies)
	}
}
