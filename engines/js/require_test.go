package js

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// loadFile compiles path with the fake registry and a time budget, and
// builds one VM; the error is NewVM's.
func loadFile(t testing.TB, path string, budget time.Duration) (*fakes, *Program, core.VM, *core.Ctx, error) {
	t.Helper()
	f := &fakes{Maxfwd: 1}
	rt := &core.Runtime{Reg: f.Registry(t), StepBudget: core.DefaultStepBudget, TimeBudget: budget}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Engine{}.Compile(path, src, rt)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := p.NewVM()
	if vm != nil {
		t.Cleanup(vm.Close)
	}
	return f, p.(*Program), vm, &core.Ctx{RT: rt}, err
}

// Issue 11: require loads CommonJS modules next to the script: module.exports
// and exports, nested folders resolved against the requiring file's folder,
// ".js" added, one load per VM (shared exports), KSR visible in modules.
func TestRequire_Modules(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"main.js": `
var lib = require("./lib");
var lib2 = require("lib.js");
var inner = require("./sub/inner.js");
function ksr_request_route() {
	KSR.info(lib.greet("bob") + " same=" + (lib === lib2) + " " + inner.name + " count=" + lib.count());
}`,
		"lib.js": `
var n = 0;
exports.greet = function (who) { n++; return "hello " + who; };
exports.count = function () { return n; };
KSR.info("lib loaded " + (this === exports) + " " + typeof module.id + " " + __filename.endsWith("lib.js"));`,
		"sub/inner.js":  `module.exports = { name: "inner+" + require("../sub/helper").x + require("./helper").x };`,
		"sub/helper.js": `exports.x = 7;`,
	})
	f, p, vm, ctx, err := loadFile(t, filepath.Join(dir, "main.js"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.Call(ctx, "ksr_request_route"); err != nil {
		t.Fatal(err)
	}
	want := "[lib loaded true string true hello bob same=true inner+77 count=1]"
	if fmt.Sprint(f.Infos) != want {
		t.Errorf("infos = %q, want %s", f.Infos, want)
	}
	// A second VM runs each module once more (its own globals), from the
	// files the Program compiled once.
	compiled := len(p.mods.progs)
	f.Infos = nil
	vm2, err := p.NewVM()
	if err != nil {
		t.Fatal(err)
	}
	defer vm2.Close()
	if fmt.Sprint(f.Infos) != "[lib loaded true string true]" || len(p.mods.progs) != compiled || compiled != 3 {
		t.Errorf("second VM: infos %q, %d compiled files (was %d), want lib run once more and 3 files compiled once", f.Infos, len(p.mods.progs), compiled)
	}
}

// Issue 11: a missing module is an error naming the file tried and the
// folder searched, at the require's line.
func TestRequire_MissingFile(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"main.js": "function ksr_request_route() {}\nvar x = require(\"./nothere\");\n",
	})
	_, _, _, _, err := loadFile(t, filepath.Join(dir, "main.js"), time.Minute)
	want := fmt.Sprintf("require(\"./nothere\"): no file %s (searched in %s)", filepath.Join(dir, "nothere.js"), dir)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "main.js:2:") {
		t.Fatalf("NewVM error = %v, want main.js:2:...: %s", err, want)
	}
	// Thrown as a JavaScript error: the script can catch it.
	dir = writeTree(t, map[string]string{
		"main.js": "function ksr_request_route() { try { require('gone') } catch (e) { KSR.info('caught ' + (e.message.indexOf('gone.js') >= 0)) } }",
	})
	f, _, vm, ctx, err := loadFile(t, filepath.Join(dir, "main.js"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.Call(ctx, "ksr_request_route"); err != nil || fmt.Sprint(f.Infos) != "[caught true]" {
		t.Fatalf("err=%v infos=%q, want the error caught", err, f.Infos)
	}
}

// Issue 11: a cycle (a requires b, b requires a) ends: the inner require
// gets what a exported so far, as Node.js and Kamailio's duktape loader do.
func TestRequire_Cycle(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"main.js": `var a = require("./a"); function ksr_request_route() { KSR.info(a.done + " " + a.sawB); }`,
		"a.js":    `exports.early = "early"; var b = require("./b"); exports.sawB = b.sawA; exports.done = "a done";`,
		"b.js":    `var a = require("./a"); exports.sawA = a.early + "/" + a.done;`,
	})
	f, _, vm, ctx, err := loadFile(t, filepath.Join(dir, "main.js"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.Call(ctx, "ksr_request_route"); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(f.Infos) != "[a done early/undefined]" {
		t.Errorf("infos = %q, want b to see a's partial exports", f.Infos)
	}
}

// Issue 11: require cannot leave the script's folder tree: not with "..",
// not with an absolute path, not through a symbolic link. An absolute path
// inside the tree is fine.
func TestRequire_EscapeRefused(t *testing.T) {
	outside := writeTree(t, map[string]string{"secret.js": "exports.s = 'secret'"})
	dir := writeTree(t, map[string]string{
		"main.js": "function ksr_request_route() {}\n" +
			"function probe() { try { require(ID); KSR.info('loaded ' + ID) } catch (e) { KSR.info(e.message) } }\n",
		"lib/ok.js": "exports.ok = 1",
	})
	if err := os.Symlink(filepath.Join(outside, "secret.js"), filepath.Join(dir, "link.js")); err != nil {
		t.Fatal(err)
	}
	f, _, vm, ctx, err := loadFile(t, filepath.Join(dir, "main.js"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	run := func(id string) string {
		f.Infos = nil
		if err := vm.(*VM).rt.Set("ID", id); err != nil {
			t.Fatal(err)
		}
		if err := vm.Call(ctx, "probe"); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(f.Infos)
	}
	for _, id := range []string{"../../etc/passwd", "../" + filepath.Base(outside) + "/secret", filepath.Join(outside, "secret.js"), "/etc/passwd", "lib/../../x"} {
		if got := run(id); !strings.Contains(got, "outside the script's folder "+dir) {
			t.Errorf("require(%q): %s, want an error saying it is outside %s", id, got, dir)
		}
	}
	if got := run("./link"); !strings.Contains(got, "links to "+filepath.Join(outside, "secret.js")) || !strings.Contains(got, "outside the script's folder") {
		t.Errorf("require through a link out of the tree: %s", got)
	}
	if got := run(filepath.Join(dir, "lib", "ok.js")); got != "[loaded "+filepath.Join(dir, "lib", "ok.js")+"]" {
		t.Errorf("absolute path inside the tree: %s", got)
	}
	for _, id := range []string{"", "a\x00b"} {
		if got := run(id); !strings.Contains(got, "require(") {
			t.Errorf("require(%q): %s, want an error", id, got)
		}
	}
}

// Issue 11: module code runs under the callback's time budget: a runaway
// loop in a required module's top level is stopped, as a budget error at
// the module's line, and the VM goes on serving. The module is not left
// half-loaded: requiring it again runs it again.
func TestRequire_RunawayModuleStoppedByBudget(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"main.js": `function ksr_request_route() { require("./spin"); }
function ok() { KSR.info("still serving"); }`,
		"spin.js": "var n = 0;\nwhile (true) { n++; }\n",
	})
	f, _, vm, ctx, err := loadFile(t, filepath.Join(dir, "main.js"), 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		start := time.Now()
		err = vm.Call(ctx, "ksr_request_route")
		if !errors.Is(err, core.ErrBudget) || !strings.Contains(err.Error(), "spin.js:2:") {
			t.Fatalf("run %d: error = %v, want the budget error at spin.js:2", i, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("the budget took %v to stop the module", d)
		}
	}
	if err := vm.Call(ctx, "ok"); err != nil || fmt.Sprint(f.Infos) != "[still serving]" {
		t.Fatalf("after the stop: err=%v infos=%q", err, f.Infos)
	}
	// A runaway at the top level of a module the script requires at load
	// fails NewVM with the budget error.
	dir = writeTree(t, map[string]string{
		"main.js": "require('./spin');\nfunction ksr_request_route() {}",
		"spin.js": "for (;;) {}",
	})
	_, _, _, _, err = loadFile(t, filepath.Join(dir, "main.js"), 50*time.Millisecond)
	if !errors.Is(err, core.ErrBudget) {
		t.Fatalf("NewVM with a runaway module: %v, want core.ErrBudget", err)
	}
}

// Issue 11: a syntax error in a module names the module's file and line;
// an exception thrown by a module propagates to the script, catchable,
// and KSR.x.exit in a module ends the callback without an error.
func TestRequire_ModuleErrors(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"main.js": `function ksr_request_route() { require("./bad"); }
function throws() { try { require("./throws") } catch (e) { KSR.info("caught " + e.message) } }
function exits() { require("./exits"); KSR.info("not reached"); }`,
		"bad.js":    "var a = 1;\nvar = ;\n",
		"throws.js": "throw new Error('module failed');",
		"exits.js":  "KSR.x.exit();",
	})
	f, _, vm, ctx, err := loadFile(t, filepath.Join(dir, "main.js"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	err = vm.Call(ctx, "ksr_request_route")
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "bad.js")+":2:") || !strings.Contains(err.Error(), "SyntaxError") {
		t.Errorf("syntax error in a module: %v, want bad.js:2: SyntaxError", err)
	}
	if err := vm.Call(ctx, "throws"); err != nil || fmt.Sprint(f.Infos) != "[caught module failed]" {
		t.Errorf("throwing module: err=%v infos=%q", err, f.Infos)
	}
	f.Infos = nil
	if err := vm.Call(ctx, "exits"); err != nil || len(f.Infos) != 0 || !ctx.Stopped() {
		t.Errorf("KSR.x.exit in a module: err=%v infos=%q stopped=%v", err, f.Infos, ctx.Stopped())
	}
}

