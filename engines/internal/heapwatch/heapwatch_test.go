package heapwatch

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// A call that grows the heap past its budget is stopped by the sampler;
// End reports it; a call that stays within is not.
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
	w.Begin()
	time.Sleep(5 * Tick)
	if w.End() || stops.Load() != 1 {
		t.Fatalf("a call that allocated nothing was stopped (stops=%d)", stops.Load())
	}
}

// The sampler never stops a call that has ended, however late its tick:
// check replays a tick that comes after End.
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

// checkLocked runs a tick's check as the sampler does, under its lock.
func checkLocked(w *Watch, h uint64, fresh bool) {
	sampler.mu.Lock()
	defer sampler.mu.Unlock()
	w.check(h, fresh)
}
