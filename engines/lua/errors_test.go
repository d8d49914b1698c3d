package lua

import (
	"errors"
	"strings"
	"testing"

	"kemi/core"
)

func TestScriptErrors(t *testing.T) {
	for _, tc := range []struct {
		fn    string
		want  string // the whole message
		cause error  // what errors.Is must find, if anything
	}{
		{"bad_count", "testdata/errors.lua:3: KSR.sl.sl_send_reply: expected (int, str), got (number)", nil},
		{"bad_type", "testdata/errors.lua:7: KSR.sl.sl_send_reply: expected (int, str), got (string, number)", nil},
		{"bad_float", "testdata/errors.lua:11: KSR.sl.sl_send_reply: expected (int, str), got (number 404.5, string)", nil},
		{"runtime_error", "testdata/errors.lua:16: attempt to index a non-table object(nil) with key 'field'", nil},
		{"fail_export", "testdata/errors.lua:20: boom from Go", errFake},
		{"crash_export", "testdata/errors.lua:24: KSR.kx.crash: internal error: fake module bug", nil},
		{"runaway", "testdata/errors.lua:28: script budget exhausted", core.ErrBudget},
		{"runaway_pcall", "script budget exhausted", core.ErrBudget},
		{"recurse", "testdata/errors.lua:44: stack overflow", nil},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			e := newEnv(t)
			vm := e.vm(t, "errors.lua")
			err := vm.Call(e.ctx(), tc.fn)
			if err == nil {
				t.Fatal("no error")
			}
			var se *ScriptError
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v is not a *ScriptError", err, err)
			}
			if tc.fn == "runaway_pcall" {
				if !strings.HasPrefix(err.Error(), "testdata/errors.lua:") || !strings.HasSuffix(err.Error(), tc.want) {
					t.Errorf("error = %q, want testdata/errors.lua:N: %s", err, tc.want)
				}
			} else if err.Error() != tc.want {
				t.Errorf("error = %q\nwant    %q", err, tc.want)
			}
			if tc.cause != nil && !errors.Is(err, tc.cause) {
				t.Errorf("errors.Is(err, %v) = false", tc.cause)
			}
			if tc.cause == nil && errors.Is(err, core.ErrBudget) {
				t.Errorf("error wraps ErrBudget but the budget was not hit")
			}
			// The VM survives: the next message runs normally, with a
			// fresh budget.
			if err := vm.Call(e.ctx(), "fine"); err != nil {
				t.Fatalf("next call after the error: %v", err)
			}
			if n := len(e.f.Replies); n == 0 || !strings.HasSuffix(e.f.Replies[n-1], " still fine") {
				t.Errorf("replies = %v", e.f.Replies)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"syntax.lua", "testdata/syntax.lua:4: syntax error at end of file (a block missing its 'end'?)"},
		{"compile_error.lua", "testdata/compile_error.lua:3: no visible label 'nowhere' for <goto> at line 2"},
		{"toplevel_error.lua", "testdata/toplevel_error.lua:3: attempt to index a non-table object(nil) with key 'y'"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			e := newEnv(t)
			src := []byte(readTestdata(t, tc.file))
			_, err := Engine{}.Compile("testdata/"+tc.file, src, e.rt)
			if err == nil || err.Error() != tc.want {
				t.Errorf("Compile error = %v\nwant           %s", err, tc.want)
			}
		})
	}
}

func TestCompileErrorLine(t *testing.T) {
	e := newEnv(t)
	_, err := Engine{}.Compile("x.lua", []byte("function f()\n  local = 1\nend\n"), e.rt)
	if err == nil || !strings.HasPrefix(err.Error(), "x.lua:2:") {
		t.Errorf("Compile error = %v, want x.lua:2:...", err)
	}
}

func TestTopLevelRunaway(t *testing.T) {
	e := newEnv(t)
	_, err := Engine{}.Compile("loop.lua", []byte("while true do end\n"), e.rt)
	if !errors.Is(err, core.ErrBudget) || !strings.HasPrefix(err.Error(), "loop.lua:1:") {
		t.Errorf("Compile error = %v, want loop.lua:1: wrapping ErrBudget", err)
	}
}
