package pvx

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/exports/pv"
)

func ctx(t testing.TB) (*core.Ctx, *bytes.Buffer) {
	c := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.NewRecorder(), core.Known("pv"), core.Known("pvx"))
	var log bytes.Buffer
	c.RT.Log = &core.Logger{Level: core.LDbg, Out: &log}
	return c, &log
}

func eq(t *testing.T, what string, got, want core.Value) {
	t.Helper()
	if got.Kind != want.Kind || got.I != want.I || got.S != want.S {
		t.Errorf("%s = %v (%v), want %v (%v)", what, got, got.Kind, want, want.Kind)
	}
}

func TestPvx_AVP(t *testing.T) {
	c, _ := ctx(t)
	eq(t, "avp_get of none", AvpGet(c, "dst"), core.Null())
	eq(t, "avp_gete of none", AvpGete(c, "dst"), core.Str(""))
	eq(t, "avp_getw of none", AvpGetw(c, "dst"), core.Str("<null>"))
	if AvpIsNull(c, "dst") != 1 {
		t.Error("avp_is_null of none != 1")
	}
	AvpSets(c, "dst", "sip:a@192.0.2.1")
	AvpSeti(c, "dst", 5)
	eq(t, "avp_get", AvpGet(c, "dst"), core.Int(5))
	eq(t, "$avp(dst) through KSR.pv", pv.Get(c, "$avp(dst)"), core.Int(5))
	if AvpIsNull(c, "dst") != -1 || AvpIsNull(c, "dst") != -1 {
		t.Error("avp_is_null of a set AVP != -1, or it removed the AVP")
	}
	if AvpRm(c, "dst") != 1 || AvpIsNull(c, "dst") != 1 || AvpRm(c, "dst") != 1 {
		t.Error("avp_rm did not remove every value, or failed on none")
	}
}

func TestPvx_Var(t *testing.T) {
	c, log := ctx(t)
	eq(t, "var_get of none", VarGet(c, "n"), core.Int(0))
	if !strings.Contains(log.String(), "$var(n) is not defined - return value 0") {
		t.Errorf("log: %q", log)
	}
	VarSets(c, "who", "alice")
	VarSeti(c, "n", 3)
	eq(t, "var_get", VarGet(c, "who"), core.Str("alice"))
	eq(t, "$var(n) through KSR.pv", pv.Get(c, "$var(n)"), core.Int(3))
}

func TestPvx_Shv(t *testing.T) {
	c, _ := ctx(t)
	eq(t, "shv_get of none", ShvGet(c, "m"), core.Int(0))
	ShvSeti(c, "m", 1)
	// Another worker of the same runtime, and a later message, see it.
	other := ksrtest.Ctx(t, ksrtest.Invite(), nil)
	other.RT = c.RT
	other.Reset(other.Msg, ksrtest.Src, ksrtest.Local, core.UDP)
	eq(t, "shv_get from another worker", ShvGet(other, "m"), core.Int(1))
	ShvSets(other, "mode", "night")
	c.Reset(c.Msg, ksrtest.Src, ksrtest.Local, core.UDP)
	eq(t, "$shv(mode) at the next message", pv.Get(c, "$shv(mode)"), core.Str("night"))
	// A reload (a new runtime) starts afresh.
	fresh, _ := ctx(t)
	eq(t, "shv after reload", pv.Get(fresh, "$shv(mode)"), core.Null())
}

func TestPvx_ShvBounded(t *testing.T) {
	c, log := ctx(t)
	for i := 0; i < 4096; i++ {
		if ShvSeti(c, "v"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+itoa(i), i) != 1 {
			t.Fatalf("shv_seti %d failed", i)
		}
	}
	if ShvSeti(c, "one-too-many", 1) != -1 || !strings.Contains(log.String(), "already 4096 shared variables") {
		t.Errorf("the 4097th shared variable was accepted: %q", log.String())
	}
}

func itoa(i int) string {
	return string(rune('0'+i%10)) + strings.Repeat("9", i/10%7) + string(rune('a'+i/70%26)) + string(rune('a'+i/1820))
}

