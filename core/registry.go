package core

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Thunk is the generated adapter between engines and a typed Go function.
// It checks args against the declared types, calls the function and wraps
// its result. On bad arguments it calls ctx.Fail and returns ErrorValue().
type Thunk func(*Ctx, []Value) Value

// Export is one function of a module, as KSR.<Module>.<Name>.
type Export struct {
	Module  string // "" for the core (KSR.info)
	Name    string
	Params  []Type // at most 6
	Returns Type
	Native  string // name in the native cfg language
	Aliases []string
	Call    Thunk
}

// FullName is "KSR.module.function" or "KSR.function" for the core.
func (e *Export) FullName() string {
	if e.Module == "" {
		return "KSR." + e.Name
	}
	return "KSR." + e.Module + "." + e.Name
}

// Key is the registry key, "module.function" ("" module gives ".function").
func (e *Export) Key() string { return e.Module + "." + e.Name }

// ParamSpec declares a module parameter settable with modparam.
type ParamSpec struct {
	Name    string
	Type    Type // TInt or TStr
	Default Value
	Doc     string
	// Multi marks params that may be given many times (modparam appends).
	Multi bool
}

// PVSpec declares a pseudo-variable a module provides. Register makes
// Get and Set known to formats and KSR.pv (RegisterPV, RegisterPVSetter).
type PVSpec struct {
	Name string // "ru", "hdr", "var"
	Doc  string
	Get  PVGetter // nil for a pseudo-variable only documented here
	Set  PVSetter // nil when read-only
}

// RPCFunc is a module's RPC method (kamcmd/kamctl style control command).
// args are the command's arguments; the result is printed or encoded as
// JSON by the caller.
type RPCFunc func(rt *Runtime, args []Value) (any, error)

// RPCSpec declares an RPC method a module provides, "module.command".
type RPCSpec struct {
	Name string
	Doc  string
	Call RPCFunc
}

// ModuleSpec is what a module's generated zz_kemi.go registers.
type ModuleSpec struct {
	Name string
	// Files are the loadmodule names that load this module besides
	// Name itself ("kemix" for kx).
	Files   []string
	Doc     string
	Params  []ParamSpec
	Exports []*Export
	PVs     []PVSpec

	// Start functions run once a config loading the module is loaded
	// (Runtime.Start); Stop functions when the server stops, modules in
	// reverse order; ReplyHooks handle received replies (see ReplyHook).
	Start      []StartFunc
	Stop       []StopFunc
	ReplyHooks []ReplyHook
	// HTTPHooks take HTTP requests that arrive on a TCP or TLS listen
	// (see HTTPHook).
	HTTPHooks []HTTPHook
	RPCs      []RPCSpec
	// Brings names modules a loadmodule of this one loads too (pv.so
	// brings pvx, as Kamailio's pv.so exports KSR.pvx).
	Brings []string
}

// Registry is the hashed index of exports: one map per module, so a
// lookup is two map accesses and builds no key string. Each module also
// keeps its exports as a dense sorted slice for engines to bind. The seed
// walked a list instead; BenchmarkLookup compares the two.
type Registry struct {
	mods    map[string]*regModule
	byLower map[string]*Export // "module.function" lowercased, for the fallback
	names   []string           // sorted module names
}

type regModule struct {
	spec    *ModuleSpec
	byName  map[string]*Export // names and aliases
	exports []*Export          // sorted by name
}

// NewRegistry builds a registry over the given modules. It rejects a
// module given twice and a name (or alias) used twice in one module.
func NewRegistry(mods ...*ModuleSpec) (*Registry, error) {
	r := &Registry{
		mods:    map[string]*regModule{},
		byLower: map[string]*Export{},
	}
	for _, m := range mods {
		if err := r.add(m); err != nil {
			return nil, err
		}
	}
	sort.Strings(r.names)
	return r, nil
}

