package tm

import (
	"errors"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"

	"kemi/core"
	"kemi/sip"
)

// Suspending and continuing transactions (tmx's t_suspend and t_continue,
// http_async_client): a worker that waits on something slow (an HTTP
// service) suspends the request's transaction and moves on to the next
// message; whatever it waited for later continues the transaction in a
// named route. That route runs on tm's continuation goroutine, on a VM of
// its own, with the kept request as its message and in a failure route's
// context, as Kamailio runs it: t_relay adds branches to the same
// transaction, t_reply answers it.

// asyncQueue bounds the continuations waiting for the goroutine.
const asyncQueue = 4096

// job is one route to run on the continuation goroutine: for a suspended
// transaction (c set) or for a copy of a message without one (raw set).
type job struct {
	c     *cell
	gen   uint32
	route string
	prep  func(*core.Ctx)
	done  func() // runs once the job is over, whether its route ran or not

	raw        []byte
	src, local netip.AddrPort
	proto      core.Proto
}

// asyncRunner is the continuation goroutine, started by the first
// continuation and ended by Stop.
type asyncRunner struct {
	once  sync.Once
	jobs  chan job
	stop  chan struct{}
	done  chan struct{}
	label atomic.Uint32
	// detached is the message and context of a route run without a
	// transaction.
	dmsg sip.Msg
	dctx core.Ctx
}

// ErrNotSuspended is what Continue says when no suspended transaction has
// that index and label (it ended, or was continued already).
var ErrNotSuspended = errors.New("no suspended transaction with that index and label")

// ErrBusy is what Continue and RunDetached say when the continuation
// queue is full.
var ErrBusy = errors.New("too many continuations waiting")

func (t *TM) startAsync() {
	a := &t.async
	a.once.Do(func() {
		a.jobs = make(chan job, asyncQueue)
		a.stop = make(chan struct{})
		a.done = make(chan struct{})
		go t.runAsync()
	})
}

func (t *TM) runAsync() {
	a := &t.async
	defer close(a.done)
	e := t.aenv
	for {
		select {
		case <-a.stop:
			if e.newV && e.vm != nil {
				e.vm.Close()
				e.vm = nil
			}
			return
		case j := <-a.jobs:
			if j.c != nil {
				t.runRouteWith(e, j.c, j.gen, j.route, core.FailureRoute, -1, 0, j.prep)
			} else {
				t.runDetached(e, &j)
			}
			if j.done != nil {
				j.done()
			}
		}
	}
}

// stopAsync ends the continuation goroutine if it runs; jobs still queued
// are dropped (their transactions end by their timers).
func (t *TM) stopAsync() {
	a := &t.async
	a.once.Do(func() {}) // no goroutine starts after this
	if a.stop == nil {
		return
	}
	select {
	case <-a.stop:
	default:
		close(a.stop)
	}
	<-a.done
}

// Suspend is t_suspend: it creates the transaction when the request has
// none (as t_newtran), marks it suspended and returns its index and
// label ($T(id_index), $T(id_label)) for Continue. The suspended
// transaction stays for fr_timer plus wt_timer; a continuation after that
// finds nothing.
func Suspend(ctx *core.Ctx) (index, label uint32, ok bool) {
	t, st := get(ctx)
	if t == nil {
		noTM(ctx, "t_suspend")
		return 0, 0, false
	}
	if st.c == nil {
		if NewTran(ctx) <= 0 {
			return 0, 0, false
		}
	}
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != st.gen || !c.live || c.state != uasProceeding {
		logErr(ctx, "t_suspend: the transaction has its final reply already")
		return 0, 0, false
	}
	if c.susp == 0 {
		for c.susp == 0 {
			c.susp = t.async.label.Add(1)
		}
		if c.nbr == 0 {
			// Nothing else bounds a transaction without branches.
			t.deleteAt(c, t.clock.Now()+c.fr+t.tm.Wait)
		}
	}
	return c.bkt, c.susp, true
}

// SuspendedIDs returns the index and label of ctx's suspended transaction
// ($T(id_index), $T(id_label)); ok is false when it has none.
func SuspendedIDs(ctx *core.Ctx) (index, label uint32, ok bool) {
	withCell(ctx, func(c *cell, _ *msgState) {
		if c.susp != 0 {
			index, label, ok = c.bkt, c.susp, true
		}
	})
	return
}

