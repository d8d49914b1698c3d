package rr

import (
	"sync"

	"kemi/core"
	"kemi/sip"
)

// looseHooks are the OnLoose hooks of one runtime.
type looseHooks struct {
	mu sync.Mutex
	fs []func(*core.Ctx, sip.Params)
}

var looseHooksOf = core.NewRuntimeState[looseHooks](nil)

// OnLoose registers fn to run each time loose_route of rt took this
// server's own Route entry, with that entry's URI parameters, after the
// next hop was set: path's use_received sends the request to the received
// address its Path entry carries, as Kamailio's rr callbacks let it.
// Register from a start function.
func OnLoose(rt *core.Runtime, fn func(ctx *core.Ctx, params sip.Params)) {
	h := looseHooksOf.Get(rt)
	h.mu.Lock()
	h.fs = append(h.fs, fn)
	h.mu.Unlock()
}

// runLoose runs the OnLoose hooks when loose_route found a Route of ours.
func runLoose(ctx *core.Ctx, st *state) {
	if !st.routed {
		return
	}
	h := looseHooksOf.Peek(ctx.RT)
	if h == nil {
		return
	}
	h.mu.Lock()
	fs := h.fs
	h.mu.Unlock()
	for _, f := range fs {
		f(ctx, sip.Params(st.params))
	}
}
