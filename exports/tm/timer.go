package tm

import (
	"sync"
	"time"
)

// Clock gives the time timers are measured against, in nanoseconds from an
// arbitrary origin. Tests drive transactions with a fake one.
type Clock interface {
	Now() int64
}

// monoClock reads the monotonic clock.
type monoClock struct{ base time.Time }

func (c monoClock) Now() int64 { return int64(time.Since(c.base)) }

// Timers are the RFC 3261 timer values in use (nanoseconds). Timers B and F
// are Kamailio's fr_inv_timer and fr_timer: FR bounds the wait for the
// first reply (and for the final reply of a non-INVITE branch), FRInv the
// wait for an INVITE's final reply once a provisional came.
type Timers struct {
	T1, T2, T4 int64
	FR, FRInv  int64
	// Wait is how long a completed transaction stays to absorb
	// retransmissions: timers D and J (RFC 3261: 32 s over UDP).
	Wait int64
}

// RFCTimers are RFC 3261's values over UDP, with Kamailio's fr defaults.
func RFCTimers() Timers {
	t1 := int64(500 * time.Millisecond)
	return Timers{
		T1: t1, T2: int64(4 * time.Second), T4: int64(5 * time.Second),
		FR: int64(30 * time.Second), FRInv: int64(120 * time.Second),
		Wait: 64 * t1,
	}
}

// H is timer H (and B/F's RFC value): 64*T1.
func (t *Timers) H() int64 { return 64 * t.T1 }

// timerKind says which timer of a transaction an entry is.
type timerKind uint8

const (
	tkRetrUAS    timerKind = iota // G: resend the final reply upstream
	tkAckWait                     // H: no ACK came for a non-2xx final
	tkDelete                      // D, I, J, K: the transaction is over; free it
	tkRetrUAC                     // A, E: resend a branch's request
	tkFR                          // B, F: no (final) reply on a branch
	tkRetrCancel                  // E for a branch's CANCEL
	tkFRCancel                    // F for a branch's CANCEL
)

// Each cell has a fixed set of timer slots: three for the server side and
// four per branch. A slot is armed at most once: arming it again moves its
// heap entry, and stopping it removes the entry, so the heap holds exactly
// the timers that are running (a stale entry per stopped timer would pile
// up for fr_inv_timer's two minutes under load).
const (
	cellSlots = 3 // tkRetrUAS, tkAckWait, tkDelete
	brSlots   = 4 // tkRetrUAC, tkFR, tkRetrCancel, tkFRCancel
	nSlots    = cellSlots + brSlots*maxBranches
)

func slotOf(kind timerKind, br int) int {
	if kind < tkRetrUAC {
		return int(kind)
	}
	return cellSlots + br*brSlots + int(kind-tkRetrUAC)
}

// tentry is one armed timer. The cell also keeps the deadline it wants for
// each timer, so an entry popped while a worker moved or stopped the timer
// is recognised and skipped.
type tentry struct {
	at   int64
	c    *cell
	gen  uint32
	kind timerKind
	br   int8
}

func (e *tentry) slot() int { return slotOf(e.kind, int(e.br)) }

// theap is a binary min-heap by deadline, written out rather than through
// container/heap so that pushing does not box an entry. Each entry's
// position is kept in its cell (cell.hidx, guarded by the wheel's lock) so
// it can be moved or removed.
type theap []tentry

func (h theap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].c.hidx[h[i].slot()] = int32(i + 1)
	h[j].c.hidx[h[j].slot()] = int32(j + 1)
}

func (h theap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p].at <= h[i].at {
			break
		}
		h.swap(p, i)
		i = p
	}
}

func (h theap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].at < h[l].at {
			m = r
		}
		if h[i].at <= h[m].at {
			return
		}
		h.swap(i, m)
		i = m
	}
}

// remove takes out entry i and returns it.
func (h *theap) remove(i int) tentry {
	a := *h
	n := len(a) - 1
	e := a[i]
	if i != n {
		a.swap(i, n)
	}
	e.c.hidx[e.slot()] = 0
	a[n] = tentry{}
	a = a[:n]
	*h = a
	if i < n {
		a.down(i)
		a.up(i)
	}
	return e
}

// wheel is the timer queue shared by every transaction: a min-heap under
// one lock. Workers arm and stop timers with their cell locked; the timer
// goroutine pops with no cell locked, so the lock order is always cell,
// then wheel.
type wheel struct {
	mu sync.Mutex
	h  theap
}

// set arms (or moves) the timer of e's slot to e.at.
func (w *wheel) set(e tentry) {
	w.mu.Lock()
	s := e.slot()
	if i := int(e.c.hidx[s]) - 1; i >= 0 {
		w.h[i] = e
		w.h.down(i)
		w.h.up(i)
	} else {
		w.h = append(w.h, e)
		i = len(w.h) - 1
		e.c.hidx[s] = int32(i + 1)
		w.h.up(i)
	}
	w.mu.Unlock()
}

// stop disarms a timer of c.
func (w *wheel) stop(c *cell, kind timerKind, br int) {
	w.mu.Lock()
	if i := int(c.hidx[slotOf(kind, br)]) - 1; i >= 0 {
		w.h.remove(i)
	}
	w.mu.Unlock()
}

// stopAll disarms every timer of c (it is being freed).
func (w *wheel) stopAll(c *cell) {
	w.mu.Lock()
	for s := range c.hidx {
		if i := int(c.hidx[s]) - 1; i >= 0 {
			w.h.remove(i)
		}
	}
	w.mu.Unlock()
}

// due moves every entry due at now into out and returns it.
func (w *wheel) due(now int64, out []tentry) []tentry {
	w.mu.Lock()
	for len(w.h) > 0 && w.h[0].at <= now {
		out = append(out, w.h.remove(0))
	}
	w.mu.Unlock()
	return out
}

// size is the number of armed timers.
func (w *wheel) size() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.h)
}

// tickEvery is the timer resolution: T1 is 500 ms, so 10 ms is plenty.
const tickEvery = 10 * time.Millisecond

func newTicker() *time.Ticker { return time.NewTicker(tickEvery) }
