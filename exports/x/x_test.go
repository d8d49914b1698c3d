package x

import (
	"testing"

	"kemi/core"
)

func TestExitAndDrop(t *testing.T) {
	var ctx core.Ctx
	if v := Exit(&ctx); v.Kind != core.KExit || !ctx.Stopped() || ctx.Dropped() {
		t.Errorf("exit: value %v stopped %v dropped %v", v, ctx.Stopped(), ctx.Dropped())
	}
	ctx = core.Ctx{}
	if v := Drop(&ctx); v.Kind != core.KExit || !ctx.Stopped() || !ctx.Dropped() {
		t.Errorf("drop: value %v stopped %v dropped %v", v, ctx.Stopped(), ctx.Dropped())
	}
}

// The generated thunks pass the KExit value through for the engines.
func TestThunks(t *testing.T) {
	reg, err := core.NewRegistry(core.Known("x"))
	if err != nil {
		t.Fatal(err)
	}
	var ctx core.Ctx
	if v := reg.Lookup("x", "drop").Call(&ctx, nil); v.Kind != core.KExit || !ctx.Dropped() {
		t.Errorf("KSR.x.drop() = %v, dropped %v", v, ctx.Dropped())
	}
	ctx = core.Ctx{}
	if v := reg.Lookup("x", "exit").Call(&ctx, []core.Value{core.Int(1)}); v.Kind != core.KError {
		t.Errorf("KSR.x.exit(1) = %v, want an argument error", v)
	} else if got := ctx.Err().Error(); got != "KSR.x.exit: expected (), got (int)" {
		t.Errorf("error %q", got)
	}
}
