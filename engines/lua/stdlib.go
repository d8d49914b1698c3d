package lua

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"unsafe"

	glua "github.com/yuin/gopher-lua"

	"kemi/core"
)

// Lua's standard library, as Kamailio's app_lua offers it (issue 11).
//
// Real scripts start with require, package.path, debug.getinfo, os.getenv
// and io.open, so kemi opens every library Lua 5.1 has: base (with load,
// loadstring, loadfile, dofile, require, module), package, string, table,
// math, io, os, debug and coroutine. File and process access through io
// and os is the script author's own, as in Kamailio. What kemi changes:
//
//   - os.exit raises a script error instead of stopping the server.
//   - require searches the script's folder first (?.lua, ?/init.lua), then
//     package.path; C modules cannot be loaded (gopher-lua runs Lua only),
//     and the error for a missing module lists every path searched.
//   - Code loaded at run time (require, load, loadstring, loadfile, dofile)
//     runs under the message's step and memory budgets, and compiling it
//     is charged to the memory budget.
//   - Coroutines count their instructions and allocations against the
//     same budgets as the callback that resumes them.
//   - debug.setmetatable, debug.getmetatable and debug.setfenv keep KSR and
//     sr read-only; gopher-lua has no hooks, so debug.sethook logs once
//     that the hook is ignored, and no hook can touch the step budget.
//   - collectgarbage does not force a collection (a stop-the-world GC per
//     message would stall every worker); "count" reports the KiB the
//     message has allocated so far by the memory budget's count.

// luaPathDefault is Lua 5.1's package.path on Debian (liblua5.1, which
// Kamailio's app_lua links), used when LUA_PATH is not set.
const luaPathDefault = "./?.lua;/usr/local/share/lua/5.1/?.lua;/usr/local/share/lua/5.1/?/init.lua;" +
	"/usr/local/lib/lua/5.1/?.lua;/usr/local/lib/lua/5.1/?/init.lua;/usr/share/lua/5.1/?.lua;/usr/share/lua/5.1/?/init.lua"

// Memory charged for code compiled at run time: gopher-lua's parser and
// compiler allocate about 30 KB for the smallest chunk and up to some
// ninety times the source (measured in TestLuaStdlib_CompileCostCovers).
const (
	compileBase    = 32 << 10
	compilePerByte = 128
)

// threadCost is charged for each coroutine: gopher-lua gives a coroutine
// an LState of its own with the VM's registry (5,120 slots) and call stack
// (256 frames), about 110 KB (TestLuaStdlib_CoroutineCostCovers).
const threadCost = 128 << 10

func compileCost(n int) int { return compileBase + compilePerByte*n }

