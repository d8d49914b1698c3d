package lua

import (
	"math"
	"strconv"
	"strings"

	glua "github.com/yuin/gopher-lua"

	"kemi/core"
)

// bindKSR builds the KSR table once per VM: core functions directly on
// KSR, one subtable per loaded module, aliases included.
func (vm *VM) bindKSR() *glua.LTable {
	L := vm.L
	ksr := L.NewTable()
	vm.protect(ksr, "KSR")
	for _, m := range vm.p.rt.Reg.Modules() {
		t := ksr
		if m.Name != "" {
			t = L.NewTable()
			ksr.RawSetString(m.Name, t)
			vm.protect(t, "KSR."+m.Name)
		}
		for _, e := range m.Exports {
			fn := vm.bind(e, e.FullName())
			t.RawSetString(e.Name, fn)
			for _, a := range e.Aliases {
				t.RawSetString(a, fn)
			}
		}
	}
	L.G.Global.RawSetString("KSR", ksr)
	return ksr
}

// legacySR lists, per module, the seed's sr.<module>.<name> functions and
// the exports they stand for, first found wins.
var legacySR = map[string]map[string][]string{
	"maxfwd": {"process_maxfwd": {"process_maxfwd"}},
	"sl": {
		"send_reply":    {"send_reply", "sl_send_reply"},
		"sl_send_reply": {"sl_send_reply", "send_reply"},
	},
}

// srLevels are the level names sr.log takes, as in Kamailio's app_lua.
var srLevels = map[string]int{
	"alert": core.LAlert, "bug": core.LBug, "crit": core.LCrit,
	"err": core.LErr, "error": core.LErr, "warn": core.LWarn, "warning": core.LWarn,
	"notice": core.LNotice, "info": core.LInfo, "dbg": core.LDbg, "debug": core.LDbg,
}

// bindSR builds the legacy sr object of the seed's example. Kamailio's
// old sr API mostly used the names KEMI kept (sr.tm.t_relay,
// sr.hdr.append, sr.setflag), so sr mirrors KSR, sharing its functions,
// and adds what differs: sr.log(level, msg), the level shorthands (sr.err,
// sr.info, ...) where the core module lacks them, and the legacy function
// names in legacySR. Like KSR, it has
// only the loaded modules.
func (vm *VM) bindSR(ksr *glua.LTable) {
	L := vm.L
	sr := L.NewTable()
	vm.protect(sr, "sr")
	ksr.ForEach(func(k, v glua.LValue) {
		if t, ok := v.(*glua.LTable); ok {
			c := L.NewTable()
			t.ForEach(c.RawSet)
			vm.protect(c, "sr."+k.String())
			v = c
		}
		sr.RawSet(k, v)
	})
	sr.RawSetString("log", L.NewFunction(vm.srLog))
	for _, lv := range []string{"alert", "crit", "err", "warn", "notice", "info", "dbg"} {
		if sr.RawGetString(lv) != glua.LNil {
			continue // the core module's KSR.err and friends
		}
		level := srLevels[lv]
		sr.RawSetString(lv, L.NewFunction(func(L *glua.LState) int {
			vm.ctx.ScriptLog(level, L.CheckString(1))
			return 0
		}))
	}
	reg := vm.p.rt.Reg
	for mod, fns := range legacySR {
		t, ok := sr.RawGetString(mod).(*glua.LTable)
		if !ok {
			continue
		}
		for name, cands := range fns {
			for _, c := range cands {
				if e := reg.Lookup(mod, c); e != nil {
					t.RawSetString(name, vm.bind(e, "sr."+mod+"."+name))
					break
				}
			}
		}
	}
	L.G.Global.RawSetString("sr", sr)
}

// srLog is sr.log(level, msg).
func (vm *VM) srLog(L *glua.LState) int {
	name := L.CheckString(1)
	level, ok := srLevels[strings.ToLower(name)]
	if !ok {
		L.RaiseError("sr.log: unknown level %q, expected one of alert, crit, err, warn, notice, info, dbg", name)
	}
	vm.ctx.ScriptLog(level, L.CheckString(2))
	return 0
}

