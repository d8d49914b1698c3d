package core

import (
	"fmt"
	"sync"
)

// StartFunc prepares a module's runtime state once a config is loaded:
// tables from modparams, timers, stores. It runs for loaded modules only,
// in module name order, before any message is handled.
type StartFunc func(rt *Runtime) error

var (
	startMu sync.Mutex
	starts  = map[string][]StartFunc{}
)

// OnStart registers fn to run when module is loaded. Call it from init()
// in the module's own Go code, next to what it sets up.
func OnStart(module string, fn StartFunc) {
	startMu.Lock()
	defer startMu.Unlock()
	starts[module] = append(starts[module], fn)
}

// Start runs the start functions of every module in rt.Reg.
func (rt *Runtime) Start() error {
	startMu.Lock()
	defer startMu.Unlock()
	for _, m := range rt.Reg.Modules() {
		for _, fn := range starts[m.Name] {
			if err := fn(rt); err != nil {
				name := m.Name
				if name == "" {
					name = "core"
				}
				return fmt.Errorf("module %s: %w", name, err)
			}
		}
	}
	return nil
}

// OnStop registers fn to run when the server stops (timers to end, stores
// to flush). Stop runs them in reverse order.
func (rt *Runtime) OnStop(fn func()) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.stops = append(rt.stops, fn)
}

// Stop runs the stop functions, last registered first.
func (rt *Runtime) Stop() {
	rt.mu.Lock()
	stops := rt.stops
	rt.stops = nil
	rt.mu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
}

// ReplyHook handles a received reply after the script's reply route ran
// and did not drop it; tm registers one to match replies to transactions.
// It reports whether it took the reply; if no hook does, the core forwards
// the reply statelessly by its Via headers, as Kamailio does.
type ReplyHook func(ctx *Ctx) bool

// AddReplyHook registers h for this runtime (from a StartFunc).
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
