package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestKemiTest_ExampleScenarioPasses runs the real binary's `kemi test`
// (issue 12) on the example scenario folder against each shipped
// registrar config: it passes, exit 0.
func TestKemiTest_ExampleScenarioPasses(t *testing.T) {
	for _, cfg := range []string{"kemi-lua.cfg", "kemi-js.cfg", "kemi-star.cfg"} {
		out, err := exec.Command(kemiBin, "test", "-f", repo("testdata/registrar/"+cfg), repo("examples/scenario-options")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "ok   ") {
			t.Errorf("kemi test -f %s: %v\n%s", cfg, err, out)
		}
	}
}

// TestKemiTest_BrokenExpectationExits1 copies the example and breaks one
// expectation and one log line: kemi test exits 1 and prints a diff
// naming the step, what was expected and what was sent.
func TestKemiTest_BrokenExpectationExits1(t *testing.T) {
	dir := t.TempDir()
	src := repo("examples/scenario-options")
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "scenario.yaml" {
			s := strings.Replace(string(b), `"SIP/2.0 483 Too Many Hops"`, `"SIP/2.0 404 Not Found"`, 1)
			if s == string(b) {
				t.Fatal("the example no longer expects 483; update this test")
			}
			b = []byte(s + "  - send: options.sip\n    expect: [\"SIP/2.0 200 Keepalive\"]\n    log: [\"no such line\"]\n")
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(kemiBin, "test", "-f", repo("testdata/registrar/kemi-lua.cfg"), dir).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("kemi test with a broken expectation: %v, want exit status 1\n%s", err, out)
	}
	for _, want := range []string{
		"FAIL " + dir,
		"step 3 (hops.sip): sent messages differ (- expected, + sent):",
		"- SIP/2.0 404 Not Found",
		"+ SIP/2.0 483 Too Many Hops",
		`step 4 (options.sip): log lacks "no such line"`,
		"1 failed",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "step 1 ") {
		t.Errorf("a step that passed is reported:\n%s", out)
	}
}

// TestKemiTest_ProjectScenariosThroughBinary: without -f, a folder that
// carries its own scripts runs in every engine, as test/scenarios runs
// it; tm-fr-timer's wait steps fire fr_timer on the fake clock.
func TestKemiTest_ProjectScenariosThroughBinary(t *testing.T) {
	out, err := exec.Command(kemiBin, "test", repo("testdata/scripts/tm-fr-timer"), repo("testdata/scripts/seed")).CombinedOutput()
	if err != nil {
		t.Fatalf("kemi test: %v\n%s", err, out)
	}
	for _, e := range []string{"(lua)", "(jsdt)", "(starlark)"} {
		if strings.Count(string(out), "ok   ") != 6 || !strings.Contains(string(out), e) {
			t.Errorf("output lacks six ok lines or %s:\n%s", e, out)
		}
	}
}
