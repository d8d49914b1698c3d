package core

import (
	"errors"
	"fmt"
	"net/netip"
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

// Runtime is what a loaded config gives every worker: the registry of
// loaded modules, their parameter values, the logger and the budgets.
type Runtime struct {
	Reg        *Registry
	Params     map[string]map[string][]Value // module -> param -> values in modparam order
	Globals    map[string]Value              // global params (debug, children, ...)
	Defines    map[string]string             // #!define names when the config ended
	Log        *Logger
	StepBudget int           // instructions per callback run (Lua, Starlark)
	TimeBudget time.Duration // wall time per callback run (JS)

	// Callbacks maps the default callback names to the configured ones
	// (kemi.request_route_callback and friends).
	Callbacks map[string]string

	// Signature is server_signature, server_header and user_agent_header
	// (see ServerHeader).
	Signature Signature

	// Myself reports whether host (an IP or a name, IPv6 in brackets or
	// not) and port name this server: a listen address or an alias. Port 0
	// matches any port, as Kamailio's check_self does for a URI without
	// one (rr passes 5060 itself). The server sets it from listen/alias; when
	// nil, the is_myself functions compare with the socket the message
	// arrived on.
	Myself func(host []byte, port int) bool

	// NewVM builds a VM of the running script for code that runs outside
	// a worker, such as tm's timers running a failure route. The router
	// sets it.
	NewVM func() (VM, error)

	// Send writes a message outside of a worker's batch (timers,
	// retransmissions). The server sets it; it is safe for concurrent use.
	Send func(b []byte, proto Proto, to netip.AddrPort) error

	// SendFrom is Send through the socket bound to local (a Ctx's Local),
	// for a reply sent after its worker moved on (registrar's replies
	// held until their binding is durable). The server sets it; nil when
	// there is no such sender (tests), and callers then send in the
	// worker.
	SendFrom func(local netip.AddrPort, b []byte, proto Proto, to netip.AddrPort) error

	// Clock, when set, is what modules' timers run on instead of the
	// monotonic clock; kemi test sets a SteppedClock. Set before Start.
	Clock Clock

	mu         sync.Mutex
	state      map[string]any
	stops      []func()
	replyHooks []ReplyHook
}

// Param returns the last value given for a module param, or its default.
func (rt *Runtime) Param(module, name string) Value {
	if vs := rt.Params[module][name]; len(vs) > 0 {
		return vs[len(vs)-1]
	}
	if m := rt.Reg.Module(module); m != nil {
		for _, p := range m.Params {
			if p.Name == name {
				return p.Default
			}
		}
	}
	return Null()
}

// ParamValues returns every value given for a multi-valued param.
func (rt *Runtime) ParamValues(module, name string) []Value { return rt.Params[module][name] }

// State returns the module state stored under key, creating it with mk on
// first use. Modules keep their per-runtime state (tables, transactions)
// here so a reload starts fresh.
func (rt *Runtime) State(key string, mk func() any) any {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.state == nil {
		rt.state = map[string]any{}
	}
	v, ok := rt.state[key]
	if !ok {
		v = mk()
		rt.state[key] = v
	}
	return v
}

// Callback returns the configured name for a default callback name.
func (rt *Runtime) Callback(def string) string {
	if n, ok := rt.Callbacks[def]; ok {
		return n
	}
	return def
}

// ArgError builds the error an engine or thunk reports for bad arguments:
// "KSR.sl.sl_send_reply: expected (int, str), got (string, number)". got
// holds the type names in the script's own language.
func ArgError(fn string, want []Type, got []string) error {
	ws := make([]string, len(want))
	for i, t := range want {
		ws[i] = t.String()
	}
	return fmt.Errorf("%s: expected (%s), got (%s)", fn, strings.Join(ws, ", "), strings.Join(got, ", "))
}

// KindNames returns the Kind names of vs, for ArgError from Go code.
func KindNames(vs []Value) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Kind.String()
	}
	return out
}
