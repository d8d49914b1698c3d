package starlark

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.starlark.net/starlark"

	"kemi/core"
)

// writeTree writes files (path -> content) under a new temp folder and
// returns the folder.
func writeTree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loadFile compiles path with the fake registry and a step budget, and
// builds one VM; the error is Compile's (then the Program is nil) or
// NewVM's.
func loadFile(t testing.TB, path string, steps int) (*fakes, *Program, core.VM, *core.Ctx, error) {
	t.Helper()
	f := &fakes{Maxfwd: 1}
	rt := &core.Runtime{Reg: f.Registry(t), StepBudget: steps, TimeBudget: core.DefaultTimeBudget}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Engine{}.Compile(path, src, rt)
	if err != nil {
		return f, nil, nil, &core.Ctx{RT: rt}, err
	}
	vm, err := p.NewVM()
	if vm != nil {
		t.Cleanup(vm.Close)
	}
	return f, p.(*Program), vm, &core.Ctx{RT: rt}, err
}

// Issue 11: load() reads .star modules next to the script, in folders
// below it too, resolved against the loading file's folder; a callback
// may come from a module; modules are frozen and loaded once per Program,
// shared by every VM, and their KSR calls act for the VM that runs them.
func TestLoad_Modules(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"main.star": `
load("lib.star", "greet", "table", lib_reply = "reply")
load("sub/inner.star", "inner")
ksr_reply_route = lib_reply
def ksr_request_route():
    KSR.info(greet("bob") + " " + inner + " " + str(table["a"]))
`,
		"lib.star": `
KSR.info("lib top level")
table = {"a": 1}
def greet(who):
    KSR.info("greeting " + KSR.kx.whoami())
    return "hello " + who
def reply():
    KSR.info("reply from lib")
`,
		"sub/inner.star": `
load("helper.star", "x")
inner = "inner" + str(x)
`,
		"sub/helper.star": `x = 7`,
	})
	f, p, vm, ctx, err := loadFile(t, filepath.Join(dir, "main.star"), core.DefaultStepBudget)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Has("ksr_reply_route") {
		t.Errorf("Has(ksr_reply_route) = false for a callback loaded from a module")
	}
	f.Names = map[*core.Ctx]string{ctx: "vm1"}
	if err := vm.Call(ctx, "ksr_request_route"); err != nil {
		t.Fatal(err)
	}
	if err := vm.Call(ctx, "ksr_reply_route"); err != nil {
		t.Fatal(err)
	}
	want := "[lib top level greeting vm1 hello bob inner7 1 reply from lib]"
	if fmt.Sprint(f.Infos) != want {
		t.Errorf("infos = %q, want %s", f.Infos, want)
	}
	// The second VM shares the modules: lib's top level does not run
	// again, and its function acts for the second VM's message.
	f.Infos = nil
	vm2, err := p.NewVM()
	if err != nil {
		t.Fatal(err)
	}
	defer vm2.Close()
	ctx2 := &core.Ctx{RT: ctx.RT}
	f.Names[ctx2] = "vm2"
	if err := vm2.Call(ctx2, "ksr_request_route"); err != nil {
		t.Fatal(err)
	}
	if want := "[greeting vm2 hello bob inner7 1]"; fmt.Sprint(f.Infos) != want {
		t.Errorf("second VM: infos = %q, want %s", f.Infos, want)
	}
	if len(p.mods.entries) != 3 {
		t.Errorf("%d modules loaded, want 3", len(p.mods.entries))
	}
	// Frozen: a module's dict cannot be changed by a callback.
	dir = writeTree(t, map[string]string{
		"main.star": "load(\"lib.star\", \"table\")\ndef ksr_request_route():\n    table[\"b\"] = 2\n",
		"lib.star":  "table = {}",
	})
	_, _, vm, ctx, err = loadFile(t, filepath.Join(dir, "main.star"), core.DefaultStepBudget)
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.Call(ctx, "ksr_request_route"); err == nil || !strings.Contains(err.Error(), "frozen") {
		t.Errorf("changing a loaded dict: %v, want a frozen error", err)
	}
}

// Issue 11: VMs built at once share one load of each module (under -race
// this also checks the shared module is used safely).
func TestLoad_ConcurrentVMs(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"main.star": "load(\"lib.star\", \"f\")\ndef ksr_request_route():\n    KSR.info(f())\n",
		"lib.star":  "KSR.info(\"lib loaded\")\ndef f():\n    return \"f\"\n",
	})
	f, p, _, _, err := loadFile(t, filepath.Join(dir, "main.star"), core.DefaultStepBudget)
	if err != nil {
		t.Fatal(err)
	}
	f.Quiet = true
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vm, err := p.NewVM()
			if err != nil {
				t.Error(err)
				return
			}
			defer vm.Close()
			for j := 0; j < 50; j++ {
				if err := vm.Call(&core.Ctx{RT: p.rt}, "ksr_request_route"); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}

