// Package heapwatch is the scripts' out-of-band safety net: it stops a
// running script call whose message has grown the heap by more than its
// memory budget since the call began, or (for engines that cannot count
// steps, such as goja) that has run longer than its time budget.
//
// It catches growth that no builtin size check sees, such as a string
// doubled by `s = s + s` in a loop. It cannot stop a single native step
// that allocates a huge value at once (those need the engines' size
// checks), and the heap is the process's, not the call's: whatever other
// goroutines keep alive while a call runs counts against it. Script calls
// last microseconds, so in practice only a long call under heavy load can
// be blamed for another's growth.
//
// Two things look: a finalizer that re-arms itself at every garbage
// collection judges running calls by the live heap the collector has just
// marked (a heap that grows fast is collected often), and one goroutine
// ticking every Tick judges them by the heap in use and by their running
// time. Every wake-up of a ticker costs a server that is mostly waiting
// for packets a thread wake-up: the earlier 5 ms heap sampler and the
// JavaScript engine's own 10 ms time watchdog together cost a loaded
// server about 0.8 us per request, as much as its script engine (issue
// 12). One goroutine at Tick costs a tenth of that.
//
// The ticker sleeps when it has seen no call running for quietTicks
// ticks, so an idle server has no wake-up at all (50 a second each woke
// the runtime's monitor thread too, which then polled for a while: 2 to 6
// ms of CPU a second on an idle server). The next Begin wakes it; the
// heap it began with is then stale, so the call is judged from the
// ticker's first look, as after a late tick.
//
// A call costs two atomic loads, one atomic store and one
// compare-and-swap; nothing allocates.
package heapwatch

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// Tick is how often the ticker looks while watches exist. A call runs at
// most about Tick past its time budget.
const Tick = 20 * time.Millisecond

const (
	liveMetric = "/gc/heap/live:bytes"                // marked by the last collection
	heapMetric = "/memory/classes/heap/objects:bytes" // in use and not yet swept
)

// heap is the last sampled heap size in bytes (the larger of the two
// metrics at the last look); while the ticker sleeps, the most a base can
// say, so no call that began then looks grown before a fresh sample.
var heap atomic.Uint64

// quietTicks: ticks without a call seen running before the ticker sleeps.
const quietTicks = 10

// sleeping is set while the ticker waits for a call to begin; wake takes
// it back and wakes the ticker.
var (
	sleeping atomic.Bool
	wakeCh   = make(chan struct{}, 1)
)

func wake() {
	if sleeping.CompareAndSwap(true, false) {
		select {
		case wakeCh <- struct{}{}:
		default:
		}
	}
}

// Heap returns the last sampled heap size in bytes.
func Heap() uint64 { return heap.Load() }

// States of a watch besides a running call's, which is positive: the
// call's sequence number above baseBits bits of the heap at its start, in
// MiB. Packing both into one word makes Begin a single atomic store.
const (
	idle     = 0
	stopping = -1 // a check is calling stop
	stopped  = -2 // stop was called for this call

	baseBits = 26 // heap in MiB up to 64 TiB
	baseMask = 1<<baseBits - 1
	seqMask  = 1<<(62-baseBits) - 1
)

// Watch is one VM's entry. Begin and End run on the VM's goroutine; the
// checks, and so stop, run on the ticker's or the finalizer goroutine,
// one at a time.
type Watch struct {
	state  atomic.Int64 // idle, stopping, stopped, or the running call's seq and base
	seq    int64        // VM goroutine only
	budget uint64
	stop   func()

	timeBudget time.Duration // 0: no time watch
	stopTime   func()
	timedOut   atomic.Bool // the last stop was the time budget's

	// Checks only (under sampler.mu): the call last seen running, when
	// the ticker first saw it, and the base it is judged by.
	seen     int64
	since    time.Time
	seenBase uint64
}

var sampler struct {
	mu      sync.Mutex
	watches map[*Watch]struct{}
	done    chan struct{}
	armed   bool // a finalizer waits for the next collection
	buf     []metrics.Sample
}

// New registers a watch that calls stop, from another goroutine, when a
// call grows the heap by more than budget bytes. stop must be safe to
// call from another goroutine (goja's Interrupt, starlark's Cancel).
func New(budget uint64, stop func()) *Watch { return NewTimed(budget, stop, 0, nil) }