func (r *Registry) add(m *ModuleSpec) error {
	if _, dup := r.mods[m.Name]; dup {
		return fmt.Errorf("registry: module %q registered twice", m.Name)
	}
	rm := &regModule{spec: m, byName: make(map[string]*Export, len(m.Exports))}
	for _, e := range m.Exports {
		if e.Call == nil {
			return fmt.Errorf("registry: %s has no thunk", e.FullName())
		}
		for _, name := range append([]string{e.Name}, e.Aliases...) {
			if _, dup := rm.byName[name]; dup {
				return fmt.Errorf("registry: export %s.%s registered twice", m.Name, name)
			}
			rm.byName[name] = e
			lk := strings.ToLower(m.Name + "." + name)
			if _, ok := r.byLower[lk]; !ok {
				r.byLower[lk] = e
			}
		}
	}
	rm.exports = append([]*Export(nil), m.Exports...)
	sort.Slice(rm.exports, func(i, j int) bool { return rm.exports[i].Name < rm.exports[j].Name })
	r.mods[m.Name] = rm
	r.names = append(r.names, m.Name)
	return nil
}

// Lookup finds a function of a module (module "" for the core) by name or
// alias, falling back to a case-insensitive match as Kamailio does. It
// allocates only on that fallback.
func (r *Registry) Lookup(module, function string) *Export {
	if rm := r.mods[module]; rm != nil {
		if e := rm.byName[function]; e != nil {
			return e
		}
	}
	return r.byLower[strings.ToLower(module+"."+function)]
}

// Module returns a loaded module's spec, or nil.
func (r *Registry) Module(name string) *ModuleSpec {
	if rm := r.mods[name]; rm != nil {
		return rm.spec
	}
	return nil
}

// ModuleExports lists a loaded module's exports sorted by name (aliases
// are in each Export), or nil when the module is not loaded. The slice is
// shared: do not modify it.
func (r *Registry) ModuleExports(name string) []*Export {
	if rm := r.mods[name]; rm != nil {
		return rm.exports
	}
	return nil
}

// Modules lists loaded modules sorted by name, "" (the core) first.
func (r *Registry) Modules() []*ModuleSpec {
	out := make([]*ModuleSpec, len(r.names))
	for i, n := range r.names {
		out[i] = r.mods[n].spec
	}
	return out
}

// Exports lists every export sorted by module, then name.
func (r *Registry) Exports() []*Export {
	var out []*Export
	for _, n := range r.names {
		out = append(out, r.mods[n].exports...)
	}
	return out
}

var (
	globalMu sync.Mutex
	global   = map[string]*ModuleSpec{}
	fileName = map[string]string{}
)

// Register records a module at init time. It panics on programmer errors:
// an empty or duplicate name, a nil thunk.
func Register(m *ModuleSpec) {
	globalMu.Lock()
	defer globalMu.Unlock()
	if m == nil || (m.Name == "" && len(m.Exports) == 0 && m.Doc == "") {
		panic("core.Register: empty module")
	}
	if _, dup := global[m.Name]; dup {
		panic("core.Register: duplicate module " + m.Name)
	}
	for _, e := range m.Exports {
		if e.Call == nil {
			panic("core.Register: nil thunk for " + e.FullName())
		}
		if len(e.Params) > 6 {
			panic("core.Register: more than 6 params for " + e.FullName())
		}
	}
	for _, pv := range m.PVs {
		if pv.Get != nil {
			RegisterPV(pv.Name, pv.Get)
		}
		if pv.Set != nil {
			RegisterPVSetter(pv.Name, pv.Set)
		}
	}
	global[m.Name] = m
	fileName[m.Name] = m.Name
	for _, f := range m.Files {
		fileName[f] = m.Name
	}
}

// Known returns a registered module by its name or a loadmodule file name
// ("tm", "tm.so", "kemix.so", "/usr/lib/kamailio/modules/tm.so").
func Known(file string) *ModuleSpec {
	globalMu.Lock()
	defer globalMu.Unlock()
	if i := strings.LastIndexByte(file, '/'); i >= 0 {
		file = file[i+1:]
	}
	file = strings.TrimSuffix(file, ".so")
	if n, ok := fileName[file]; ok {
		return global[n]
	}
	return nil
}

// KnownNames lists every registered module name, sorted.
func KnownNames() []string {
	globalMu.Lock()
	defer globalMu.Unlock()
	out := make([]string, 0, len(global))
	for n := range global {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Registered returns every module registered at init time, sorted by name.
func Registered() []*ModuleSpec {
	globalMu.Lock()
	defer globalMu.Unlock()
	out := make([]*ModuleSpec, 0, len(global))
	for _, m := range global {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
