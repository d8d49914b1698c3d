// Package heapwatch is the scripts' sampled-heap safety net: one
// background goroutine reads the Go heap size (runtime/metrics, which does
// not stop the world) every tick while any watch exists, and stops a
// running script call whose message has grown the heap by more than its
// budget since the call began.
//
// It catches growth that no builtin size check sees, such as a string
// doubled by `s = s + s` in a loop, within about one tick. It cannot stop
// a single native step that allocates a huge value at once (those need the
// engines' size checks), and the heap is the process's, not the call's:
// whatever other goroutines allocate while a call runs counts against it.
// Script calls last microseconds, so in practice only a long call under
// heavy load can be blamed for another's growth.
//
// A call costs one atomic load, one atomic store and one compare-and-swap;
// nothing allocates.
package heapwatch

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// Tick is how often the heap is sampled while watches exist.
const Tick = 5 * time.Millisecond

const metric = "/memory/classes/heap/objects:bytes"

// heap is the last sampled heap size in bytes.
var heap atomic.Uint64

// Heap returns the last sampled heap size: objects in use and garbage not
// yet swept, in bytes.
func Heap() uint64 { return heap.Load() }

// States of a watch besides a running call's, which is positive: the
// call's sequence number above baseBits bits of the heap at its start, in
// MiB. Packing both into one word makes Begin a single atomic store.
const (
	idle     = 0
	stopping = -1 // the sampler is calling stop
	stopped  = -2 // stop was called for this call

	baseBits = 26 // heap in MiB up to 64 TiB
	baseMask = 1<<baseBits - 1
	seqMask  = 1<<(62-baseBits) - 1
)

// Watch is one VM's entry. Begin and End run on the VM's goroutine; stop
// runs on the sampler's.
type Watch struct {
	state  atomic.Int64 // idle, stopping, stopped, or the running call's seq and base
	seq    int64        // VM goroutine only
	budget uint64
	stop   func()

	// Sampler goroutine only: the call it last saw and the base it
	// judges it by.
	seen     int64
	seenBase uint64
}

var sampler struct {
	mu      sync.Mutex
	watches map[*Watch]struct{}
	done    chan struct{}
}

// New registers a watch that calls stop, from the sampler goroutine, when
// a call grows the heap by more than budget bytes. stop must be safe to
// call from another goroutine (goja's Interrupt, starlark's Cancel).
func New(budget uint64, stop func()) *Watch {
	w := &Watch{budget: budget, stop: stop}
	sampler.mu.Lock()
	defer sampler.mu.Unlock()
	if len(sampler.watches) == 0 {
		sampler.watches = map[*Watch]struct{}{}
		sampler.done = make(chan struct{})
		sample(make([]metrics.Sample, 1))
		go run(sampler.done)
	}
	sampler.watches[w] = struct{}{}
	return w
}

// Close unregisters the watch; the sampler stops with the last one.
func (w *Watch) Close() {
	sampler.mu.Lock()
	defer sampler.mu.Unlock()
	if _, ok := sampler.watches[w]; !ok {
		return
	}
	delete(sampler.watches, w)
	if len(sampler.watches) == 0 {
		close(sampler.done)
	}
}

// Budget is the watch's budget in bytes.
func (w *Watch) Budget() uint64 { return w.budget }

// Begin marks the start of a call: the heap as last sampled is its base.
func (w *Watch) Begin() {
	w.seq = w.seq%seqMask + 1
	base := min(heap.Load()>>20, baseMask)
	w.state.Store(w.seq<<baseBits | int64(base))
}

// Stopped reports whether the sampler stopped the running call.
func (w *Watch) Stopped() bool {
	s := w.state.Load()
	return s == stopping || s == stopped
}

// End marks the call finished and reports whether the sampler stopped it
// (then the VM clears its interrupt). It waits while stop is being called,
// so stop never lands after End returns.
func (w *Watch) End() bool {
	for {
		s := w.state.Load()
		if s == stopping {
			runtime.Gosched()
			continue
		}
		if w.state.CompareAndSwap(s, idle) {
			return s == stopped
		}
	}
}

func sample(buf []metrics.Sample) uint64 {
	buf[0].Name = metric
	metrics.Read(buf)
	if buf[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	h := buf[0].Value.Uint64()
	heap.Store(h)
	return h
}

func run(done chan struct{}) {
	buf := make([]metrics.Sample, 1)
	t := time.NewTicker(Tick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			h := sample(buf)
			// After a late tick (the sampler was descheduled) the heap a
			// call began with was read long before it began, and the
			// growth since then is not its own: such calls are judged
			// from now on.
			fresh := now.Sub(last) <= 2*Tick
			last = now
			sampler.mu.Lock()
			for w := range sampler.watches {
				w.check(h, fresh)
			}
			sampler.mu.Unlock()
		}
	}
}

func (w *Watch) check(h uint64, fresh bool) {
	s := w.state.Load()
	if s <= 0 {
		return
	}
	if s != w.seen {
		w.seen, w.seenBase = s, uint64(s&baseMask)<<20
		if !fresh {
			w.seenBase = h
		}
	}
	if base := w.seenBase; h > base && h-base > w.budget && w.state.CompareAndSwap(s, stopping) {
		w.stop()
		w.state.Store(stopped)
	}
}
