package js

import (
	_ "embed"
	"fmt"
	"sync"

	"github.com/dop251/goja"

	"kemi/core"
)

// The memory budget (modparam app_jsdt memory_budget, MiB per message).
// goja can only be stopped between instructions, and its builtins run as
// single native steps: "x".repeat(2**31) asks for 2 GiB at once, and
// Array(1e9).fill(0) fills 16 GiB before the time budget can act. Two
// guards:
//
//   - limits.js checks sizes in front of the builtins that make a large
//     value, or walk a large length, in one native step, and stops the
//     message with the memory budget error before calling them. A string
//     may hold at most the budget in characters, an array (or array-like
//     walked by Array.prototype) a sixteenth of it in elements, 16 bytes
//     being what goja keeps per element.
//   - heapwatch samples the Go heap every few milliseconds and interrupts
//     a call whose message grew it by more than the budget, which catches
//     growth through operators (s = s + s in a loop) within one sample.
const defaultMemoryBudget = 64 // MiB

//go:embed limits.js
var limitsSrc string

// limitsFile names limits.js in stacks; position skips its frames.
const limitsFile = "<kemi memory checks>"

var limitsPrg = sync.OnceValues(func() (*goja.Program, error) {
	return goja.Compile(limitsFile, limitsSrc, true)
})

// memoryBudget is the budget in bytes from the app_jsdt modparam.
func memoryBudget(rt *core.Runtime) uint64 {
	mib := int64(defaultMemoryBudget)
	if v := rt.Param("app_jsdt", "memory_budget"); v.Kind == core.KInt && v.I > 0 {
		mib = v.I
	}
	return uint64(mib) << 20
}

// memSignal is the interrupt value of a size check (the message is in
// VM.memMsg); heapSignal is the heap watch's.
var (
	memSignal  = &memError{}
	heapSignal = &memError{heap: true}
)

type memError struct{ heap bool }

func (e *memError) Error() string { return core.ErrBudget.Error() + " (memory)" }
func (e *memError) Unwrap() error { return core.ErrBudget }

// memMessage is the text of a memory budget stop.
func (v *VM) memMessage(sig *memError) string {
	mib := v.mem.Budget() >> 20
	if sig.heap {
		return fmt.Sprintf("%s (memory: the heap grew by more than memory_budget %d MiB during this message)", core.ErrBudget, mib)
	}
	return fmt.Sprintf("%s (memory: %s; memory_budget is %d MiB)", core.ErrBudget, v.memMsg, mib)
}

// installLimits runs limits.js in v's runtime.
func (v *VM) installLimits() error {
	prg, err := limitsPrg()
	if err != nil {
		return fmt.Errorf("compiling %s: %w", limitsFile, err)
	}
	f, err := v.rt.RunProgram(prg)
	if err != nil {
		return err
	}
	install, ok := goja.AssertFunction(f)
	if !ok {
		return fmt.Errorf("%s: not a function", limitsFile)
	}
	budget := v.mem.Budget()
	limit := func(call goja.FunctionCall) goja.Value {
		v.memMsg = fmt.Sprintf("%s would make at least %.0f %s", call.Argument(0).String(), call.Argument(1).ToFloat(), call.Argument(2).String())
		v.rt.Interrupt(memSignal)
		return goja.Undefined()
	}
	_, err = install(goja.Undefined(), v.rt.ToValue(limit), v.rt.ToValue(budget), v.rt.ToValue(budget/16))
	return err
}
