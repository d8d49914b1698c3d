package lua

import (
	"fmt"
	"strings"

	glua "github.com/yuin/gopher-lua"

	"kemi/core"
)

// VM runs one worker's callbacks. It is not goroutine-safe.
type VM struct {
	L      *glua.LState
	p      *Program
	ctx    *core.Ctx // the message being routed; read by the bound closures
	idle   core.Ctx  // ctx seen by top-level code, which runs without a message
	steps  int
	mem    int // memory budget per message, bytes
	budget stepBudget
	depth  int // Calls in progress: more than one when an export runs a callback
	args   [6]core.Value

	// raised is the Go error the last failed export raised into Lua, so
	// Call can wrap it and errors.Is sees through the script error.
	raised error

	// The exit sentinel is preallocated: KSR.x.exit runs on ordinary
	// messages and must not allocate or build a traceback.
	exitVal   *glua.LUserData
	exitErr   *glua.ApiError
	exitPanic func(*glua.LState)
	slowExits int // exits unwound by the panic; tests check the fast path

	// roMeta is the metatable that marks KSR, sr and their module tables
	// read-only; roNames names them for the error (readonly.go).
	roMeta  *glua.LTable
	roNames map[*glua.LTable]string

	// fileChunks are the chunk names of the script and of the files it
	// loaded (require, dofile): debug.getinfo names them "@path".
	fileChunks map[string]bool
	pkg        *glua.LTable // the package table: require reads loaders and path there

	// spareMatcher is a pattern matcher find and match reuse (pattern.go).
	spareMatcher *matcher
}

// ScriptError is a Lua error that ended a callback.
type ScriptError struct {
	Msg       string // "path:line: message"
	Traceback string
	Err       error // core.ErrBudget (or a *MemoryError, which wraps it) or the error an export failed with; nil for script errors
}

func (e *ScriptError) Error() string { return e.Msg }
func (e *ScriptError) Unwrap() error { return e.Err }

func (p *Program) newVM() (*VM, error) {
	L := glua.NewState(glua.Options{SkipOpenLibs: true})
	vm := &VM{L: L, p: p, steps: p.rt.StepBudget}
	if vm.steps <= 0 {
		vm.steps = core.DefaultStepBudget
	}
	mib := memoryBudget(p.rt)
	vm.mem = mib << 20
	vm.budget.memErr = &MemoryError{MiB: mib}
	vm.idle.RT = p.rt
	vm.ctx = &vm.idle
	for _, lib := range []struct {
		name string
		open glua.LGFunction
	}{{glua.BaseLibName, glua.OpenBase}, {glua.StringLibName, glua.OpenString},
		{glua.TabLibName, glua.OpenTable}, {glua.MathLibName, glua.OpenMath}} {
		L.Push(L.NewFunction(lib.open))
		L.Push(glua.LString(lib.name))
		L.Call(1, 0)
	}
	vm.openStdlib()
	g := L.G.Global
	g.RawSetString("print", L.NewFunction(vm.print))
	vm.setupReadOnly()
	vm.wrapBuiltins()

	vm.exitVal = L.NewUserData()
	vm.exitVal.Value = "exit"
	vm.exitErr = &glua.ApiError{Type: glua.ApiErrorRun, Object: vm.exitVal, StackTrace: "KSR.x.exit"}
	vm.exitPanic = func(*glua.LState) { panic(vm.exitErr) }

	vm.bindSR(vm.bindKSR())
	vm.budget.vm = vm
	if haveRegs {
		vm.budget.L = L
	}
	L.SetContext(&vm.budget)

	vm.budget.reset(vm.steps, vm.mem)
	L.Push(L.NewFunctionFromProto(p.proto))
	if err := L.PCall(0, 0, nil); err != nil {
		if err := vm.scriptError(err); err != nil {
			L.Close()
			return nil, err
		}
	}
	return vm, nil
}

// Call runs the global function callback for ctx. The function is looked up
// in the globals each time (one map access, like a cache, and it follows a
// script that redefines its routes).
func (vm *VM) Call(ctx *core.Ctx, callback string) error { return vm.call(ctx, callback, nil) }

// CallArg runs the callback with one string argument (core.ArgCaller):
// an event callback's event name.
func (vm *VM) CallArg(ctx *core.Ctx, callback, arg string) error {
	return vm.call(ctx, callback, glua.LString(arg))
}

func (vm *VM) call(ctx *core.Ctx, callback string, arg glua.LValue) error {
	L := vm.L
	fn, ok := L.G.Global.RawGetString(callback).(*glua.LFunction)
	if !ok {
		return core.ErrNoCallback
	}
	// An export may run another callback from inside this one (an event
	// route): the outer call gets its context back afterwards, and the
	// inner one spends the outer budget rather than a fresh one, so a loop
	// around it still ends.
	prev := vm.ctx
	vm.ctx = ctx
	vm.raised = nil
	if vm.depth == 0 {
		vm.budget.reset(vm.steps, vm.mem)
	}
	vm.depth++
	L.Push(fn)
	nargs := 0
	if arg != nil {
		L.Push(arg)
		nargs = 1
	}
	err := L.PCall(nargs, 0, nil)
	vm.depth--
	vm.ctx = prev
	if vm.depth == 0 {
		// A wrapped coroutine that failed leaves itself as gopher-lua's
		// current thread, and with it everything it held.
		L.G.CurrentThread = L
	}
	if err != nil {
		if vm.depth == 0 {
			clearStaleFrames(L)
		}
		return vm.scriptError(err)
	}
	return nil
}

// Close releases the LState.
func (vm *VM) Close() { vm.L.Close() }

// scriptError turns what PCall returned into the error Call reports: nil
// for the exit sentinel, a ScriptError otherwise.
func (vm *VM) scriptError(err error) error {
	ae, ok := err.(*glua.ApiError) // not errors.As: its target would escape on the exit path
	if !ok {
		return err
	}
	if ae == vm.exitErr || ae.Object == vm.exitVal {
		return nil
	}
	se := &ScriptError{Msg: ae.Object.String(), Traceback: ae.StackTrace}
	if vm.budget.memOut {
		se.Err = vm.budget.memErr
	} else if vm.budget.exhausted() {
		se.Err = core.ErrBudget
	} else if vm.raised != nil && strings.HasSuffix(se.Msg, vm.raised.Error()) {
		se.Err = vm.raised
	}
	if ae.Type == glua.ApiErrorPanic {
		se.Msg = fmt.Sprintf("%s: internal error: %s", vm.p.path, se.Msg)
	}
	return se
}

// print goes to the log at info level, as Kamailio's stdout is not a place
// anyone reads.
func (vm *VM) print(L *glua.LState) int {
	var b strings.Builder
	for i := 1; i <= L.GetTop(); i++ {
		if i > 1 {
			b.WriteByte('\t')
		}
		b.WriteString(L.ToStringMeta(L.Get(i)).String())
	}
	vm.ctx.ScriptLog(core.LInfo, b.String())
	return 0
}

var _ core.ArgCaller = (*VM)(nil)

// AppendScriptPos appends "file:line" of the Lua code that called the
// running export, for the JSON log (core.ScriptPositioner).
func (vm *VM) AppendScriptPos(dst []byte) []byte {
	w := vm.L.Where(1)
	if len(w) > 0 && w[len(w)-1] == ':' {
		w = w[:len(w)-1]
	}
	return append(dst, w...)
}

var _ core.ScriptPositioner = (*VM)(nil)