// bind makes the Lua function for one export. It closes over the resolved
// *core.Export: a call converts its arguments into the VM's buffer, runs
// the thunk and pushes the result, with no lookup and no allocation.
func (vm *VM) bind(e *core.Export, name string) *glua.LFunction {
	params := e.Params
	return vm.L.NewFunction(func(L *glua.LState) int {
		n := L.GetTop()
		if n != len(params) {
			vm.raiseArgError(L, name, params)
		}
		args := vm.args[:n]
		for i, t := range params {
			if !toValue(L.Get(i+1), t, &args[i]) {
				vm.raiseArgError(L, name, params)
			}
		}
		r, crash := vm.invoke(e, args)
		for i := range args {
			args[i].S = "" // do not keep the script's strings alive
		}
		if crash != nil {
			L.RaiseError("%s: internal error: %v", name, crash)
		}
		switch r.Kind {
		case core.KError:
			err := vm.ctx.Err()
			vm.raised = err
			L.RaiseError("%s", err.Error())
		case core.KExit:
			// In a coroutine the exit is raised like an error, as
			// Kamailio's is: coroutine.wrap passes it on (the route ends),
			// coroutine.resume catches it and returns false.
			if L == vm.L && unwindFrames(L) {
				return 0
			}
			vm.raiseExit(L)
		}
		switch e.Returns {
		case core.TNone:
			return 0
		case core.TBool:
			L.Push(glua.LBool(r.Truth()))
		case core.TInt, core.TLong:
			L.Push(number(r.I))
		default:
			if r.Kind == core.KStr {
				// A copy the script may keep: the memory budget counts it.
				vm.budget.charge(L, len(r.S))
			}
			L.Push(fromValue(r))
		}
		return 1
	})
}

// invoke runs the thunk, turning a Go panic into a value the caller raises
// as a script error: a bug in one export must not kill the worker.
func (vm *VM) invoke(e *core.Export, args []core.Value) (r core.Value, crash any) {
	defer func() { crash = recover() }()
	return e.Call(vm.ctx, args), nil
}

// raiseExit unwinds the callback with the exit sentinel when unwindFrames
// cannot do it without a panic. Going through L.Error keeps gopher-lua's
// own bookkeeping (open upvalues are closed); the swapped Panic hook then
// throws the preallocated ApiError, whose non-empty StackTrace stops PCall
// from building a traceback. The PCall that catches it restores the hook.
func (vm *VM) raiseExit(L *glua.LState) {
	vm.slowExits++
	L.Panic = vm.exitPanic
	L.Error(vm.exitVal, 0)
}

// toValue converts one Lua argument to the declared type. Lua numbers are
// floats: an int must be integral and fit int64 (core's int is 64-bit),
// not silently truncated as Kamailio does.
func toValue(lv glua.LValue, t core.Type, out *core.Value) bool {
	switch t {
	case core.TInt, core.TLong:
		n, ok := lv.(glua.LNumber)
		if !ok {
			return false
		}
		f := float64(n)
		if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
			return false
		}
		*out = core.Value{Kind: core.KInt, I: int64(f)}
	case core.TStr:
		s, ok := lv.(glua.LString)
		if !ok {
			return false
		}
		*out = core.Value{Kind: core.KStr, S: string(s)}
	case core.TBool:
		switch v := lv.(type) {
		case glua.LBool:
			*out = core.Bool(bool(v))
		case glua.LNumber:
			// Kamailio passes flags as ints; 0 is false, as in C.
			*out = core.Bool(v != 0)
		default:
			return false
		}
	default:
		return false
	}
	return true
}

// raiseArgError raises "KSR.m.f: expected (int, str), got (string, number)".
func (vm *VM) raiseArgError(L *glua.LState, name string, params []core.Type) {
	got := make([]string, L.GetTop())
	for i := range got {
		lv := L.Get(i + 1)
		got[i] = lv.Type().String()
		var v core.Value
		if n, ok := lv.(glua.LNumber); ok && i < len(params) && (params[i] == core.TInt || params[i] == core.TLong) && !toValue(lv, params[i], &v) {
			if f := float64(n); f != math.Trunc(f) {
				got[i] = "number " + strconv.FormatFloat(f, 'g', -1, 64)
			} else {
				got[i] = "number " + strconv.FormatFloat(f, 'f', -1, 64) + " (out of range)"
			}
		}
	}
	L.RaiseError("%s", core.ArgError(name, params, got).Error())
}

// Small ints are boxed once: converting a float64 to an interface
// allocates, and most results are -1, 0, 1 or a status code.
const (
	boxMin = -128
	boxMax = 1023
)

var boxed = func() (b [boxMax - boxMin + 1]glua.LValue) {
	for i := range b {
		b[i] = glua.LNumber(i + boxMin)
	}
	return b
}()

func number(i int64) glua.LValue {
	if i >= boxMin && i <= boxMax {
		return boxed[i-boxMin]
	}
	return glua.LNumber(i)
}

// fromValue converts an xval result.
func fromValue(v core.Value) glua.LValue {
	switch v.Kind {
	case core.KInt:
		return number(v.I)
	case core.KStr:
		return glua.LString(v.S)
	case core.KBool:
		return glua.LBool(v.I != 0)
	}
	return glua.LNil
}
