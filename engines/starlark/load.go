package starlark

import (
	"fmt"
	"strings"
	"sync"

	"go.starlark.net/starlark"

	"kemi/engines/internal/scriptpath"
)

// load(): Starlark modules from .star files next to the script.
//
// load("lib.star", "f", g="h") resolves the name against the folder of
// the file holding the load statement (the script, or a module loading
// another), and must name a .star file in the script's folder tree
// (engines/internal/scriptpath: "..", absolute paths and links out of the
// tree are refused). A module is compiled in kemi's dialect, with the same
// predeclared names (KSR, the checking built-ins), and its top level runs
// once per Program, inside the first VM that loads it and under that top
// level's step and memory budgets. Its globals are then frozen and shared
// by every VM: KSR's functions find the calling VM through the thread
// (bind.go), so a module function called from any worker acts on that
// worker's message. A cycle (a.star loads b.star, which loads a.star) is
// an error naming the chain. A module that fails to load is not kept, so
// the next VM tries again. Compile already resolves and compiles every
// module the script loads, so kemi check reports a missing one, a syntax
// error in one, or a cycle.

// loadState is the thread-local of a load in progress.
const (
	loadChainKey = "kemi.loadchain" // []string: files being loaded, outermost first
)

// modules is a Program's loaded .star files.
type modules struct {
	root *scriptpath.Root

	// loadMu lets one thread load at a time: the outermost load of a
	// thread takes it, its nested loads run under it. So an entry that is
	// still loading when looked up can only be this thread's: a cycle.
	loadMu sync.Mutex

	mu      sync.Mutex
	entries map[string]*modEntry         // by resolved path
	progs   map[string]*starlark.Program // compiled modules, by resolved path
}

type modEntry struct {
	globals starlark.StringDict
	loading bool
}

func newModules(script string) *modules {
	return &modules{root: scriptpath.New(script), entries: map[string]*modEntry{}, progs: map[string]*starlark.Program{}}
}

// check resolves and compiles, at Compile time, every module prog loads
// and the modules they load, so kemi check reports a missing module, a
// syntax error in one or a cycle without running anything. file is prog's
// path (the script's for the script), chain the files being checked.
func (m *modules) check(prog *starlark.Program, file string, chain []string) error {
	from := m.root.Dir
	if len(chain) > 0 {
		from = m.root.Folder(file)
	}
	for i := 0; i < prog.NumLoads(); i++ {
		name, pos := prog.Load(i)
		if !strings.HasSuffix(name, ".star") {
			return fmt.Errorf("%s: load(%q): expected the name of a .star file", pos, name)
		}
		path, err := m.root.Resolve("load", name, from, ".star")
		if err != nil {
			return fmt.Errorf("%s: %w", pos, err)
		}
		for _, c := range chain {
			if c == path {
				return fmt.Errorf("%s: load(%q): cycle: %s -> %s", pos, name, strings.Join(chain, " -> "), path)
			}
		}
		sub, err := m.compile(path)
		if err != nil {
			return fmt.Errorf("%s: %w", pos, err)
		}
		if err := m.check(sub, path, append(chain[:len(chain):len(chain)], path)); err != nil {
			return err
		}
	}
	return nil
}

// compile returns the compiled module at path (resolved), compiling it in
// kemi's dialect on first use.
func (m *modules) compile(path string) (*starlark.Program, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.progs[path]; ok {
		return p, nil
	}
	src, err := scriptpath.Read("load", path)
	if err != nil {
		return nil, err
	}
	f, err := fileOptions.Parse(path, src, 0)
	if err != nil {
		return nil, compileError(err)
	}
	rewriteFile(f)
	p, err := starlark.FileProgram(f, isPredeclared)
	if err != nil {
		return nil, compileError(err)
	}
	m.progs[path] = p
	return p, nil
}

// load is the thread's Load: it returns the frozen globals of module.
func (v *VM) load(th *starlark.Thread, module string) (starlark.StringDict, error) {
	mods := v.prog.mods
	from := mods.root.Dir
	if th.CallStackDepth() > 0 {
		if f := th.CallFrame(0).Pos.Filename(); f != "" && f != v.prog.path {
			from = mods.root.Folder(f)
		}
	}
	if !strings.HasSuffix(module, ".star") {
		return nil, fmt.Errorf("load(%q): expected the name of a .star file", module)
	}
	path, err := mods.root.Resolve("load", module, from, ".star")
	if err != nil {
		return nil, err
	}
	chain, _ := th.Local(loadChainKey).([]string)
	if len(chain) == 0 {
		mods.loadMu.Lock()
		defer mods.loadMu.Unlock()
	}
	mods.mu.Lock()
	e := mods.entries[path]
	if e != nil && e.loading {
		mods.mu.Unlock()
		return nil, fmt.Errorf("load(%q): cycle: %s -> %s", module, strings.Join(chain, " -> "), path)
	}
	if e != nil {
		mods.mu.Unlock()
		return e.globals, nil
	}
	e = &modEntry{loading: true}
	mods.entries[path] = e
	mods.mu.Unlock()

	th.SetLocal(loadChainKey, append(chain, path))
	globals, err := v.initModule(th, path)
	th.SetLocal(loadChainKey, chain)

	mods.mu.Lock()
	defer mods.mu.Unlock()
	if err != nil {
		delete(mods.entries, path)
		return nil, err
	}
	globals.Freeze()
	e.globals, e.loading = globals, false
	return globals, nil
}

// initModule runs the top level of the module at path on th.
func (v *VM) initModule(th *starlark.Thread, path string) (starlark.StringDict, error) {
	prog, err := v.prog.mods.compile(path)
	if err != nil {
		return nil, err
	}
	return prog.Init(th, v.predeclared)
}
