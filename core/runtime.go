package core

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

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
	// VMGen is the generation of the program NewVM builds from: it
	// changes when the script is reloaded, so code that keeps a VM
	// (tm's timers) builds a new one. nil when there is no reload.
	VMGen func() uint64

	// Send writes a message outside of a worker's batch (timers,
	// retransmissions). The server sets it; it is safe for concurrent use.
	Send func(b []byte, proto Proto, to netip.AddrPort) error

	// SendFrom is Send through the socket bound to local (a Ctx's Local),
	// for a reply sent after its worker moved on (registrar's replies
	// held until their binding is durable). The server sets it; nil when
	// there is no such sender (tests), and callers then send in the
	// worker.
	SendFrom func(local netip.AddrPort, b []byte, proto Proto, to netip.AddrPort) error

	// SendStream sends over TCP or TLS with Kamailio's connection
	// controls (the request's connection, no-connect, close-after, SNI).
	// The server sets it when it has a tcp: or tls: listen; it is safe
	// for concurrent use. nil: only UDP is served.
	SendStream func(b []byte, proto Proto, to netip.AddrPort, o SendOpts) error
	// StreamLocal is the address of the first listen of proto (UDP too),
	// for the Via and Record-Route of what leaves over another transport
	// than its request came on, and for local requests
	// (tm.t_uac_start); false when there is none. The server sets it
	// (with UDP only when it serves no stream).
	StreamLocal func(proto Proto) (netip.AddrPort, bool)

	// AddConnAlias makes the TCP/TLS connection id also the one sends
	// to addr reuse (add_tcp_alias, add_tcp_alias_via). Set with
	// SendStream; false when the connection is gone.
	AddConnAlias func(id uint64, addr netip.AddrPort) bool
	// StreamConn is the open TCP, TLS or WebSocket connection with this
	// id, or nil (websocket's close_conid). Set with SendStream.
	StreamConn func(id uint64) StreamConn

	// Clock, when set, is what modules' timers run on instead of the
	// monotonic clock; kemi test sets a SteppedClock. Set before Start.
	Clock Clock

	// Control is the server's side of the RPC methods (core.uptime,
	// core.ps, app_lua.reload); nil offline.
	Control *Control

	st statState // statistics (stats.go)

	mu         sync.Mutex
	states     [maxRuntimeStates]rtSlot // RuntimeState handles
	stops      []func()
	started    []*ModuleSpec // modules whose start functions ran, in order
	replyHooks []ReplyHook
	httpHooks  []HTTPHook
	doneHooks  atomic.Pointer[[]func(*Ctx)] // AddRequestDoneHook
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

// Callback returns the configured name for a default callback name.
func (rt *Runtime) Callback(def string) string {
	if n, ok := rt.Callbacks[def]; ok {
		return n
	}
	return def
}
