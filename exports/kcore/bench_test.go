package kcore

import (
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

// BenchmarkCall compares a call through the generated thunk, as every
// engine makes it, with a direct Go call of the same function.
func BenchmarkCall(b *testing.B) {
	ctx := ksrtest.Ctx(b, request("INVITE"), nil, core.Known(""))
	isflagset := ctx.RT.Reg.Lookup("", "isflagset")
	ismethod := ctx.RT.Reg.Lookup("", "is_method")
	args := make([]core.Value, 1) // the engines' reused argument buffer
	b.Run("isflagset/direct", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			Isflagset(ctx, 3)
		}
	})
	b.Run("isflagset/thunk", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			args[0] = core.Int(3)
			isflagset.Call(ctx, args)
		}
	})
	b.Run("is_method/direct", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			IsMethod(ctx, "BYE|INVITE")
		}
	})
	b.Run("is_method/thunk", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			args[0] = core.Str("BYE|INVITE")
			ismethod.Call(ctx, args)
		}
	})
}

func TestThunkNoAllocs(t *testing.T) {
	ctx := ksrtest.Ctx(t, request("INVITE"), nil, core.Known(""))
	e := ctx.RT.Reg.Lookup("", "is_method")
	args := []core.Value{core.Str("INVITE")}
	if n := testing.AllocsPerRun(100, func() { e.Call(ctx, args) }); n != 0 {
		t.Errorf("a thunk call allocates %v times", n)
	}
	if v := e.Call(ctx, args); v != core.Bool(true) {
		t.Errorf("KSR.is_method(\"INVITE\") = %v", v)
	}
}
