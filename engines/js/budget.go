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
// ticks while any VM exists, publishes a coarse clock, and interrupts the
// VMs whose current call started more than their budget ago. A call costs
// an atomic load and two atomic stores. The budget is honoured to within
// one tick.
const tick = 10 * time.Millisecond

// budgetSignal is the interrupt value; it wraps core.ErrBudget.
var budgetSignal error = budgetError{}

type budgetError struct{}

func (budgetError) Error() string { return core.ErrBudget.Error() + " (time)" }
func (budgetError) Unwrap() error { return core.ErrBudget }

// States of a watch besides a positive call start time.
const (
	idle         = 0
	interrupting = -1 // the watchdog is calling Interrupt
	interrupted  = -2 // Interrupt was called for this call
)

// watch is one VM's entry in the watchdog.
type watch struct {
	state  atomic.Int64 // idle, interrupting, interrupted, or coarse start time
	budget int64        // nanoseconds
	rt     *goja.Runtime
}

var watchdog struct {
	mu      sync.Mutex
	watches map[*watch]struct{}
	stop    chan struct{}
	epoch   time.Time
	now     atomic.Int64 // nanoseconds since epoch, plus one so it is never idle
}

func newWatch(rt *goja.Runtime, budget time.Duration) *watch {
	if budget <= 0 {
		budget = core.DefaultTimeBudget
	}
	w := &watch{budget: int64(budget), rt: rt}
	watchdog.mu.Lock()
	defer watchdog.mu.Unlock()
	if watchdog.watches == nil {
		watchdog.watches = map[*watch]struct{}{}
		watchdog.epoch = time.Now()
	}
	if len(watchdog.watches) == 0 {
		watchdog.now.Store(int64(time.Since(watchdog.epoch)) + 1)
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
		case <-t.C:
		}
		watchdog.mu.Lock()
		now := int64(time.Since(watchdog.epoch)) + 1
		watchdog.now.Store(now)
		for w := range watchdog.watches {
			if s := w.state.Load(); s > 0 && now-s >= w.budget && w.state.CompareAndSwap(s, interrupting) {
				w.rt.Interrupt(budgetSignal)
				w.state.Store(interrupted)
			}
		}
		watchdog.mu.Unlock()
	}
}

// begin marks the start of a call.
func (w *watch) begin() { w.state.Store(watchdog.now.Load()) }

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