// openStdlib opens the libraries beyond base, string, table and math and
// installs kemi's versions of the functions it changes. It runs before
// wrapBuiltins, which wraps os.date.
func (vm *VM) openStdlib() {
	L := vm.L
	for _, lib := range []struct {
		name string
		open glua.LGFunction
	}{{glua.LoadLibName, glua.OpenPackage}, {glua.IoLibName, glua.OpenIo},
		{glua.OsLibName, glua.OpenOs}, {glua.DebugLibName, glua.OpenDebug},
		{glua.CoroutineLibName, glua.OpenCoroutine}} {
		L.Push(L.NewFunction(lib.open))
		L.Push(glua.LString(lib.name))
		L.Call(1, 0)
	}
	g := L.G.Global
	vm.fileChunks = map[string]bool{vm.p.path: true}

	// package and require.
	if pkg, ok := g.RawGetString(glua.LoadLibName).(*glua.LTable); ok {
		vm.pkg = pkg
		path := os.Getenv("LUA_PATH")
		if path == "" {
			path = luaPathDefault
		}
		path = strings.ReplaceAll(path, ";;", ";"+luaPathDefault+";")
		pkg.RawSetString("path", glua.LString(path))
		pkg.RawSetString("cpath", glua.LString(""))
		pkg.RawSetString("loadlib", L.NewFunction(func(L *glua.LState) int {
			L.RaiseError("package.loadlib: kemi's Lua (gopher-lua) cannot load C libraries")
			return 0
		}))
		// package.loaders is also the registry's _LOADERS: fill it in place.
		if loaders, ok := pkg.RawGetString("loaders").(*glua.LTable); ok {
			preload := loaders.RawGetInt(1)
			for n := loaders.Len(); n > 0; n-- {
				loaders.RawSetInt(n, glua.LNil)
			}
			loaders.RawSetInt(1, preload)
			loaders.RawSetInt(2, L.NewFunction(vm.searchLua))
			loaders.RawSetInt(3, L.NewFunction(searchC))
		}
	}
	g.RawSetString("require", L.NewFunction(vm.require))
	if f := gfunc(g, "module"); f != nil {
		g.RawSetString("module", L.NewFunction(func(L *glua.LState) int {
			name := L.CheckString(1)
			root, _, _ := strings.Cut(name, ".")
			if root == "KSR" || root == "sr" {
				L.RaiseError("module(%q): %s is read-only", name, root)
			}
			return f(L)
		}))
	}

	// Loading code.
	g.RawSetString("load", L.NewFunction(vm.load))
	g.RawSetString("loadstring", L.NewFunction(vm.loadString))
	g.RawSetString("loadfile", L.NewFunction(vm.loadFileFn))
	g.RawSetString("dofile", L.NewFunction(vm.doFile))
	g.RawSetString("collectgarbage", L.NewFunction(vm.collectGarbage))
	g.RawSetString("_printregs", glua.LNil)

	if osT, ok := g.RawGetString(glua.OsLibName).(*glua.LTable); ok {
		osT.RawSetString("exit", L.NewFunction(func(L *glua.LState) int {
			L.RaiseError("os.exit: not allowed: it would stop the server (end the route with KSR.x.exit() or KSR.x.drop())")
			return 0
		}))
	}
	if dbg, ok := g.RawGetString(glua.DebugLibName).(*glua.LTable); ok {
		vm.guardDebug(dbg)
	}
	if co, ok := g.RawGetString(glua.CoroutineLibName).(*glua.LTable); ok {
		for _, name := range []string{"create", "wrap"} {
			if f := gfunc(co, name); f != nil {
				co.RawSetString(name, L.NewFunction(vm.newCoroutine(f)))
			}
		}
	}
	vm.guardIO(g)
}

// scriptDir is the folder require searches first.
func (vm *VM) scriptDir() string { return filepath.Dir(vm.p.path) }

// searchPatterns is the script's folder, then package.path, without
// repeats.
func (vm *VM) searchPatterns(L *glua.LState) []string {
	dir := vm.scriptDir()
	pats := []string{filepath.Join(dir, "?.lua"), filepath.Join(dir, "?", "init.lua")}
	if dir == "." {
		pats = []string{"./?.lua", "./?/init.lua"}
	}
	// The package table itself, as Lua 5.1's loaders read it, even if
	// the global package is replaced.
	path, ok := vm.pkg.RawGetString("path").(glua.LString)
	if !ok {
		L.RaiseError("require: package.path must be a string")
	}
	seen := map[string]bool{pats[0]: true, pats[1]: true}
	for _, p := range strings.Split(string(path), ";") {
		if p != "" && !seen[p] {
			seen[p] = true
			pats = append(pats, p)
		}
	}
	return pats
}

// searchLua is the loader for Lua files: it returns the compiled module,
// or the list of files it tried, in Lua 5.1's words.
func (vm *VM) searchLua(L *glua.LState) int {
	name := L.CheckString(1)
	file := strings.ReplaceAll(name, ".", string(os.PathSeparator))
	var tried strings.Builder
	for _, pat := range vm.searchPatterns(L) {
		p := strings.ReplaceAll(pat, "?", file)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			fn, err := vm.compileFile(L, p)
			if err != nil {
				L.RaiseError("error loading module '%s' from file '%s':\n\t%s", name, p, err.Error())
			}
			L.Push(fn)
			return 1
		}
		tried.WriteString("\n\tno file '" + p + "'")
	}
	L.Push(glua.LString(tried.String()))
	return 1
}

