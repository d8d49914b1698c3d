package enginetest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"kemi/core"
)

// Engine is what an engine's test gives Run.
type Engine struct {
	Engine core.Engine
	Ext    string // file extension of its scripts: ".js", ".lua", ".star"

	// Snippets holds, per behaviour (the keys of Behaviours), source in
	// the engine's language that defines a global function of that name
	// (and may have top-level code). A line that must appear in an
	// error's position carries the word MARK in a comment. A behaviour
	// without a snippet is skipped, and says so: only where the language
	// cannot express it.
	Snippets map[string]string
}

// Behaviours are what each snippet must do, and what Run checks.
var Behaviours = map[string]string{
	"ksr_request_route": "the seed: if KSR.maxfwd.process_maxfwd(10) < 0, KSR.sl.send_reply(483, \"Too Many Hops\") and return; else KSR.sl.sl_send_reply(200, \"OK\")",
	"args":              "KSR.kx.args(5, \"s\", true, 5000000000); then KSR.kx.args(\"42\", \"t\", false, \"-7\") (numeric strings convert to int, as in Kamailio)",
	"bad_count":         "KSR.sl.sl_send_reply(200) on a MARK line: an error naming KSR.sl.sl_send_reply, expected (int, str) and what it got",
	"bad_type":          "KSR.sl.sl_send_reply(\"abc\", \"OK\") on a MARK line: a non-numeric string for an int is an error like bad_count's",
	"bad_bool":          "KSR.kx.negate(\"yes\"): a string for a bool is an error naming KSR.kx.negate, expected (bool) (a number is not checked here: Lua takes it, as Kamailio passes flags as ints; JavaScript and Starlark refuse it)",
	"returns":           "KSR.kx.args(KSR.maxfwd.process_maxfwd(10), KSR.kx.xval(1), KSR.kx.negate(false), KSR.kx.xval(5000000000)): results come back typed; then KSR.info(\"null\") if KSR.kx.xval(0) is the language's null, KSR.info(\"true\") if KSR.is_method(\"INVITE\") is the language's true and KSR.info(\"nothing\") if KSR.info(\"x\") returns the language's null",
	"exit":              "KSR.sl.sl_send_reply(200, \"OK\"), then KSR.x.exit() inside a nested script function, then KSR.info(\"after\") in both: the callback ends without error, nothing after exit runs",
	"drop":              "KSR.x.drop(), then KSR.info(\"after\")",
	"missing_module":    "KSR.info(\"absent\") if KSR.auth is the language's nil/undefined/None",
	"readonly":          "KSR.sl = the language's null: an error; the next call sees the real functions",
	"nest":              "KSR.info(KSR.kx.whoami()); KSR.kx.nest(\"nest_inner\"); KSR.info(KSR.kx.whoami())",
	"nest_inner":        "KSR.info(KSR.kx.whoami()); KSR.x.exit()",
	"runaway":           "an endless loop (MARK on a line inside it): the step or time budget stops it",
	"bomb":              "a string doubled in an endless loop: the memory budget stops it",
	"script_error":      "a runtime error of the language (such as a field of nil) on a MARK line",
	"go_error":          "KSR.kx.fail() on a MARK line, uncaught: the export's error, at that line",
	"go_panic":          "KSR.kx.crash(): a Go panic in an export fails the callback, not the process",
	"count":             "a global counter starting at 0 at the top level; the callback adds 1 and calls KSR.info with it in decimal",
}

// script is the assembled source and where each snippet starts.
type script struct {
	path  string
	src   string
	lines map[string]int // first line of each snippet
}

