// Package enginetest is the conformance suite every script engine runs
// (in the spirit of starlark-go's starlarktest): a registry of fake
// modules that record what a script asked for, and a table of behaviours
// each engine must show. An engine's test supplies, per behaviour, a
// snippet of its own language (Snippets) and calls Run.
package enginetest

import (
	"errors"
	"fmt"
	"testing"

	"kemi/core"
)

// ErrBoom is the error KSR.kx.fail returns.
var ErrBoom = errors.New("boom from Go")

// Fakes is a test registry: hand-made module specs that record what the
// script asked for, in place of the real exports.
//
//	KSR.info(str) (also logged at INFO), KSR.is_method(str) -> bool (true for "INVITE")
//	KSR.sl.sl_send_reply(int, str) -> int 1, alias KSR.sl.sreply;
//	KSR.sl.send_reply(int, str) the same, a function of its own
//	KSR.maxfwd.process_maxfwd(int) -> Maxfwd
//	KSR.x.exit(), KSR.x.drop()
//	KSR.kx.args(int, str, bool, long) -> int 1, recorded as "i|s|true|l" in Args
//	KSR.kx.xval(long) -> null for 0, "one" for 1, true for 2, else the number
//	KSR.kx.negate(bool) -> bool
//	KSR.kx.fail() fails with ErrBoom; KSR.kx.crash() panics
//	KSR.kx.nest(str) runs that callback on ctx.VM with a new context, as
//	t_relay runs a branch route; KSR.kx.whoami() names the context it got
type Fakes struct {
	Replies  []string // "code reason" per sl_send_reply or send_reply
	ReplyFns []string // which of the two, per reply
	Infos    []string // KSR.info messages
	Args     []string // KSR.kx.args calls
	Maxfwd   int64    // what process_maxfwd returns
	MaxArg   int64    // what process_maxfwd got
	Quiet    bool     // stop recording (benchmarks)

	Names    map[*core.Ctx]string // names whoami gives; nest names its contexts "ctx1", "ctx2", ...
	Nested   int
	NestErrs []error
}

// Specs returns the fake modules.
func (f *Fakes) Specs() []*core.ModuleSpec {
	return []*core.ModuleSpec{
		{Name: "", Exports: []*core.Export{
			{Name: "info", Params: []core.Type{core.TStr}, Returns: core.TNone, Call: func(ctx *core.Ctx, a []core.Value) core.Value {
				if !f.Quiet {
					f.Infos = append(f.Infos, a[0].S)
					ctx.Log(core.LInfo, a[0].S)
				}
				return core.Null()
			}},
			{Name: "is_method", Params: []core.Type{core.TStr}, Returns: core.TBool, Call: func(ctx *core.Ctx, a []core.Value) core.Value {
				return core.Bool(a[0].S == "INVITE")
			}},
		}},
		{Name: "sl", Exports: []*core.Export{
			{Module: "sl", Name: "sl_send_reply", Aliases: []string{"sreply"}, Params: []core.Type{core.TInt, core.TStr}, Returns: core.TInt, Call: f.reply("sl_send_reply")},
			{Module: "sl", Name: "send_reply", Params: []core.Type{core.TInt, core.TStr}, Returns: core.TInt, Call: f.reply("send_reply")},
		}},
		{Name: "maxfwd", Exports: []*core.Export{
			{Module: "maxfwd", Name: "process_maxfwd", Params: []core.Type{core.TInt}, Returns: core.TInt,
				Call: func(ctx *core.Ctx, a []core.Value) core.Value {
					f.MaxArg = a[0].I
					return core.Int(f.Maxfwd)
				}},
		}},
		{Name: "x", Exports: []*core.Export{
			{Module: "x", Name: "exit", Returns: core.TNone, Call: func(ctx *core.Ctx, a []core.Value) core.Value { return ctx.Stop(false) }},
			{Module: "x", Name: "drop", Returns: core.TNone, Call: func(ctx *core.Ctx, a []core.Value) core.Value { return ctx.Stop(true) }},
		}},
		{Name: "kx", Exports: []*core.Export{
			{Module: "kx", Name: "args", Params: []core.Type{core.TInt, core.TStr, core.TBool, core.TLong}, Returns: core.TInt,
				Call: func(ctx *core.Ctx, a []core.Value) core.Value {
					f.Args = append(f.Args, fmt.Sprintf("%d|%s|%v|%d", a[0].I, a[1].S, a[2].I != 0, a[3].I))
					return core.Int(1)
				}},
			{Module: "kx", Name: "xval", Params: []core.Type{core.TLong}, Returns: core.TXval, Call: func(ctx *core.Ctx, a []core.Value) core.Value {
				switch a[0].I {
				case 0:
					return core.Null()
				case 1:
					return core.Str("one")
				case 2:
					return core.Bool(true)
				}
				return core.Int(a[0].I)
			}},
			{Module: "kx", Name: "negate", Params: []core.Type{core.TBool}, Returns: core.TBool, Call: func(ctx *core.Ctx, a []core.Value) core.Value {
				return core.Bool(a[0].I == 0)
			}},
			{Module: "kx", Name: "fail", Returns: core.TInt, Call: func(ctx *core.Ctx, a []core.Value) core.Value { return ctx.Fail(ErrBoom) }},
			{Module: "kx", Name: "crash", Returns: core.TInt, Call: func(ctx *core.Ctx, a []core.Value) core.Value { panic("fake module bug") }},
			{Module: "kx", Name: "nest", Params: []core.Type{core.TStr}, Returns: core.TInt, Call: func(ctx *core.Ctx, a []core.Value) core.Value {
				f.Nested++
				child := &core.Ctx{RT: ctx.RT, VM: ctx.VM}
				if f.Names == nil {
					f.Names = map[*core.Ctx]string{}
				}
				f.Names[child] = fmt.Sprintf("ctx%d", f.Nested)
				err := ctx.VM.Call(child, a[0].S)
				f.NestErrs = append(f.NestErrs, err)
				if err != nil {
					return core.Int(-1)
				}
				return core.Int(1)
			}},
			{Module: "kx", Name: "whoami", Returns: core.TStr, Call: func(ctx *core.Ctx, a []core.Value) core.Value {
				if n, ok := f.Names[ctx]; ok {
					return core.Str(n)
				}
				return core.Str("unknown")
			}},
		}},
	}
}

func (f *Fakes) reply(name string) core.Thunk {
	return func(ctx *core.Ctx, a []core.Value) core.Value {
		if !f.Quiet {
			f.Replies = append(f.Replies, a[0].String()+" "+a[1].S)
			f.ReplyFns = append(f.ReplyFns, name)
		}
		return core.Int(1)
	}
}

// Registry builds a registry of the fake modules.
func (f *Fakes) Registry(t testing.TB) *core.Registry {
	t.Helper()
	reg, err := core.NewRegistry(f.Specs()...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}
