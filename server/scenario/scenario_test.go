package scenario

import (
	"kemi/core/loader"
	_ "kemi/engines/all"
	_ "kemi/exports/all"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestScenario_Diff(t *testing.T) {
	got := Diff([]string{"SIP/2.0 100 Trying", "SIP/2.0 404 Not Found"}, []string{"SIP/2.0 100 Trying", "SIP/2.0 200 OK", "BYE x"})
	want := "      SIP/2.0 100 Trying\n    - SIP/2.0 404 Not Found\n    + SIP/2.0 200 OK\n    + BYE x"
	if got != want {
		t.Errorf("Diff:\n%s\nwant\n%s", got, want)
	}
	if got := Diff(nil, nil); !strings.Contains(got, "(nothing)") {
		t.Errorf("Diff of nothing: %q", got)
	}
}

// TestScenario_FakeClockTicks: Advance fires the registered timers every
// 10 ms of the way and ends exactly at the target.
func TestScenario_FakeClockTicks(t *testing.T) {
	var c FakeClock
	var at []int64
	c.OnAdvance(func(now int64) { at = append(at, now) })
	c.Advance(35 * time.Millisecond)
	want := []int64{10e6, 20e6, 30e6, 35e6}
	if len(at) != len(want) || c.Now() != 35e6 {
		t.Fatalf("fired at %v, now %d; want %v", at, c.Now(), want)
	}
	for i := range want {
		if at[i] != want[i] {
			t.Errorf("fired at %v, want %v", at, want)
		}
	}
}

// TestScenario_LoadErrors: a malformed scenario.yaml is refused, naming
// the file, the step and what was expected.
func TestScenario_LoadErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"steps: []\n", "no steps"},
		{"steps:\n  - expect: [x]\n", "step 1: expected send: FILE or wait: DURATION"},
		{"steps:\n  - wait: soon\n", `step 1: wait: expected a duration such as 31s or 500ms, got "soon"`},
		{"steps:\n  - send: missing.sip\n", "step 1: send:"},
		{"steps:\n  - send: m.sip\n    from: nowhere\n", `from: expected IP:PORT, got "nowhere"`},
		{"steps:\n  - send: m.sip\n    expext: [x]\n", "field expext not found"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "m.sip"), []byte("OPTIONS sip:x SIP/2.0\n\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "scenario.yaml"), []byte(c.yaml), 0o644)
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "scenario.yaml") {
			t.Errorf("%q: %v, want an error with %q", c.yaml, err, c.want)
		}
	}
}

// TestScenario_RunConfigExample runs the example folder against the
// shipped Lua registrar in-process, and a copy whose OPTIONS comes from
// another address (from:), which must not change the answer.
func TestScenario_RunConfigExample(t *testing.T) {
	root := filepath.Join("..", "..")
	sc, err := Load(filepath.Join(root, "examples", "scenario-options"))
	if err != nil {
		t.Fatal(err)
	}
	sc.Steps[0].From = "198.51.100.9:5080"
	r := RunConfig(sc, loader.Options{Path: filepath.Join(root, "testdata", "registrar", "kemi-lua.cfg")})
	if r.Failed() || r.Skipped != "" {
		t.Fatalf("failures: %v\nlog:\n%s", r.Failures, r.Log)
	}
	if !strings.Contains(r.Sent, "received=198.51.100.9") {
		t.Errorf("the reply does not show the step's source address:\n%s", r.Sent)
	}
}
