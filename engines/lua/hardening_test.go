package lua

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"

	"kemi/core"
	"kemi/core/loader"
	"kemi/exports/tm"
	"kemi/sip"
)

// heapMiB is the live heap after a full collection.
func heapMiB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

// allocMiB is what the process has allocated so far.
func allocMiB() float64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.TotalAlloc) / (1 << 20)
}

// bombEnv is the fakes with the real step budget and, when mib > 0, a
// memory_budget modparam.
func bombEnv(t *testing.T, mib int) *env {
	e := newEnv(t)
	e.rt.StepBudget = core.DefaultStepBudget
	if mib > 0 {
		e.rt.Params = map[string]map[string][]core.Value{"app_lua": {"memory_budget": {core.Int(int64(mib))}}}
	}
	return e
}

func compileVM(t *testing.T, e *env, name, src string) *VM {
	t.Helper()
	p, err := Engine{}.Compile(name, []byte(src), e.rt)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := p.NewVM()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vm.Close)
	return vm.(*VM)
}

// okRoute is the ordinary message served after each bomb.
const okRoute = `
function ksr_request_route()
	local s = "a" .. "b" .. KSR.kx.xval(1)
	local t = {s, n = 1}
	KSR.sl.sl_send_reply(200, "OK " .. t[1])
end
`

// expectMemoryError checks that err is the memory budget's script error:
// it names the limit and the script position, and wraps ErrBudget.
func expectMemoryError(t *testing.T, err error, mib int, pos string) {
	t.Helper()
	var me *MemoryError
	if !errors.As(err, &me) || !errors.Is(err, core.ErrBudget) {
		t.Fatalf("error = %v, want a *MemoryError wrapping core.ErrBudget", err)
	}
	want := fmt.Sprintf("script budget exhausted (memory: memory_budget is %d MiB, modparam app_lua)", mib)
	if !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), pos) {
		t.Errorf("error = %q, want it to start %q and name %q", err, pos, want)
	}
}

// expectServed runs okRoute's request route and checks its reply.
func expectServed(t *testing.T, e *env, vm *VM) {
	t.Helper()
	e.f.Replies = nil
	if err := vm.Call(e.ctx(), "ksr_request_route"); err != nil {
		t.Fatalf("next message: %v", err)
	}
	if len(e.f.Replies) != 1 || e.f.Replies[0] != "200 OK abone" {
		t.Errorf("next message: replies %v, want one 200 OK abone", e.f.Replies)
	}
}

// Item 5 (issue 10): `s = s .. s` 34 times asked for 16 GiB and killed
// the process. It now fails that message with the memory budget's error,
// before the doubling that would cross 64 MiB; the VM serves the next
// message and the heap goes back to where it was.
func TestHardening_LuaMemoryBombConcat(t *testing.T) {
	e := bombEnv(t, 0)
	vm := compileVM(t, e, "bomb.lua", okRoute+`
function bomb()
	local s = "x"
	for i = 1, 34 do s = s .. s end
	KSR.sl.sl_send_reply(200, "not reached")
end
function bomb_pcall()
	local s = "x"
	local ok, err = pcall(function() for i = 1, 34 do s = s .. s end end)
	KSR.sl.sl_send_reply(200, "not reached either")
end
`)
	before := heapMiB()
	for _, cb := range []string{"bomb", "bomb_pcall"} {
		t.Run(cb, func(t *testing.T) {
			e.f.Replies = nil
			a0 := allocMiB()
			err := vm.Call(e.ctx(), cb)
			allocated := allocMiB() - a0
			pos := "bomb.lua:10:"
			if cb == "bomb_pcall" {
				pos = "bomb.lua:16:" // pcall catches it, the next instruction raises it again
			}
			expectMemoryError(t, err, DefaultMemoryBudget, pos)
			t.Logf("%s: %v; allocated %.0f MiB", cb, err, allocated)
			if allocated > 3*DefaultMemoryBudget {
				t.Errorf("the bomb allocated %.0f MiB, want about the %d MiB budget", allocated, DefaultMemoryBudget)
			}
			if len(e.f.Replies) != 0 {
				t.Errorf("the bomb's message sent %v", e.f.Replies)
			}
			expectServed(t, e, vm)
		})
	}
	after := heapMiB()
	t.Logf("heap before %.1f MiB, after %.1f MiB", before, after)
	if after > before+8 {
		t.Errorf("heap after the bombs %.1f MiB, before %.1f MiB: the VM keeps the bomb's strings", after, before)
	}
}