// searchC stands where Lua's C loaders are: it only says why none is
// found.
func searchC(L *glua.LState) int {
	L.Push(glua.LString("\n\tno C module: package.cpath and C modules (.so) are not supported by kemi's Lua (gopher-lua runs Lua code only)"))
	return 1
}

// requireLoading marks a module whose loading is in progress, to catch a
// require loop.
var requireLoading = &glua.LUserData{Value: "loading"}

// require is Lua 5.1's: package.loaded first, then each of
// package.loaders; the module runs once per VM and its result is kept in
// package.loaded.
func (vm *VM) require(L *glua.LState) int {
	name := L.CheckString(1)
	reg := L.Get(glua.RegistryIndex).(*glua.LTable)
	loaded, ok := reg.RawGetString("_LOADED").(*glua.LTable)
	if !ok {
		L.RaiseError("require: package.loaded must be a table")
	}
	if v := loaded.RawGetString(name); glua.LVAsBool(v) {
		if v == requireLoading {
			L.RaiseError("loop or previous error loading module '%s'", name)
		}
		L.Push(v)
		return 1
	}
	loaders, ok := vm.pkg.RawGetString("loaders").(*glua.LTable)
	if !ok {
		L.RaiseError("require: package.loaders must be a table")
	}
	var msg strings.Builder
	var mod glua.LValue
	for i := 1; ; i++ {
		loader := loaders.RawGetInt(i)
		if loader == glua.LNil {
			L.RaiseError("module '%s' not found:%s", name, msg.String())
		}
		L.Push(loader)
		L.Push(glua.LString(name))
		L.Call(1, 1)
		r := L.Get(-1)
		L.Pop(1)
		if f, ok := r.(*glua.LFunction); ok {
			mod = f
			break
		}
		if s, ok := r.(glua.LString); ok {
			if !strings.HasPrefix(string(s), "\n") {
				msg.WriteString("\n\t")
			}
			msg.WriteString(string(s))
		}
	}
	loaded.RawSetString(name, requireLoading)
	L.Push(mod)
	L.Push(glua.LString(name))
	L.Call(1, 1)
	r := L.Get(-1)
	L.Pop(1)
	if r != glua.LNil {
		loaded.RawSetString(name, r)
	}
	if loaded.RawGetString(name) == requireLoading {
		loaded.RawSetString(name, glua.LTrue)
	}
	L.Push(loaded.RawGetString(name))
	return 1
}

// compile compiles src under chunkname, charging the compiler's work to
// the memory budget before it starts.
func (vm *VM) compile(L *glua.LState, src []byte, chunkname string) (*glua.LFunction, error) {
	cost := compileCost(len(src))
	if !vm.budget.fits(cost) {
		vm.memError(L, "compiling "+chunkname, cost)
	}
	vm.budget.charge(L, cost)
	return L.Load(bytes.NewReader(src), chunkname)
}

// compileFile reads and compiles a Lua file; debug.getinfo reports its
// source as "@path", as Lua does for files.
func (vm *VM) compileFile(L *glua.LState, path string) (*glua.LFunction, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(src) > 0 && src[0] == '#' { // a #! line, as Lua skips it
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			src = append(make([]byte, 0, len(src)), src[i:]...)
		} else {
			src = nil
		}
	}
	fn, err := vm.compile(L, src, path)
	if err == nil {
		vm.fileChunks[path] = true
	}
	return fn, err
}

// chunkID is how Lua 5.1 names a chunk loaded from a string in messages:
// "=name" and "@name" stand for name, anything else for [string "..."]
// with its first line.
func chunkID(name string) string {
	if strings.HasPrefix(name, "=") || strings.HasPrefix(name, "@") {
		return name[1:]
	}
	line, _, cut := strings.Cut(name, "\n")
	if len(line) > 45 {
		line, cut = line[:45], true
	}
	if cut {
		line += "..."
	}
	return `[string "` + line + `"]`
}

