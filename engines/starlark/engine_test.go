package starlark

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"kemi/core"
)

func TestRegistered(t *testing.T) {
	info := core.LookupEngine("starlark")
	if info == nil || info.Module != "app_starlark" {
		t.Fatalf("LookupEngine(starlark) = %+v, want module app_starlark", info)
	}
	if m := core.Known("app_starlark"); m == nil || len(m.Params) != 3 || m.Params[0].Name != "load" || m.Params[2].Name != "memory_budget" {
		t.Fatalf("module app_starlark registered as %+v, want params load, reload and memory_budget", m)
	}
}

func compile(t *testing.T, name string) (core.Program, error) {
	t.Helper()
	src, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return Engine{}.Compile("testdata/"+name, src, &core.Runtime{Reg: (&fakes{}).Registry(t)})
}

func TestHas(t *testing.T) {
	_, p, _, _ := load(t, "engine.star")
	for _, name := range []string{"ksr_request_route", "results", "lambda_cb"} {
		if !p.Has(name) {
			t.Errorf("Has(%q) = false, want true", name)
		}
	}
	for _, name := range []string{"ksr_reply_route", "not_a_function", "loads", "KSR"} {
		if p.Has(name) {
			t.Errorf("Has(%q) = true, want false", name)
		}
	}
	np, err := compile(t, "noroute.star")
	if err != nil {
		t.Fatal(err)
	}
	if np.Has("ksr_request_route") || !np.Has("ksr_reply_route") {
		t.Errorf("noroute.star: Has(ksr_request_route)=%v Has(ksr_reply_route)=%v, want false, true", np.Has("ksr_request_route"), np.Has("ksr_reply_route"))
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct{ file, want string }{
		{"syntax.star", "testdata/syntax.star:5:7: got newline, want primary expression"},
		{"undefined.star", "testdata/undefined.star:2:14: undefined: undefined_name"},
	}
	for _, c := range cases {
		_, err := compile(t, c.file)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Compile(%s) error = %v, want prefix %q", c.file, err, c.want)
		}
	}
}

func TestTopLevelError(t *testing.T) {
	p, err := compile(t, "toplevel_error.star")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.NewVM(); err == nil || !strings.HasPrefix(err.Error(), "testdata/toplevel_error.star:4:") || !strings.Contains(err.Error(), "NoneType") {
		t.Fatalf("NewVM error = %v, want testdata/toplevel_error.star:4: ... NoneType ...", err)
	}
}

func TestResults(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.star")
	f.Infos = nil
	if err := vm.Call(ctx, "results"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"sl=int:1",
		"is_method=True,False",
		"negate=True,False",
		`xval=True,string:"one",int:5000000000`,
		"ignored",
		"info=None",
		"int-as-float=1",
	}
	if strings.Join(f.Infos, "\n") != strings.Join(want, "\n") {
		t.Errorf("infos:\n%s\nwant:\n%s", strings.Join(f.Infos, "\n"), strings.Join(want, "\n"))
	}
}

func TestAbsentModule(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.star")
	f.Infos = nil
	if err := vm.Call(ctx, "absent"); err != nil {
		t.Fatal(err)
	}
	if want := "[no auth types=KSR,KSR.sl]"; fmt.Sprint(f.Infos) != want {
		t.Errorf("infos = %q, want %s", f.Infos, want)
	}
	err := vm.Call(ctx, "no_such_function")
	want := fmt.Sprintf("testdata/engine.star:%d:11: KSR.sl has no .sl_send_replyy field or method (did you mean .sl_send_reply?)", lineOf(t, "engine.star", "no_such_function"))
	if err == nil || err.Error() != want {
		t.Errorf("no_such_function: error = %v, want %s", err, want)
	}
}

func TestArgErrors(t *testing.T) {
	_, _, vm, ctx := load(t, "engine.star")
	cases := []struct{ cb, want string }{
		{"bad_types", fmt.Sprintf("testdata/engine.star:%d:25: KSR.sl.sl_send_reply: expected (int, str), got (string, int)", lineOf(t, "engine.star", "bad_types"))},
		{"bad_count", "KSR.sl.sl_send_reply: expected (int, str), got (int)"},
		{"bad_float", "KSR.sl.sl_send_reply: expected (int, str), got (float, string)"},
		{"bad_bool", "KSR.kx.negate: expected (bool), got (int)"},
		{"bad_kwargs", "KSR.sl.sl_send_reply: takes no keyword arguments, got code="},
	}
	for _, c := range cases {
		err := vm.Call(ctx, c.cb)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error = %v, want it to contain %q", c.cb, err, c.want)
		}
	}
}

func TestExitDrop(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.star")
	f.Infos = nil
	if err := vm.Call(ctx, "do_exit"); err != nil {
		t.Fatalf("exit: %v", err)
	}
	if !ctx.Stopped() || ctx.Dropped() {
		t.Errorf("after exit: Stopped=%v Dropped=%v, want true, false", ctx.Stopped(), ctx.Dropped())
	}
	if len(f.Infos) != 0 || len(f.Replies) != 1 {
		t.Errorf("exit: infos %q replies %q; want the rest of the route skipped after one reply", f.Infos, f.Replies)
	}
	ctx.Reset(nil, ctx.Src, ctx.Local, core.UDP)
	if err := vm.Call(ctx, "do_drop"); err != nil || !ctx.Stopped() || !ctx.Dropped() || len(f.Infos) != 0 {
		t.Errorf("drop: err=%v Stopped=%v Dropped=%v infos=%q; want nil, true, true, none", err, ctx.Stopped(), ctx.Dropped(), f.Infos)
	}
	ctx.Reset(nil, ctx.Src, ctx.Local, core.UDP)
	if err := vm.Call(ctx, "exit_in_builtin"); err != nil || !ctx.Stopped() || len(f.Infos) != 0 {
		t.Errorf("exit under a builtin: err=%v Stopped=%v infos=%q; want nil, true, none", err, ctx.Stopped(), f.Infos)
	}
	ctx.Reset(nil, ctx.Src, ctx.Local, core.UDP)
	if err := vm.Call(ctx, "ksr_request_route"); err != nil || ctx.Stopped() {
		t.Errorf("after exit the VM must route normally: err=%v Stopped=%v", err, ctx.Stopped())
	}
}

