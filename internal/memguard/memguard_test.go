package memguard

import (
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHardening_MemAdmitUnderHighWater(t *testing.T) {
	var g Guard
	if !g.Admit() {
		t.Fatal("a guard without a budget refuses")
	}
	g.SetBudget(100 << 20)
	g.SetUsed(74 << 20)
	if !g.Admit() {
		t.Error("74 MB of 100 refused, want admitted (high-water 75%)")
	}
	g.Charge(2 << 20)
	if g.Admit() {
		t.Error("76 MB of 100 admitted, want refused")
	}
	if got := g.Stats()["shmem:real_used_size"]; got != 76<<20 {
		t.Errorf("shmem:real_used_size = %d, want %d", got, 76<<20)
	}
}

func TestHardening_MemRefuseLogsOncePerSecond(t *testing.T) {
	var g Guard
	g.SetBudget(64 << 20)
	lines := 0
	for i := 0; i < 1000; i++ {
		if l := g.Refuse(); l != "" {
			lines++
			if !strings.Contains(l, "64 MB") {
				t.Errorf("log line does not name the budget: %s", l)
			}
		}
	}
	if lines != 1 || g.Refused.Load() != 1000 {
		t.Errorf("%d lines, counter %d; want 1 line, counter 1000", lines, g.Refused.Load())
	}
}

func TestHardening_MemConfigureSetsGoLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(prev)

	t.Setenv("GOMEMLIMIT", "")
	var g Guard
	line := g.Configure(48)
	if got := debug.SetMemoryLimit(-1); got != 48<<20 {
		t.Errorf("Go memory limit %d after Configure(48), want %d (%s)", got, 48<<20, line)
	}
	if g.Budget() != 48<<20 {
		t.Errorf("budget %d, want %d", g.Budget(), 48<<20)
	}

	debug.SetMemoryLimit(prev)
	t.Setenv("GOMEMLIMIT", "1GiB")
	line = new(Guard).Configure(48)
	if got := debug.SetMemoryLimit(-1); got != prev {
		t.Errorf("Configure changed the Go memory limit to %d while GOMEMLIMIT is set", got)
	}
	if !strings.Contains(line, "GOMEMLIMIT=1GiB") {
		t.Errorf("line does not say GOMEMLIMIT wins: %s", line)
	}
}

// After a load (retained memory grew, then allocation stopped) the sampler
// runs the idle hooks and gives memory back, once.
func TestHardening_MemGiveBackAfterLoad(t *testing.T) {
	var retained, allocs atomic.Uint64
	retained.Store(20 << 20)
	g := &Guard{read: func(s *sample) {
		s.heap, s.retained, s.allocs = 10<<20, retained.Load(), allocs.Load()
	}}
	var ran atomic.Int32
	remove := g.OnIdle(func() { ran.Add(1) })
	g.Start()
	defer g.Stop()
	// Load: memory grows, allocation runs.
	for i := 0; i < 20; i++ {
		retained.Add(10 << 20)
		allocs.Add(200 << 20)
		time.Sleep(50 * time.Millisecond)
	}
	if ran.Load() != 0 {
		t.Fatal("idle hooks ran during the load")
	}
	// The load ends: allocation stops.
	deadline := time.Now().Add(5 * time.Second)
	for (ran.Load() == 0 || g.Freed.Load() == 0) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if ran.Load() != 1 || g.Freed.Load() != 1 {
		t.Fatalf("after the load: hooks ran %d times, memory given back %d times; want 1, 1", ran.Load(), g.Freed.Load())
	}
	remove()
	g.RunIdle()
	if ran.Load() != 1 {
		t.Error("a removed hook ran")
	}
}

// The heap read includes garbage until a collection sweeps it; a process
// that stopped allocating does not collect, and would refuse transactions
// for minutes. Over the mark with no collection, the sampler runs one.
func TestHardening_MemCollectsWhenStuckOverMark(t *testing.T) {
	var st debug.GCStats
	debug.ReadGCStats(&st)
	n0 := st.NumGC
	g := &Guard{read: func(s *sample) {
		var st debug.GCStats
		debug.ReadGCStats(&st)
		s.heap, s.retained = 60<<20, 70<<20
		if st.NumGC > n0 {
			s.heap = 1 << 20 // the collection found it was garbage
		}
	}}
	g.SetBudget(64 << 20)
	g.Start()
	defer g.Stop()
	time.Sleep(2 * SampleInterval)
	if g.Admit() {
		t.Fatal("admitted over the mark before any collection")
	}
	deadline := time.Now().Add(3 * time.Second)
	for !g.Admit() && time.Now().Before(deadline) {
		time.Sleep(SampleInterval)
	}
	if !g.Admit() {
		t.Errorf("still refusing %v after the heap went over the mark with no collection: used %d MB", 3*time.Second, g.Used()>>20)
	}
}

// An idle process is sampled at QuietInterval, not 20 times a second; a
// process allocating again, or a Charge, brings the fast sampling back.
func TestSamplerSlowsWhenQuiet(t *testing.T) {
	var allocs, reads atomic.Uint64
	g := &Guard{read: func(s *sample) {
		reads.Add(1)
		s.heap, s.retained, s.allocs = 10<<20, 20<<20, allocs.Load()
	}}
	g.SetBudget(1 << 30)
	g.Start()
	defer g.Stop()
	waitSlow := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for g.slow.Load() != want {
			if time.Now().After(deadline) {
				t.Fatalf("sampler slow=%v, want %v", !want, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitSlow(true)
	r0 := reads.Load()
	time.Sleep(500 * time.Millisecond)
	if n := reads.Load() - r0; n > 2 {
		t.Fatalf("%d samples in 500 ms while quiet", n)
	}
	g.Charge(1000) // a transaction: fast sampling at once
	waitSlow(false)
	waitSlow(true)
	allocs.Add(1 << 20) // the process allocates again
	waitSlow(false)
}