// loadChunk is load and loadstring once the source is known: the function,
// or nil and the error message.
func (vm *VM) loadChunk(L *glua.LState, src, chunkname string) int {
	fn, err := vm.compile(L, []byte(src), chunkID(chunkname))
	if err != nil {
		L.Push(glua.LNil)
		L.Push(glua.LString(err.Error()))
		return 2
	}
	L.Push(fn)
	return 1
}

// load(func [, chunkname]) as in Lua 5.1, and load(string [, chunkname])
// as later Luas and LuaJIT also take it.
func (vm *VM) load(L *glua.LState) int {
	if s, ok := L.Get(1).(glua.LString); ok {
		return vm.loadChunk(L, string(s), L.OptString(2, string(s)))
	}
	reader := L.CheckFunction(1)
	chunkname := L.OptString(2, "=(load)")
	var b strings.Builder
	for {
		L.Push(reader)
		L.Call(0, 1)
		r := L.Get(-1)
		L.Pop(1)
		if r == glua.LNil {
			break
		}
		s, ok := r.(glua.LString)
		if !ok {
			if n, isNum := r.(glua.LNumber); isNum {
				s, ok = glua.LString(n.String()), true
			}
		}
		if !ok {
			L.Push(glua.LNil)
			L.Push(glua.LString("reader function must return a string"))
			return 2
		}
		if len(s) == 0 {
			break
		}
		if !vm.budget.fits(b.Len() + len(s) + compileCost(b.Len()+len(s))) {
			vm.memError(L, "load", b.Len()+len(s))
		}
		vm.budget.charge(L, len(s))
		b.WriteString(string(s))
	}
	return vm.loadChunk(L, b.String(), chunkname)
}

func (vm *VM) loadString(L *glua.LState) int {
	s := L.CheckString(1)
	return vm.loadChunk(L, s, L.OptString(2, s))
}

// loadFileFn is loadfile(path). Lua reads stdin without a path; a server
// has none to give.
func (vm *VM) loadFileFn(L *glua.LState) int {
	if L.GetTop() < 1 || L.Get(1) == glua.LNil {
		L.Push(glua.LNil)
		L.Push(glua.LString("loadfile: a file name is required (kemi has no stdin to read)"))
		return 2
	}
	fn, err := vm.compileFile(L, L.CheckString(1))
	if err != nil {
		L.Push(glua.LNil)
		L.Push(glua.LString(err.Error()))
		return 2
	}
	L.Push(fn)
	return 1
}

func (vm *VM) doFile(L *glua.LState) int {
	if L.GetTop() < 1 || L.Get(1) == glua.LNil {
		L.RaiseError("dofile: a file name is required (kemi has no stdin to read)")
	}
	fn, err := vm.compileFile(L, L.CheckString(1))
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	top := L.GetTop()
	L.Push(fn)
	L.Call(0, glua.MultRet)
	return L.GetTop() - top
}

// collectGarbage answers without collecting: "count" is the KiB this
// message has allocated by the memory budget's count (Lua's is the heap,
// which in kemi all workers share); the rest return 0.
func (vm *VM) collectGarbage(L *glua.LState) int {
	opt := L.OptString(1, "collect")
	switch opt {
	case "collect", "stop", "restart", "step", "setpause", "setstepmul":
		L.Push(glua.LNumber(0))
	case "count":
		used := vm.mem - vm.budget.mem
		if used < 0 {
			used = 0
		}
		L.Push(glua.LNumber(float64(used) / 1024))
	default:
		L.ArgError(1, "invalid option '"+opt+"'")
	}
	return 1
}

// newCoroutine wraps coroutine.create or wrap: the new coroutine counts
// against the VM's budgets (threadBudget, budget.go), and its LState is
// charged to the memory budget.
func (vm *VM) newCoroutine(f glua.LGFunction) glua.LGFunction {
	return func(L *glua.LState) int {
		L.CheckFunction(1)
		vm.budget.charge(L, threadCost)
		// With no context on L, NewThread leaves the coroutine's empty
		// rather than deriving one (which would poll the budget from a Go
		// frame and build a cancel context to throw away).
		prev := L.RemoveContext()
		n := f(L)
		if prev != nil {
			L.SetContext(prev)
		}
		var th *glua.LState
		switch v := L.Get(-1).(type) {
		case *glua.LState:
			th = v
		case *glua.LFunction: // wrap: the coroutine is the closure's upvalue
			if len(v.Upvalues) > 0 {
				th, _ = v.Upvalues[0].Value().(*glua.LState)
			}
		}
		if th == nil {
			L.RaiseError("coroutine: internal error: no coroutine to budget")
		}
		th.SetContext(&threadBudget{b: &vm.budget, L: th})
		return n
	}
}

