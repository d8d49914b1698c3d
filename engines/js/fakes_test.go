package js

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/engines/enginetest"
)

// fakes are the shared suite's fake modules (engines/enginetest).
type fakes = enginetest.Fakes

var errBoom = enginetest.ErrBoom

// load compiles testdata/name with the fake registry and builds one VM.
func load(t testing.TB, name string) (*fakes, *Program, *VM, *core.Ctx) {
	t.Helper()
	f := &fakes{Maxfwd: 1}
	// A generous time budget: on a loaded machine the recursion test alone
	// can take longer than the default, and only the budget tests (which
	// set their own) are about the budget.
	rt := &core.Runtime{Reg: f.Registry(t), StepBudget: core.DefaultStepBudget, TimeBudget: time.Minute}
	path := filepath.Join("testdata", name)
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Engine{}.Compile(path, src, rt)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := p.NewVM()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vm.Close)
	return f, p.(*Program), vm.(*VM), &core.Ctx{RT: rt}
}

// lineOf finds the line of a "MARK:name" comment in a testdata script, so
// tests do not hard-code line numbers.
func lineOf(t testing.TB, name, mark string) int {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(src), "\n") {
		if strings.Contains(l, "MARK:"+mark) {
			return i + 1
		}
	}
	t.Fatalf("no MARK:%s in %s", mark, name)
	return 0
}
