package core

import (
	"sync/atomic"
)

// Typed module state. A module declares its state once, at package level:
//
//	var msg = core.NewMsgState(func(old *msgState) msgState {
//		return msgState{buf: old.buf[:0]} // carry buffers, zero the rest
//	})
//	var tables = core.NewRuntimeState[Tables](nil)
//
// and reads it with msg.Get(ctx) or tables.Get(rt). Neither allocates on
// the hot path: both index a fixed array, by a handle number given out at
// init time.

// maxMsgStates and maxRuntimeStates bound the handles; raising them costs
// a few words per Ctx or Runtime.
const (
	maxMsgStates     = 48
	maxRuntimeStates = 48
)

var nextMsgState, nextRuntimeState int

// msgSlot holds one module's state in a Ctx and the message it is for.
type msgSlot struct {
	seq uint64
	v   any
}

// MsgState is a handle to a module's per-message state of type T, kept in
// each Ctx. The state is cleared when the Ctx carries a new message (its
// Seq moves on), so no field can outlive the message it was set for.
type MsgState[T any] struct {
	id    int
	carry func(old *T) T
}

// NewMsgState reserves a per-message state. Call it at package level or
// from init(); it panics past the limit, which is a build-time mistake.
//
// carry, when not nil, builds the state for a new message from the old
// one: it returns a fresh T with only what is worth keeping across
// messages (buffers truncated to [:0], emptied maps), so every field it
// does not name starts at its zero value. It also builds the first state
// from a zero T. Without carry the state is simply zeroed.
func NewMsgState[T any](carry func(old *T) T) *MsgState[T] {
	if nextMsgState >= maxMsgStates {
		panic("core.NewMsgState: out of handles; raise maxMsgStates")
	}
	nextMsgState++
	return &MsgState[T]{id: nextMsgState - 1, carry: carry}
}

// Get returns ctx's state for the message in hand, cleared if the state
// belongs to an earlier message. It allocates only the first time a Ctx
// needs it.
func (h *MsgState[T]) Get(ctx *Ctx) *T {
	s := &ctx.msgStates[h.id]
	p, _ := s.v.(*T)
	if p == nil {
		p = new(T)
		s.v = p
	} else if s.seq == ctx.Seq {
		return p
	}
	s.seq = ctx.Seq
	if h.carry != nil {
		*p = h.carry(p)
	} else {
		var zero T
		*p = zero
	}
	return p
}

// Peek returns ctx's state if it was set for the message in hand, else
// nil; it never creates nor clears anything.
func (h *MsgState[T]) Peek(ctx *Ctx) *T {
	s := &ctx.msgStates[h.id]
	if p, _ := s.v.(*T); p != nil && s.seq == ctx.Seq {
		return p
	}
	return nil
}

// RuntimeState is a handle to a module's state of type T for one Runtime
// (one config load): tables built from modparams, timers, stores. A reload
// builds a new Runtime, so it starts fresh.
type RuntimeState[T any] struct {
	id int
	mk func(rt *Runtime) *T
}

// NewRuntimeState reserves a per-runtime state. mk builds it on first
// use; nil means new(T). Call it at package level or from init().
func NewRuntimeState[T any](mk func(rt *Runtime) *T) *RuntimeState[T] {
	if nextRuntimeState >= maxRuntimeStates {
		panic("core.NewRuntimeState: out of handles; raise maxRuntimeStates")
	}
	nextRuntimeState++
	return &RuntimeState[T]{id: nextRuntimeState - 1, mk: mk}
}

// rtSlot holds one module's state in a Runtime.
type rtSlot struct {
	v atomic.Pointer[any]
}

// Get returns rt's state, building it on first use. Reads after the first
// take no lock.
func (h *RuntimeState[T]) Get(rt *Runtime) *T {
	if p := h.Peek(rt); p != nil {
		return p
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if p := h.Peek(rt); p != nil {
		return p
	}
	var p *T
	if h.mk != nil {
		p = h.mk(rt)
	}
	if p == nil {
		p = new(T)
	}
	h.store(rt, p)
	return p
}

// Peek returns rt's state, or nil when none was built or set (the module
// is not loaded, or its start failed). A nil rt gives nil.
func (h *RuntimeState[T]) Peek(rt *Runtime) *T {
	if rt == nil {
		return nil
	}
	if v := rt.states[h.id].v.Load(); v != nil {
		p, _ := (*v).(*T)
		return p
	}
	return nil
}

// Set makes v rt's state (a start function that built it from the
// config); nil removes it.
func (h *RuntimeState[T]) Set(rt *Runtime, v *T) {
	if v == nil {
		rt.states[h.id].v.Store(nil)
		return
	}
	h.store(rt, v)
}

func (h *RuntimeState[T]) store(rt *Runtime, p *T) {
	var a any = p
	rt.states[h.id].v.Store(&a)
}