// guardDebug keeps the debug library from undoing the sandbox: KSR and sr
// stay read-only, and a hook cannot replace the step budget.
func (vm *VM) guardDebug(dbg *glua.LTable) {
	L := vm.L
	if f := gfunc(dbg, "setmetatable"); f != nil {
		dbg.RawSetString("setmetatable", L.NewFunction(func(L *glua.LState) int {
			switch v := L.Get(1).(type) {
			case *glua.LTable:
				if vm.readOnly(v) {
					vm.raiseReadOnly(L, v, nil, "debug.setmetatable")
				}
			case glua.LString:
				L.RaiseError("debug.setmetatable: the string metatable is read-only")
			}
			if mt, ok := L.Get(2).(*glua.LTable); ok {
				if t, ok := mt.RawGetString("__newindex").(*glua.LTable); ok && vm.readOnly(t) {
					vm.raiseReadOnly(L, t, nil, "debug.setmetatable with __newindex")
				}
			}
			return f(L)
		}))
	}
	if f := gfunc(dbg, "getmetatable"); f != nil {
		// The read-only marker and the string metatable are handed out as
		// getmetatable does: their __metatable field.
		dbg.RawSetString("getmetatable", L.NewFunction(func(L *glua.LState) int {
			mt, ok := L.GetMetatable(L.Get(1)).(*glua.LTable)
			if ok {
				if p := mt.RawGetString("__metatable"); p != glua.LNil && (mt == vm.roMeta || L.Get(1).Type() == glua.LTString) {
					L.Push(p)
					return 1
				}
			}
			return f(L)
		}))
	}
	if f := gfunc(dbg, "setfenv"); f != nil {
		dbg.RawSetString("setfenv", L.NewFunction(func(L *glua.LState) int {
			if t, ok := L.Get(2).(*glua.LTable); ok && vm.readOnly(t) {
				vm.raiseReadOnly(L, t, nil, "debug.setfenv")
			}
			return f(L)
		}))
	}
	dbg.RawSetString("sethook", L.NewFunction(func(L *glua.LState) int {
		// gopher-lua has no hooks. Kamailio's example script sets one to
		// trace execution, a diagnostic: the call is accepted, the hook
		// never runs (gethook says so), and the log says it once per
		// script. No hook can stand in for the step budget either way.
		for i := 1; i <= L.GetTop(); i++ {
			if _, ok := L.Get(i).(*glua.LFunction); ok {
				vm.p.hookNotice.Do(func() {
					if vm.p.rt.Log != nil {
						vm.p.rt.Log.Log(core.LWarn, nil, fmt.Sprintf(
							"%s debug.sethook: hooks are not supported by kemi's Lua (gopher-lua has none); the hook is ignored", L.Where(1)))
					}
				})
				break
			}
		}
		return 0
	}))
	dbg.RawSetString("gethook", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LNil)
		return 1
	}))
	if f := gfunc(dbg, "getinfo"); f != nil {
		// Lua names a file chunk's source "@path" and adds short_src;
		// scripts find their own folder that way.
		dbg.RawSetString("getinfo", L.NewFunction(func(L *glua.LState) int {
			n := f(L)
			if t, ok := L.Get(-1).(*glua.LTable); ok && n == 1 {
				if src, ok := t.RawGetString("source").(glua.LString); ok {
					t.RawSetString("short_src", src)
					if vm.fileChunks[string(src)] {
						t.RawSetString("source", glua.LString("@"+string(src)))
					}
				}
			}
			return n
		}))
	}
	if f := gfunc(dbg, "traceback"); f != nil {
		dbg.RawSetString("traceback", L.NewFunction(vm.chargeResult(f)))
	}
}

