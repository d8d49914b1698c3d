package lua

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"kemi/core"
	"kemi/engines/enginetest"
)

// fakes are the shared suite's fake modules (engines/enginetest).
type fakes = enginetest.Fakes

var errFake = enginetest.ErrBoom

// env is a runtime over the fakes with a captured log.
type env struct {
	f   *fakes
	rt  *core.Runtime
	log bytes.Buffer
}

func newEnv(t testing.TB, specs ...*core.ModuleSpec) *env {
	t.Helper()
	e := &env{f: &fakes{Maxfwd: 1}}
	if specs == nil {
		specs = e.f.Specs()
	}
	reg, err := core.NewRegistry(specs...)
	if err != nil {
		t.Fatal(err)
	}
	e.rt = &core.Runtime{Reg: reg, Log: &core.Logger{Level: core.LDbg, Out: &e.log}, StepBudget: 100_000}
	return e
}

// compile compiles testdata/name.
func (e *env) compile(t testing.TB, name string) core.Program {
	t.Helper()
	path := filepath.Join("testdata", name)
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Engine{}.Compile(path, src, e.rt)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// vm compiles testdata/name and builds one VM, closed at cleanup.
func (e *env) vm(t testing.TB, name string) core.VM {
	t.Helper()
	vm, err := e.compile(t, name).NewVM()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vm.Close)
	return vm
}

func (e *env) ctx() *core.Ctx {
	c := &core.Ctx{RT: e.rt}
	c.Reset(nil, c.Src, c.Local, core.UDP)
	return c
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
