// Package memguard gives kemi Kamailio's shared memory size (-m,
// shm_mem_size) as a memory budget for the whole process: the Go memory
// limit (GOMEMLIMIT) is set from it, new transactions are admitted only
// while the heap is under a high-water mark of it, and memory is given back
// to the system once a load has passed.
//
// Reading the heap size is kept off the message path: a sampler goroutine
// reads runtime/metrics every SampleInterval into an atomic, and Admit is
// one atomic load. Between samples, Charge adds what a caller is about to
// keep (a transaction's copy of its request), so a flood cannot run far
// past the mark in the time between two samples.
package memguard

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMB is kemi's default budget in MB (Kamailio's -m defaults to 64).
// kemi keeps in one Go heap what Kamailio splits between shared memory and
// each process's private memory (-M, 8 MB per process), and a garbage
// collected heap needs room above what is live, so the default is four
// times Kamailio's.
const DefaultMB = 256

// HighWater is the fraction of the budget above which new transactions are
// refused. The rest is room for what is already admitted (replies,
// retransmissions, failure routes), the garbage collector and the memory
// the runtime keeps besides heap objects.
const HighWater = 0.75

// RetryAfter is the Retry-After, in seconds, of the 503 a refused request
// gets.
const RetryAfter = 5

// SampleInterval is how often the sampler reads the heap size.
const SampleInterval = 50 * time.Millisecond

// QuietInterval is how often it reads it once the process has allocated
// next to nothing for a second (quietAllocs): a sampler ticking 20 times a
// second woke the runtime's monitor thread on an idle server each time,
// costing it about 2 ms of CPU a second. The first allocation seen, or a
// Charge (a transaction about to be kept), brings it back to
// SampleInterval; until then Charge keeps used conservative.
const QuietInterval = time.Second

// quietAllocs: a second in which the process allocated less than this is
// quiet.
const quietAllocs = 64 << 10

// Guard is a budget and the sampled heap size. The zero Guard has no
// budget: it admits everything.
type Guard struct {
	budget atomic.Uint64 // bytes; 0: no budget
	high   atomic.Uint64 // budget * HighWater; 0: admit all
	used   atomic.Uint64 // heap bytes at the last sample plus charges since
	peak   atomic.Uint64 // highest sample
	// released counts bytes callers let go of since the last give-back.
	released atomic.Uint64

	// Refused counts requests turned away over the budget (tm's 503s).
	Refused atomic.Uint64
	// Freed counts the times memory was given back after a load.
	Freed atomic.Uint64

	logMu   sync.Mutex
	logLast time.Time
	logged  uint64 // Refused when the last line was logged

	hooksMu sync.Mutex
	hooks   []*hook

	stopMu sync.Mutex
	stop   chan struct{}
	done   chan struct{}
	// read is the sampler's source of heap sizes; tests replace it.
	read func(*sample)
	// injected, when set, makes the sampler keep used as tests set it.
	injected atomic.Bool
	// slow: the sampler ticks at QuietInterval; kick brings it back.
	slow atomic.Bool
	kick chan struct{}
}

// Default is the process's guard; `kemi serve` configures and starts it,
// and tm admits transactions through it.
var Default = &Guard{}

// SetBudget sets the budget in bytes; 0 removes it.
func (g *Guard) SetBudget(bytes uint64) {
	g.budget.Store(bytes)
	g.high.Store(uint64(float64(bytes) * HighWater))
}

// Budget is the budget in bytes, 0 when none.
func (g *Guard) Budget() uint64 { return g.budget.Load() }

// Admit reports whether a new transaction may be created: no budget, or
// the heap under the high-water mark. One atomic load when there is no
// budget, two with one.
func (g *Guard) Admit() bool {
	h := g.high.Load()
	return h == 0 || g.used.Load() < h
}

// Charge counts n bytes that are about to be kept, until the next sample
// sees them in the heap.
func (g *Guard) Charge(n int) {
	if n > 0 && g.high.Load() != 0 {
		g.used.Add(uint64(n))
		if g.slow.Load() && g.slow.CompareAndSwap(true, false) {
			select {
			case g.kick <- struct{}{}:
			default:
			}
		}
	}
}

// Release counts n bytes a caller let go of (a pool dropping buffers):
// once a load has passed, memory is given back soon when much was
// released, without waiting out a back-off.
func (g *Guard) Release(n int) {
	if n > 0 {
		g.released.Add(uint64(n))
	}
}

// Used is the heap size as last sampled, plus charges since.
func (g *Guard) Used() uint64 { return g.used.Load() }

// Peak is the highest heap size sampled.
func (g *Guard) Peak() uint64 { return g.peak.Load() }