// guardIO charges what io reads to the memory budget, after the read (the
// file is the script author's, as in Kamailio), and makes io.tmpfile's
// files go away when closed.
func (vm *VM) guardIO(g *glua.LTable) {
	L := vm.L
	ioT, ok := g.RawGetString(glua.IoLibName).(*glua.LTable)
	if !ok {
		return
	}
	for name, wrap := range map[string]func(glua.LGFunction) glua.LGFunction{
		"read": vm.chargeResults, "lines": vm.chargeLines, "tmpfile": tmpFile,
	} {
		if fn, ok := ioT.RawGetString(name).(*glua.LFunction); ok && fn.IsG {
			ioT.RawSetString(name, rewrap(L, fn, wrap(fn.GFunction)))
		}
	}
	if mt, ok := L.GetTypeMetatable("FILE*").(*glua.LTable); ok {
		for name, wrap := range map[string]func(glua.LGFunction) glua.LGFunction{
			"read": vm.chargeResults, "lines": vm.chargeLines,
		} {
			if fn, ok := mt.RawGetString(name).(*glua.LFunction); ok && fn.IsG {
				mt.RawSetString(name, rewrap(L, fn, wrap(fn.GFunction)))
			}
		}
	}
}

// rewrap makes a Go function with fn's upvalues (gopher-lua's io
// functions keep the default files in theirs).
func rewrap(L *glua.LState, fn *glua.LFunction, g glua.LGFunction) *glua.LFunction {
	vals := make([]glua.LValue, len(fn.Upvalues))
	for i, u := range fn.Upvalues {
		vals[i] = u.Value()
	}
	return L.NewClosure(g, vals...)
}

// chargeLines wraps io.lines and file:lines: the iterator they return
// charges each line it reads.
func (vm *VM) chargeLines(f glua.LGFunction) glua.LGFunction {
	return func(L *glua.LState) int {
		n := f(L)
		if n < 1 {
			return n
		}
		it, ok := L.Get(-n).(*glua.LFunction)
		if !ok {
			return n
		}
		L.Replace(-n, L.NewFunction(func(L *glua.LState) int {
			top := L.GetTop()
			L.Push(it)
			for i := 1; i <= top; i++ {
				L.Push(L.Get(i))
			}
			L.Call(top, glua.MultRet)
			nr := L.GetTop() - top
			for i := 1; i <= nr; i++ {
				if s, ok := L.Get(-i).(glua.LString); ok {
					vm.budget.charge(L, len(s))
				}
			}
			return nr
		}))
		return n
	}
}

// tempFilesField is gopher-lua's list of io.tmpfile files, which it keeps
// open (and on disk) until the VM closes, that is until a reload.
var tempFilesField, haveTempFiles = func() (reflect.StructField, bool) {
	f, ok := reflect.TypeFor[glua.Global]().FieldByName("tempFiles")
	return f, ok && f.Type == reflect.TypeFor[[]*os.File]()
}()

// tmpFile is io.tmpfile as C's tmpfile(3) gives it: the file is unlinked
// at once, so it goes away when the script closes it or drops it (Go
// closes an unreachable *os.File), rather than piling up open and on disk
// until the next reload in gopher-lua's list.
func tmpFile(f glua.LGFunction) glua.LGFunction {
	return func(L *glua.LState) int {
		n := f(L)
		if !haveTempFiles || n != 1 {
			return n
		}
		list := (*[]*os.File)(unsafe.Add(unsafe.Pointer(L.G), tempFilesField.Offset))
		if k := len(*list); k > 0 {
			os.Remove((*list)[k-1].Name())
			(*list)[k-1] = nil
			*list = (*list)[:k-1]
		}
		return n
	}
}

// chargeResults calls f and charges the strings it returns.
func (vm *VM) chargeResults(f glua.LGFunction) glua.LGFunction {
	return func(L *glua.LState) int {
		n := f(L)
		for i := 1; i <= n; i++ {
			if s, ok := L.Get(-i).(glua.LString); ok {
				vm.budget.charge(L, len(s))
			}
		}
		return n
	}
}
