package core

import (
	"fmt"
)

// StartFunc prepares a module's runtime state once a config is loaded:
// tables from modparams, timers, stores. It runs for loaded modules only,
// in module name order, before any message is handled. A module names its
// start functions in its module.yaml (start:); kemigen puts them in its
// ModuleSpec.
type StartFunc func(rt *Runtime) error

// StopFunc ends what a module's start began (timers, stores to flush) when
// the server stops. A module names them in its module.yaml (stop:). It
// runs for every module whose start functions ran, so it finds its state
// with RuntimeState.Peek and does nothing when there is none.
type StopFunc func(rt *Runtime)

// Start runs the start functions of every module in rt.Reg, then adds
// the reply hooks of each module to rt.
func (rt *Runtime) Start() error {
	for _, m := range rt.Reg.Modules() {
		rt.mu.Lock()
		rt.started = append(rt.started, m)
		rt.mu.Unlock()
		for _, fn := range m.Start {
			if err := fn(rt); err != nil {
				name := m.Name
				if name == "" {
					name = "core"
				}
				return fmt.Errorf("module %s: %w", name, err)
			}
		}
		for _, h := range m.ReplyHooks {
			rt.AddReplyHook(h)
		}
		for _, h := range m.HTTPHooks {
			rt.mu.Lock()
			rt.httpHooks = append(rt.httpHooks, h)
			rt.mu.Unlock()
		}
	}
	return nil
}

// OnStop registers fn to run when the server stops (timers to end, stores
// to flush). Stop runs them in reverse order, before the stop functions
// of the modules. Modules declare theirs in module.yaml instead.
func (rt *Runtime) OnStop(fn func()) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.stops = append(rt.stops, fn)
}

// Stop runs the stop functions, last registered first, then the stop
// functions of the started modules, last started first. It runs them
// once.
func (rt *Runtime) Stop() {
	rt.mu.Lock()
	stops, started := rt.stops, rt.started
	rt.stops, rt.started = nil, nil
	rt.mu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
	for i := len(started) - 1; i >= 0; i-- {
		m := started[i]
		for j := len(m.Stop) - 1; j >= 0; j-- {
			m.Stop[j](rt)
		}
	}
}

// ReplyHook handles a received reply after the script's reply route ran
// and did not drop it; tm declares one (reply_hooks: in its module.yaml)
// to match replies to transactions. It reports whether it took the reply;
// if no hook does, the core forwards the reply statelessly by its Via
// headers, as Kamailio does.
type ReplyHook func(ctx *Ctx) bool

// AddReplyHook registers h for this runtime (tests; modules declare
// theirs in module.yaml).
func (rt *Runtime) AddReplyHook(h ReplyHook) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.replyHooks = append(rt.replyHooks, h)
}

// ReplyHooks returns the registered reply hooks.
func (rt *Runtime) ReplyHooks() []ReplyHook {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.replyHooks
}

// HTTPHook handles an HTTP request that came on a TCP or TLS listen
// (Kamailio tells HTTP from SIP by the first line); xhttp declares one
// (http_hooks: in its module.yaml) to run the script's event callback.
// It reports whether it took the request; when no hook does, the router
// answers 404 and closes the connection.
type HTTPHook func(ctx *Ctx) bool

// HTTPHooks returns the registered HTTP hooks.
func (rt *Runtime) HTTPHooks() []HTTPHook {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.httpHooks
}

// AddRequestDoneHook registers h to run after the request route returned
// for each request a worker handles (a module's start function calls it):
// dialog uses it to forget a dialog whose INVITE ended without a
// transaction (a stateless reply). h runs on the worker, with the request
// still in ctx; it must be quick.
func (rt *Runtime) AddRequestDoneHook(h func(ctx *Ctx)) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var hs []func(*Ctx)
	if p := rt.doneHooks.Load(); p != nil {
		hs = append(hs, *p...)
	}
	hs = append(hs, h)
	rt.doneHooks.Store(&hs)
}

// RequestDone runs the hooks of AddRequestDoneHook for ctx.
func (rt *Runtime) RequestDone(ctx *Ctx) {
	p := rt.doneHooks.Load() // no lock: workers call this per request
	if p == nil {
		return
	}
	for _, h := range *p {
		h(ctx)
	}
}