// Item 5 (issue 10): the builtins that build a value in one call, and the
// loops that grow a table or a chain of closures, are held to the same
// budget.
func TestHardening_LuaMemoryBombBuiltins(t *testing.T) {
	big := &core.ModuleSpec{Name: "big", Exports: []*core.Export{
		{Module: "big", Name: "body", Returns: core.TXval, Call: func(*core.Ctx, []core.Value) core.Value {
			return core.Str(strings.Repeat("b", 64<<10)) // a fresh 64 KiB string, as $mb would be
		}},
	}}
	e := bombEnv(t, 16)
	e.rt.Reg.Modules() // the fakes plus big
	reg, err := core.NewRegistry(append(e.f.Specs(), big)...)
	if err != nil {
		t.Fatal(err)
	}
	e.rt.Reg = reg
	cases := []struct{ name, body string }{
		{"rep", `local s = string.rep("x", 2^31)`},
		{"rep_kept", `local t = {} for i = 1, 1e6 do t[i] = string.rep("x", 1e5 + i) end`},
		{"rep_method", `local s = ("xy"):rep(1e8)`},
		{"format_many", `local s = string.rep("y", 1e6) local t = {} for i = 1, 1e4 do t[i] = string.format("%s%d", s, i) end`},
		{"format_args", `local s = string.rep("y", 3e6) local f = string.format("%s%s%s%s%s%s", s, s, s, s, s, s)`},
		{"concat_table", `local s = string.rep("z", 1e6) local t = {} for i = 1, 100 do t[i] = s end local c = table.concat(t, ",")`},
		{"concat_multi", `local s = string.rep("z", 3e6) local c = s .. s .. s .. s .. s .. s`},
		{"gsub_growth", `local s = string.gsub(string.rep("x", 2e6), "", "yyyyyyyyyy")`},
		{"gsub_function", `local big = string.rep("w", 1e5) local s = string.gsub(string.rep("x", 1e4), "x", function() return big end)`},
		{"gsub_matches", `local s = string.rep("x", 8e6) local r = string.gsub(s, "", "")`},
		{"gsub_table", `local big = string.rep("w", 1e5) local s = string.gsub(string.rep("x", 1e4), "x", {x = big})`},
		{"upper_kept", `local s = string.rep("q", 1e6) local t = {} for i = 1, 100 do t[i] = s:upper() end`},
		{"table_array", `local t = {} for i = 1, 1e8 do t[#t + 1] = i end`},
		{"table_hash", `local t = {} for i = 1, 1e8 do t["k" .. i] = true end`},
		{"table_insert", `local t = {} for i = 1, 1e8 do table.insert(t, i) end`},
		{"tables", `local t = {} for i = 1, 1e8 do t = {t} end`},
		{"closures", `local f = function() end for i = 1, 1e8 do local g = f f = function() return g end end`},
		{"date_kept", `local t = {} for i = 1, 1e8 do t[i] = os.date("%c") end`},
		{"export_strings", `local t = {} for i = 1, 1e5 do t[i] = KSR.big.body() end`},
	}
	var src strings.Builder
	src.WriteString(okRoute)
	for _, c := range cases {
		fmt.Fprintf(&src, "function bomb_%s()\n\t%s\nend\n", c.name, c.body)
	}
	vm := compileVM(t, e, "builtins.lua", src.String())
	before := heapMiB()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a0 := allocMiB()
			err := vm.Call(e.ctx(), "bomb_"+c.name)
			allocated := allocMiB() - a0
			expectMemoryError(t, err, 16, "builtins.lua:")
			t.Logf("%v; allocated %.0f MiB", err, allocated)
			if allocated > 3*16 {
				t.Errorf("allocated %.0f MiB under a 16 MiB budget", allocated)
			}
			expectServed(t, e, vm)
		})
	}
	after := heapMiB()
	t.Logf("heap before %.1f MiB, after %.1f MiB", before, after)
	if after > before+8 {
		t.Errorf("heap after the bombs %.1f MiB, before %.1f MiB", after, before)
	}
}

