package lua

import (
	"fmt"
	"time"

	glua "github.com/yuin/gopher-lua"

	"kemi/core"
)

// stepBudget is the context.Context a VM's LState carries. gopher-lua has
// no instruction hook, but once a context is set its main loop evaluates
// `select { case <-L.ctx.Done(): raise; default: }` before every
// instruction. Done therefore counts steps: it returns a nil channel (never
// ready, so the select falls through) while steps remain and a closed one
// after. That is an exact instruction budget with no goroutine, timer or
// allocation; resetting it per call is one store.
//
// Done also looks at the instruction about to run (memory.go): the few
// opcodes that allocate (concatenation, table stores and constructors,
// closures) are charged to a per-message memory budget before they run,
// and the two read-only checks on KSR and sr are made there too.
//
// Exhaustion is sticky until the next reset: every later instruction raises
// again, so a script cannot pcall its way past the budget.
type stepBudget struct {
	left int
	mem  int          // bytes this message may still allocate
	vm   *VM          // nil until the VM is built: Done then only counts steps
	L    *glua.LState // vm.L, or nil when gopher-lua's layout is not the expected one

	memOut bool         // the memory budget ran out
	memErr *MemoryError // what Err returns then, built once
}

// closed is the channel Done returns once the budget is spent.
var closed = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func (b *stepBudget) reset(steps, mem int) {
	b.left = steps
	b.mem = mem
	b.memOut = false
}

// exhausted reports whether the last run hit the budget.
func (b *stepBudget) exhausted() bool { return b.left < 0 }

func (b *stepBudget) Done() <-chan struct{} {
	b.left--
	if b.left < 0 {
		return closed
	}
	if b.L != nil {
		// The instruction about to run: the loop has already moved Pc on.
		cf := frameOf(b.L, (*glua.LState).RemoveCallerFrame)
		inst := cf.Fn.Proto.Code[cf.Pc-1]
		if watchedOps>>(inst>>26)&1 != 0 {
			b.vm.watchOp(b.L, cf.Fn, cf.LocalBase, inst)
		}
	}
	return nil
}

// threadBudget is the context of a coroutine. gopher-lua runs a coroutine
// in an LState of its own (L.NewThread), whose main loop polls that
// state's context; left to itself, NewThread would give it a
// context.WithCancel of the VM's, whose Done is a channel of its own, so
// neither budget would see the coroutine's instructions. kemi sets this
// instead (coroutine.create and wrap, stdlib.go): the same counter and
// memory budget as the VM, reading the coroutine's own frame.
type threadBudget struct {
	b *stepBudget
	L *glua.LState // the coroutine
}

func (t *threadBudget) Done() <-chan struct{} {
	b := t.b
	b.left--
	if b.left < 0 {
		return closed
	}
	if b.L != nil {
		cf := frameOf(t.L, (*glua.LState).RemoveCallerFrame)
		if cf == nil || cf.Fn == nil || cf.Fn.IsG || cf.Pc < 1 {
			return nil
		}
		inst := cf.Fn.Proto.Code[cf.Pc-1]
		if watchedOps>>(inst>>26)&1 != 0 {
			b.vm.watchOp(t.L, cf.Fn, cf.LocalBase, inst)
		}
	}
	return nil
}

func (t *threadBudget) Err() error                  { return t.b.Err() }
func (t *threadBudget) Deadline() (time.Time, bool) { return time.Time{}, false }
func (t *threadBudget) Value(any) any               { return nil }

// Err is what gopher-lua raises (prefixed with the script position) when
// Done fires.
func (b *stepBudget) Err() error {
	if b.memOut {
		return b.memErr
	}
	if b.left < 0 {
		return core.ErrBudget
	}
	return nil
}

func (b *stepBudget) Deadline() (time.Time, bool) { return time.Time{}, false }
func (b *stepBudget) Value(any) any               { return nil }

// charge takes n bytes from the memory budget, raising the memory error
// (sticky, like the step budget) when they are not there.
func (b *stepBudget) charge(L *glua.LState, n int) {
	if n <= b.mem {
		b.mem -= n
		return
	}
	b.exhaustMemory()
	L.RaiseError("%s", b.memErr.Error())
}

// fits reports whether n more bytes are within the memory budget, without
// taking them. A builtin checks its worst case with it before building a
// value, then charges what it built.
func (b *stepBudget) fits(n int) bool { return n >= 0 && n <= b.mem }

// exhaustMemory makes the memory error sticky: every later instruction of
// this message raises it.
func (b *stepBudget) exhaustMemory() {
	b.memOut = true
	b.mem = 0
	b.left = -1
}

// MemoryError is the script error of a message whose script allocated
// more than modparam("app_lua", "memory_budget") allows. It wraps
// core.ErrBudget.
type MemoryError struct {
	MiB int // the budget
}

func (e *MemoryError) Error() string {
	// The same words as the JavaScript and Starlark engines' memory errors.
	return fmt.Sprintf("%s (memory: memory_budget is %d MiB, modparam app_lua)", core.ErrBudget, e.MiB)
}

func (e *MemoryError) Unwrap() error { return core.ErrBudget }
