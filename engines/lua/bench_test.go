package lua

import (
	"io"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"kemi/core"
)

// benchFakes are modules that do not record, so what is measured is the
// engine.
type benchFakes struct{ n atomic.Int64 }

func (f *benchFakes) specs() []*core.ModuleSpec {
	sl := func(ctx *core.Ctx, a []core.Value) core.Value { f.n.Add(a[0].I); return core.Int(1) }
	return []*core.ModuleSpec{
		{Name: "sl", Exports: []*core.Export{
			{Module: "sl", Name: "sl_send_reply", Aliases: []string{"sreply"}, Params: []core.Type{core.TInt, core.TStr}, Returns: core.TInt, Call: sl},
			{Module: "sl", Name: "send_reply", Params: []core.Type{core.TInt, core.TStr}, Returns: core.TInt, Call: sl},
		}},
		{Name: "maxfwd", Exports: []*core.Export{{Module: "maxfwd", Name: "process_maxfwd",
			Params: []core.Type{core.TInt}, Returns: core.TInt,
			Call: func(ctx *core.Ctx, a []core.Value) core.Value { return core.Int(1) }}}},
		{Name: "x", Exports: []*core.Export{{Module: "x", Name: "exit", Returns: core.TNone,
			Call: func(ctx *core.Ctx, _ []core.Value) core.Value { return ctx.Stop(false) }}}},
	}
}

// benchEnv is a runtime over benchFakes with the log off; it also returns
// sl.sl_send_reply for the direct-call floor.
func benchEnv(tb testing.TB) (*core.Runtime, *core.Export) {
	specs := (&benchFakes{}).specs()
	reg, err := core.NewRegistry(specs...)
	if err != nil {
		tb.Fatal(err)
	}
	rt := &core.Runtime{Reg: reg, Log: &core.Logger{Level: core.LErr, Out: io.Discard}, StepBudget: core.DefaultStepBudget}
	return rt, specs[0].Exports[0]
}

const benchScript = `
function empty() end
function one() KSR.sl.sl_send_reply(200, "OK") end
function exit() KSR.x.exit() end
local exiting = setmetatable({}, {__index = function() KSR.x.exit() end})
function exit_panic() local _ = exiting.x end
function loop()
	local x = 0
	for i = 1, 1000 do x = x + i end
	return x
end
`

func benchVM(tb testing.TB, rt *core.Runtime, path, src string) *VM {
	p, err := Engine{}.Compile(path, []byte(src), rt)
	if err != nil {
		tb.Fatal(err)
	}
	vm, err := p.NewVM()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(vm.Close)
	return vm.(*VM)
}

func benchCall(b *testing.B, vm *VM, rt *core.Runtime, cb string) {
	ctx := &core.Ctx{RT: rt}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		ctx.Reset(nil, ctx.Src, ctx.Local, core.UDP)
		if err := vm.Call(ctx, cb); err != nil {
			b.Fatal(err)
		}
	}
}

// reportCPU adds cpu-ns/op, the process CPU time per op. On the shared,
// oversubscribed machines this runs on, wall time (ns/op) also counts the
// time the benchmark waited for a CPU; CPU time mostly does not.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDirectGoCall is the floor for BenchmarkLuaExportCall: the same
// thunk called from Go with a ready argument buffer.
func BenchmarkDirectGoCall(b *testing.B) {
	rt, e := benchEnv(b)
	ctx := &core.Ctx{RT: rt}
	var args [6]core.Value
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		a := args[:2]
		a[0], a[1] = core.Int(200), core.Str("OK")
		if e.Call(ctx, a).I != 1 {
			b.Fatal("bad result")
		}
	}
}

// BenchmarkLuaCallEmpty is VM.Call of an empty callback: the fixed cost
// per routed message.
func BenchmarkLuaCallEmpty(b *testing.B) {
	rt, _ := benchEnv(b)
	benchCall(b, benchVM(b, rt, "bench.lua", benchScript), rt, "empty")
}

