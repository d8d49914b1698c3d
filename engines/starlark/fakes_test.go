package starlark

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kemi/core"
)

// fakes is a test registry: hand-made module specs that record what the
// script asked for, in place of the real exports.
type fakes struct {
	replies []string // "code reason" per sl_send_reply
	infos   []string // KSR.info messages
	maxfwd  int64    // what process_maxfwd returns
	quiet   bool     // stop recording (benchmarks)

	// Nesting: kx.nest(cb) runs callback cb on ctx.VM with a new context,
	// as t_relay runs a branch route; kx.whoami names the context a call
	// got, so a script can see whether its own came back.
	names    map[*core.Ctx]string
	nested   int
	nestErrs []error
}

var errBoom = errors.New("boom from Go")

func (f *fakes) registry(t testing.TB) *core.Registry {
	reg, err := core.NewRegistry(
		&core.ModuleSpec{Name: "", Exports: []*core.Export{
			{Name: "info", Params: []core.Type{core.TStr}, Returns: core.TNone, Call: func(ctx *core.Ctx, a []core.Value) core.Value {
				if !f.quiet {
					f.infos = append(f.infos, a[0].S)
				}
				return core.Null()
			}},
			{Name: "is_method", Params: []core.Type{core.TStr}, Returns: core.TBool, Call: func(ctx *core.Ctx, a []core.Value) core.Value {
				return core.Bool(a[0].S == "INVITE")
			}},
		}},
		&core.ModuleSpec{Name: "sl", Exports: []*core.Export{
			{Module: "sl", Name: "sl_send_reply", Aliases: []string{"send_reply"}, Params: []core.Type{core.TInt, core.TStr}, Returns: core.TInt,
				Call: func(ctx *core.Ctx, a []core.Value) core.Value {
					if !f.quiet {
						f.replies = append(f.replies, a[0].String()+" "+a[1].S)
					}
					return core.Int(1)
				}},
		}},
		&core.ModuleSpec{Name: "maxfwd", Exports: []*core.Export{
			{Module: "maxfwd", Name: "process_maxfwd", Params: []core.Type{core.TInt}, Returns: core.TInt,
				Call: func(ctx *core.Ctx, a []core.Value) core.Value { return core.Int(f.maxfwd) }},
		}},
		&core.ModuleSpec{Name: "x", Exports: []*core.Export{
			{Module: "x", Name: "exit", Returns: core.TNone, Call: func(ctx *core.Ctx, a []core.Value) core.Value { return ctx.Stop(false) }},
			{Module: "x", Name: "drop", Returns: core.TNone, Call: func(ctx *core.Ctx, a []core.Value) core.Value { return ctx.Stop(true) }},
		}},
		&core.ModuleSpec{Name: "kx", Exports: []*core.Export{
			// xval: 0 gives null, 1 a string, anything else that number.
			{Module: "kx", Name: "xval", Params: []core.Type{core.TLong}, Returns: core.TXval, Call: func(ctx *core.Ctx, a []core.Value) core.Value {
				switch a[0].I {
				case 0:
					return core.Null()
				case 1:
					return core.Str("one")
				}
				return core.Int(a[0].I)
			}},
			{Module: "kx", Name: "negate", Params: []core.Type{core.TBool}, Returns: core.TBool, Call: func(ctx *core.Ctx, a []core.Value) core.Value {
				return core.Bool(a[0].I == 0)
			}},
			{Module: "kx", Name: "fail", Returns: core.TInt, Call: func(ctx *core.Ctx, a []core.Value) core.Value { return ctx.Fail(errBoom) }},
			{Module: "kx", Name: "crash", Returns: core.TInt, Call: func(ctx *core.Ctx, a []core.Value) core.Value { panic("fake module bug") }},
			{Module: "kx", Name: "nest", Params: []core.Type{core.TStr}, Returns: core.TInt, Call: func(ctx *core.Ctx, a []core.Value) core.Value {
				f.nested++
				child := &core.Ctx{RT: ctx.RT, VM: ctx.VM}
				if f.names == nil {
					f.names = map[*core.Ctx]string{}
				}
				f.names[child] = "ctx" + core.Int(int64(f.nested)).String()
				err := ctx.VM.Call(child, a[0].S)
				f.nestErrs = append(f.nestErrs, err)
				if err != nil {
					return core.Int(-1)
				}
				return core.Int(1)
			}},
			{Module: "kx", Name: "whoami", Returns: core.TStr, Call: func(ctx *core.Ctx, a []core.Value) core.Value {
				if n, ok := f.names[ctx]; ok {
					return core.Str(n)
				}
				return core.Str("unknown")
			}},
		}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// load compiles testdata/name with the fake registry and builds one VM.
func load(t testing.TB, name string) (*fakes, *Program, *VM, *core.Ctx) {
	t.Helper()
	f := &fakes{maxfwd: 1}
	rt := &core.Runtime{Reg: f.registry(t), StepBudget: core.DefaultStepBudget, TimeBudget: core.DefaultTimeBudget}
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
