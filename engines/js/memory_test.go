package js

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"kemi/core"
)

// TestHardening_JSMemoryBomb: a script that asks for far more memory than
// a message needs fails that message with the memory budget error naming
// the builtin and the limit, the process lives, the next message is
// served, and the heap comes back (issue 10 item 5).
func TestHardening_JSMemoryBomb(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.js")
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	cases := []struct{ cb, want string }{
		{"bomb_repeat", "String.prototype.repeat would make at least 2147483648 characters; memory_budget is 64 MiB"},
		{"bomb_pad_start", "String.prototype.padStart would make at least 1073741824 characters"},
		{"bomb_pad_end", "String.prototype.padEnd would make at least 1073741824 characters"},
		{"bomb_array", "Array would make at least 1000000000 elements"},
		{"bomb_new_array", "Array would make at least 2147483647 elements"},
		{"bomb_fill", "Array.prototype.fill would make at least 1000000000 elements"},
		{"bomb_sparse", "Array.prototype.forEach would make at least 1000000001 elements"},
		{"bomb_join", "Array.prototype.join would make at least 131999934 characters"},
		{"bomb_join_refs", "Array.prototype.join would make at least 68157440 characters"},
		{"bomb_array_like", "Array.prototype.fill would make at least 1000000000 elements"},
		{"bomb_from", "Array.from would make at least 1000000000 elements"},
		{"bomb_apply", "Function.prototype.apply would make at least 1000000000 elements"},
		{"bomb_typed", "Uint8Array would make at least 2147483648 bytes"},
		{"bomb_buffer", "ArrayBuffer would make at least 2147483648 bytes"},
		{"bomb_replace", "String.prototype.replaceAll would make at least 68158576 characters"},
		{"bomb_split", "String.prototype.split would make at least 16777216 elements"},
		{"bomb_concat", "String.prototype.concat would make at least 104857600 characters"},
		{"bomb_spread", "Array.prototype.values would make at least 100000000 elements"},
		{"bomb_spread_call", "Array.prototype.values would make at least 100000000 elements"},
		{"bomb_set", "Array.prototype.values would make at least 1000000000 elements"},
		{"bomb_json_sparse", "JSON.stringify would make at least 100000000 elements"},
		{"bomb_json_refs", "JSON.stringify would make at least 67109056 characters"},
		{"bomb_flat", "Array.prototype.flat would make at least 5242880 elements"},
		{"bomb_doubling", "the heap grew by more than memory_budget 64 MiB during this message"},
		{"bomb_doubling_array", "the heap grew by more than memory_budget 64 MiB during this message"},
	}
	for _, c := range cases {
		t0 := time.Now()
		err := vm.Call(ctx, c.cb)
		runtime.ReadMemStats(&ms)
		t.Logf("%s: stopped after %v, heap in use %d MiB", c.cb, time.Since(t0).Round(time.Millisecond), ms.HeapInuse>>20)
		if err == nil || !errors.Is(err, core.ErrBudget) || !strings.Contains(err.Error(), "script budget exhausted (memory: "+c.want) {
			t.Errorf("%s: err = %v, want the memory budget error %q", c.cb, err, c.want)
		}
		f.Replies = nil
		if err := vm.Call(ctx, "ksr_request_route"); err != nil || len(f.Replies) != 1 {
			t.Fatalf("after %s: err=%v replies=%q, want the next message served", c.cb, err, f.Replies)
		}
	}
	err := vm.Call(ctx, "bomb_repeat")
	if pos := fmt.Sprintf("testdata/engine.js:%d:", lineOf(t, "engine.js", "bomb_repeat")); err == nil || !strings.HasPrefix(err.Error(), pos) {
		t.Errorf("bomb_repeat: err = %v, want it at %s (the script's line, not the checks')", err, pos)
	}
	f.Infos = nil
	if err := vm.Call(ctx, "bomb_caught"); !errors.Is(err, core.ErrBudget) || len(f.Infos) != 0 {
		t.Errorf("bomb_caught: err=%v infos=%q, want an uncatchable budget error", err, f.Infos)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > before+16<<20 {
		t.Errorf("heap after the bombs: %d MiB, before %d MiB; want it back", ms.HeapAlloc>>20, before>>20)
	}
	t.Logf("heap before %d MiB, after the bombs and GC %d MiB", before>>20, ms.HeapAlloc>>20)
}

// TestHardening_JSMemoryWithinBudget: ordinary use of the checked builtins
// works as before.
func TestHardening_JSMemoryWithinBudget(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.js")
	f.Infos = nil
	if err := vm.Call(ctx, "within_budget"); err != nil {
		t.Fatal(err)
	}
	if want := "[4000 1000 3892 1001 a+b 3 5 3 16 123 true true true true 3 2 1]"; fmt.Sprint(f.Infos) != want {
		t.Errorf("infos = %s, want %s", f.Infos, want)
	}
}

// TestHardening_JSMemoryBudgetParam: modparam("app_jsdt", "memory_budget")
// sets the limit.
func TestHardening_JSMemoryBudgetParam(t *testing.T) {
	_, p, _, ctx := load(t, "engine.js")
	p.rt.Params = map[string]map[string][]core.Value{"app_jsdt": {"memory_budget": {core.Int(1)}}}
	v, err := p.NewVM()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	err = v.Call(ctx, "two_mib")
	if want := "String.prototype.repeat would make at least 2097152 characters; memory_budget is 1 MiB"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("two_mib under 1 MiB: err = %v, want %q", err, want)
	}
	// match counts its matches first, in script code, which makes garbage
	// of its own: the heap watch may stop it before the count does. A
	// small budget keeps this quick (under the default one the time
	// budget may come first).
	err = v.Call(ctx, "bomb_match")
	if err == nil || !strings.Contains(err.Error(), "script budget exhausted (memory: ") || !strings.Contains(err.Error(), "memory_budget 1 MiB") && !strings.Contains(err.Error(), "String.prototype.match would make at least 65537 elements; memory_budget is 1 MiB") {
		t.Errorf("bomb_match under 1 MiB: err = %v, want the memory budget error", err)
	}
	_, _, vm64, _ := load(t, "engine.js")
	if err := vm64.Call(ctx, "two_mib"); err != nil {
		t.Errorf("two_mib under the default 64 MiB: %v", err)
	}
}