func TestRuntimeErrors(t *testing.T) {
	_, _, vm, ctx := load(t, "engine.star")
	cases := []struct{ cb, want string }{
		{"runtime_error", fmt.Sprintf("testdata/engine.star:%d:13: NoneType has no .field field or method", lineOf(t, "engine.star", "runtime_error"))},
		{"script_fail", "fail: by the script"},
		{"go_error", fmt.Sprintf("testdata/engine.star:%d:16: boom from Go", lineOf(t, "engine.star", "go_error"))},
		{"go_panic", "panic in exported function: fake module bug"},
		{"mutate_global", fmt.Sprintf("testdata/engine.star:%d:", lineOf(t, "engine.star", "mutate_global"))},
		{"mutate_global", "frozen list"},
		{"recurse", "called recursively"},
	}
	for _, c := range cases {
		err := vm.Call(ctx, c.cb)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error = %v, want it to contain %q", c.cb, err, c.want)
		}
		if c.cb == "go_error" && !errors.Is(err, errBoom) {
			t.Errorf("go_error: errors.Is(%v, errBoom) = false", err)
		}
	}
	if err := vm.Call(ctx, "ksr_request_route"); err != nil {
		t.Errorf("VM unusable after errors: %v", err)
	}
}

func TestNoCallback(t *testing.T) {
	_, _, vm, ctx := load(t, "engine.star")
	for _, name := range []string{"ksr_reply_route", "not_a_function", "ksr_reply_route"} {
		if err := vm.Call(ctx, name); err != core.ErrNoCallback {
			t.Errorf("Call(%q) = %v, want core.ErrNoCallback", name, err)
		}
	}
	if err := vm.Call(ctx, "lambda_cb"); err != nil {
		t.Errorf("Call(lambda_cb) = %v", err)
	}
}

func TestBudget(t *testing.T) {
	f, p, _, ctx := load(t, "engine.star")
	p.rt.StepBudget = 100_000
	v, err := p.NewVM()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for i := 0; i < 2; i++ {
		err := v.Call(ctx, "runaway")
		if !errors.Is(err, core.ErrBudget) || !strings.HasPrefix(err.Error(), "testdata/engine.star:") {
			t.Fatalf("runaway: error = %v, want core.ErrBudget at testdata/engine.star:line", err)
		}
		f.Replies = nil
		if err := v.Call(ctx, "ksr_request_route"); err != nil || len(f.Replies) != 1 {
			t.Fatalf("after the budget stop: err=%v replies=%q, want a normal route", err, f.Replies)
		}
	}
	// The budget is per call, not per VM: many calls never add up to it.
	for i := 0; i < 10_000; i++ {
		if err := v.Call(ctx, "ksr_request_route"); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
}

func TestPrintLogs(t *testing.T) {
	_, p, vm, ctx := load(t, "engine.star")
	var out bytes.Buffer
	p.rt.Log = &core.Logger{Level: core.LInfo, Out: &out}
	if err := vm.Call(ctx, "prints"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "INFO: hello from print") {
		t.Errorf("log = %q, want the print line at INFO", out.String())
	}
}

func TestTopLevelOncePerVM(t *testing.T) {
	f, p, vm, ctx := load(t, "engine.star")
	vm2, err := p.NewVM()
	if err != nil {
		t.Fatal(err)
	}
	defer vm2.Close()
	f.Infos = nil
	vm.Call(ctx, "count_loads")
	vm.Call(ctx, "count_loads")
	vm2.Call(ctx, "count_loads")
	if fmt.Sprint(f.Infos) != "[loads=1 loads=1 loads=1]" {
		t.Errorf("infos = %q, want each VM's top level run once", f.Infos)
	}
}

// starlark-go allocates each Starlark function call's frame space, so a
// callback costs an allocation whatever it does, and it copies the
// positional arguments of every call to a builtin (a builtin might keep
// them), one allocation per exported call with arguments. Argument
// conversion, result conversion and exit must add nothing to that.
func TestNoAllocs(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.star")
	f.Quiet = true
	allocs := func(cb string) float64 {
		return testing.AllocsPerRun(200, func() {
			if err := vm.Call(ctx, cb); err != nil {
				t.Fatal(err)
			}
		})
	}
	empty := allocs("empty")
	if n := allocs("one_export"); n != empty+1 {
		t.Errorf("1 exported call: %v allocs per callback, want %v (empty callback) + 1 (starlark's argument copy)", n, empty)
	}
	if n := allocs("ksr_request_route"); n != empty+2 {
		t.Errorf("seed route: %v allocs per callback, want %v (empty callback) + 2 (starlark's argument copies)", n, empty)
	}
	if n := allocs("do_drop"); n != empty {
		t.Errorf("drop: %v allocs per callback, want %v as for an empty one", n, empty)
	}
}