// SetUsed sets the heap size the guard sees and stops the sampler from
// changing it: tests put a guard over or under its budget with it.
func (g *Guard) SetUsed(bytes uint64) {
	g.injected.Store(true)
	g.used.Store(bytes)
}

// OnIdle registers fn to run on the sampler goroutine when a load has
// passed, before memory is given back: pools drop what they kept for the
// load. fn must be quick and safe to run concurrently with message
// handling. The returned function unregisters it.
func (g *Guard) OnIdle(fn func()) (remove func()) {
	h := &hook{fn: fn}
	g.hooksMu.Lock()
	g.hooks = append(g.hooks, h)
	g.hooksMu.Unlock()
	return func() {
		g.hooksMu.Lock()
		defer g.hooksMu.Unlock()
		for i, x := range g.hooks {
			if x == h {
				g.hooks = append(g.hooks[:i:i], g.hooks[i+1:]...)
				return
			}
		}
	}
}

type hook struct{ fn func() }

// RunIdle runs the OnIdle hooks now.
func (g *Guard) RunIdle() {
	g.hooksMu.Lock()
	hooks := g.hooks
	g.hooksMu.Unlock()
	for _, h := range hooks {
		h.fn()
	}
}

// Refuse counts one refused request and returns a line to log, or "" when
// one was logged less than a second ago (a flood then gets one line a
// second with the running count).
func (g *Guard) Refuse() string {
	n := g.Refused.Add(1)
	now := time.Now()
	g.logMu.Lock()
	defer g.logMu.Unlock()
	if !g.logLast.IsZero() && now.Sub(g.logLast) < time.Second {
		return ""
	}
	g.logLast = now
	since := n - g.logged
	g.logged = n
	return fmt.Sprintf("memory budget: heap %d MB of %d MB (high-water %d MB): %d new transactions refused with 503 (%d since the last line)",
		g.used.Load()>>20, g.budget.Load()>>20, g.high.Load()>>20, n, since)
}

// Stats are the guard's figures under Kamailio's statistic names where it
// has one (shmem:*), and kemi's own for the rest.
func (g *Guard) Stats() map[string]uint64 {
	b, u := g.budget.Load(), g.used.Load()
	free := uint64(0)
	if b > u {
		free = b - u
	}
	return map[string]uint64{
		"shmem:total_size":     b,
		"shmem:real_used_size": u,
		"shmem:max_used_size":  g.peak.Load(),
		"shmem:free_size":      free,
		"tm:refused_no_mem":    g.Refused.Load(),
		"shmem:given_back":     g.Freed.Load(),
	}
}

// Configure sets the budget from megabytes and the Go memory limit from it,
// unless the GOMEMLIMIT environment variable is set (it wins). It returns a
// line saying what was set.
func (g *Guard) Configure(mb int) string {
	bytes := uint64(mb) << 20
	g.SetBudget(bytes)
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		return fmt.Sprintf("memory budget %d MB (new transactions refused above %d MB of heap); Go memory limit from GOMEMLIMIT=%s", mb, g.high.Load()>>20, v)
	}
	debug.SetMemoryLimit(int64(bytes))
	return fmt.Sprintf("memory budget %d MB (new transactions refused above %d MB of heap; Go memory limit %d MB)", mb, g.high.Load()>>20, mb)
}

// sample is what the sampler reads.
type sample struct {
	heap     uint64 // heap objects, live and not yet swept
	retained uint64 // memory mapped by the runtime and not released to the OS
	allocs   uint64 // cumulative bytes allocated
	cycles   uint64 // garbage collections so far
}

var metricNames = []string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/released:bytes",
	"/gc/heap/allocs:bytes",
	"/gc/cycles/total:gc-cycles",
}

// reader reads runtime/metrics into a sample, reusing its buffer.
type reader struct{ s []metrics.Sample }

func (r *reader) read(s *sample) {
	if r.s == nil {
		r.s = make([]metrics.Sample, len(metricNames))
		for i, n := range metricNames {
			r.s[i].Name = n
		}
	}
	metrics.Read(r.s)
	u := func(i int) uint64 {
		if r.s[i].Value.Kind() == metrics.KindUint64 {
			return r.s[i].Value.Uint64()
		}
		return 0
	}
	s.heap = u(0)
	s.retained = u(1) - u(2)
	s.allocs = u(3)
	s.cycles = u(4)
}