// BenchmarkLuaExportCall is a callback making one KSR call; minus
// BenchmarkLuaCallEmpty it is the cost of a call from Lua into Go.
func BenchmarkLuaExportCall(b *testing.B) {
	rt, _ := benchEnv(b)
	benchCall(b, benchVM(b, rt, "bench.lua", benchScript), rt, "one")
}

// BenchmarkLuaExit is a callback ending in KSR.x.exit: unwound by
// returning (unwindFrames), and from a metamethod, where only the panic
// fallback can unwind.
func BenchmarkLuaExit(b *testing.B) {
	rt, _ := benchEnv(b)
	b.Run("unwind", func(b *testing.B) {
		benchCall(b, benchVM(b, rt, "bench.lua", benchScript), rt, "exit")
	})
	b.Run("panic", func(b *testing.B) {
		benchCall(b, benchVM(b, rt, "bench.lua", benchScript), rt, "exit_panic")
	})
}

// BenchmarkLuaLoop measures what the step budget costs per instruction:
// a 1000-iteration loop with and without the counting context.
func BenchmarkLuaLoop(b *testing.B) {
	rt, _ := benchEnv(b)
	b.Run("budget", func(b *testing.B) {
		benchCall(b, benchVM(b, rt, "bench.lua", benchScript), rt, "loop")
	})
	b.Run("nobudget", func(b *testing.B) {
		vm := benchVM(b, rt, "bench.lua", benchScript)
		vm.L.RemoveContext()
		benchCall(b, vm, rt, "loop")
	})
	// The step budget without the instruction watch of the memory budget
	// and read-only KSR: the difference is the watch's cost.
	b.Run("nowatch", func(b *testing.B) {
		vm := benchVM(b, rt, "bench.lua", benchScript)
		vm.budget.L = nil
		benchCall(b, vm, rt, "loop")
	})
}

// BenchmarkLuaSeed is the seed script per request: process_maxfwd and
// sl_send_reply, against KSR and against the legacy sr object.
func BenchmarkLuaSeed(b *testing.B) {
	rt, _ := benchEnv(b)
	for _, s := range []string{"seed.lua", "seed_sr.lua"} {
		b.Run(s, func(b *testing.B) {
			benchCall(b, benchVM(b, rt, "testdata/"+s, readTestdata(b, s)), rt, "ksr_request_route")
		})
	}
}

// The hot path allocates nothing: a seed request, an export call, exit.
func TestNoAllocs(t *testing.T) {
	rt, _ := benchEnv(t)
	for _, tc := range []struct{ path, src, cb string }{
		{"testdata/seed.lua", readTestdata(t, "seed.lua"), "ksr_request_route"},
		{"testdata/seed.lua", readTestdata(t, "seed.lua"), "ksr_reply_route"},
		{"bench.lua", benchScript, "one"},
		{"bench.lua", benchScript, "exit"},
		{"bench.lua", benchScript, "missing_callback"},
	} {
		vm := benchVM(t, rt, tc.path, tc.src)
		ctx := &core.Ctx{RT: rt}
		allocs := testing.AllocsPerRun(100, func() {
			ctx.Reset(nil, ctx.Src, ctx.Local, core.UDP)
			vm.Call(ctx, tc.cb)
		})
		if allocs != 0 {
			t.Errorf("%s %s: %.1f allocs per call, want 0", tc.path, tc.cb, allocs)
		}
	}
}

// BenchmarkNewVM is what a worker pays at start and after each reload.
func BenchmarkNewVM(b *testing.B) {
	rt := realRuntime(b)
	src := readTestdata(b, "seed_sr.lua")
	p, err := Engine{}.Compile("testdata/seed_sr.lua", []byte(src), rt)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		vm, err := p.NewVM()
		if err != nil {
			b.Fatal(err)
		}
		vm.Close()
	}
}
