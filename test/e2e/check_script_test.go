package e2e

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Issue 12: `kemi check` resolves the script's KSR calls against the
// modules the config loads, in every engine, and prints every finding
// with file:line(:col), not the first one, then exits 1.
func TestCheckScriptResolvesKSR(t *testing.T) {
	for _, c := range []struct{ cfg, pos string }{
		{"ksr-errors-lua.cfg", "ksr-errors.lua:%d:"},
		{"ksr-errors-js.cfg", "ksr-errors.js:%d:2:"},
		{"ksr-errors-star.cfg", "ksr-errors.star:%d:5:"},
	} {
		t.Run(c.cfg, func(t *testing.T) {
			cmd := exec.Command(kemiBin, "check", "-f", "testdata/errors/"+c.cfg)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want 1; output:\n%s", err, out)
			}
			want := []struct {
				line int
				msg  string
			}{
				{3, `KSR.sl.send_replyy: module sl has no function send_replyy (did you mean "send_reply"?)`},
				{4, `KSR.inof: no core function inof (did you mean "info"?)`},
				{5, `KSR.sl.send_reply: expected 2 arguments (int, str), got 1`},
				{6, `KSR.sl.send_reply: argument 1: expected int (int, str), got the string "OK"`},
				{6, `KSR.sl.send_reply: argument 2: expected str (int, str), got the number 200`},
				{7, `KSR.tm.t_on_failure("ksr_failure_mange"): the script defines no function ksr_failure_mange; the route would never run (did you mean "ksr_failure_manage"?)`},
				{8, `warning: KSR.htable.sht_seti: module htable is not loaded: add loadmodule "htable.so" to the config`},
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != len(want) {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out)
			}
			for i, w := range want {
				pos := strings.Replace(c.pos, "%d", strconv.Itoa(w.line), 1)
				if !strings.Contains(lines[i], pos+" "+w.msg) {
					t.Errorf("line %d: %s\nwant: ...%s %s", i+1, lines[i], pos, w.msg)
				}
			}
		})
	}
}

// Issue 12: a call into a module the config does not load is a warning
// (the script may probe for it first); `kemi check -strict` makes it an
// error.
func TestCheckScriptModuleNotLoadedStrict(t *testing.T) {
	out, err := exec.Command(kemiBin, "check", "-f", "testdata/errors/ksr-warn.cfg").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `ksr-warn.lua:4: warning: KSR.htable.sht_seti: module htable is not loaded: add loadmodule "htable.so"`) ||
		!strings.HasSuffix(strings.TrimSpace(string(out)), "ok") {
		t.Errorf("without -strict: %v\n%s", err, out)
	}
	out, err = exec.Command(kemiBin, "check", "-strict", "-f", "testdata/errors/ksr-warn.cfg").CombinedOutput()
	if err == nil || strings.Contains(string(out), "warning") || !strings.Contains(string(out), `ksr-warn.lua:4: KSR.htable.sht_seti: module htable is not loaded`) {
		t.Errorf("-strict: %v\n%s", err, out)
	}
}
