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

// PVSpec declares a pseudo-variable a module provides.
type PVSpec struct {
	Name string // "ru", "hdr", "var"
	Doc  string
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
}

// Registry is the hashed index of exports. Lookup is one map access; the
// seed's list walk is what BenchmarkLookup compares it with.
type Registry struct {
	byKey   map[string]*Export
	byLower map[string]*Export
	modules map[string]*ModuleSpec
	names   []string // sorted module names
}

// NewRegistry builds a registry over the given modules.
func NewRegistry(mods ...*ModuleSpec) (*Registry, error) {
	r := &Registry{
		byKey:   map[string]*Export{},
		byLower: map[string]*Export{},
		modules: map[string]*ModuleSpec{},
	}
	for _, m := range mods {
		if err := r.add(m); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *Registry) add(m *ModuleSpec) error {
	if _, dup := r.modules[m.Name]; dup {
		return fmt.Errorf("registry: module %q registered twice", m.Name)
	}
	r.modules[m.Name] = m
	r.names = append(r.names, m.Name)
	sort.Strings(r.names)
	for _, e := range m.Exports {
		for _, name := range append([]string{e.Name}, e.Aliases...) {
			key := m.Name + "." + name
			if _, dup := r.byKey[key]; dup {
				return fmt.Errorf("registry: export %s registered twice", key)
			}
			r.byKey[key] = e
			lk := strings.ToLower(key)
			if _, ok := r.byLower[lk]; !ok {
				r.byLower[lk] = e
			}
		}
	}
	return nil
}

// Lookup finds "module.function" (module "" for the core), falling back to
// a case-insensitive match as Kamailio does.
func (r *Registry) Lookup(module, function string) *Export {
	key := module + "." + function
	if e := r.byKey[key]; e != nil {
		return e
	}
	return r.byLower[strings.ToLower(key)]
}

// Module returns a loaded module's spec, or nil.
func (r *Registry) Module(name string) *ModuleSpec { return r.modules[name] }

// Modules lists loaded modules sorted by name, "" (the core) first.
func (r *Registry) Modules() []*ModuleSpec {
	out := make([]*ModuleSpec, len(r.names))
	for i, n := range r.names {
		out[i] = r.modules[n]
	}
	return out
}

// Exports lists every export sorted by module, then name.
func (r *Registry) Exports() []*Export {
	var out []*Export
	for _, m := range r.Modules() {
		es := append([]*Export(nil), m.Exports...)
		sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
		out = append(out, es...)
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
