package starlark

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"kemi/core"
	"kemi/engines/enginetest"
)

// TestHardening_StarlarkMemoryBomb: a script that asks for far more memory
// than a message needs fails that message with the memory budget error
// naming what and the limit, the process lives, the next message is
// served, and the heap comes back (issue 10 item 5).
func TestHardening_StarlarkMemoryBomb(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.star")
	before := enginetest.HeapAlloc()
	bombs := []enginetest.Bomb{
		{Callback: "bomb_list_range", Want: "range would make at least 1000000000 elements; memory_budget is 64 MiB"},
		{Callback: "bomb_range_float", Want: "got float, want int", Plain: true},
		{Callback: "bomb_str_mul", Want: "string * int would make at least 17179869184 bytes"},
		{Callback: "bomb_str_mul_big", Want: "string * int would make at least 536870912 bytes"},
		{Callback: "bomb_list_mul", Want: "list * int would make at least 536870912 elements"},
		{Callback: "bomb_int_mul_list", Want: "tuple * int would make at least 268435456 elements"},
		{Callback: "bomb_aug_mul", Want: "string * int would make at least 536870912 bytes"},
		{Callback: "bomb_aug_index", Want: "string * int would make at least 268435456 bytes"},
		{Callback: "bomb_join", Want: "string.join would make at least 68157440 bytes"},
		{Callback: "bomb_replace", Want: "string.replace would make at least 1048576000 bytes"},
		{Callback: "bomb_format", Want: "string.format would make at least 1048581000 bytes"},
		{Callback: "bomb_percent", Want: "string % args would make at least 1048580000 bytes"},
		{Callback: "bomb_str_refs", Want: "str would make at least 67109120 bytes"},
		{Callback: "bomb_split", Want: "string.split would make at least 33554433 elements"},
		{Callback: "bomb_sorted_elems", Want: "sorted would make at least 8388608 elements"},
		{Callback: "bomb_max_range", Want: "range would make at least 1152921504606846976 elements"},
		{Callback: "bomb_doubling", Want: "the heap grew by more than memory_budget 64 MiB during this message"},
		// extend's own check, unless the heap watch, still seeing the
		// doubling bomb's garbage on a loaded machine, gets there first.
		{Callback: "bomb_list_extend", Want: ""},
		// Whichever sees it first: the heap watch or extend's check.
		{Callback: "bomb_list_doubling", Want: ""},
	}
	enginetest.CheckBombs(t, vm, ctx, func() error {
		f.Replies = nil
		if err := vm.Call(ctx, "ksr_request_route"); err != nil || len(f.Replies) != 1 {
			return fmt.Errorf("err=%v replies=%q", err, f.Replies)
		}
		return nil
	}, bombs)
	err := vm.Call(ctx, "bomb_list_range")
	if pos := fmt.Sprintf("testdata/engine.star:%d:", lineOf(t, "engine.star", "bomb_list_range")); err == nil || !strings.HasPrefix(err.Error(), pos) {
		t.Errorf("bomb_list_range: err = %v, want it at %s", err, pos)
	}
	enginetest.CheckHeapBack(t, before)
}

// TestHardening_StarlarkMemoryWithinBudget: ordinary use of the checked
// operators and built-ins works as before.
func TestHardening_StarlarkMemoryWithinBudget(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.star")
	f.Infos = nil
	if err := vm.Call(ctx, "within_budget"); err != nil {
		t.Fatal(err)
	}
	if want := `[2000 1000 3889 3000 x 1 k=5 xxx 6 [1, 2, 3] "q" 9 1000 1 1 [(0, "a"), (1, "b")] 1000 [2, 1] True True]`; fmt.Sprint(f.Infos) != want {
		t.Errorf("infos = %s\nwant    %s", f.Infos, want)
	}
}

// TestHardening_StarlarkMemoryBudgetParam: modparam("app_starlark",
// "memory_budget") sets the limit.
func TestHardening_StarlarkMemoryBudgetParam(t *testing.T) {
	_, p, vm64, ctx := load(t, "engine.star")
	if err := vm64.Call(ctx, "two_mib"); err != nil {
		t.Errorf("two_mib under the default 64 MiB: %v", err)
	}
	p.rt.Params = map[string]map[string][]core.Value{"app_starlark": {"memory_budget": {core.Int(1)}}}
	v, err := p.NewVM()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	err = v.Call(ctx, "two_mib")
	if want := "string * int would make at least 2097152 bytes; memory_budget is 1 MiB"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("two_mib under 1 MiB: err = %v, want %q", err, want)
	}
}

// TestHardening_StarlarkRewriteSemantics: the operators and methods that
// Compile rewrites into checking calls give the results and the errors of
// the originals.
func TestHardening_StarlarkRewriteSemantics(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.star")
	f.Infos = nil
	if err := vm.Call(ctx, "rewrite_semantics"); err != nil {
		t.Fatal(err)
	}
	want := `[12, 5.0, 1, 2, 1.5, 42, 2, [1, [2, 2]], "a-1", "v", "5%", "1/2", "ac", "p,q", [], "", "yy", ["uu"], "abab"]`
	if len(f.Infos) != 1 || f.Infos[0] != want {
		t.Errorf("infos = %q\nwant %s", f.Infos, want)
	}
	for _, c := range []struct{ src, want string }{
		{"[1].join(',')", "list has no .join field or method"},
		{"'a' * 'b'", "unknown binary op: string * string"},
		{"1 % 0", "integer modulo by zero"},
		{"None.format()", "NoneType has no .format field or method"},
		{"'{}'.format()", "format: tuple index out of range"},
	} {
		err := evalErr(t, c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.src, err, c.want)
		}
	}
}

// evalErr compiles and runs a one-line callback.
func evalErr(t *testing.T, expr string) error {
	t.Helper()
	f := &fakes{}
	rt := &core.Runtime{Reg: f.Registry(t)}
	p, err := Engine{}.Compile("expr.star", []byte("def cb():\n    return "+expr+"\n"), rt)
	if err != nil {
		return err
	}
	vm, err := p.NewVM()
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	return vm.Call(&core.Ctx{RT: rt}, "cb")
}

// TestHardening_StarlarkMemoryBombNested: a memory bomb in a nested route
// (a branch route) stops the outer route too, and the next message is
// served.
func TestHardening_StarlarkMemoryBombNested(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.star")
	ctx.VM = vm
	f.Infos = nil
	err := vm.Call(ctx, "nest_bomb")
	if !errors.Is(err, core.ErrBudget) || !strings.Contains(err.Error(), "string * int would make at least 17179869184 bytes") {
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

// TestHardening_StarlarkSplitWithinBudget: the checked split methods give
// the originals' results.
func TestHardening_StarlarkSplitWithinBudget(t *testing.T) {
	f, _, vm, ctx := load(t, "engine.star")
	f.Infos = nil
	if err := vm.Call(ctx, "split_within_budget"); err != nil {
		t.Fatal(err)
	}
	if want := `[[["a", "b", "c"], ["a", "b", "c"], ["a,b", "c"], ["x", "y"], ["a,b"]]]`; fmt.Sprint(f.Infos) != want {
		t.Errorf("infos = %s, want %s", f.Infos, want)
	}
}
