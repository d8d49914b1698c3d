package core

import (
	"fmt"
	"strings"
	"testing"
)

func nop(ctx *Ctx, args []Value) Value { return Int(1) }

func testSpecs() []*ModuleSpec {
	return []*ModuleSpec{
		{Name: "sl", Exports: []*Export{
			{Module: "sl", Name: "sl_send_reply", Params: []Type{TInt, TStr}, Returns: TInt, Aliases: []string{"sreply"}, Call: nop},
			{Module: "sl", Name: "send_reply", Params: []Type{TInt, TStr}, Returns: TInt, Aliases: []string{"freply"}, Call: nop},
		}},
		{Name: "", Exports: []*Export{
			{Name: "is_INVITE", Returns: TBool, Call: nop},
			{Name: "info", Params: []Type{TStr}, Call: nop},
		}},
		{Name: "maxfwd", Exports: []*Export{
			{Module: "maxfwd", Name: "process_maxfwd", Params: []Type{TInt}, Returns: TInt, Call: nop},
		}},
	}
}

func TestRegistryLookup(t *testing.T) {
	r, err := NewRegistry(testSpecs()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ mod, fn, want string }{
		{"sl", "sl_send_reply", "KSR.sl.sl_send_reply"},
		{"sl", "sreply", "KSR.sl.sl_send_reply"},
		{"sl", "freply", "KSR.sl.send_reply"},
		{"", "is_INVITE", "KSR.is_INVITE"},
		{"", "IS_invite", "KSR.is_INVITE"}, // Kamailio's case-insensitive fallback
		{"SL", "SReply", "KSR.sl.sl_send_reply"},
		{"maxfwd", "process_maxfwd", "KSR.maxfwd.process_maxfwd"},
		{"sl", "nope", ""},
		{"tm", "t_relay", ""}, // a module that is not loaded is absent
		{"", "sl_send_reply", ""},
	} {
		e := r.Lookup(c.mod, c.fn)
		got := ""
		if e != nil {
			got = e.FullName()
		}
		if got != c.want {
			t.Errorf("Lookup(%q, %q) = %q, want %q", c.mod, c.fn, got, c.want)
		}
	}
}

func TestRegistryLookupAllocs(t *testing.T) {
	r, _ := NewRegistry(testSpecs()...)
	if n := testing.AllocsPerRun(100, func() { r.Lookup("maxfwd", "process_maxfwd") }); n != 0 {
		t.Errorf("Lookup allocates %v times per call, want 0", n)
	}
}

func TestRegistryListing(t *testing.T) {
	r, _ := NewRegistry(testSpecs()...)
	var mods []string
	for _, m := range r.Modules() {
		mods = append(mods, fmt.Sprintf("%q", m.Name))
	}
	if got := strings.Join(mods, " "); got != `"" "maxfwd" "sl"` {
		t.Errorf("Modules() = %s", got)
	}
	var names []string
	for _, e := range r.Exports() {
		names = append(names, e.FullName())
	}
	want := "KSR.info KSR.is_INVITE KSR.maxfwd.process_maxfwd KSR.sl.send_reply KSR.sl.sl_send_reply"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("Exports() = %s\nwant %s", got, want)
	}
	if es := r.ModuleExports("sl"); len(es) != 2 || es[0].Name != "send_reply" {
		t.Errorf("ModuleExports(sl) = %v", es)
	}
	if r.ModuleExports("tm") != nil || r.Module("tm") != nil {
		t.Errorf("a module not loaded shows up")
	}
	if r.Module("sl") == nil {
		t.Errorf("Module(sl) is nil")
	}
}

func TestRegistryErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		mods []*ModuleSpec
		want string
	}{
		{"module twice", []*ModuleSpec{{Name: "sl"}, {Name: "sl"}}, `registry: module "sl" registered twice`},
		{"alias clash", []*ModuleSpec{{Name: "sl", Exports: []*Export{
			{Module: "sl", Name: "a", Call: nop}, {Module: "sl", Name: "b", Aliases: []string{"a"}, Call: nop}}}},
			"registry: export sl.a registered twice"},
		{"nil thunk", []*ModuleSpec{{Name: "sl", Exports: []*Export{{Module: "sl", Name: "a"}}}},
			"registry: KSR.sl.a has no thunk"},
	} {
		_, err := NewRegistry(c.mods...)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: got %v, want %s", c.name, err, c.want)
		}
	}
}