// NewTimed is New that also calls stopTime when a call has run for
// timeBudget; TimedOut then tells which stop it was.
func NewTimed(budget uint64, stop func(), timeBudget time.Duration, stopTime func()) *Watch {
	w := &Watch{budget: budget, stop: stop, timeBudget: timeBudget, stopTime: stopTime}
	sampler.mu.Lock()
	defer sampler.mu.Unlock()
	if len(sampler.watches) == 0 {
		sampler.watches = map[*Watch]struct{}{}
		sampler.done = make(chan struct{})
		sampler.buf = make([]metrics.Sample, 2)
		sampleLocked()
		go run(sampler.done)
	}
	sampler.watches[w] = struct{}{}
	if !sampler.armed {
		sampler.armed = true
		arm()
	}
	return w
}

// Close unregisters the watch; the ticker stops with the last one.
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
	// After the store: the ticker, about to sleep, either sees this call
	// running or has set sleeping before this load (both sequentially
	// consistent), so a call is never left unwatched.
	if sleeping.Load() {
		wake()
	}
}

// Stopped reports whether a check stopped the running call.
func (w *Watch) Stopped() bool {
	s := w.state.Load()
	return s == stopping || s == stopped
}

// TimedOut reports whether the last stop was the time budget's.
func (w *Watch) TimedOut() bool { return w.timedOut.Load() }

// End marks the call finished and reports whether a check stopped it
// (then the VM clears its interrupt). It waits while stop is being
// called, so stop never lands after End returns.
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

// sentinel is garbage from birth; its finalizer runs after the next
// collection. It holds a pointer and is larger than the tiny allocator's
// blocks, so it is an object of its own (tiny objects may never be
// finalized).
type sentinel struct {
	p *sentinel
	_ [16]byte
}

func arm() { runtime.SetFinalizer(&sentinel{}, afterGC) }

// afterGC runs on the finalizer goroutine once per collection while any
// watch exists.
func afterGC(*sentinel) {
	sampler.mu.Lock()
	defer sampler.mu.Unlock()
	if len(sampler.watches) == 0 {
		sampler.armed = false
		return
	}
	h := sampleLocked()
	for w := range sampler.watches {
		w.check(h, time.Time{}, true)
	}
	arm()
}

func sampleLocked() uint64 {
	sampler.buf[0].Name = liveMetric
	sampler.buf[1].Name = heapMetric
	metrics.Read(sampler.buf)
	var h uint64
	for _, s := range sampler.buf {
		if s.Value.Kind() == metrics.KindUint64 {
			h = max(h, s.Value.Uint64())
		}
	}
	heap.Store(h)
	return h
}

func run(done chan struct{}) {
	t := time.NewTicker(Tick)
	defer t.Stop()
	last := time.Now()
	quiet := 0
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			sampler.mu.Lock()
			if quiet >= quietTicks && sleepLocked() {
				sampler.mu.Unlock()
				select {
				case <-done:
					return
				case <-wakeCh:
				}
				sampler.mu.Lock()
				sampleLocked()
				sampler.mu.Unlock()
				quiet = 0
				t.Reset(Tick)
				continue
			}
			h := sampleLocked()
			// After a late tick (the ticker was descheduled) the heap a
			// call began with was read long before it began, and the
			// growth since then is not its own: such calls are judged
			// from now on.
			fresh := now.Sub(last) <= 2*Tick
			last = now
			quiet++
			for w := range sampler.watches {
				if w.state.Load() > 0 {
					quiet = 0
				}
				w.check(h, now, fresh)
			}
			sampler.mu.Unlock()
		}
	}
}

// sleepLocked decides to sleep: it sets sleeping, then looks once more
// for a running call (Begin stores before it loads sleeping). It reports
// false, and stays awake, when one runs.
func sleepLocked() bool {
	heap.Store(baseMask << 20)
	sleeping.Store(true)
	for w := range sampler.watches {
		if w.state.Load() > 0 {
			sleeping.Store(false)
			sampleLocked()
			return false
		}
	}
	return true
}

// check judges w's running call, if any, by the heap h; a tick (now not
// zero) also by its running time.
func (w *Watch) check(h uint64, now time.Time, fresh bool) {
	s := w.state.Load()
	if s <= 0 {
		return
	}
	if s != w.seen {
		w.seen, w.seenBase, w.since = s, uint64(s&baseMask)<<20, now
		if !fresh {
			w.seenBase = h
		}
	} else if w.since.IsZero() {
		w.since = now
	}
	if base := w.seenBase; h > base && h-base > w.budget && w.state.CompareAndSwap(s, stopping) {
		w.timedOut.Store(false)
		w.stop()
		w.state.Store(stopped)
		return
	}
	if w.timeBudget > 0 && !now.IsZero() && !w.since.IsZero() && now.Sub(w.since) >= w.timeBudget && w.state.CompareAndSwap(s, stopping) {
		w.timedOut.Store(true)
		w.stopTime()
		w.state.Store(stopped)
	}
}
