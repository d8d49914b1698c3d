package js

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"kemi/core"
	"kemi/engines/enginetest"
)

// TestHardening_JSMemoryBomb: a script that asks for far more memory than
// a message needs fails that message with the memory budget error naming
// the builtin and the limit, the process lives, the next message is
// served, and the heap comes back (issue 10 item 5).
func TestHardening_JSMemoryBomb(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.js")
	before := enginetest.HeapAlloc()
	bombs := []enginetest.Bomb{
		{Callback: "bomb_repeat", Want: "String.prototype.repeat would make at least 2147483648 characters; memory_budget is 64 MiB"},
		{Callback: "bomb_pad_start", Want: "String.prototype.padStart would make at least 1073741824 characters"},
		{Callback: "bomb_pad_end", Want: "String.prototype.padEnd would make at least 1073741824 characters"},
		{Callback: "bomb_array", Want: "Array would make at least 1000000000 elements"},
		{Callback: "bomb_new_array", Want: "Array would make at least 2147483647 elements"},
		{Callback: "bomb_fill", Want: "Array.prototype.fill would make at least 1000000000 elements"},
		{Callback: "bomb_sparse", Want: "Array.prototype.forEach would make at least 1000000001 elements"},
		{Callback: "bomb_join", Want: "Array.prototype.join would make at least 131999934 characters"},
		{Callback: "bomb_join_refs", Want: "Array.prototype.join would make at least 68157440 characters"},
		{Callback: "bomb_array_like", Want: "Array.prototype.fill would make at least 1000000000 elements"},
		{Callback: "bomb_from", Want: "Array.from would make at least 1000000000 elements"},
		{Callback: "bomb_apply", Want: "Function.prototype.apply would make at least 1000000000 elements"},
		{Callback: "bomb_typed", Want: "Uint8Array would make at least 2147483648 bytes"},
		{Callback: "bomb_buffer", Want: "ArrayBuffer would make at least 2147483648 bytes"},
		{Callback: "bomb_replace", Want: "String.prototype.replaceAll would make at least 68158576 characters"},
		{Callback: "bomb_split", Want: "String.prototype.split would make at least 16777216 elements"},
		{Callback: "bomb_concat", Want: "String.prototype.concat would make at least 104857600 characters"},
		{Callback: "bomb_spread", Want: "Array.prototype.values would make at least 100000000 elements"},
		{Callback: "bomb_spread_call", Want: "Array.prototype.values would make at least 100000000 elements"},
		{Callback: "bomb_set", Want: "Array.prototype.values would make at least 1000000000 elements"},
		{Callback: "bomb_json_sparse", Want: "JSON.stringify would make at least 100000000 elements"},
		{Callback: "bomb_json_refs", Want: "JSON.stringify would make at least 67109056 characters"},
		{Callback: "bomb_flat", Want: "Array.prototype.flat would make at least 5242880 elements"},
		{Callback: "bomb_doubling", Want: "the heap grew by more than memory_budget 64 MiB during this message"},
		{Callback: "bomb_doubling_array", Want: "the heap grew by more than memory_budget 64 MiB during this message"},
	}
	enginetest.CheckBombs(t, vm, ctx, func() error {
		f.Replies = nil
		if err := vm.Call(ctx, "ksr_request_route"); err != nil || len(f.Replies) != 1 {
			return fmt.Errorf("err=%v replies=%q", err, f.Replies)
		}
		return nil
	}, bombs)
	err := vm.Call(ctx, "bomb_repeat")
	if pos := fmt.Sprintf("testdata/engine.js:%d:", lineOf(t, "engine.js", "bomb_repeat")); err == nil || !strings.HasPrefix(err.Error(), pos) {
		t.Errorf("bomb_repeat: err = %v, want it at %s (the script's line, not the checks')", err, pos)
	}
	f.Infos = nil
	if err := vm.Call(ctx, "bomb_caught"); !errors.Is(err, core.ErrBudget) || len(f.Infos) != 0 {
		t.Errorf("bomb_caught: err=%v infos=%q, want an uncatchable budget error", err, f.Infos)
	}
	enginetest.CheckHeapBack(t, before)
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
