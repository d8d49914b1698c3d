package js

import (
	"fmt"
	"sync"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"

	"kemi/engines/internal/scriptpath"
)

// require: CommonJS modules from files next to the script, as Kamailio's
// app_jsdt offers them since 5.x (duktape's module-node loader).
//
// require(id) resolves id against the folder of the file that calls it
// (the script, or the module calling require), adds ".js" when id does
// not end in it, and loads the file once per VM: its code runs inside
// function(exports, require, module, __filename, __dirname) with this set
// to module.exports, and require returns module.exports. Every later
// require of the same file in that VM returns the same exports. A cycle
// (a requires b, which requires a) gives the inner require the exports a
// has set so far, as Node.js and Kamailio do.
//
// Files are read and compiled once per Program (so once per script load,
// shared by every worker; a reload reads them again) and run once per VM.
// Module code runs inside the callback or top level that called require,
// under its time and memory budgets.
//
// Confinement (engines/internal/scriptpath): a module must lie inside the
// script's folder tree, after symbolic links are resolved. "../x" that
// leaves the tree, and an absolute path outside it, are errors. Kamailio
// resolves any path; kemi does not let a script read other files through
// require (a .js file elsewhere can be linked or copied into the folder).

// modules is a Program's cache of compiled module files.
type modules struct {
	root *scriptpath.Root

	mu    sync.Mutex
	progs map[string]*goja.Program // by resolved path
}

func newModules(script string) *modules {
	return &modules{root: scriptpath.New(script), progs: map[string]*goja.Program{}}
}

// compile returns the compiled module at path (resolved), reading and
// compiling it on first use. The program evaluates to the module function.
func (m *modules) compile(path string) (*goja.Program, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.progs[path]; ok {
		return p, nil
	}
	src, err := scriptpath.Read("require", path)
	if err != nil {
		return nil, err
	}
	// The wrapper opens on the module's first line, so line numbers in
	// errors are the file's own (columns on line 1 are shifted).
	wrapped := "(function (exports, require, module, __filename, __dirname) {" + string(src) + "\n})"
	tree, err := parser.ParseFile(nil, path, wrapped, 0)
	if err != nil {
		return nil, compileError(path, err)
	}
	p, err := goja.CompileAST(tree, false)
	if err != nil {
		return nil, compileError(path, err)
	}
	m.progs[path] = p
	return p, nil
}

// requireFunc is the require of code in folder dir.
func (v *VM) requireFunc(dir string) goja.Value {
	return v.rt.ToValue(func(call goja.FunctionCall) goja.Value {
		id := call.Argument(0)
		if goja.IsUndefined(id) || goja.IsNull(id) {
			panic(v.rt.NewTypeError("require: expected a module path such as \"./lib.js\", got %s", id.String()))
		}
		return v.require(id.String(), dir)
	})
}

// require loads (once per VM) and returns the exports of module id,
// required from folder dir. Errors are thrown into the script; a budget
// stop or KSR.x.exit inside the module unwinds on, uncatchable.
func (v *VM) require(id, dir string) goja.Value {
	// A require that was answered before, from the same folder, is
	// answered again without touching the filesystem: scripts often
	// call require inside the routing functions.
	key := requireKey{dir, id}
	if mod, ok := v.required[key]; ok {
		return mod.Get("exports")
	}
	mods := v.prog.mods
	path, err := mods.root.Resolve("require", id, dir, ".js")
	if err != nil {
		panic(v.rt.NewGoError(err))
	}
	if mod, ok := v.modules[path]; ok {
		if mod.Get("loaded").ToBoolean() {
			v.remember(key, mod)
		}
		return mod.Get("exports")
	}
	prg, err := mods.compile(path)
	if err != nil {
		panic(v.rt.NewGoError(err))
	}
	fnv, err := v.rt.RunProgram(prg)
	if err != nil {
		panic(err)
	}
	fn, ok := goja.AssertFunction(fnv)
	if !ok {
		panic(v.rt.NewGoError(fmt.Errorf("require: %s did not compile to a function", path)))
	}
	exports := v.rt.NewObject()
	mod := v.rt.NewObject()
	mod.Set("id", path)
	mod.Set("filename", path)
	mod.Set("exports", exports)
	mod.Set("loaded", false)
	v.modules[path] = mod
	mdir := mods.root.Folder(path)
	if _, err := fn(exports, exports, v.requireFunc(mdir), mod, v.rt.ToValue(path), v.rt.ToValue(mdir)); err != nil {
		delete(v.modules, path)
		panic(err)
	}
	mod.Set("loaded", true)
	v.remember(key, mod)
	return mod.Get("exports")
}

// maxRequired bounds the VM's cache of answered requires. Many spellings
// name one file ("./lib", "lib.js", "./x/../lib"), so a script that builds
// the name from a message could otherwise grow it without end; past the
// bound, requires are resolved anew each time.
const maxRequired = 1024

func (v *VM) remember(key requireKey, mod *goja.Object) {
	if len(v.required) < maxRequired {
		v.required[key] = mod
	}
}

// requireKey is a require(id) from folder dir.
type requireKey struct{ dir, id string }
