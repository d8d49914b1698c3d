package js

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"

	"kemi/core"
)

// The time budget. goja can only be stopped from outside, by
// Runtime.Interrupt, so something must watch the clock while a callback
// runs. A timer per call (time.AfterFunc) allocates on every message; a
// goroutine per VM wakes up for nothing. Instead one watchdog goroutine
// ticks while any VM exists. A call only publishes a sequence number (one
// atomic store at each end); the watchdog notes when it first sees each
// call running, by its own clock, and interrupts the call once it has seen
// it running for the budget. So a call is never stopped early, even when
// the watchdog itself was descheduled, and runs at most about one tick
// past its budget.
const tick = 10 * time.Millisecond

// budgetSignal is the interrupt value; it wraps core.ErrBudget.
var budgetSignal error = budgetError{}

type budgetError struct{}

func (budgetError) Error() string { return core.ErrBudget.Error() + " (time)" }
func (budgetError) Unwrap() error { return core.ErrBudget }

// States of a watch besides a positive call sequence number.
const (
	idle         = 0
	interrupting = -1 // the watchdog is calling Interrupt
	interrupted  = -2 // Interrupt was called for this call
)

// watch is one VM's entry in the watchdog.
type watch struct {
	state  atomic.Int64 // idle, interrupting, interrupted, or the running call's sequence number
	seq    int64        // last sequence number used; VM goroutine only
	budget time.Duration
	rt     *goja.Runtime

	// Watchdog goroutine only: the call it last saw running, and when.
	seen  int64
	since time.Time
}

var watchdog struct {
	mu      sync.Mutex
	watches map[*watch]struct{}
	stop    chan struct{}
}

func newWatch(rt *goja.Runtime, budget time.Duration) *watch {
	if budget <= 0 {
		budget = core.DefaultTimeBudget
	}
	w := &watch{budget: budget, rt: rt}
	watchdog.mu.Lock()
	defer watchdog.mu.Unlock()
	if len(watchdog.watches) == 0 {
		watchdog.watches = map[*watch]struct{}{}
		watchdog.stop = make(chan struct{})
		go runWatchdog(watchdog.stop)
	}
	watchdog.watches[w] = struct{}{}
	return w
}

func (w *watch) close() {
	watchdog.mu.Lock()
	defer watchdog.mu.Unlock()
	if _, ok := watchdog.watches[w]; !ok {
		return
	}
	delete(watchdog.watches, w)
	if len(watchdog.watches) == 0 {
		close(watchdog.stop)
	}
}

func runWatchdog(stop chan struct{}) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			watchdog.mu.Lock()
			for w := range watchdog.watches {
				w.check(now)
			}
			watchdog.mu.Unlock()
		}
	}
}

// check runs on the watchdog goroutine at each tick.
func (w *watch) check(now time.Time) {
	s := w.state.Load()
	if s <= 0 {
		return
	}
	if s != w.seen {
		w.seen, w.since = s, now
		return
	}
	if now.Sub(w.since) >= w.budget && w.state.CompareAndSwap(s, interrupting) {
		w.rt.Interrupt(budgetSignal)
		w.state.Store(interrupted)
	}
}

// begin marks the start of a call.
func (w *watch) begin() {
	w.seq++
	w.state.Store(w.seq)
}

// end marks the call finished. When the watchdog interrupted it (or is
// doing so right now), the interrupt flag is cleared so the next call does
// not stop at its first instruction.
func (w *watch) end() {
	for {
		s := w.state.Load()
		if s == interrupting {
			runtime.Gosched()
			continue
		}
		if w.state.CompareAndSwap(s, idle) {
			if s == interrupted {
				w.rt.ClearInterrupt()
			}
			return
		}
	}
}
