package lua

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"kemi/core"
)

func TestSeed(t *testing.T) {
	for _, script := range []string{"seed.lua", "seed_sr.lua"} {
		t.Run(script, func(t *testing.T) {
			e := newEnv(t)
			vm := e.vm(t, script)
			e.f.Maxfwd = -1
			if err := vm.Call(e.ctx(), "ksr_request_route"); err != nil {
				t.Fatal(err)
			}
			e.f.Maxfwd = 1
			if err := vm.Call(e.ctx(), "ksr_request_route"); err != nil {
				t.Fatal(err)
			}
			if err := vm.Call(e.ctx(), "ksr_reply_route"); err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(e.f.Replies, e.f.ReplyFns); got != "[483 Too Many Hops 200 OK Lua] [send_reply sl_send_reply]" {
				t.Errorf("replies, by function = %s, want 483 Too Many Hops by send_reply, 200 OK Lua by sl_send_reply", got)
			}
			if e.f.MaxArg != 10 {
				t.Errorf("process_maxfwd got %d, want 10", e.f.MaxArg)
			}
			if script == "seed_sr.lua" {
				log := e.log.String()
				if strings.Count(log, "INFO: ===== request - from kamailio lua script\n") != 2 ||
					strings.Count(log, "INFO: ===== response - from kamailio lua script\n") != 1 {
					t.Errorf("log = %q", log)
				}
			}
		})
	}
}

// Without the modules loaded, sr has no maxfwd or sl, like KSR.
func TestLegacySRFollowsModules(t *testing.T) {
	e := newEnv(t, &core.ModuleSpec{Name: "maxfwd", Exports: []*core.Export{{Module: "maxfwd", Name: "process_maxfwd",
		Params: []core.Type{core.TInt}, Returns: core.TInt,
		Call: func(*core.Ctx, []core.Value) core.Value { return core.Int(1) }}}})
	p, err := Engine{}.Compile("t.lua", []byte(`
function ksr_request_route()
	assert(sr.sl == nil and KSR.sl == nil)
	assert(sr.maxfwd.process_maxfwd(10) == 1)
	local ok, err = pcall(sr.maxfwd.process_maxfwd, "ten")
	assert(not ok and err:find("sr.maxfwd.process_maxfwd: expected (int), got (string)", 1, true), err)
	sr.err("an error line")
	local ok, err = pcall(sr.log, "loud", "x")
	assert(not ok and err:find("unknown level \"loud\"", 1, true), err)
end`), e.rt)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := p.NewVM()
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	if err := vm.Call(e.ctx(), "ksr_request_route"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.log.String(), "ERROR: an error line") {
		t.Errorf("log = %q", e.log.String())
	}
}

// An export that runs another callback (an event route) from inside a
// route must leave the outer route its own context.
func TestNestedCall(t *testing.T) {
	var vm core.VM
	var inner *core.Ctx
	e := newEnv(t, &core.ModuleSpec{Name: "ev", Exports: []*core.Export{
		{Module: "ev", Name: "run", Returns: core.TInt, Call: func(ctx *core.Ctx, _ []core.Value) core.Value {
			inner = &core.Ctx{RT: ctx.RT}
			if err := vm.Call(inner, "event"); err != nil {
				return ctx.Fail(err)
			}
			return core.Int(1)
		}},
		{Module: "ev", Name: "exit", Returns: core.TNone, Call: func(ctx *core.Ctx, _ []core.Value) core.Value { return ctx.Stop(false) }},
	}})
	p, err := Engine{}.Compile("n.lua", []byte(`
function event() KSR.ev.exit() end
function loop() while true do KSR.ev.run() end end
function ksr_request_route()
	assert(KSR.ev.run() == 1)
	KSR.ev.exit()
end`), e.rt)
	if err != nil {
		t.Fatal(err)
	}
	if vm, err = p.NewVM(); err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	outer := e.ctx()
	if err := vm.Call(outer, "ksr_request_route"); err != nil {
		t.Fatal(err)
	}
	if !outer.Stopped() || inner == nil || !inner.Stopped() {
		t.Errorf("outer stopped=%v, inner=%v: each exit must reach its own context", outer.Stopped(), inner)
	}
	// Nested calls share the outer budget: a loop around them ends.
	err = vm.Call(e.ctx(), "loop")
	if !errors.Is(err, core.ErrBudget) {
		t.Errorf("loop around nested calls: %v, want ErrBudget", err)
	}
	if err := vm.Call(e.ctx(), "event"); err != nil {
		t.Errorf("next call: %v", err)
	}
}

// Workers share one Program (and its FunctionProto) and own their VMs.
func TestVMsShareProgram(t *testing.T) {
	e := newEnv(t, (&benchFakes{}).specs()...)
	p, err := Engine{}.Compile("testdata/seed.lua", []byte(readTestdata(t, "seed.lua")), e.rt)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	for range 4 {
		go func() {
			vm, err := p.NewVM()
			if err != nil {
				done <- err
				return
			}
			defer vm.Close()
			ctx := &core.Ctx{RT: e.rt}
			for range 200 {
				if err := vm.Call(ctx, "ksr_request_route"); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
