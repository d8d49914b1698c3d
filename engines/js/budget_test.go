package js

import (
	"errors"
	"sync"
	"testing"
	"time"

	"kemi/core"
)

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
