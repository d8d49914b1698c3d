package lua

import (
	"sort"
	"strings"
	"testing"

	glua "github.com/yuin/gopher-lua"

	"kemi/core"
)

// TestScript runs every test_* function of testdata/ksr.lua as a callback.
func TestScript(t *testing.T) {
	e := newEnv(t)
	vm := e.vm(t, "ksr.lua").(*VM)
	var names []string
	vm.L.G.Global.ForEach(func(k, v glua.LValue) {
		if s := k.String(); strings.HasPrefix(s, "test_") {
			names = append(names, s)
		}
	})
	sort.Strings(names)
	if len(names) < 10 {
		t.Fatalf("found %d test_ functions in ksr.lua, want at least 10", len(names))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			if err := vm.Call(e.ctx(), name); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBindingEffects(t *testing.T) {
	e := newEnv(t)
	vm := e.vm(t, "ksr.lua")
	if err := vm.Call(e.ctx(), "test_binding"); err != nil {
		t.Fatal(err)
	}
	if len(e.f.Replies) != 1 || e.f.Replies[0] != "404 Not Found" || e.f.ReplyFns[0] != "sl_send_reply" {
		t.Errorf("replies = %q by %q, want [404 Not Found] by sl_send_reply", e.f.Replies, e.f.ReplyFns)
	}
	if e.f.MaxArg != 10 {
		t.Errorf("process_maxfwd got %d, want 10", e.f.MaxArg)
	}
	if len(e.f.Infos) != 1 || e.f.Infos[0] != "hello from lua" {
		t.Errorf("KSR.info got %q", e.f.Infos)
	}
}

func TestPrintGoesToLog(t *testing.T) {
	e := newEnv(t)
	vm := e.vm(t, "ksr.lua")
	if err := vm.Call(e.ctx(), "test_print"); err != nil {
		t.Fatal(err)
	}
	if got := e.log.String(); !strings.Contains(got, "INFO: from\tprint\t7\n") {
		t.Errorf("log = %q, want the print line at INFO", got)
	}
}

func TestExitAndDrop(t *testing.T) {
	for _, tc := range []struct {
		fn      string
		replies int
		dropped bool
		panics  bool // unwound by the panic fallback, not by unwindFrames
	}{
		{"test_exit", 1, false, false},
		{"test_exit_deep", 0, false, false},
		{"test_drop", 0, true, false},
		{"test_exit_tail", 0, false, false},
		{"test_exit_in_expression", 0, false, false},
		{"test_exit_closure", 0, false, false},
		{"test_exit_metamethod", 0, false, true},
		{"test_exit_comparison", 0, false, true},
		{"test_exit_iterator", 0, false, true},
		{"test_exit_sort", 0, false, true},
		{"test_exit_gsub", 0, false, true},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			e := newEnv(t)
			vm := e.vm(t, "ksr.lua").(*VM)
			ctx := e.ctx()
			if err := vm.Call(ctx, tc.fn); err != nil {
				t.Fatalf("exit is not an error, got %v", err)
			}
			if !ctx.Stopped() || ctx.Dropped() != tc.dropped {
				t.Errorf("Stopped=%v Dropped=%v, want true, %v", ctx.Stopped(), ctx.Dropped(), tc.dropped)
			}
			if len(e.f.Replies) != tc.replies {
				t.Errorf("replies = %v: the route went on after exit", e.f.Replies)
			}
			if got := vm.slowExits > 0; got != tc.panics {
				t.Errorf("exit unwound by panic = %v, want %v", got, tc.panics)
			}
			// The VM stays usable and the next message starts clean.
			ctx = e.ctx()
			if err := vm.Call(ctx, "test_binding"); err != nil || ctx.Stopped() {
				t.Fatalf("next call: err=%v stopped=%v", err, ctx.Stopped())
			}
			if tc.fn == "test_exit_closure" {
				if err := vm.Call(e.ctx(), "check_saved"); err != nil {
					t.Error(err)
				}
			}
			if top := vm.L.GetTop(); top != 0 {
				t.Errorf("Lua stack holds %d values after the calls", top)
			}
		})
	}
}

func TestRedefinedCallback(t *testing.T) {
	e := newEnv(t)
	vm := e.vm(t, "ksr.lua")
	if err := vm.Call(e.ctx(), "ksr_later"); err != core.ErrNoCallback {
		t.Fatalf("before: %v, want ErrNoCallback", err)
	}
	if err := vm.Call(e.ctx(), "test_redefine"); err != nil {
		t.Fatal(err)
	}
	if err := vm.Call(e.ctx(), "ksr_later"); err != nil {
		t.Fatalf("after the script defined it: %v", err)
	}
}

func TestHas(t *testing.T) {
	e := newEnv(t)
	p := e.compile(t, "no_request_route.lua")
	if p.Has("ksr_request_route") {
		t.Error("Has(ksr_request_route) = true for a script without it")
	}
	if !p.Has("ksr_reply_route") {
		t.Error("Has(ksr_reply_route) = false")
	}
	for _, name := range []string{"helper", "print", "KSR"} {
		if p.Has(name) {
			t.Errorf("Has(%s) = true: only global Lua functions count", name)
		}
	}
}

func TestEngineRegistered(t *testing.T) {
	info := core.LookupEngine("lua")
	if info == nil || info.Module != "app_lua" {
		t.Fatalf("LookupEngine(lua) = %+v", info)
	}
	m := core.Known("app_lua.so")
	if m == nil {
		t.Fatal("app_lua is not registered")
	}
	var names []string
	for _, p := range m.Params {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, ","); got != "load,reload,memory_budget,register" {
		t.Errorf("app_lua params = %s", got)
	}
}

func TestRegisterNotice(t *testing.T) {
	e := newEnv(t)
	e.rt.Params = map[string]map[string][]core.Value{"app_lua": {"register": {core.Str("sl"), core.Str("maxfwd")}}}
	e.compile(t, "seed_sr.lua")
	if got := e.log.String(); !strings.Contains(got, "NOTICE: app_lua: modparam register") {
		t.Errorf("log = %q, want a notice about register", got)
	}
}
