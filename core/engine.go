package core

import (
	"errors"
	"sort"
	"strings"
	"sync"
	"time"
)

// Engine compiles routing scripts of one language.
type Engine interface {
	// Compile parses and compiles the script at path (src is its content).
	// Errors name path:line and what is wrong.
	Compile(path string, src []byte, rt *Runtime) (Program, error)
}

// Program is a compiled script, shared by every worker.
type Program interface {
	// Has reports whether the script defines the named callback.
	Has(callback string) bool
	// NewVM builds one VM for one worker: the KSR object bound once,
	// the script's top level run once.
	NewVM() (VM, error)
}

// VM runs callbacks for one worker. It is not goroutine-safe.
type VM interface {
	// Call runs the named callback for ctx. A callback the script does not
	// define returns ErrNoCallback. KSR.x.exit/drop are not errors: they
	// show in ctx.Stopped/Dropped. A script error carries script file:line.
	Call(ctx *Ctx, callback string) error
	Close()
}

// ArgCaller is implemented by VMs that can pass one string argument to a
// callback, as Kamailio passes the event name to a module's
// event_callback function (ksr_dispatcher_event(evname)). Modules run
// event callbacks through it when the VM has it, and with VM.Call
// otherwise.
type ArgCaller interface {
	CallArg(ctx *Ctx, callback, arg string) error
}

// ErrNoCallback is returned by VM.Call for a function the script lacks.
var ErrNoCallback = errors.New("callback not defined")

// ErrBudget is wrapped by script errors raised when the per-message
// instruction or time budget runs out.
var ErrBudget = errors.New("script budget exhausted")

// Default budgets: generous for real routing, small enough that a runaway
// loop stops in well under a second.
const (
	DefaultStepBudget = 10_000_000
	DefaultTimeBudget = 500 * time.Millisecond
)

// EngineInfo ties an engine to the module that provides it.
type EngineInfo struct {
	Name    string   // cfgengine name: "lua"
	Aliases []string // other cfgengine names: "js" for "jsdt"
	Module  string   // module that must be loaded first: "app_lua"
	Engine  Engine
}

var (
	enginesMu sync.Mutex
	engines   = map[string]*EngineInfo{}
)

// RegisterEngine records an engine at init time; it panics on duplicates.
func RegisterEngine(info *EngineInfo) {
	enginesMu.Lock()
	defer enginesMu.Unlock()
	for _, n := range append([]string{info.Name}, info.Aliases...) {
		if _, dup := engines[n]; dup {
			panic("core.RegisterEngine: duplicate engine " + n)
		}
		engines[n] = info
	}
}

// LookupEngine finds an engine by cfgengine name.
func LookupEngine(name string) *EngineInfo {
	enginesMu.Lock()
	defer enginesMu.Unlock()
	return engines[name]
}

// EngineNames lists the cfgengine names known, sorted.
func EngineNames() []string {
	enginesMu.Lock()
	defer enginesMu.Unlock()
	var out []string
	for n := range engines {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// EngineList names the engines linked in, for error messages, with
// their other names: "lua, jsdt (js), starlark". names are cfgengine
// names as EngineNames gives them and lookup resolves one; nil uses the
// registry. It says "none" when no engine is linked in.
func EngineList(names []string, lookup func(string) *EngineInfo) string {
	if lookup == nil {
		names, lookup = EngineNames(), LookupEngine
	}
	var infos []*EngineInfo
	seen := map[string]bool{}
	for _, n := range names {
		info := lookup(n)
		if info == nil || seen[info.Name] {
			continue
		}
		seen[info.Name] = true
		infos = append(infos, info)
	}
	if len(infos) == 0 {
		return "none"
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	var parts []string
	for _, info := range infos {
		s := info.Name
		if len(info.Aliases) > 0 {
			s += " (" + strings.Join(info.Aliases, ", ") + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}
