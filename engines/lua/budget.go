package lua

import (
	"time"

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
// Exhaustion is sticky until the next reset: every later instruction raises
// again, so a script cannot pcall its way past the budget.
type stepBudget struct {
	left int
}

// closed is the channel Done returns once the budget is spent.
var closed = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func (b *stepBudget) reset(steps int) { b.left = steps }

// exhausted reports whether the last run hit the budget.
func (b *stepBudget) exhausted() bool { return b.left < 0 }

func (b *stepBudget) Done() <-chan struct{} {
	b.left--
	if b.left >= 0 {
		return nil
	}
	return closed
}

// Err is what gopher-lua raises (prefixed with the script position) when
// Done fires.
func (b *stepBudget) Err() error {
	if b.left < 0 {
		return core.ErrBudget
	}
	return nil
}

func (b *stepBudget) Deadline() (time.Time, bool) { return time.Time{}, false }
func (b *stepBudget) Value(any) any               { return nil }