// Issue 11: a missing module is an error naming the file tried and the
// folder searched, at the load statement. Compile finds it (so kemi check
// does); a module gone between Compile and a new VM fails that VM.
func TestLoad_MissingFile(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"main.star": "def ksr_request_route():\n    pass\nload(\"nothere.star\", \"x\")\n",
	})
	_, _, _, _, err := loadFile(t, filepath.Join(dir, "main.star"), core.DefaultStepBudget)
	want := fmt.Sprintf("load(\"nothere.star\"): no file %s (searched in %s)", filepath.Join(dir, "nothere.star"), dir)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "main.star:3:") {
		t.Fatalf("NewVM error = %v, want main.star:3: ... %s", err, want)
	}
	dir = writeTree(t, map[string]string{"main.star": "load(\"lib\", \"x\")\ndef ksr_request_route():\n    pass\n", "lib": "x = 1"})
	if _, _, _, _, err := loadFile(t, filepath.Join(dir, "main.star"), core.DefaultStepBudget); err == nil || !strings.Contains(err.Error(), `load("lib"): expected the name of a .star file`) {
		t.Errorf("load of a name without .star: %v", err)
	}
	dir = writeTree(t, map[string]string{"main.star": "load(\"lib.star\", \"x\")\ndef ksr_request_route():\n    pass\n", "lib.star": "x = 1"})
	_, p, _, _, err := loadFile(t, filepath.Join(dir, "main.star"), core.DefaultStepBudget)
	if err != nil {
		t.Fatal(err)
	}
	p.mods.entries = map[string]*modEntry{}
	p.mods.progs = map[string]*starlark.Program{}
	if err := os.Remove(filepath.Join(dir, "lib.star")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.NewVM(); err == nil || !strings.Contains(err.Error(), "load(\"lib.star\"): no file "+filepath.Join(dir, "lib.star")) {
		t.Errorf("NewVM after the module went: %v", err)
	}
}

// Issue 11: a cycle is an error naming the chain, at Compile, and at run
// time too should the files change after Compile.
func TestLoad_Cycle(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"main.star": "load(\"a.star\", \"a\")\ndef ksr_request_route():\n    pass\n",
		"a.star":    "load(\"b.star\", \"b\")\na = 1\n",
		"b.star":    "load(\"a.star\", \"a\")\nb = 1\n",
	})
	_, _, _, _, err := loadFile(t, filepath.Join(dir, "main.star"), core.DefaultStepBudget)
	a, b := filepath.Join(dir, "a.star"), filepath.Join(dir, "b.star")
	want := fmt.Sprintf("b.star:1:6: load(\"a.star\"): cycle: %s -> %s -> %s", a, b, a)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Compile error = %v, want %s", err, want)
	}
	// At run time: b.star gains its load of a.star after Compile.
	if err := os.WriteFile(b, []byte("b = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, p, _, _, err := loadFile(t, filepath.Join(dir, "main.star"), core.DefaultStepBudget)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte("load(\"a.star\", \"a\")\nb = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.mods.entries = map[string]*modEntry{}
	p.mods.progs = map[string]*starlark.Program{}
	want = fmt.Sprintf("load(\"a.star\"): cycle: %s -> %s -> %s", a, b, a)
	if _, err := p.NewVM(); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("NewVM error = %v, want %s", err, want)
	}
	if len(p.mods.entries) != 0 {
		t.Errorf("failed loads left %d entries behind", len(p.mods.entries))
	}
}

// Issue 11: load cannot leave the script's folder tree: not with "..",
// not with an absolute path, not through a symbolic link.
func TestLoad_EscapeRefused(t *testing.T) {
	outside := writeTree(t, map[string]string{"secret.star": "s = 'secret'"})
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(outside, "secret.star"), filepath.Join(dir, "link.star")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, want string }{
		{"../../etc/passwd.star", "outside the script's folder " + dir},
		{"../" + filepath.Base(outside) + "/secret.star", "outside the script's folder " + dir},
		{filepath.Join(outside, "secret.star"), "outside the script's folder " + dir},
		{"link.star", "links to " + filepath.Join(outside, "secret.star")},
	} {
		src := fmt.Sprintf("load(%q, \"s\")\ndef ksr_request_route():\n    pass\n", c.name)
		if err := os.WriteFile(filepath.Join(dir, "main.star"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, _, _, err := loadFile(t, filepath.Join(dir, "main.star"), core.DefaultStepBudget)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("load(%q): %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

// Issue 11: a module's top level runs under the loading VM's step budget:
// a runaway loop in it is stopped, NewVM fails with the budget error, and
// the module is not kept, so a later VM tries again.
func TestLoad_RunawayModuleStoppedByBudget(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"main.star": "load(\"spin.star\", \"x\")\ndef ksr_request_route():\n    pass\n",
		"spin.star": "x = 0\ndef spin():\n    n = 0\n    while True:\n        n += 1\nspin()\n",
	})
	_, p, _, _, err := loadFile(t, filepath.Join(dir, "main.star"), 100_000)
	if !errors.Is(err, core.ErrBudget) {
		t.Fatalf("NewVM with a runaway module: %v, want core.ErrBudget", err)
	}
	if len(p.mods.entries) != 0 {
		t.Errorf("the stopped module was kept")
	}
	if _, err := p.NewVM(); !errors.Is(err, core.ErrBudget) {
		t.Errorf("second NewVM: %v, want the module run (and stopped) again", err)
	}
}

// Issue 11: a syntax error in a module names the module's file and line.
func TestLoad_ModuleSyntaxError(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"main.star": "load(\"bad.star\", \"x\")\ndef ksr_request_route():\n    pass\n",
		"bad.star":  "x = 1\ny = = 2\n",
	})
	_, _, _, _, err := loadFile(t, filepath.Join(dir, "main.star"), core.DefaultStepBudget)
	if err == nil || !strings.Contains(err.Error(), "main.star:1:6: "+filepath.Join(dir, "bad.star")+":2:5: got '=', want primary expression") {
		t.Fatalf("Compile error = %v, want main.star:1:6: bad.star:2:5: ...", err)
	}
}
