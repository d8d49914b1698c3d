package heapwatch

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// A call that grows the heap past its budget is stopped after a
// collection; End reports it; a call that stays within is not.
func TestStopsGrowth(t *testing.T) {
	var stops atomic.Int32
	w := New(8<<20, func() { stops.Add(1) })
	defer w.Close()
	w.Begin()
	var keep [][]byte
	deadline := time.Now().Add(5 * time.Second)
	for !w.Stopped() && time.Now().Before(deadline) {
		keep = append(keep, make([]byte, 1<<20))
		time.Sleep(time.Millisecond)
	}
	if !w.End() || stops.Load() != 1 {
		t.Fatalf("after growing %d MiB: End=false or stops=%d, want stopped once", len(keep), stops.Load())
	}
	t.Logf("stopped after %d MiB", len(keep))
	keep = nil
	runtime.GC()
	time.Sleep(10 * time.Millisecond) // the finalizer of that collection
	w.Begin()
	for range 3 {
		runtime.GC()
	}
	time.Sleep(10 * time.Millisecond)
	if w.End() || stops.Load() != 1 {
		t.Fatalf("a call that allocated nothing was stopped (stops=%d)", stops.Load())
	}
}

// The hook never stops a call that has ended, however late it runs.
func TestNoStopAfterEnd(t *testing.T) {
	var stops atomic.Int32
	w := &Watch{budget: 1, stop: func() { stops.Add(1) }} // not registered: only this test checks it
	w.Begin()
	w.End()
	checkLocked(w, 1<<40, true)
	if stops.Load() != 0 {
		t.Fatal("stop called for an ended call")
	}
	w.Begin()
	checkLocked(w, 1<<40, true)
	if stops.Load() != 1 || !w.Stopped() || !w.End() {
		t.Fatalf("stops=%d, want the running call stopped", stops.Load())
	}
}

// checkLocked runs the hook's check, under its lock.
func checkLocked(w *Watch, h uint64, fresh bool) {
	sampler.mu.Lock()
	defer sampler.mu.Unlock()
	w.check(h, time.Now(), fresh)
}

// After a late tick, a call is judged by the heap at that tick, not by
// the stale sample it began with.
func TestLateTickRebases(t *testing.T) {
	var stops atomic.Int32
	w := &Watch{budget: 8 << 20, stop: func() { stops.Add(1) }} // not registered: only this test checks it
	w.Begin()
	checkLocked(w, 1<<30, false) // late: 1 GiB grown since a stale sample
	if stops.Load() != 0 {
		t.Fatal("stopped for growth before its first fresh sight")
	}
	checkLocked(w, 1<<30+4<<20, true)
	if stops.Load() != 0 {
		t.Fatal("stopped within its budget")
	}
	checkLocked(w, 1<<30+16<<20, true)
	if stops.Load() != 1 || !w.End() {
		t.Fatal("not stopped after growing past its budget")
	}
}

// The time budget judges a call by when a tick first saw it running, so
// however late the ticks come, a call is stopped only after it was seen
// running for the whole budget; a collection's check never starts the
// clock. The ticks here are synthetic.
func TestTimeNeverEarly(t *testing.T) {
	var mem, tm atomic.Int32
	w := &Watch{budget: 1 << 40, stop: func() { mem.Add(1) }, timeBudget: time.Second, stopTime: func() { tm.Add(1) }}
	t0 := time.Unix(1000, 0)
	check := func(now time.Time) {
		sampler.mu.Lock()
		defer sampler.mu.Unlock()
		w.check(0, now, true)
	}
	w.Begin()
	check(time.Time{}) // a collection
	check(t0.Add(time.Hour))
	if w.Stopped() {
		t.Fatal("call stopped at first sight")
	}
	check(t0.Add(time.Hour + time.Second - time.Nanosecond))
	if w.Stopped() {
		t.Fatal("call stopped before its budget")
	}
	check(t0.Add(time.Hour + time.Second))
	if !w.Stopped() || tm.Load() != 1 || mem.Load() != 0 || !w.TimedOut() {
		t.Fatalf("after the budget: stopped=%v time stops=%d memory stops=%d", w.Stopped(), tm.Load(), mem.Load())
	}
	if !w.End() {
		t.Fatal("End does not report the stop")
	}
	// A new call is a new sequence number: seen afresh.
	w.Begin()
	check(t0.Add(2 * time.Hour))
	if w.Stopped() {
		t.Fatal("second call stopped at first sight")
	}
	w.End()
}

// TestTickerSleepsWhenIdle: with no call running the ticker goes to
// sleep (no wake-ups on an idle server); a call beginning then wakes it,
// and a call over its time budget is still stopped.
func TestTickerSleepsWhenIdle(t *testing.T) {
	var timeStops atomic.Int32
	w := NewTimed(1<<40, func() {}, 100*time.Millisecond, func() { timeStops.Add(1) })
	defer w.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !sleeping.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the ticker did not sleep with no call running")
		}
		time.Sleep(5 * time.Millisecond)
	}
	w.Begin()
	if sleeping.Load() {
		t.Fatal("Begin left the ticker asleep")
	}
	for !w.Stopped() {
		if time.Now().After(deadline) {
			t.Fatal("a call begun while the ticker slept was never stopped by its time budget")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !w.End() || !w.TimedOut() || timeStops.Load() != 1 {
		t.Fatalf("End/TimedOut false or %d time stops, want one", timeStops.Load())
	}
	// Calls that run between ticks keep nothing asleep for long: each
	// Begin after a sleep wakes the ticker.
	for range 20 {
		w.Begin()
		w.End()
		time.Sleep(3 * Tick)
	}
}
