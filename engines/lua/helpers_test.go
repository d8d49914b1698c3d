package lua

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"kemi/core"
)

// reply is one recorded sl call.
type reply struct {
	fn     string
	code   int64
	reason string
}

// fakes is a set of hand-made modules standing in for the generated ones.
type fakes struct {
	replies []reply
	infos   []string
	maxfwd  int64 // what process_maxfwd returns
	maxArg  int64
	yesArg  bool
}

func (f *fakes) specs() []*core.ModuleSpec {
	sl := func(name string) core.Thunk {
		return func(ctx *core.Ctx, a []core.Value) core.Value {
			f.replies = append(f.replies, reply{name, a[0].I, a[1].S})
			return core.Int(1)
		}
	}
	return []*core.ModuleSpec{
		{Name: "", Exports: []*core.Export{
			{Name: "info", Params: []core.Type{core.TStr}, Returns: core.TNone,
				Call: func(ctx *core.Ctx, a []core.Value) core.Value {
					f.infos = append(f.infos, a[0].S)
					ctx.Log(core.LInfo, a[0].S)
					return core.Null()
				}},
		}},
		{Name: "sl", Exports: []*core.Export{
			{Module: "sl", Name: "sl_send_reply", Aliases: []string{"sreply"}, Params: []core.Type{core.TInt, core.TStr}, Returns: core.TInt, Call: sl("sl_send_reply")},
			{Module: "sl", Name: "send_reply", Params: []core.Type{core.TInt, core.TStr}, Returns: core.TInt, Call: sl("send_reply")},
		}},
		{Name: "maxfwd", Exports: []*core.Export{
			{Module: "maxfwd", Name: "process_maxfwd", Params: []core.Type{core.TInt}, Returns: core.TInt,
				Call: func(ctx *core.Ctx, a []core.Value) core.Value {
					f.maxArg = a[0].I
					return core.Int(f.maxfwd)
				}},
		}},
		{Name: "x", Exports: []*core.Export{
			{Module: "x", Name: "exit", Returns: core.TNone, Call: func(ctx *core.Ctx, _ []core.Value) core.Value { return ctx.Stop(false) }},
			{Module: "x", Name: "drop", Returns: core.TNone, Call: func(ctx *core.Ctx, _ []core.Value) core.Value { return ctx.Stop(true) }},
		}},
		{Name: "t", Exports: []*core.Export{
			{Module: "t", Name: "get", Params: []core.Type{core.TStr}, Returns: core.TXval,
				Call: func(ctx *core.Ctx, a []core.Value) core.Value {
					switch a[0].S {
					case "s":
						return core.Str("text")
					case "i":
						return core.Int(42)
					case "b":
						return core.Bool(true)
					}
					return core.Null()
				}},
			{Module: "t", Name: "yes", Params: []core.Type{core.TBool}, Returns: core.TBool,
				Call: func(ctx *core.Ctx, a []core.Value) core.Value {
					f.yesArg = a[0].Truth()
					return core.Bool(f.yesArg)
				}},
			{Module: "t", Name: "big", Params: []core.Type{core.TLong}, Returns: core.TLong,
				Call: func(ctx *core.Ctx, a []core.Value) core.Value { return core.Int(a[0].I + 1) }},
			{Module: "t", Name: "fail", Returns: core.TInt,
				Call: func(ctx *core.Ctx, _ []core.Value) core.Value { return ctx.Fail(errFake) }},
			{Module: "t", Name: "crash", Returns: core.TInt,
				Call: func(ctx *core.Ctx, _ []core.Value) core.Value {
					var nilFakes *fakes // a bug in an export: nil dereference
					return core.Int(nilFakes.maxfwd)
				}},
		}},
	}
}

var errFake = errors.New("t.fail: the fake failed")

// env is a runtime over the fakes with a captured log.
type env struct {
	f   *fakes
	rt  *core.Runtime
	log bytes.Buffer
}

func newEnv(t testing.TB, specs ...*core.ModuleSpec) *env {
	t.Helper()
	e := &env{f: &fakes{maxfwd: 1}}
	if specs == nil {
		specs = e.f.specs()
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