// Start runs the sampler until Stop. A second Start does nothing.
func (g *Guard) Start() {
	g.stopMu.Lock()
	defer g.stopMu.Unlock()
	if g.stop != nil {
		return
	}
	g.stop, g.done = make(chan struct{}), make(chan struct{})
	if g.kick == nil {
		g.kick = make(chan struct{}, 1)
	}
	read := g.read
	if read == nil {
		var r reader
		read = r.read
	}
	go g.run(read, g.stop, g.done)
}

// Stop ends the sampler.
func (g *Guard) Stop() {
	g.stopMu.Lock()
	defer g.stopMu.Unlock()
	if g.stop != nil {
		close(g.stop)
		<-g.done
		g.stop, g.done = nil, nil
	}
}

// Give-back policy, checked once a second. A second is idle-ish when the
// process allocated less than idleRate of what it keeps mapped. After
// idleSeconds of those, when it keeps more than growMin over what it kept
// when the sampler started, the pools drop their spare buffers (OnIdle)
// and debug.FreeOSMemory collects and returns the free pages at once,
// instead of over minutes (or never, when nothing allocates and so no
// collection runs). A give-back that gained little (the memory is live)
// doubles the wait before the next one, up to maxBackoff; one that gained,
// or callers releasing growMin/2 since (Release), resets it.
const (
	idleSeconds = 2
	idleRate    = 1.0 / 16
	growMin     = 16 << 20
	minWait     = 5 * time.Second
	maxBackoff  = 30 * time.Second
)

// overGC is how long the heap may read over the high-water mark with no
// collection before the sampler runs one: what it reads includes garbage
// until a collection sweeps it, and a quiet process may not collect for
// minutes, refusing transactions all that time.
const (
	overGC    = time.Second
	maxGCWait = 10 * time.Second
)

func (g *Guard) run(read func(*sample), stop, done chan struct{}) {
	defer close(done)
	tk := time.NewTicker(SampleInterval)
	defer tk.Stop()
	perSec := int(time.Second / SampleInterval)
	var s sample
	read(&s)
	base := s.retained // what the process keeps when nothing is going on
	lastAllocs, lastCycles := s.allocs, s.cycles
	lastGC, gcWait := time.Now(), overGC
	lastFree, wait := time.Time{}, minWait
	idle, ticks := 0, 0
	quietFrom := s.allocs // allocations when this second began
	defer g.slow.Store(false)
	for {
		var now time.Time
		select {
		case <-stop:
			return
		case <-g.kick:
			tk.Reset(SampleInterval)
			ticks = 0
			quietFrom = s.allocs
			continue
		case now = <-tk.C:
		}
		{
			read(&s)
			if g.slow.Load() {
				ticks = perSec - 1 // a slow tick is a second
				if s.allocs-quietFrom >= quietAllocs && g.slow.CompareAndSwap(true, false) {
					tk.Reset(SampleInterval)
				}
			}
			if s.cycles != lastCycles {
				lastCycles, lastGC = s.cycles, now
			}
			if h := g.high.Load(); h != 0 && s.heap >= h && now.Sub(lastGC) >= gcWait {
				runtime.GC()
				read(&s)
				lastCycles, lastGC = s.cycles, now
				// Still over: the heap is live, not garbage; collect
				// less often until it comes under.
				if s.heap >= h {
					gcWait = min(2*gcWait, maxGCWait)
				} else {
					gcWait = overGC
				}
			}
		}
		if !g.injected.Load() {
			g.used.Store(s.heap)
		}
		if s.heap > g.peak.Load() {
			g.peak.Store(s.heap)
		}
		if ticks++; ticks < perSec {
			continue
		}
		ticks = 0
		if s.allocs-quietFrom < quietAllocs && !g.slow.Load() {
			g.slow.Store(true)
			tk.Reset(QuietInterval)
		}
		quietFrom = s.allocs
		rate := s.allocs - lastAllocs
		lastAllocs = s.allocs
		if float64(rate) < idleRate*float64(s.retained) {
			idle++
		} else {
			idle = 0
		}
		if s.retained < base {
			base = s.retained
		}
		if g.released.Load() >= growMin/2 {
			wait = minWait // much let go since the last give-back
		}
		if idle < idleSeconds || s.retained < base+growMin || time.Since(lastFree) < wait {
			continue
		}
		g.released.Store(0)
		before := s.retained
		g.RunIdle()
		debug.FreeOSMemory()
		g.Freed.Add(1)
		read(&s)
		lastAllocs, lastCycles, lastGC, lastFree = s.allocs, s.cycles, time.Now(), time.Now()
		if !g.injected.Load() {
			g.used.Store(s.heap)
		}
		if before-min(before, s.retained) < growMin/2 {
			wait = min(2*wait, maxBackoff)
		} else {
			wait = minWait
		}
	}
}