// string.format refuses widths and precisions of three digits or more, as
// Lua 5.1 does; gopher-lua passed them to Go's fmt (up to 10^6 each).
// os.date refuses formats over 1 KiB (its strftime allocated some 70 times
// the format).
func TestHardening_LuaMemoryFormatWidth(t *testing.T) {
	e := bombEnv(t, 0)
	vm := compileVM(t, e, "fmt.lua", okRoute+`
function wide() return string.format("%999999d", 1) end
function date() return os.date(string.rep("%c", 1e6)) end
function fine() assert(string.format("%5.2f|%-3s|%02d|%%", 1.5, "a", 7) == " 1.50|a  |07|%") end
`)
	err := vm.Call(e.ctx(), "wide")
	if err == nil || !strings.Contains(err.Error(), "width or precision longer than 2 digits") {
		t.Errorf("wide: %v, want the width refused", err)
	}
	err = vm.Call(e.ctx(), "date")
	if err == nil || !strings.Contains(err.Error(), "os.date: format of 2000000 bytes, longer than 1024") {
		t.Errorf("date: %v, want the format refused", err)
	}
	if err := vm.Call(e.ctx(), "fine"); err != nil {
		t.Error(err)
	}
	expectServed(t, e, vm)
}

// What a routing script does stays well inside the default budget: strings
// of a few KiB, built piece by piece, and tables of a few thousand entries.
func TestHardening_LuaMemoryBudgetOrdinaryScripts(t *testing.T) {
	e := bombEnv(t, 0)
	vm := compileVM(t, e, "ordinary.lua", okRoute+`
function work()
	local s = ""
	for i = 1, 4000 do s = s .. "x" end -- 8 MB allocated in all
	local t = {}
	for i = 1, 10000 do t[#t + 1] = "item" .. i end
	local joined = table.concat(t, ",")
	local body = string.rep("line\r\n", 1000)
	local n = select(2, body:gsub("\r\n", "\n"))
	assert(#s == 4000 and n == 1000 and #joined > 10000)
	-- Lua code called back from Go and from metamethods runs under the
	-- same instruction watch.
	local mt = {__index = function(t, k) return k .. "!" end, __concat = function(a, b) return "cat" end}
	local o = setmetatable({}, mt)
	assert(o.x == "x!" and (o .. "y") == "cat")
	table.sort(t, function(a, b) return a > b end)
	local ok, msg = xpcall(function() error("e") end, function(m) return "handled " .. m end)
	assert(not ok and msg:find("handled"))
	assert(select(2, pcall(function() local q = {} q.a = 1 return q.a end)) == 1)
end
`)
	for i := 0; i < 3; i++ {
		if err := vm.Call(e.ctx(), "work"); err != nil {
			t.Fatal(err)
		}
	}
}

// modparam("app_lua", "memory_budget", N) sets the budget in MiB.
func TestHardening_LuaMemoryBudgetParam(t *testing.T) {
	src := okRoute + `function two() local s = string.rep("x", 2 * 1024 * 1024) end`
	e := bombEnv(t, 1)
	vm := compileVM(t, e, "param.lua", src)
	expectMemoryError(t, vm.Call(e.ctx(), "two"), 1, "param.lua:")
	expectServed(t, e, vm)

	e = bombEnv(t, 0)
	vm = compileVM(t, e, "param.lua", src)
	if err := vm.Call(e.ctx(), "two"); err != nil {
		t.Errorf("2 MiB under the default budget: %v", err)
	}
	if memoryBudget(e.rt) != DefaultMemoryBudget {
		t.Errorf("default budget %d MiB, want %d", memoryBudget(e.rt), DefaultMemoryBudget)
	}
	if !haveRegs {
		t.Error("gopher-lua's registry layout is not the expected one: the instruction watch is off")
	}
}

// Item 8 (issue 10): `KSR.sl = nil` used to leave the worker unable to
// answer until restart. Every assignment to KSR, sr and their modules now
// fails with a script error naming what was assigned, and the next
// message sees the real functions. testdata/ksr.lua's test_ksr_readonly
// covers rawset, table.*, setmetatable, setfenv and __newindex.
func TestHardening_LuaKSRReadOnly(t *testing.T) {
	e := newEnv(t)
	vm := compileVM(t, e, "ro.lua", okRoute+`
function a1() KSR.sl = nil end
function a2() KSR.sl.sl_send_reply = function() end end
function a3() sr.sl = nil end
function a4() KSR.x = {exit = function() end} end
function a5() rawset(KSR, "sl", nil) end
function a6() setmetatable(KSR, nil) end
function a7() for k in pairs(KSR) do KSR[k] = nil end end
function a8() KSR = nil end
`)
	for _, c := range []struct{ cb, want string }{
		{"a1", "ro.lua:8: KSR is read-only: cannot assign KSR.sl"},
		{"a2", "ro.lua:9: KSR is read-only: cannot assign KSR.sl.sl_send_reply"},
		{"a3", "ro.lua:10: sr is read-only: cannot assign sr.sl"},
		{"a4", "ro.lua:11: KSR is read-only: cannot assign KSR.x"},
		{"a5", "KSR is read-only: cannot change KSR.sl with rawset"},
		{"a6", "cannot change a protected metatable"},
		{"a7", "KSR is read-only: cannot assign KSR."},
		{"a8", "ro.lua:15: KSR is read-only: cannot assign the global KSR"},
	} {
		err := vm.Call(e.ctx(), c.cb)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.cb, err, c.want)
		}
		expectServed(t, e, vm)
	}
	if err := vm.Call(e.ctx(), "test_ksr_readonly"); err != core.ErrNoCallback {
		t.Logf("ro.lua has no test_ksr_readonly: %v", err)
	}
	vm2 := e.vm(t, "ksr.lua")
	if err := vm2.Call(e.ctx(), "test_ksr_readonly"); err != nil {
		t.Error(err)
	}
}