// Continue is t_continue: it resumes the suspended transaction index and
// label by running route (a script function) on the continuation
// goroutine, with prep (may be nil) run on the route's context first, and
// done (may be nil) once the job is over, whether the route ran or not
// (when Continue returns nil). It returns at once; the route runs later.
func (t *TM) Continue(index, label uint32, route string, prep func(*core.Ctx), done func()) error {
	if label == 0 || index >= nBuckets {
		return ErrNotSuspended
	}
	b := &t.tab.b[index]
	var c *cell
	var gen uint32
	b.mu.Lock()
	for x := b.head; x != nil; x = x.next {
		if x.susp == label {
			c, gen = x, x.gen.Load()
			break
		}
	}
	b.mu.Unlock()
	if c == nil {
		return ErrNotSuspended
	}
	c.mu.Lock()
	if c.gen.Load() != gen || !c.live || c.susp != label {
		c.mu.Unlock()
		return ErrNotSuspended
	}
	c.susp = 0
	c.mu.Unlock()
	return t.enqueue(job{c: c, gen: gen, route: route, prep: prep, done: done})
}

// Detached is a copy of a message for a route run without a
// transaction (Capture, then RunDetached).
type Detached struct {
	raw        []byte
	src, local netip.AddrPort
	proto      core.Proto
}

// Capture copies ctx's message (with the script's edits) for RunDetached;
// nil when ctx has none.
func Capture(ctx *core.Ctx) *Detached {
	m := ctx.Msg
	if m == nil {
		return nil
	}
	return &Detached{raw: m.AppendTo(make([]byte, 0, len(m.Raw())+bufSlack)), src: ctx.Src, local: ctx.Local, proto: ctx.Proto}
}

// RunDetached runs route on the continuation goroutine over d's message
// and no transaction (http_async_client without one); prep and done as
// for Continue.
func (t *TM) RunDetached(d *Detached, route string, prep func(*core.Ctx), done func()) error {
	if d == nil {
		return errors.New("no message")
	}
	return t.enqueue(job{raw: d.raw, src: d.src, local: d.local, proto: d.proto, route: route, prep: prep, done: done})
}

func (t *TM) enqueue(j job) error {
	t.startAsync()
	select {
	case t.async.jobs <- j:
		return nil
	case <-t.async.stop:
		return errors.New("tm is stopping")
	default:
		return ErrBusy
	}
}

// runDetached runs j's route over its copy of a message.
func (t *TM) runDetached(e *env, j *job) {
	vm := e.vmFor(t)
	if vm == nil {
		e.log(core.LErr, "no VM to run "+j.route+" on")
		return
	}
	a := &t.async
	if err := a.dmsg.Parse(j.raw); err != nil {
		e.log(core.LErr, "re-parsing the message for "+j.route+": "+core.LogValue(err.Error()))
		return
	}
	f := &a.dctx
	f.Reset(&a.dmsg, j.src, j.local, j.proto)
	f.RT, f.Out, f.VM, f.Route = t.rt, e.out, vm, core.RequestRoute
	if f.Scratch == nil {
		f.Scratch = make([]byte, 0, 2048)
	}
	if j.prep != nil {
		j.prep(f)
	}
	if err := vm.Call(f, j.route); err != nil {
		e.log(core.LErr, j.route+" failed for Call-ID "+core.LogQuote(a.dmsg.CallID())+": "+core.LogValue(err.Error()))
	}
}

// Of returns the transaction layer of rt, or nil when tm is not loaded.
func Of(rt *core.Runtime) *TM { return tms.Peek(rt) }

// pvT is $T(name): id_index and id_label of the suspended transaction.
func pvT(ctx *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	index, label, ok := SuspendedIDs(ctx)
	switch arg {
	case "id_index":
		if !ok {
			return dst, false
		}
		return strconv.AppendUint(dst, uint64(index), 10), true
	case "id_label":
		if !ok {
			return dst, false
		}
		return strconv.AppendUint(dst, uint64(label), 10), true
	}
	return dst, false
}
