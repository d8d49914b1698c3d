package js

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dop251/goja"

	"kemi/core"
)

// The watchdog may interrupt a call that has just finished. end() must
// then clear the interrupt, or the next message would stop at its first
// instruction. This replays that interleaving step by step.
func TestLateInterruptCleared(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.js")
	w := vm.watch
	w.begin()
	s := w.state.Load()
	if !w.state.CompareAndSwap(s, interrupting) {
		t.Fatal("watch not running after begin")
	}
	vm.rt.Interrupt(budgetSignal)
	w.state.Store(interrupted)
	w.end()
	if err := vm.Call(ctx, "ksr_request_route"); err != nil || len(f.replies) != 1 {
		t.Fatalf("after a late interrupt: err=%v replies=%q, want a normal route", err, f.replies)
	}
}

// Several workers, each with its own VM, run at once under -race: two
// loop forever under a small budget, two route under the default one.
// Only outcomes are checked, never times.
func TestBudgetConcurrent(t *testing.T) {
	_, p, _, _ := load(t, "engine.js")
	var vms []core.VM
	for i := 0; i < 4; i++ {
		if i == 2 {
			p.rt.TimeBudget = 20 * time.Millisecond
		}
		v, err := p.NewVM()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		vms = append(vms, v)
	}
	var wg sync.WaitGroup
	for i, v := range vms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := &core.Ctx{RT: p.rt}
			for j := 0; j < 3; j++ {
				if i >= 2 {
					if err := v.Call(ctx, "runaway"); !errors.Is(err, core.ErrBudget) {
						t.Errorf("worker %d: runaway: %v, want core.ErrBudget", i, err)
					}
					continue
				}
				for k := 0; k < 100; k++ {
					if err := v.Call(ctx, "empty"); err != nil {
						t.Errorf("worker %d: %v", i, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

// The watchdog judges a call by when it first saw it running, so however
// late its ticks come, a call is stopped only after it was seen running
// for the whole budget. The ticks here are synthetic.
func TestWatchNeverEarly(t *testing.T) {
	rt := goja.New()
	w := &watch{budget: time.Second, rt: rt}
	t0 := time.Unix(1000, 0)
	w.begin()
	w.check(t0.Add(time.Hour)) // a tick long after the previous one: first sight only
	if s := w.state.Load(); s <= 0 {
		t.Fatalf("call interrupted at first sight (state %d)", s)
	}
	w.check(t0.Add(time.Hour + time.Second - time.Nanosecond))
	if s := w.state.Load(); s <= 0 {
		t.Fatalf("call interrupted before its budget (state %d)", s)
	}
	w.check(t0.Add(time.Hour + time.Second))
	if s := w.state.Load(); s != interrupted {
		t.Fatalf("state after the budget = %d, want interrupted", s)
	}
	w.end()
	if _, err := rt.RunString("1"); err != nil {
		t.Fatalf("runtime still interrupted after end: %v", err)
	}
	// A new call is a new sequence number: seen afresh, not judged by the old one's start.
	w.begin()
	w.check(t0.Add(2 * time.Hour))
	if s := w.state.Load(); s <= 0 {
		t.Fatalf("second call interrupted at first sight (state %d)", s)
	}
	w.end()
}
