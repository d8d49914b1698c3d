// Package stubs runs the editor stubs kemigen writes to docs/stubs through
// the tools they are for, on the project's own registrar scripts (issue
// 12): luacheck with .luacheckrc on testdata/registrar/kemi.lua, and
// TypeScript's tsc --checkJs with KSR.d.ts on testdata/registrar/kemi.js.
// A misspelled KSR call must fail both.
//
// luacheck is Debian's lua-check package; tsc is npm's typescript, pinned
// in package-lock.json here and installed into node_modules by
// scripts/deps.sh (make test runs it). Without a tool the tests skip,
// except under CI=true, where they fail.
package stubs

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// need finds a tool: path when it is a file, else a command on PATH.
func need(t *testing.T, what, path, install string) string {
	t.Helper()
	if filepath.IsAbs(path) {
		if _, err := os.Stat(path); err == nil {
			return path
		}
	} else if p, err := exec.LookPath(path); err == nil {
		return p
	}
	msg := what + " is not installed (" + install + "; scripts/deps.sh installs it)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func luacheck(t *testing.T, script string) (string, error) {
	t.Helper()
	bin := need(t, "luacheck", "luacheck", "Debian package lua-check")
	cfg := filepath.Join(repoRoot(), "docs", "stubs", ".luacheckrc")
	cmd := exec.Command(bin, "--config", cfg, "--no-color", "--codes", "--formatter", "plain", script)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func tsc(t *testing.T, script string) (string, error) {
	t.Helper()
	need(t, "node", "node", "Debian package nodejs")
	bin := need(t, "tsc", filepath.Join(repoRoot(), "test", "stubs", "node_modules", "typescript", "bin", "tsc"),
		"npm ci in test/stubs")
	dts := filepath.Join(repoRoot(), "docs", "stubs", "KSR.d.ts")
	cfg := map[string]any{
		"compilerOptions": map[string]any{
			"allowJs": true, "checkJs": true, "noEmit": true,
			"target": "es2017", "lib": []string{"es2017"}, "types": []string{},
		},
		"files": []string{dts, script},
	}
	b, _ := json.Marshal(cfg)
	p := filepath.Join(t.TempDir(), "tsconfig.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", bin, "-p", p, "--pretty", "false")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func registrar(name string) string {
	return filepath.Join(repoRoot(), "testdata", "registrar", name)
}

// misspelled copies a registrar script with its first KSR.sl.sl_send_reply
// call renamed KSR.sl.send_replyy.
func misspelled(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(registrar(name))
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	if !strings.Contains(src, "KSR.sl.sl_send_reply(") {
		t.Fatalf("%s has no KSR.sl.sl_send_reply call to misspell", name)
	}
	src = strings.Replace(src, "KSR.sl.sl_send_reply(", "KSR.sl.send_replyy(", 1)
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStubs_LuacheckPassesRegistrar(t *testing.T) {
	if out, err := luacheck(t, registrar("kemi.lua")); err != nil {
		t.Errorf("luacheck with docs/stubs/.luacheckrc on testdata/registrar/kemi.lua: %v\n%s", err, out)
	}
}

func TestStubs_TscPassesRegistrar(t *testing.T) {
	if out, err := tsc(t, registrar("kemi.js")); err != nil {
		t.Errorf("tsc --checkJs with docs/stubs/KSR.d.ts on testdata/registrar/kemi.js: %v\n%s", err, out)
	}
}

func TestStubs_MisspelledCallFailsLuacheck(t *testing.T) {
	out, err := luacheck(t, misspelled(t, "kemi.lua"))
	if err == nil || !strings.Contains(out, "send_replyy") {
		t.Errorf("luacheck passed KSR.sl.send_replyy (err %v):\n%s", err, out)
	}
}

func TestStubs_MisspelledCallFailsTsc(t *testing.T) {
	out, err := tsc(t, misspelled(t, "kemi.js"))
	if err == nil || !strings.Contains(out, "send_replyy") {
		t.Errorf("tsc passed KSR.sl.send_replyy (err %v):\n%s", err, out)
	}
}

// TestStubs_GetterTypedByWhatItReturns: a getter that always gives a
// string is typed string (its result has string methods), one that may
// give null says so, and a value getter is a number.
func TestStubs_GetterTypedByWhatItReturns(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(), "docs", "stubs", "KSR.d.ts"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\tgete_ua(): string;",
		"\tget_ua(): string|null;",
		"\tget_srcport(): number;",
		"\tget(name: string): number|string|null;",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("KSR.d.ts lacks %q", want)
		}
	}
	// And tsc holds a script to it: a number getter has no string methods.
	p := filepath.Join(t.TempDir(), "bad.js")
	src := "function ksr_request_route() {\n\tvar p = KSR.kx.get_srcport();\n\tif (p.indexOf(\"5\") >= 0) { KSR.info(\"x\"); }\n}\n"
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := tsc(t, p); err == nil || !strings.Contains(out, "indexOf") {
		t.Errorf("tsc let a number getter's result be used as a string (err %v):\n%s", err, out)
	}
}