func assemble(t *testing.T, e Engine) *script {
	names := make([]string, 0, len(e.Snippets))
	for n := range e.Snippets {
		if _, ok := Behaviours[n]; !ok {
			t.Fatalf("snippet %q is no behaviour of the suite", n)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	s := &script{path: filepath.Join(t.TempDir(), "conformance"+e.Ext), lines: map[string]int{}}
	var b strings.Builder
	line := 1
	for _, n := range names {
		s.lines[n] = line
		src := strings.TrimRight(e.Snippets[n], "\n") + "\n\n"
		b.WriteString(src)
		line += strings.Count(src, "\n")
	}
	s.src = b.String()
	if err := os.WriteFile(s.path, []byte(s.src), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// mark is the line of the first MARK in behaviour n's snippet.
func (s *script) mark(t *testing.T, e Engine, n string) int {
	for i, l := range strings.Split(e.Snippets[n], "\n") {
		if strings.Contains(l, "MARK") {
			return s.lines[n] + i
		}
	}
	t.Fatalf("snippet %s has no MARK line", n)
	return 0
}

// env is one compiled program and VM over fresh fakes.
type env struct {
	f   *Fakes
	rt  *core.Runtime
	p   core.Program
	vm  core.VM
	ctx *core.Ctx
}

func (s *script) load(t *testing.T, e Engine, tune func(*core.Runtime)) *env {
	t.Helper()
	f := &Fakes{Maxfwd: 1}
	rt := &core.Runtime{Reg: f.Registry(t), StepBudget: core.DefaultStepBudget, TimeBudget: time.Minute, Log: &core.Logger{Level: core.LErr, Out: &strings.Builder{}}}
	if tune != nil {
		tune(rt)
	}
	p, err := e.Engine.Compile(s.path, []byte(s.src), rt)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := p.NewVM()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vm.Close)
	ctx := &core.Ctx{RT: rt, VM: vm}
	ctx.Reset(nil, ctx.Src, ctx.Local, core.UDP)
	f.Names = map[*core.Ctx]string{ctx: "outer"}
	return &env{f: f, rt: rt, p: p, vm: vm, ctx: ctx}
}

// call runs callback cb with a fresh message state.
func (v *env) call(cb string) error {
	v.ctx.Reset(nil, v.ctx.Src, v.ctx.Local, core.UDP)
	return v.vm.Call(v.ctx, cb)
}

// Run checks every behaviour of Behaviours that e has a snippet for.
func Run(t *testing.T, e Engine) {
	s := assemble(t, e)
	check := func(name string, f func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			if _, ok := e.Snippets[name]; !ok {
				t.Skipf("no %s snippet for %s: %s", name, e.Ext, Behaviours[name])
			}
			f(t)
		})
	}
	// seedWorks checks the VM still routes after whatever ran before.
	seedWorks := func(t *testing.T, v *env, after string) {
		t.Helper()
		v.f.Replies = nil
		if err := v.call("ksr_request_route"); err != nil || len(v.f.Replies) != 1 || v.ctx.Stopped() {
			t.Errorf("after %s: err=%v replies=%q stopped=%v, want the next message routed", after, err, v.f.Replies, v.ctx.Stopped())
		}
	}
	wantErr := func(t *testing.T, err error, cb string, parts ...string) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error, want one containing %q", cb, parts)
		}
		for _, p := range parts {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("%s: error %q, want it to contain %q", cb, err, p)
			}
		}
	}
	at := func(t *testing.T, name string) string {
		return fmt.Sprintf("%s:%d:", s.path, s.mark(t, e, name))
	}

	check("ksr_request_route", func(t *testing.T) {
		v := s.load(t, e, nil)
		if !v.p.Has("ksr_request_route") || v.p.Has("no_such_callback") || v.p.Has("KSR") {
			t.Errorf("Has(ksr_request_route, no_such_callback, KSR) = %v, %v, %v; want true, false, false", v.p.Has("ksr_request_route"), v.p.Has("no_such_callback"), v.p.Has("KSR"))
		}
		if err := v.call("no_such_callback"); err != core.ErrNoCallback {
			t.Errorf("Call(no_such_callback) = %v, want core.ErrNoCallback", err)
		}
		if err := v.call("ksr_request_route"); err != nil {
			t.Fatal(err)
		}
		v.f.Maxfwd = -1
		if err := v.call("ksr_request_route"); err != nil {
			t.Fatal(err)
		}
		if want := "[200 OK 483 Too Many Hops]"; fmt.Sprint(v.f.Replies) != want || v.f.MaxArg != 10 {
			t.Errorf("replies = %q, process_maxfwd got %d; want %s and 10", v.f.Replies, v.f.MaxArg, want)
		}
	})
	check("args", func(t *testing.T) {
		v := s.load(t, e, nil)
		if err := v.call("args"); err != nil {
			t.Fatal(err)
		}
		if want := "[5|s|true|5000000000 42|t|false|-7]"; fmt.Sprint(v.f.Args) != want {
			t.Errorf("KSR.kx.args got %q, want %s", v.f.Args, want)
		}
	})
	for _, c := range []struct{ cb, fn, want string }{
		{"bad_count", "KSR.sl.sl_send_reply", "expected (int, str), got ("},
		{"bad_type", "KSR.sl.sl_send_reply", "expected (int, str), got ("},
		{"bad_bool", "KSR.kx.negate", "expected (bool), got ("},
	} {
		check(c.cb, func(t *testing.T) {
			v := s.load(t, e, nil)
			parts := []string{c.fn + ": " + c.want}
			if c.cb != "bad_bool" {
				parts = append(parts, at(t, c.cb))
			}
			wantErr(t, v.call(c.cb), c.cb, parts...)
			seedWorks(t, v, c.cb)
		})
	}
	check("returns", func(t *testing.T) {
		v := s.load(t, e, nil)
		if err := v.call("returns"); err != nil {
			t.Fatal(err)
		}
		if want := "[1|one|true|5000000000]"; fmt.Sprint(v.f.Args) != want {
			t.Errorf("KSR.kx.args got %q, want %s (int, xval string, bool and xval number results passed back)", v.f.Args, want)
		}
		if want := "[null true x nothing]"; fmt.Sprint(v.f.Infos) != want {
			t.Errorf("infos = %q, want %s", v.f.Infos, want)
		}
	})
	check("exit", func(t *testing.T) {
		v := s.load(t, e, nil)
		if err := v.call("exit"); err != nil {
			t.Fatalf("exit is not an error: %v", err)
		}
		if !v.ctx.Stopped() || v.ctx.Dropped() || len(v.f.Infos) != 0 || len(v.f.Replies) != 1 {
			t.Errorf("after exit: stopped=%v dropped=%v infos=%q replies=%q; want true, false, none, one", v.ctx.Stopped(), v.ctx.Dropped(), v.f.Infos, v.f.Replies)
		}
		seedWorks(t, v, "exit")
	})
	check("drop", func(t *testing.T) {
		v := s.load(t, e, nil)
		if err := v.call("drop"); err != nil {
			t.Fatalf("drop is not an error: %v", err)
		}
		if !v.ctx.Stopped() || !v.ctx.Dropped() || len(v.f.Infos) != 0 {
			t.Errorf("after drop: stopped=%v dropped=%v infos=%q; want true, true, none", v.ctx.Stopped(), v.ctx.Dropped(), v.f.Infos)
		}
		seedWorks(t, v, "drop")
	})
	check("missing_module", func(t *testing.T) {
		v := s.load(t, e, nil)
		if err := v.call("missing_module"); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(v.f.Infos) != "[absent]" {
			t.Errorf("infos = %q, want [absent]: a module that is not loaded is the language's nil", v.f.Infos)
		}
	})
	check("readonly", func(t *testing.T) {
		v := s.load(t, e, nil)
		wantErr(t, v.call("readonly"), "readonly", "KSR")
		seedWorks(t, v, "readonly")
	})
	check("nest", func(t *testing.T) {
		if _, ok := e.Snippets["nest_inner"]; !ok {
			t.Fatal("nest needs a nest_inner snippet")
		}
		v := s.load(t, e, nil)
		if err := v.call("nest"); err != nil {
			t.Fatal(err)
		}
		if want := "[outer ctx1 outer]"; fmt.Sprint(v.f.Infos) != want {
			t.Errorf("infos = %q, want %s: a nested callback gets its own context and the outer one comes back", v.f.Infos, want)
		}
		if len(v.f.NestErrs) != 1 || v.f.NestErrs[0] != nil || v.ctx.Stopped() {
			t.Errorf("nested errors %v, outer stopped=%v; want the inner exit to end the inner callback only", v.f.NestErrs, v.ctx.Stopped())
		}
		seedWorks(t, v, "nest")
	})
	check("runaway", func(t *testing.T) {
		v := s.load(t, e, func(rt *core.Runtime) { rt.StepBudget, rt.TimeBudget = 100_000, 50*time.Millisecond })
		for i := 0; i < 2; i++ {
			err := v.call("runaway")
			if !errors.Is(err, core.ErrBudget) {
				t.Fatalf("runaway: %v, want core.ErrBudget", err)
			}
			wantErr(t, err, "runaway", s.path+":")
			seedWorks(t, v, "runaway")
		}
	})
	check("bomb", func(t *testing.T) {
		v := s.load(t, e, nil)
		err := v.call("bomb")
		if !errors.Is(err, core.ErrBudget) {
			t.Fatalf("bomb: %v, want core.ErrBudget", err)
		}
		wantErr(t, err, "bomb", "memory")
		seedWorks(t, v, "bomb")
	})
	check("script_error", func(t *testing.T) {
		v := s.load(t, e, nil)
		wantErr(t, v.call("script_error"), "script_error", at(t, "script_error"))
		seedWorks(t, v, "script_error")
	})
	check("go_error", func(t *testing.T) {
		v := s.load(t, e, nil)
		err := v.call("go_error")
		wantErr(t, err, "go_error", at(t, "go_error"), ErrBoom.Error())
		if !errors.Is(err, ErrBoom) {
			t.Errorf("errors.Is(%v, ErrBoom) = false", err)
		}
		seedWorks(t, v, "go_error")
	})
	check("go_panic", func(t *testing.T) {
		v := s.load(t, e, nil)
		wantErr(t, v.call("go_panic"), "go_panic", "fake module bug")
		seedWorks(t, v, "go_panic")
	})
	check("count", func(t *testing.T) {
		v := s.load(t, e, nil)
		for i := 0; i < 2; i++ {
			if err := v.call("count"); err != nil {
				t.Fatal(err)
			}
		}
		vm2, err := v.p.NewVM()
		if err != nil {
			t.Fatal(err)
		}
		defer vm2.Close()
		if err := vm2.Call(v.ctx, "count"); err != nil {
			t.Fatal(err)
		}
		// A reload compiles the script again: fresh state.
		w := s.load(t, e, nil)
		if err := w.call("count"); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(v.f.Infos, w.f.Infos); got != "[1 2 1] [1]" {
			t.Errorf("counts = %s, want [1 2 1] [1]: state lives in a VM, a new VM or a reload starts afresh", got)
		}
	})
}
