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

// FakeClock is a Clock that moves only when told to.
type FakeClock struct {
	mu sync.Mutex
	t  int64
}

// Now returns the fake time.
func (c *FakeClock) Now() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the fake time on by d.
func (c *FakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t += int64(d)
	c.mu.Unlock()
}

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

// tentry is one armed timer. The cell keeps the deadline it wants for each
// timer; an entry whose deadline or cell generation no longer matches is
// stale (the timer was stopped or moved) and is skipped, so stopping a
// timer costs nothing.
type tentry struct {
	at   int64
	c    *cell
	gen  uint32
	kind timerKind
	br   int8
}

// theap is a binary min-heap by deadline, written out rather than through
// container/heap so that pushing does not box an entry.
type theap []tentry

func (h *theap) push(e tentry) {
	*h = append(*h, e)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if a[p].at <= a[i].at {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *theap) pop() tentry {
	a := *h
	e := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a[n] = tentry{}
	a = a[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && a[r].at < a[l].at {
			m = r
		}
		if a[i].at <= a[m].at {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return e
}

// wheel is the timer queue shared by every transaction: a min-heap under
// one lock. Workers push (with their cell locked); the timer goroutine pops
// with no cell locked, so the lock order is always cell, then wheel.
type wheel struct {
	mu sync.Mutex
	h  theap
}

func (w *wheel) push(e tentry) {
	w.mu.Lock()
	w.h.push(e)
	w.mu.Unlock()
}

// due moves every entry due at now into out and returns it.
func (w *wheel) due(now int64, out []tentry) []tentry {
	w.mu.Lock()
	for len(w.h) > 0 && w.h[0].at <= now {
		out = append(out, w.h.pop())
	}
	w.mu.Unlock()
	return out
}

// size is the number of armed entries, stale ones included.
func (w *wheel) size() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.h)
}

// tickEvery is the timer resolution: T1 is 500 ms, so 10 ms is plenty.
const tickEvery = 10 * time.Millisecond

func newTicker() *time.Ticker { return time.NewTicker(tickEvery) }