func TestPvx_ShvConcurrent(t *testing.T) {
	c, _ := ctx(t)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wc := ksrtest.Ctx(t, ksrtest.Invite(), nil)
		wc.RT = c.RT
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				ShvSeti(wc, "n", i)
				ShvGet(wc, "n")
				pv.Get(wc, "$shv(n)")
			}
		}()
	}
	wg.Wait()
}

func TestPvx_Xavp(t *testing.T) {
	c, _ := ctx(t)
	eq(t, "xavp_get of none", XavpGet(c, "x"), core.Null())
	eq(t, "xavp_gete of none", XavpGete(c, "x"), core.Str(""))
	if XavpIsNull(c, "x") != 1 {
		t.Error("xavp_is_null of none != 1")
	}
	XavpSets(c, "x", "first")
	XavpSeti(c, "x", 2)
	eq(t, "xavp_get", XavpGet(c, "x"), core.Int(2))
	eq(t, "$xavp(x[1])", pv.Get(c, "$xavp(x[1])"), core.Str("first"))
	eq(t, "$xavp(x[-1])", pv.Get(c, "$xavp(x[-1])"), core.Str("first"))
	eq(t, "$xavp(x[2])", pv.Get(c, "$xavp(x[2])"), core.Null())
	if XavpIsNull(c, "x") != -1 {
		t.Error("xavp_is_null of a set xavp != -1")
	}
	XavpRm(c, "x")
	eq(t, "xavp_get after xavp_rm", XavpGet(c, "x"), core.Str("first"))
	XavpSets(c, "x", "again")
	XavpRmAll(c, "x")
	eq(t, "xavp_get after xavp_rm_all", XavpGet(c, "x"), core.Null())
}

func TestPvx_XavpParamsExplode(t *testing.T) {
	c, log := ctx(t)
	if XavpParamsExplode(c, "a=1;b=two;flag;q=\"x;y\";", "p") != 1 {
		t.Fatalf("explode failed: %s", log)
	}
	for name, want := range map[string]core.Value{
		"$xavp(p=>a)": core.Str("1"), "$xavp(p[0]=>b)": core.Str("two"), "$xavp(p=>flag)": core.Str(""),
		"$xavp(p=>q)": core.Str("x;y"), "$xavp(p=>none)": core.Null(), "$xavp(p)": core.Str("<<xavp>>"),
	} {
		eq(t, name, pv.Get(c, name), want)
	}
	// A second explode is the new index 0; the first is index 1.
	XavpParamsExplode(c, "a=new", "p")
	eq(t, "$xavp(p=>a)", pv.Get(c, "$xavp(p=>a)"), core.Str("new"))
	eq(t, "$xavp(p[1]=>a)", pv.Get(c, "$xavp(p[1]=>a)"), core.Str("1"))
	for _, bad := range [][2]string{{"", "p"}, {"a=1", ""}, {";;", "p"}, {"=1", "p"}} {
		log.Reset()
		if XavpParamsExplode(c, bad[0], bad[1]) != -1 || !strings.Contains(log.String(), "KSR.pvx.xavp_params_explode:") {
			t.Errorf("explode(%q, %q) did not fail with a log line: %q", bad[0], bad[1], log)
		}
	}
}

