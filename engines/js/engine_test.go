package js

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"kemi/core"
)

func TestRegistered(t *testing.T) {
	for _, name := range []string{"jsdt", "js"} {
		info := core.LookupEngine(name)
		if info == nil || info.Module != "app_jsdt" {
			t.Fatalf("LookupEngine(%q) = %+v, want module app_jsdt", name, info)
		}
	}
	if m := core.Known("app_jsdt"); m == nil || len(m.Params) != 3 || m.Params[0].Name != "load" || m.Params[2].Name != "memory_budget" {
		t.Fatalf("module app_jsdt registered as %+v, want params load, reload and memory_budget", m)
	}
}

func TestHas(t *testing.T) {
	_, p, _, _ := load(t, "engine.js")
	for _, name := range []string{"ksr_request_route", "results", "arrow_cb", "let_cb", "assigned_cb"} {
		if !p.Has(name) {
			t.Errorf("Has(%q) = false, want true", name)
		}
	}
	for _, name := range []string{"ksr_reply_route", "not_a_function", "loads", "KSR"} {
		if p.Has(name) {
			t.Errorf("Has(%q) = true, want false", name)
		}
	}
	src, _ := os.ReadFile("testdata/noroute.js")
	np, err := Engine{}.Compile("testdata/noroute.js", src, &core.Runtime{Reg: (&fakes{}).Registry(t)})
	if err != nil {
		t.Fatal(err)
	}
	if np.Has("ksr_request_route") || !np.Has("ksr_reply_route") {
		t.Errorf("noroute.js: Has(ksr_request_route)=%v Has(ksr_reply_route)=%v, want false, true", np.Has("ksr_request_route"), np.Has("ksr_reply_route"))
	}
}

func TestCompileError(t *testing.T) {
	src, _ := os.ReadFile("testdata/syntax.js")
	_, err := Engine{}.Compile("testdata/syntax.js", src, &core.Runtime{Reg: (&fakes{}).Registry(t)})
	if err == nil || !strings.HasPrefix(err.Error(), "testdata/syntax.js:7:1: SyntaxError: ") {
		t.Fatalf("Compile(syntax.js) error = %v, want testdata/syntax.js:7:1: SyntaxError: ...", err)
	}
}

func TestTopLevelError(t *testing.T) {
	src, _ := os.ReadFile("testdata/toplevel_error.js")
	p, err := Engine{}.Compile("testdata/toplevel_error.js", src, &core.Runtime{Reg: (&fakes{}).Registry(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.NewVM(); err == nil || !strings.HasPrefix(err.Error(), "testdata/toplevel_error.js:2:") {
		t.Fatalf("NewVM error = %v, want testdata/toplevel_error.js:2: ...", err)
	}
}

func TestResults(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.js")
	f.Infos = nil
	if err := vm.Call(ctx, "results"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"sl=number:1",
		"is_method=true,false",
		"negate=true,false",
		"xval=true,string:one,number:5000000000",
		"ignored",
		"info=undefined",
		"int-as-float=1",
	}
	if strings.Join(f.Infos, "\n") != strings.Join(want, "\n") {
		t.Errorf("infos:\n%s\nwant:\n%s", strings.Join(f.Infos, "\n"), strings.Join(want, "\n"))
	}
}

func TestAbsentModule(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.js")
	f.Infos = nil
	if err := vm.Call(ctx, "absent"); err != nil {
		t.Fatal(err)
	}
	if want := "[no auth nofunc=undefined]"; fmt.Sprint(f.Infos) != want {
		t.Errorf("infos = %q, want %s", f.Infos, want)
	}
}

func TestArgErrors(t *testing.T) {
	_, _, vm, ctx := load(t, "engine.js")
	cases := []struct{ cb, want string }{
		{"bad_types", fmt.Sprintf("testdata/engine.js:%d:", lineOf(t, "engine.js", "bad_types"))},
		{"bad_types", "TypeError: KSR.sl.sl_send_reply: expected (int, str), got (string, number)"},
		{"bad_count", "KSR.sl.sl_send_reply: expected (int, str), got (number)"},
		{"bad_float", "KSR.sl.sl_send_reply: expected (int, str), got (number, string)"},
		{"bad_bool", "KSR.kx.negate: expected (bool), got (number)"},
	}
	for _, c := range cases {
		err := vm.Call(ctx, c.cb)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error = %v, want it to contain %q", c.cb, err, c.want)
		}
	}
}

// Wrong-type errors name the JavaScript types received.
func TestArgTypeNames(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.js")
	f.Infos = nil
	if err := vm.Call(ctx, "type_names"); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"KSR.sl.sl_send_reply: expected (int, str), got (null, object)",
		"KSR.sl.sl_send_reply: expected (int, str), got (undefined, boolean)",
		"KSR.sl.sl_send_reply: expected (int, str), got (function, symbol)",
		"KSR.sl.sl_send_reply: expected (int, str), got (bigint, object)",
	}, "\n")
	if len(f.Infos) != 1 || f.Infos[0] != want {
		t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(f.Infos, "\n"), want)
	}
}

