package enginetest

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"kemi/core"
)

// Bomb is a callback that asks for far more memory than a message needs.
type Bomb struct {
	Callback string
	// Want is what the memory budget error says after "(memory: "; empty
	// accepts any memory budget error (where the heap watch and a size
	// check race to see it first).
	Want string
	// Plain marks a callback that fails for another reason before it can
	// allocate (a type error, say): its error need only contain Want.
	Plain bool
}

// CheckBombs runs each bomb on vm (issue 10 item 5): it must fail that
// message with the memory budget error, and next must then serve the
// following message. The caller checks the heap with HeapAlloc and
// CheckHeapBack around it, once it has run what else it checks: an
// interpreter may hold the last stopped call's values until its next
// stop.
func CheckBombs(t *testing.T, vm core.VM, ctx *core.Ctx, next func() error, bombs []Bomb) {
	t.Helper()
	var ms runtime.MemStats
	for _, b := range bombs {
		t0 := time.Now()
		err := vm.Call(ctx, b.Callback)
		runtime.ReadMemStats(&ms)
		t.Logf("%s: stopped after %v, heap in use %d MiB", b.Callback, time.Since(t0).Round(time.Millisecond), ms.HeapInuse>>20)
		switch {
		case b.Plain:
			if err == nil || !strings.Contains(err.Error(), b.Want) {
				t.Errorf("%s: err = %v, want %q", b.Callback, err, b.Want)
			}
		case err == nil || !errors.Is(err, core.ErrBudget) || !strings.Contains(err.Error(), "script budget exhausted (memory: "+b.Want):
			t.Errorf("%s: err = %v, want the memory budget error %q", b.Callback, err, b.Want)
		}
		if err := next(); err != nil {
			t.Fatalf("after %s: %v, want the next message served", b.Callback, err)
		}
	}
}

// HeapAlloc is the live heap after a GC.
func HeapAlloc() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// CheckHeapBack fails t unless the live heap is back within 16 MiB of
// before (from HeapAlloc).
func CheckHeapBack(t *testing.T, before uint64) {
	t.Helper()
	after := HeapAlloc()
	if after > before+16<<20 {
		t.Errorf("heap after the bombs: %d MiB, before %d MiB; want it back", after>>20, before>>20)
	}
	t.Logf("heap before %d MiB, after the bombs and GC %d MiB", before>>20, after>>20)
}
