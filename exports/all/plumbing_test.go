package all

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSpec_NoHandWrittenRegistration covers issue 12: what a module
// registers (pseudo-variables, start and stop hooks, reply hooks) is named
// in its module.yaml and registered by the generated zz_kemi.go, and module
// state goes through core.MsgState and core.RuntimeState. No module's own
// Go code calls the registration functions, nor keeps state under a string
// key or in a map keyed by runtime.
func TestSpec_NoHandWrittenRegistration(t *testing.T) {
	banned := regexp.MustCompile(`core\.RegisterPV(Setter)?\(|core\.OnStart\(|\brt\.OnStop\(|\.RT\.OnStop\(|\.State\("|sync\.Map // \*core\.Runtime`)
	files, err := filepath.Glob("../*/*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || filepath.Base(f) == "zz_kemi.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(src), "\n") {
			if trimmed := strings.TrimSpace(line); strings.HasPrefix(trimmed, "//") {
				continue
			}
			if m := banned.FindString(line); m != "" {
				t.Errorf("%s:%d: %s by hand; declare it in module.yaml or use core.MsgState/RuntimeState", f, i+1, m)
			}
		}
	}
}

// TestSpec_CorePVsNotRegisteredInCore covers issue 12: the core package
// registers no pseudo-variable of its own; $ci, $rm, $ru ... come from the
// core module's module.yaml (exports/kcore) like every module's.
func TestSpec_CorePVsNotRegisteredInCore(t *testing.T) {
	call := regexp.MustCompile(`\bRegisterPV(Setter)?\(`)
	files, err := filepath.Glob("../../core/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no core files: %v", err)
	}
	for _, f := range files {
		// registry.go registers what a ModuleSpec declares; pv.go defines
		// the registration functions.
		if strings.HasSuffix(f, "_test.go") || filepath.Base(f) == "registry.go" || filepath.Base(f) == "pv.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(src), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "//") {
				continue
			}
			if call.MatchString(line) {
				t.Errorf("%s:%d: the core registers a pseudo-variable by hand; declare it in exports/kcore/module.yaml", f, i+1)
			}
		}
	}
}

// TestCleanup_NoPrivateCaseFolds covers issue 12: ASCII case-insensitive
// comparison is sip.EqualFold (HasPrefixFold, ContainsFold, ...); modules
// and the core keep no copies of their own.
func TestCleanup_NoPrivateCaseFolds(t *testing.T) {
	def := regexp.MustCompile(`^func (\w*[Ff]old\w*|lower(ASCII)?)[\[(]`)
	var files []string
	for _, pat := range []string{"../*/*.go", "../../core/*.go", "../../core/*/*.go"} {
		fs, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, fs...)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		for i, line := range strings.Split(string(src), "\n") {
			if m := def.FindString(line); m != "" {
				t.Errorf("%s:%d: %s: use sip.EqualFold and its kin", f, i+1, m)
			}
		}
	}
}
