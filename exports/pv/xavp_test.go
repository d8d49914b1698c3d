package pv

import (
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

func TestShvsetAndVarset(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), nil, core.Known("pv"))
	ctx.RT.Params = map[string]map[string][]core.Value{"pv": {
		"shvset": {core.Str("maint=i:1"), core.Str("mode=s:night"), core.Str("plain=text")},
		"varset": {core.Str("tries=i:3")},
	}}
	if err := ctx.RT.Start(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]core.Value{
		"$shv(maint)": core.Int(1), "$shv(mode)": core.Str("night"), "$shv(plain)": core.Str("text"), "$var(tries)": core.Int(3),
	} {
		if v := Get(ctx, name); v != want {
			t.Errorf("get(%q) = %v, want %v", name, v, want)
		}
	}
	// varset is where $var starts for every message.
	Seti(ctx, "$var(tries)", 9)
	ctx.Reset(ctx.Msg, ksrtest.Src, ksrtest.Local, core.UDP)
	if v := Get(ctx, "$var(tries)"); v != core.Int(3) {
		t.Errorf("$var(tries) at the next message = %v, want 3", v)
	}
	for _, bad := range []string{"noequals", "=i:1", "n=i:x"} {
		c := ksrtest.Ctx(t, ksrtest.Invite(), nil, core.Known("pv"))
		c.RT.Params = map[string]map[string][]core.Value{"pv": {"shvset": {core.Str(bad)}}}
		if err := c.RT.Start(); err == nil || !strings.Contains(err.Error(), `modparam("pv", "shvset"`) {
			t.Errorf("shvset %q: %v", bad, err)
		}
	}
}

func TestDynamicNamesDoNotGrowTheStore(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), nil)
	for m := 0; m < 3; m++ {
		for i := 0; i < 3*maxNames; i++ {
			n := "n" + strings.Repeat("x", i%40) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
			Seti(ctx, "$avp("+n+")", 1)
			Seti(ctx, "$xavp("+n+")", 1)
			Seti(ctx, "$var("+n+")", 1)
		}
		ctx.Reset(ctx.Msg, ksrtest.Src, ksrtest.Local, core.UDP)
		st := store(ctx)
		if len(st.avps) > maxNames || len(st.xavps) > maxNames || len(st.vars) > maxNames {
			t.Fatalf("after a message with %d names: %d avp, %d xavp, %d var names kept", 3*maxNames, len(st.avps), len(st.xavps), len(st.vars))
		}
	}
}

func FuzzXavpNames(f *testing.F) {
	for _, s := range []string{"a", "a[0]", "a[-1]=>b", "a[*]", "a=>b[*]", "a[0]=>b[1]", "[", "a[=>]", "a=>b=>c"} {
		f.Add(s, "k=v;x")
	}
	f.Fuzz(func(t *testing.T, name, params string) {
		ctx := ksrtest.Ctx(t, ksrtest.Invite(), nil)
		XavpParamsExplode(ctx, params, "p")
		XavpParamsExplode(ctx, params, name)
		setXavp(ctx, name, core.Int(1))
		setXavp(ctx, name, core.Str(params))
		xavpValue(ctx, name)
		setXavp(ctx, name, core.Null())
		xavpValue(ctx, name)
		Get(ctx, "$xavp("+name+")")
	})
}