func TestPvx_XavpAssign(t *testing.T) {
	c, _ := ctx(t)
	set := func(name string, v core.Value) {
		t.Helper()
		if ok, _ := pv.Sets(c, name, v.S); !ok && v.Kind == core.KStr {
			t.Fatalf("sets(%q) failed", name)
		}
	}
	// Without an index a key makes a new item; with [0] it joins it.
	set("$xavp(r=>a)", core.Str("1"))
	set("$xavp(r[0]=>b)", core.Str("2"))
	pv.Seti(c, "$xavp(r[0]=>b)", 3) // a second b, newest
	eq(t, "r=>a", pv.Get(c, "$xavp(r=>a)"), core.Str("1"))
	eq(t, "r=>b", pv.Get(c, "$xavp(r=>b)"), core.Int(3))
	eq(t, "r=>b[1]", pv.Get(c, "$xavp(r=>b[1])"), core.Str("2"))
	eq(t, "r=>b[*]", pv.Get(c, "$xavp(r=>b[*])"), core.Str("3, 2"))
	pv.Seti(c, "$xavp(r[0]=>b[1])", 9) // replace the older b
	eq(t, "r=>b[*] after replace", pv.Get(c, "$xavp(r=>b[*])"), core.Str("3, 9"))
	set("$xavp(r=>a)", core.Str("second")) // new item
	eq(t, "r[0]=>a", pv.Get(c, "$xavp(r[0]=>a)"), core.Str("second"))
	eq(t, "r[1]=>a", pv.Get(c, "$xavp(r[1]=>a)"), core.Str("1"))
	// Null removes: a key of item 1, then the newest item.
	pv.Unset(c, "$xavp(r[1]=>b[*])")
	eq(t, "r[1]=>b removed", pv.Get(c, "$xavp(r[1]=>b)"), core.Null())
	pv.Unset(c, "$xavp(r)")
	eq(t, "r=>a after removing the newest", pv.Get(c, "$xavp(r=>a)"), core.Str("1"))
	pv.Unset(c, "$xavp(r[*])")
	eq(t, "r after [*] removal", pv.Get(c, "$xavp(r)"), core.Null())
	// Plain values, replaced by index.
	pv.Seti(c, "$xavp(n)", 1)
	pv.Seti(c, "$xavp(n)", 2)
	pv.Seti(c, "$xavp(n[1])", 10)
	eq(t, "n[1]", pv.Get(c, "$xavp(n[1])"), core.Int(10))
	if pv.Seti(c, "$xavp(n[5])", 1) {
		t.Error("setting a missing index succeeded")
	}
	if pv.Seti(c, "$xavp(n[0]=>k)", 1) {
		t.Error("adding a key to a plain value succeeded")
	}
	for _, bad := range []string{"$xavp()", "$xavp([0])", "$xavp(a[x])", "$xavp(a[0)", "$xavp(a=>)"} {
		if pv.Seti(c, bad, 1) {
			t.Errorf("sets(%q) succeeded", bad)
		}
		if v := pv.Get(c, bad); !v.IsNull() {
			t.Errorf("get(%q) = %v", bad, v)
		}
	}
	// A new message starts without xavps.
	c.Reset(c.Msg, ksrtest.Src, ksrtest.Local, core.UDP)
	eq(t, "n at the next message", pv.Get(c, "$xavp(n)"), core.Null())
}

func TestPvx_XavpInFormats(t *testing.T) {
	c, _ := ctx(t)
	XavpParamsExplode(c, "user=alice;n=2", "caller")
	f, err := core.CompileFormat("u=$xavp(caller=>user) n=$xavp(caller[0]=>n) none=$xavp(caller=>x) shv=$shv(nope)")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(f.Append(nil, c)); got != "u=alice n=2 none=<null> shv=<null>" {
		t.Errorf("format: %q", got)
	}
}

func TestPvx_ReadsDoNotAllocate(t *testing.T) {
	c, _ := ctx(t)
	AvpSeti(c, "n", 1)
	XavpSeti(c, "x", 1)
	ShvSeti(c, "s", 1)
	n := testing.AllocsPerRun(100, func() {
		AvpGet(c, "n")
		XavpGet(c, "x")
		ShvGet(c, "s")
		AvpIsNull(c, "n")
	})
	if n != 0 {
		t.Errorf("reads allocate %v times", n)
	}
}

// Removing an item from the middle and adding a new one must not let the
// new item share children with an old one.
func TestPvx_XavpRemoveMiddleThenAdd(t *testing.T) {
	c, _ := ctx(t)
	XavpParamsExplode(c, "a=old", "m")
	XavpParamsExplode(c, "a=mid", "m")
	XavpParamsExplode(c, "a=new", "m")
	pv.Unset(c, "$xavp(m[1])")
	XavpParamsExplode(c, "a=newest;b=1;c=2;d=3", "m")
	eq(t, "m[0]=>a", pv.Get(c, "$xavp(m[0]=>a)"), core.Str("newest"))
	eq(t, "m[1]=>a", pv.Get(c, "$xavp(m[1]=>a)"), core.Str("new"))
	eq(t, "m[2]=>a", pv.Get(c, "$xavp(m[2]=>a)"), core.Str("old"))
}
