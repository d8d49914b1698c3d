package js

import (
	"errors"
	"sync"
	"testing"
	"time"

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

// Several workers, each with its own VM, some looping forever, some
// routing; run with -race. Only the outcome is checked, never the time.
func TestBudgetConcurrent(t *testing.T) {
	_, p, _, _ := load(t, "engine.js")
	p.rt.TimeBudget = 20 * time.Millisecond
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		v, err := p.NewVM()
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer v.Close()
			ctx := &core.Ctx{RT: p.rt}
			for j := 0; j < 3; j++ {
				if i%2 == 0 {
					if err := v.Call(ctx, "runaway"); !errors.Is(err, core.ErrBudget) {
						t.Errorf("worker %d: runaway: %v, want core.ErrBudget", i, err)
					}
				}
				for k := 0; k < 100; k++ {
					if err := v.Call(ctx, "empty"); err != nil {
						t.Errorf("worker %d: %v", i, err)
						return
					}
				}
			}
		}(i)
	}
	wg.Wait()
}