// Item 6 (issue 10) was about JS and Starlark; this shows Lua keeps the
// message after a nested callback: t_relay runs the branch route set with
// t_on_branch in the same VM, and the KSR calls after it still see the
// request being routed.
func TestHardening_LuaNestedCallbackKeepsContext(t *testing.T) {
	var specs []*core.ModuleSpec
	for _, name := range []string{"", "sl", "tm", "pv", "x"} {
		m := core.Known(name)
		if m == nil {
			t.Fatalf("module %q is not registered", name)
		}
		specs = append(specs, m)
	}
	reg, err := core.NewRegistry(specs...)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	rt := &core.Runtime{Reg: reg, Log: &core.Logger{Level: core.LInfo, Out: &log}, StepBudget: core.DefaultStepBudget}
	out := &sent{}
	rt.Send = func(b []byte, p core.Proto, to netip.AddrPort) error { return out.SendTo(b, p, to) }
	tm.Attach(rt, tm.New(rt, stoppedClock{}, tm.RFCTimers()))

	p, err := Engine{}.Compile("nested.lua", []byte(`
function ksr_request_route()
	KSR.tm.t_on_branch("ksr_branch_route_one")
	KSR.pv.sets("$du", "sip:127.0.0.1:5090")
	if KSR.tm.t_relay() < 0 then
		KSR.err("relay failed")
		return
	end
	KSR.info("after relay: " .. KSR.pv.get("$rm") .. " " .. KSR.pv.get("$ci") .. " route " .. KSR.pv.get("$ru"))
	KSR.x.exit()
end
function ksr_branch_route_one()
	KSR.info("in branch: " .. KSR.pv.get("$ci"))
end
`), rt)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := p.NewVM()
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	var msg sip.Msg
	if err := msg.Parse([]byte(strings.Replace(invite, "%MF%", "70", 1))); err != nil {
		t.Fatal(err)
	}
	ctx := &core.Ctx{RT: rt, Out: out, VM: vm, Scratch: make([]byte, 0, 4096)}
	ctx.Reset(&msg, netip.MustParseAddrPort("127.0.0.1:5070"), netip.MustParseAddrPort("127.0.0.1:5060"), core.UDP)
	if err := vm.Call(ctx, "ksr_request_route"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"in branch: seed-1", "after relay: INVITE seed-1 route sip:bob@example.com"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	if !ctx.Stopped() {
		t.Error("KSR.x.exit after t_relay did not stop the outer message")
	}
	var relayed bool
	for _, m := range out.msgs {
		relayed = relayed || strings.HasPrefix(string(m), "INVITE sip:bob@example.com SIP/2.0\r\n")
	}
	if !relayed {
		t.Errorf("sent %q, want the INVITE relayed", out.msgs)
	}
}

// modparam("app_lua", "memory_budget", 2) in a config reaches the VMs.
func TestHardening_LuaMemoryBudgetModparam(t *testing.T) {
	fsys := fstest.MapFS{
		"kamailio.cfg": {Data: []byte(`loadmodule "app_lua.so"
modparam("app_lua", "load", "m.lua")
modparam("app_lua", "memory_budget", 2)
cfgengine "lua"
`)},
		"m.lua": {Data: []byte(`function ksr_request_route() local s = string.rep("x", 3 * 1024 * 1024) end`)},
	}
	setup, err := loader.Load(loader.Options{Path: "kamailio.cfg", FS: fsys, LogOut: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	vm, err := setup.Program.NewVM()
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	err = vm.Call(&core.Ctx{RT: setup.RT}, "ksr_request_route")
	expectMemoryError(t, err, 2, "m.lua:1:")
}

// stoppedClock is a tm clock that never moves: no timer fires.
type stoppedClock struct{}

func (stoppedClock) Now() int64 { return 0 }
