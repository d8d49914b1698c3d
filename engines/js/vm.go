package js

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/dop251/goja"

	"kemi/core"
	"kemi/engines/internal/heapwatch"
)

// maxCallStack bounds script recursion; runaway recursion would otherwise
// grow memory until the time budget fires.
const maxCallStack = 10000

// VM is one worker's JavaScript runtime. It is not goroutine-safe.
type VM struct {
	prog  *Program
	rt    *goja.Runtime
	ctx   *core.Ctx // the running callback's; nil between callbacks
	depth int       // callbacks running: 2 while a branch route runs inside t_relay
	args  [6]core.Value
	fns   map[string]goja.Callable // callbacks by name; nil for missing ones
	// modules are the module objects require loaded, by resolved path.
	modules map[string]*goja.Object
	// required answers a require already made, without the filesystem.
	required map[requireKey]*goja.Object
	mem      *heapwatch.Watch // memory and time budgets
	// memMsg says which size check stopped the message (VM goroutine only).
	memMsg string

	jsTrue, jsFalse goja.Value
	ints            []goja.Value // smallIntMin..smallIntMax-1
}

// NewVM builds a runtime with KSR bound and runs the script's top level
// once, with a context that has no message.
func (p *Program) NewVM() (core.VM, error) {
	v := &VM{prog: p, rt: goja.New(), fns: map[string]goja.Callable{}, modules: map[string]*goja.Object{}, required: map[requireKey]*goja.Object{}}
	v.rt.SetMaxCallStackSize(maxCallStack)
	v.jsTrue, v.jsFalse = v.rt.ToValue(true), v.rt.ToValue(false)
	v.ints = make([]goja.Value, smallIntMax-smallIntMin)
	for i := range v.ints {
		v.ints[i] = v.rt.ToValue(int64(i + smallIntMin))
	}
	if err := v.bindKSR(p.rt.Reg); err != nil {
		return nil, fmt.Errorf("%s: binding KSR: %w", p.path, err)
	}
	if err := v.rt.Set("require", v.requireFunc(p.mods.root.Dir)); err != nil {
		return nil, fmt.Errorf("%s: binding require: %w", p.path, err)
	}
	timeBudget := p.rt.TimeBudget
	if timeBudget <= 0 {
		timeBudget = core.DefaultTimeBudget
	}
	v.mem = heapwatch.NewTimed(memoryBudget(p.rt), func() { v.rt.Interrupt(heapSignal) },
		timeBudget, func() { v.rt.Interrupt(budgetSignal) })
	// kemi's own checks run outside the script's budget.
	if err := v.installLimits(); err != nil {
		v.Close()
		return nil, fmt.Errorf("%s: installing the memory checks: %w", p.path, err)
	}
	if err := v.run(&core.Ctx{RT: p.rt}, func() error {
		_, err := v.rt.RunProgram(p.prg)
		return err
	}); err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// Call runs the named callback for ctx. KSR.x.exit/drop end it early and
// are no error: ctx.Stopped tells.
func (v *VM) Call(ctx *core.Ctx, callback string) error {
	fn, ok := v.fns[callback]
	if !ok {
		fn, _ = goja.AssertFunction(v.rt.Get(callback))
		v.fns[callback] = fn
	}
	if fn == nil {
		return core.ErrNoCallback
	}
	return v.run(ctx, func() error {
		_, err := fn(goja.Undefined())
		return err
	})
}

// CallArg runs the callback with one string argument (core.ArgCaller):
// an event callback's event name.
func (v *VM) CallArg(ctx *core.Ctx, callback, arg string) error {
	fn, _ := goja.AssertFunction(v.rt.Get(callback))
	if fn == nil {
		return core.ErrNoCallback
	}
	return v.run(ctx, func() error {
		_, err := fn(goja.Undefined(), v.rt.ToValue(arg))
		return err
	})
}

// run executes f under the time budget with ctx current, and turns what
// goja returns into a kemi error. A Go panic in an export is a bug in
// that module; it fails this callback rather than the process.
//
// Runs nest: t_relay runs the branch route inside the request route, a
// reply may run an onreply route inside a KSR call. A nested run makes its
// ctx current only until it returns, then puts the outer one back, and
// shares the outer run's budget: only the outermost run starts and stops
// the watch, so an interrupt raised in the nested route stays set and
// stops the outer route too.
func (v *VM) run(ctx *core.Ctx, f func() error) (err error) {
	outer, nested := v.ctx, v.depth > 0
	v.ctx = ctx
	v.depth++
	if !nested {
		v.mem.Begin()
	}
	defer func() {
		v.depth--
		v.ctx = outer
		if !nested {
			// Once the watch has ended it cannot interrupt this call
			// any more; a size check may have interrupted it too.
			if v.mem.End() || v.memMsg != "" {
				v.rt.ClearInterrupt()
				v.memMsg = ""
			}
		}
		switch x := recover(); x {
		case nil:
		case exitSignal: // exit in a promise job, which goja runs outside its try
			err = nil
		default:
			err = fmt.Errorf("%s: panic in exported function: %v", v.prog.path, x)
		}
	}()
	return v.scriptError(f())
}

// Close releases the runtime from the budget watch.
func (v *VM) Close() {
	if v.mem != nil {
		v.mem.Close()
		v.mem = nil
	}
}

// exitSignal unwinds a callback on KSR.x.exit/drop. It unwraps to a
// *goja.InterruptedError, which goja treats as uncatchable: script
// try/catch and finally blocks do not run, and the runtime stays usable.
// Being preallocated, exiting costs no allocation.
var exitSignal = &exitError{}

type exitError struct{}

var uncatchable = &goja.InterruptedError{}

func (*exitError) Error() string { return "KSR.x.exit" }
func (*exitError) Unwrap() error { return uncatchable }

// scriptError adds the script position to goja's errors and keeps the
// export's own error reachable with errors.Is/As.
func (v *VM) scriptError(err error) error {
	if err == nil || err == exitSignal {
		return nil
	}
	var intr *goja.InterruptedError
	if errors.As(err, &intr) {
		if intr.Value() == budgetSignal {
			return &ScriptError{Pos: position(v.prog.path, intr.Stack()), Msg: budgetSignal.Error(), Err: budgetSignal}
		}
		if sig, ok := intr.Value().(*memError); ok {
			return &ScriptError{Pos: position(v.prog.path, intr.Stack()), Msg: v.memMessage(sig), Err: sig}
		}
		return &ScriptError{Pos: position(v.prog.path, intr.Stack()), Msg: intr.Error(), Err: err}
	}
	var so *goja.StackOverflowError
	if errors.As(err, &so) {
		return &ScriptError{Pos: position(v.prog.path, so.Stack()), Msg: fmt.Sprintf("RangeError: maximum call stack size (%d) exceeded", maxCallStack)}
	}
	var ex *goja.Exception
	if errors.As(err, &ex) {
		if inner := ex.Unwrap(); inner != nil {
			return &ScriptError{Pos: position(v.prog.path, ex.Stack()), Msg: inner.Error(), Err: inner}
		}
		msg := "exception"
		if val := ex.Value(); val != nil {
			msg = val.String()
		}
		return &ScriptError{Pos: position(v.prog.path, ex.Stack()), Msg: msg}
	}
	return &ScriptError{Pos: v.prog.path, Msg: err.Error(), Err: err}
}

// position is "file:line:col" of the innermost script frame.
func position(path string, stack []goja.StackFrame) string {
	for i := range stack {
		if p := stack[i].Position(); p.Line > 0 && p.Filename != limitsFile {
			return fmt.Sprintf("%s:%d:%d", p.Filename, p.Line, p.Column)
		}
	}
	return path
}

// ScriptError is a JavaScript error with where it happened.
type ScriptError struct {
	Pos string // "path:line:col"
	Msg string
	Err error // the export's or budget error, when there is one
}

func (e *ScriptError) Error() string { return e.Pos + ": " + e.Msg }
func (e *ScriptError) Unwrap() error { return e.Err }

var _ core.VM = (*VM)(nil)

var _ core.ArgCaller = (*VM)(nil)

// AppendScriptPos appends "file:line" of the JavaScript code that called
// the running export, for the JSON log (core.ScriptPositioner).
func (vm *VM) AppendScriptPos(dst []byte) []byte {
	for _, f := range vm.rt.CaptureCallStack(8, nil) {
		if p := f.Position(); p.Line > 0 {
			dst = append(dst, p.Filename...)
			dst = append(dst, ':')
			return strconv.AppendInt(dst, int64(p.Line), 10)
		}
	}
	return dst
}

var _ core.ScriptPositioner = (*VM)(nil)
