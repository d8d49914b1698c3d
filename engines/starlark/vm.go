package starlark

import (
	"errors"
	"fmt"
	"strconv"

	"go.starlark.net/starlark"

	"kemi/core"
	"kemi/engines/internal/heapwatch"
)

// VM is one worker's Starlark thread and frozen globals. It is not
// goroutine-safe.
type VM struct {
	prog    *Program
	thread  *starlark.Thread
	globals starlark.StringDict
	ctx     *core.Ctx // the running callback's; nil between callbacks
	depth   int       // callbacks running: 2 while a branch route runs inside t_relay
	args    [6]core.Value
	fns     map[string]starlark.Callable // callbacks by name; nil for missing ones
	// predeclared are the names the script and its modules see (KSR and
	// the checking built-ins).
	predeclared starlark.StringDict
	budget      uint64
	mem         *heapwatch.Watch
	// overBudget is set by the thread's OnMaxSteps hook, so Call can tell
	// the budget stop from other cancellations.
	overBudget bool
	// memErr is the size check that failed in this message, if any. One
	// failing in a nested route cancels the thread, so the outer route
	// stops too, as for the step budget and the heap watch.
	memErr *memError
}

// NewVM binds KSR, runs the top level once with a context that has no
// message, and freezes the globals.
func (p *Program) NewVM() (core.VM, error) {
	v := &VM{prog: p, fns: map[string]starlark.Callable{}}
	v.budget = uint64(p.rt.StepBudget)
	if p.rt.StepBudget <= 0 {
		v.budget = core.DefaultStepBudget
	}
	v.thread = &starlark.Thread{
		Name: p.path,
		// print logs at INFO; the message context (for log_prefix) only
		// when there is a message, as the top level runs without one.
		Print: func(_ *starlark.Thread, msg string) {
			ctx := v.ctx
			if ctx != nil && ctx.Msg == nil {
				ctx = nil
			}
			v.prog.rt.Log.Log(core.LInfo, ctx, msg)
		},
		OnMaxSteps: func(th *starlark.Thread) {
			v.overBudget = true
			th.Cancel(core.ErrBudget.Error())
		},
	}
	v.thread.Load = v.load
	v.thread.SetLocal(vmKey, v)
	predeclared := starlark.StringDict{"KSR": v.bindKSR(p.rt.Reg)}
	newLimits(memoryBudget(p.rt)).predeclared(predeclared)
	v.predeclared = predeclared
	v.mem = heapwatch.New(memoryBudget(p.rt), func() { v.thread.Cancel(heapReason) })
	err := v.run(&core.Ctx{RT: p.rt}, func() error {
		var err error
		v.globals, err = p.prog.Init(v.thread, predeclared)
		return err
	})
	if err != nil {
		v.Close()
		return nil, err
	}
	v.globals.Freeze()
	return v, nil
}

// Call runs the named callback for ctx. KSR.x.exit/drop end it early and
// are no error: ctx.Stopped tells.
func (v *VM) Call(ctx *core.Ctx, callback string) error {
	fn, ok := v.fns[callback]
	if !ok {
		fn, _ = v.globals[callback].(starlark.Callable)
		v.fns[callback] = fn
	}
	if fn == nil {
		return core.ErrNoCallback
	}
	return v.run(ctx, func() error {
		_, err := starlark.Call(v.thread, fn, nil, nil)
		return err
	})
}

// CallArg runs the callback with one string argument (core.ArgCaller):
// an event callback's event name. A function that takes no parameters is
// called without it.
func (v *VM) CallArg(ctx *core.Ctx, callback, arg string) error {
	fn, _ := v.globals[callback].(starlark.Callable)
	if fn == nil {
		return core.ErrNoCallback
	}
	args := starlark.Tuple{starlark.String(arg)}
	if f, ok := fn.(*starlark.Function); ok && f.NumParams() == 0 {
		args = nil
	}
	return v.run(ctx, func() error {
		_, err := starlark.Call(v.thread, fn, args, nil)
		return err
	})
}