func TestExitDrop(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.js")
	f.Infos = nil
	if err := vm.Call(ctx, "do_exit"); err != nil {
		t.Fatalf("exit: %v", err)
	}
	if !ctx.Stopped() || ctx.Dropped() {
		t.Errorf("after exit: Stopped=%v Dropped=%v, want true, false", ctx.Stopped(), ctx.Dropped())
	}
	if len(f.Infos) != 0 || len(f.Replies) != 1 {
		t.Errorf("exit: infos %q replies %q; want no info (catch, finally and the rest skipped) and one reply", f.Infos, f.Replies)
	}
	ctx.Reset(nil, ctx.Src, ctx.Local, core.UDP)
	if err := vm.Call(ctx, "do_drop"); err != nil || !ctx.Stopped() || !ctx.Dropped() || len(f.Infos) != 0 {
		t.Errorf("drop: err=%v Stopped=%v Dropped=%v infos=%q; want nil, true, true, none", err, ctx.Stopped(), ctx.Dropped(), f.Infos)
	}
	ctx.Reset(nil, ctx.Src, ctx.Local, core.UDP)
	if err := vm.Call(ctx, "exit_in_job"); err != nil || !ctx.Stopped() || len(f.Infos) != 0 {
		t.Errorf("exit in a promise job: err=%v Stopped=%v infos=%q; want nil, true, none", err, ctx.Stopped(), f.Infos)
	}
	ctx.Reset(nil, ctx.Src, ctx.Local, core.UDP)
	if err := vm.Call(ctx, "ksr_request_route"); err != nil || ctx.Stopped() {
		t.Errorf("after exit the VM must route normally: err=%v Stopped=%v", err, ctx.Stopped())
	}
}

func TestRuntimeErrors(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.js")
	f.Infos = nil
	cases := []struct{ cb, want string }{
		{"runtime_error", fmt.Sprintf("testdata/engine.js:%d:11: TypeError: Cannot read property 'field' of", lineOf(t, "engine.js", "runtime_error"))},
		{"thrown", fmt.Sprintf("testdata/engine.js:%d:", lineOf(t, "engine.js", "thrown"))},
		{"thrown", "Error: by the script"},
		{"go_error", fmt.Sprintf("testdata/engine.js:%d:", lineOf(t, "engine.js", "go_error"))},
		{"go_error", "boom from Go"},
		{"go_panic", "panic in exported function: fake module bug"},
		{"recurse", fmt.Sprintf("testdata/engine.js:%d:16: RangeError: maximum call stack size (10000) exceeded", lineOf(t, "engine.js", "recurse"))},
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
	if fmt.Sprint(f.Infos) != "[caught: boom from Go caught: boom from Go]" {
		t.Errorf("infos = %q, want the export error caught by the script once per go_error call", f.Infos)
	}
	if err := vm.Call(ctx, "ksr_request_route"); err != nil {
		t.Errorf("VM unusable after errors: %v", err)
	}
}

func TestNoCallback(t *testing.T) {
	_, _, vm, ctx := load(t, "engine.js")
	for _, name := range []string{"ksr_reply_route", "not_a_function", "ksr_reply_route"} {
		if err := vm.Call(ctx, name); err != core.ErrNoCallback {
			t.Errorf("Call(%q) = %v, want core.ErrNoCallback", name, err)
		}
	}
	for _, name := range []string{"arrow_cb", "let_cb", "assigned_cb"} {
		if err := vm.Call(ctx, name); err != nil {
			t.Errorf("Call(%q) = %v", name, err)
		}
	}
}

func TestSandbox(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.js")
	f.Infos = nil
	if err := vm.Call(ctx, "sandbox"); err != nil {
		t.Fatal(err)
	}
	if want := "function,undefined,undefined,undefined,undefined,undefined"; len(f.Infos) != 1 || f.Infos[0] != want {
		t.Errorf("typeof require, process, module, setTimeout, fetch, XMLHttpRequest = %q, want %s", f.Infos, want)
	}
}

// goja drops its value stack whenever control returns to Go
// (Runtime.leave), so every callback allocates it anew: one or two
// allocations that depend on stack depth, not on what the script calls.
// Exported calls and exit themselves must add nothing.
func TestNoAllocs(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.js")
	f.Quiet = true
	allocs := func(cb string) float64 {
		return testing.AllocsPerRun(200, func() {
			if err := vm.Call(ctx, cb); err != nil {
				t.Fatal(err)
			}
		})
	}
	one, many := allocs("one_export"), allocs("many_exports")
	if many != one {
		t.Errorf("100 exported calls: %v allocs per callback, 1 call: %v; want the same", many, one)
	}
	if n := allocs("ksr_request_route"); n > 2 {
		t.Errorf("seed route: %v allocs per callback, want at most goja's 2", n)
	}
	if n := allocs("do_drop"); n != 0 {
		t.Errorf("drop: %v allocs per callback, want 0", n)
	}
}