// Issue 11: a require made before is answered from the VM's cache, without
// the filesystem (the file may even be gone), so a require inside a
// routing function costs no system call per message.
func TestRequire_CachedNoFilesystem(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"main.js": `function ksr_request_route() { KSR.info(require("./lib").n); }`,
		"lib.js":  `exports.n = "1";`,
	})
	f, _, vm, ctx, err := loadFile(t, filepath.Join(dir, "main.js"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.Call(ctx, "ksr_request_route"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "lib.js")); err != nil {
		t.Fatal(err)
	}
	if err := vm.Call(ctx, "ksr_request_route"); err != nil || fmt.Sprint(f.Infos) != "[1 1]" {
		t.Fatalf("second require after the file went: err=%v infos=%q", err, f.Infos)
	}
	f.Quiet = true
	if n := testing.AllocsPerRun(100, func() { vm.Call(ctx, "ksr_request_route") }); n > 2 {
		t.Errorf("a cached require allocates %v times per callback, want at most goja's own", n)
	}
}

// Issue 11, hostile: ids built from message content that all name one file
// ("./lib", "././lib", ...) do not grow the VM's require cache without
// bound.
func TestRequire_CacheBounded(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"main.js": `function ksr_request_route() { for (var i = 0; i < 3000; i++) { require("./" + "./".repeat(i) + "lib"); } }`,
		"lib.js":  `exports.n = 1;`,
	})
	_, _, vm, ctx, err := loadFile(t, filepath.Join(dir, "main.js"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.Call(ctx, "ksr_request_route"); err != nil {
		t.Fatal(err)
	}
	if n := len(vm.(*VM).required); n > maxRequired {
		t.Errorf("%d cached requires, want at most %d", n, maxRequired)
	}
	if n := len(vm.(*VM).modules); n != 1 {
		t.Errorf("%d modules for one file, want 1", n)
	}
}
