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
	w := New(1, func() { stops.Add(1) })
	defer w.Close()
	heap.Store(1000)
	w.Begin()
	w.End()
	w.check(1 << 40)
	if stops.Load() != 0 {
		t.Fatal("stop called for an ended call")
	}
	w.Begin()
	w.check(1 << 40)
	if stops.Load() != 1 || !w.Stopped() || !w.End() {
		t.Fatalf("stops=%d, want the running call stopped", stops.Load())
	}
}