func TestRegisterPanics(t *testing.T) {
	Register(&ModuleSpec{Name: "zz_test_reg", Files: []string{"zz_test_regx"}, Doc: "test"})
	for _, c := range []struct {
		name string
		m    *ModuleSpec
		want string
	}{
		{"nil", nil, "core.Register: empty module"},
		{"duplicate", &ModuleSpec{Name: "zz_test_reg", Doc: "again"}, "core.Register: duplicate module zz_test_reg"},
		{"nil thunk", &ModuleSpec{Name: "zz_test_a", Exports: []*Export{{Module: "zz_test_a", Name: "f"}}}, "core.Register: nil thunk for KSR.zz_test_a.f"},
		{"seven params", &ModuleSpec{Name: "zz_test_b", Exports: []*Export{{Module: "zz_test_b", Name: "f", Call: nop,
			Params: []Type{TInt, TInt, TInt, TInt, TInt, TInt, TInt}}}}, "core.Register: more than 6 params for KSR.zz_test_b.f"},
	} {
		func() {
			defer func() {
				if got := fmt.Sprint(recover()); got != c.want {
					t.Errorf("%s: panic %q, want %q", c.name, got, c.want)
				}
			}()
			Register(c.m)
		}()
	}
	for _, f := range []string{"zz_test_reg", "zz_test_reg.so", "zz_test_regx.so", "/usr/lib/kamailio/modules/zz_test_regx.so"} {
		if m := Known(f); m == nil || m.Name != "zz_test_reg" {
			t.Errorf("Known(%q) = %v", f, m)
		}
	}
	if Known("zz_test_none") != nil {
		t.Errorf("Known finds a module never registered")
	}
	found := false
	for _, m := range Registered() {
		found = found || m.Name == "zz_test_reg"
	}
	if !found {
		t.Errorf("Registered() lacks zz_test_reg")
	}
}

// kamailioSized builds a registry shaped like Kamailio's KEMI exports for
// the modules kemi targets (the reference lists 694 in 31 modules).
func kamailioSized() ([]*ModuleSpec, []*Export) {
	var mods []*ModuleSpec
	var all []*Export
	for m := 0; m < 31; m++ {
		name := fmt.Sprintf("module%02d", m)
		if m == 0 {
			name = ""
		}
		spec := &ModuleSpec{Name: name}
		for f := 0; f < 22; f++ {
			e := &Export{Module: name, Name: fmt.Sprintf("function_name_%02d", f), Call: nop}
			spec.Exports = append(spec.Exports, e)
			all = append(all, e)
		}
		mods = append(mods, spec)
	}
	return mods, all
}

// walk is the seed's lookup, kept as the benchmark's baseline: find the
// module, then compare names along its export list, over one flat list as
// Kamailio keeps them.
func walk(list []*Export, module, function string) *Export {
	for _, e := range list {
		if e.Module == module && e.Name == function {
			return e
		}
	}
	return nil
}

func BenchmarkLookup(b *testing.B) {
	mods, all := kamailioSized()
	r, err := NewRegistry(mods...)
	if err != nil {
		b.Fatal(err)
	}
	// Look names up in turn so the walk pays its average, not its best.
	keys := make([][2]string, len(all))
	for i, e := range all {
		keys[i] = [2]string{e.Module, e.Name}
	}
	b.Run("hashed", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			k := keys[i%len(keys)]
			if r.Lookup(k[0], k[1]) == nil {
				b.Fatal("miss")
			}
		}
	})
	b.Run("walk", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			k := keys[i%len(keys)]
			if walk(all, k[0], k[1]) == nil {
				b.Fatal("miss")
			}
		}
	})
}