// TestHardening_JSMemoryBombNested: a memory bomb in a nested route (a
// branch route) stops the outer route too, and the next message is served.
func TestHardening_JSMemoryBombNested(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.js")
	ctx.VM = vm
	f.Infos = nil
	err := vm.Call(ctx, "nest_bomb")
	if !errors.Is(err, core.ErrBudget) || !strings.Contains(err.Error(), "String.prototype.repeat") {
		t.Errorf("outer: err = %v, want the memory budget error", err)
	}
	if len(f.NestErrs) != 1 || !errors.Is(f.NestErrs[0], core.ErrBudget) || len(f.Infos) != 0 {
		t.Errorf("nested errs %v, infos %q; want the budget error and the outer route stopped", f.NestErrs, f.Infos)
	}
	f.Replies = nil
	if err := vm.Call(ctx, "ksr_request_route"); err != nil || len(f.Replies) != 1 {
		t.Errorf("next message: err=%v replies=%q", err, f.Replies)
	}
}

// TestHardening_JSIterateWithinBudget: spread, destructuring, for-of,
// Map from pairs and JSON.stringify work as before under the checks.
func TestHardening_JSIterateWithinBudget(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.js")
	f.Infos = nil
	if err := vm.Call(ctx, "iterate_within_budget"); err != nil {
		t.Fatal(err)
	}
	if want := `[{"a":[1,"x"],"b":{"c":null}} 2 3 1 4 11 2 17]`; fmt.Sprint(f.Infos) != want {
		t.Errorf("infos = %s, want %s", f.Infos, want)
	}
}

// TestHardening_JSFlatMatchWithinBudget: the checked flat and match give
// the originals' results.
func TestHardening_JSFlatMatchWithinBudget(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.js")
	f.Infos = nil
	if err := vm.Call(ctx, "flat_match_within_budget"); err != nil {
		t.Fatal(err)
	}
	if want := "[3 4 2 2 b ]"; fmt.Sprint(f.Infos) != want {
		t.Errorf("infos = %s, want %s", f.Infos, want)
	}
}
