package js

import (
	"kemi/core"
)

// The time budget. goja can only be stopped from outside, by
// Runtime.Interrupt, so something must watch the clock while a callback
// runs. A timer per call (time.AfterFunc, or one reused timer's Reset)
// makes the Go runtime wake its network poller on every message; a
// goroutine per VM wakes up for nothing. The VM's heapwatch.Watch, which
// already looks at running calls for the memory budget, also judges their
// running time (heapwatch.NewTimed): a call only publishes a sequence
// number (one atomic store at each end); the watch notes when it first
// sees each call running, by its own clock, and interrupts the call once
// it has seen it running for the budget. So a call is never stopped
// early, even when the ticker itself was descheduled, and runs at most
// about one heapwatch.Tick past its budget.

// budgetSignal is the interrupt value; it wraps core.ErrBudget.
var budgetSignal error = budgetError{}

type budgetError struct{}

func (budgetError) Error() string { return core.ErrBudget.Error() + " (time)" }
func (budgetError) Unwrap() error { return core.ErrBudget }