// run executes f under a fresh step budget with ctx current. A Go panic
// in an export is a bug in that module; it fails this callback rather than
// the process.
//
// Runs nest: t_relay runs the branch route inside the request route, a
// reply may run an onreply route inside a KSR call. A nested run makes its
// ctx current only until it returns, then puts the outer one back, and
// shares the outer run's budget: only the outermost run sets it, so a
// cancellation in the nested route stays set and stops the outer route
// too.
func (v *VM) run(ctx *core.Ctx, f func() error) (err error) {
	outer := v.ctx
	v.ctx = ctx
	if v.depth == 0 {
		v.overBudget = false
		v.memErr = nil
		v.thread.Uncancel()
		v.thread.SetMaxExecutionSteps(v.thread.ExecutionSteps() + v.budget)
		v.mem.Begin()
	}
	v.depth++
	defer func() {
		v.depth--
		v.ctx = outer
		if v.depth == 0 {
			v.mem.End() // a cancellation it made is undone by the next run
		} else if v.memErr != nil {
			v.thread.Cancel(heapReason)
		}
		if x := recover(); x != nil {
			err = fmt.Errorf("%s: panic in exported function: %v", v.prog.path, x)
		}
	}()
	return v.scriptError(f())
}

// Close releases the VM from the heap watch.
func (v *VM) Close() {
	if v.mem != nil {
		v.mem.Close()
		v.mem = nil
	}
}

// exitSignal is what KSR.x.exit/drop return. Being an *EvalError already,
// the interpreter passes it up unchanged instead of wrapping it with a call
// stack, so exiting allocates nothing; Call compares it by identity.
var exitSignal = &starlark.EvalError{Msg: "KSR.x.exit"}

// scriptError puts the script position first and keeps the export's own
// error reachable with errors.Is/As.
func (v *VM) scriptError(err error) error {
	if err == nil || err == exitSignal {
		return nil
	}
	var ee *starlark.EvalError
	if !errors.As(err, &ee) {
		return &ScriptError{Pos: v.prog.path, Msg: err.Error(), Err: err}
	}
	pos := v.prog.path
	for i := range ee.CallStack {
		if p := ee.CallStack.At(i).Pos; p.Line > 0 { // builtins have no line
			pos = p.String()
			break
		}
	}
	var me *memError
	if errors.As(err, &me) {
		v.memErr = me
	}
	if v.memErr != nil {
		return &ScriptError{Pos: pos, Msg: v.memErr.Error(), Err: v.memErr}
	}
	if v.mem.Stopped() {
		return &ScriptError{Pos: pos, Msg: fmt.Sprintf("%s (memory: the heap grew by more than memory_budget %d MiB during this message)", core.ErrBudget, v.mem.Budget()>>20), Err: core.ErrBudget}
	}
	if v.overBudget {
		return &ScriptError{Pos: pos, Msg: core.ErrBudget.Error() + " (steps)", Err: core.ErrBudget}
	}
	return &ScriptError{Pos: pos, Msg: ee.Msg, Err: ee.Unwrap()}
}

// ScriptError is a Starlark error with where it happened.
type ScriptError struct {
	Pos string // "path:line:col"
	Msg string
	Err error // the export's error or core.ErrBudget, when there is one
}

func (e *ScriptError) Error() string { return e.Pos + ": " + e.Msg }
func (e *ScriptError) Unwrap() error { return e.Err }

var _ core.VM = (*VM)(nil)

var _ core.ArgCaller = (*VM)(nil)

// AppendScriptPos appends "file:line" of the Starlark code that called
// the running export, for the JSON log (core.ScriptPositioner).
func (vm *VM) AppendScriptPos(dst []byte) []byte {
	cs := vm.thread.CallStack()
	for i := len(cs) - 1; i >= 0; i-- {
		if p := cs[i].Pos; p.Line > 0 {
			dst = append(dst, p.Filename()...)
			dst = append(dst, ':')
			return strconv.AppendInt(dst, int64(p.Line), 10)
		}
	}
	return dst
}

var _ core.ScriptPositioner = (*VM)(nil)
