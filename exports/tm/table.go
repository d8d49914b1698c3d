package tm

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"kemi/core"
	"kemi/internal/memguard"
)

// maxBranches bounds the branches of one transaction, as Kamailio's
// MAX_BRANCHES does.
const maxBranches = 12

// nBuckets is the size of the transaction hash table; a power of two.
const nBuckets = 1 << 14

// uasState is the state of the server side of a transaction (RFC 3261
// 17.2.1, 17.2.2; RFC 6026 Accepted for an INVITE answered with a 2xx).
type uasState uint8

const (
	uasProceeding uasState = iota // no final reply sent yet
	uasCompleted                  // final reply sent (non-2xx INVITE: waiting for the ACK)
	uasConfirmed                  // INVITE: the ACK came
	uasAccepted                   // INVITE: a 2xx went upstream
)

// branch is one client transaction of a cell.
type branch struct {
	out []byte // the request as sent, for retransmissions
	dst netip.AddrPort
	// proto is the transport to dst (the next hop's transport= or sips:,
	// or its DNS target's); sni the name a TLS connection verifies.
	proto  core.Proto
	sni    string
	connID uint64 // the connection to send on first (a binding's, from lookup)
	// alt are the next targets of a next hop resolved in DNS, tried in
	// turn when dst times out or answers 503 (use_dns_failover).
	alt    []netip.AddrPort
	ready  bool   // sent (a CANCEL may act on it)
	round  int    // failure-route round that created it
	bflags uint64 // the branch's flags, as its branch route left them
	retrAt int64
	retrIv int64
	frAt   int64

	provisional bool // a 1xx came
	replied     bool // any reply came
	final       int  // final status; 0 while pending
	local       bool // final is a local 408 (timeout) or a send failure
	timedOut    bool
	reply       []byte // the failure reply received, top Via removed
	ack         []byte // hop-by-hop ACK of a non-2xx final, resent on retransmissions

	cancel        []byte // the CANCEL for this branch
	cancelPending bool   // send the CANCEL when a provisional comes
	cancelSent    bool
	cancelDone    bool // the CANCEL got its final reply, or gave up
	cRetrAt       int64
	cRetrIv       int64
	cFRAt         int64
}

// cell is one transaction: the server transaction for the request that
// came in and the client transactions of its branches (Kamailio's "cell").
// Everything in it is guarded by mu, except what lookup reads (id, inv,
// next: set before the cell is linked; gen: atomic). Script routes never run
// with mu held.
type cell struct {
	mu   sync.Mutex
	gen  atomic.Uint32 // bumped when freed, so stale holders and timers see it
	live bool
	next *cell
	bkt  uint32
	id   uint64
	inv  bool // an INVITE transaction

	base []byte // the request as received plus the script's edits and received/rport
	tmp  []byte // the next base while a failure route relays again

	src, local netip.AddrPort
	proto      core.Proto
	connID     uint64 // the request's TCP/TLS connection, for the replies
	connFlags  uint8  // the script's connection controls (core.ConnReplyNoConnect...)
	replyTo    netip.AddrPort
	flags      uint64

	state     uasState
	reply     []byte // last reply sent upstream, replayed to retransmissions
	replyCode int
	doneAt    int64 // when the final reply went upstream
	retrAt    int64 // timer G
	retrIv    int64
	ackWaitAt int64 // timer H
	delAt     int64

	// br holds the branches; it grows as they are added (most calls have
	// one) and keeps its capacity and buffers when the cell is reused. Take
	// no pointer into it across an unlock: a failure route may grow it.
	br        []branch
	nbr       int // len(br)
	round     int
	canceled  bool
	inFailure bool
	// susp is the label t_suspend gave the transaction ($T(id_label)),
	// 0 when it is not suspended; t_continue finds the cell by its
	// bucket and this label and clears it, so it resumes once.
	susp uint32

	onFailure, onBranch, onReply, onBranchFailure string
	fr, frInv                                     int64

	// rFrom, rTo: From/To display name and URI to put back into replies
	// (uac's restore, RestoreInReplies); empty for none.
	rFrom, rTo []byte

	hidx [nSlots]int32 // heap position+1 of each timer slot; guarded by the wheel's lock
}

// addBranch appends a cleared branch, reusing the buffers of one the cell
// had before, and returns its index. c.mu held.
func (c *cell) addBranch() int {
	i := len(c.br)
	if i < cap(c.br) {
		c.br = c.br[:i+1]
	} else {
		c.br = append(c.br, branch{})
	}
	c.nbr = len(c.br)
	return i
}

type bucket struct {
	mu   sync.Mutex
	head *cell
}

// Pool bounds. Freed cells are kept for the next transactions, but a
// flood of large requests must not leave its buffers behind: a buffer that
// grew past maxKeepBuf is dropped when its cell is freed, the pool keeps at
// most maxIdle cells and maxIdleBytes of buffers (an eighth of a smaller
// budget), and once a load has passed (memguard's OnIdle) it shrinks to
// idleFloor cells.
const (
	maxIdle      = 4096
	maxIdleBytes = 16 << 20
	maxKeepBuf   = 16 << 10
	idleFloor    = 64
)

// table holds the live transactions, shared by every worker.
type table struct {
	b     [nBuckets]bucket
	live  atomic.Int64
	wheel *wheel

	// idle are freed cells, kept with their buffers for the next
	// transactions. A sync.Pool would lose them at every other GC, and a
	// cell (a parsed message, branch buffers) is several KB to clear and
	// fault in again.
	idleMu    sync.Mutex
	idle      []*cell
	idleBytes int
	// guard's budget lowers maxIdleBytes to an eighth of it.
	guard *memguard.Guard
}

// lookup finds the cell with id (and kind) and the generation it had.
func (t *table) lookup(id uint64, inv bool) (*cell, uint32) {
	b := &t.b[id&(nBuckets-1)]
	b.mu.Lock()
	for c := b.head; c != nil; c = c.next {
		if c.id == id && c.inv == inv {
			g := c.gen.Load()
			b.mu.Unlock()
			return c, g
		}
	}
	b.mu.Unlock()
	return nil, 0
}

// insert links a fresh cell unless one with the same id and kind is there
// already (a retransmission handled by another worker at the same time);
// it returns the cell that is in the table and whether it is the new one.
func (t *table) insert(n *cell) (*cell, uint32, bool) {
	b := &t.b[n.id&(nBuckets-1)]
	b.mu.Lock()
	for c := b.head; c != nil; c = c.next {
		if c.id == n.id && c.inv == n.inv {
			g := c.gen.Load()
			b.mu.Unlock()
			return c, g, false
		}
	}
	n.bkt = uint32(n.id & (nBuckets - 1))
	n.next = b.head
	b.head = n
	b.mu.Unlock()
	t.live.Add(1)
	return n, n.gen.Load(), true
}

// get returns a cleared cell, reusing a freed one's buffers.
func (t *table) get() *cell {
	t.idleMu.Lock()
	if n := len(t.idle); n > 0 {
		c := t.idle[n-1]
		t.idle[n-1] = nil
		t.idle = t.idle[:n-1]
		t.idleBytes -= c.bufBytes()
		t.idleMu.Unlock()
		return c
	}
	t.idleMu.Unlock()
	return new(cell)
}

// put keeps a cleared cell for reuse, without the buffers that grew past
// maxKeepBuf, unless the pool is full.
func (t *table) put(c *cell) {
	before := c.bufBytes()
	c.dropBig()
	n := c.bufBytes()
	limit := maxIdleBytes
	if t.guard != nil {
		if b := int(t.guard.Budget() / 8); b > 0 && b < limit {
			limit = b
		}
	}
	t.idleMu.Lock()
	kept := len(t.idle) < maxIdle && t.idleBytes+n <= limit
	if kept {
		t.idle = append(t.idle, c)
		t.idleBytes += n
	}
	t.idleMu.Unlock()
	if t.guard != nil {
		if kept {
			t.guard.Release(before - n)
		} else {
			t.guard.Release(before)
		}
	}
}

// trim shrinks the pool to idleFloor cells (memguard's OnIdle, after a
// load), so that the garbage collector can give their memory back.
func (t *table) trim() {
	t.idleMu.Lock()
	for len(t.idle) > idleFloor {
		n := len(t.idle) - 1
		// Called before a give-back: no Release needed.
		t.idleBytes -= t.idle[n].bufBytes()
		t.idle[n] = nil
		t.idle = t.idle[:n]
	}
	if cap(t.idle) > 2*idleFloor {
		t.idle = append(make([]*cell, 0, 2*idleFloor), t.idle...)
	}
	t.idleMu.Unlock()
}

// idleStats returns how many cells and buffer bytes the pool keeps.
func (t *table) idleStats() (cells, bytes int) {
	t.idleMu.Lock()
	defer t.idleMu.Unlock()
	return len(t.idle), t.idleBytes
}

// unlink removes c from its bucket. c.mu must be held; the lock order is
// cell, then bucket.
func (t *table) unlink(c *cell) {
	b := &t.b[c.bkt]
	b.mu.Lock()
	for p := &b.head; *p != nil; p = &(*p).next {
		if *p == c {
			*p = c.next
			t.live.Add(-1)
			break
		}
	}
	b.mu.Unlock()
	c.next = nil
}

// free ends c: it leaves the table, its generation moves on (stale timer
// entries and lookups then ignore it) and it goes back to the pool with its
// buffers. c.mu must be held; free releases it.
func (t *table) free(c *cell) {
	if !c.live {
		c.mu.Unlock()
		return
	}
	t.unlink(c)
	t.wheel.stopAll(c)
	c.live = false
	c.gen.Add(1)
	c.clear()
	c.mu.Unlock()
	t.put(c)
}

// clear resets a cell for reuse, keeping its buffers' capacity.
func (c *cell) clear() {
	c.base, c.tmp, c.reply = c.base[:0], c.tmp[:0], c.reply[:0]
	c.src, c.local, c.replyTo = netip.AddrPort{}, netip.AddrPort{}, netip.AddrPort{}
	c.proto, c.flags, c.connID, c.connFlags = 0, 0, 0, 0
	c.state, c.replyCode = uasProceeding, 0
	c.doneAt, c.retrAt, c.retrIv, c.ackWaitAt, c.delAt = 0, 0, 0, 0, 0
	for i := range c.br {
		b := &c.br[i]
		*b = branch{out: b.out[:0], reply: b.reply[:0], ack: b.ack[:0], cancel: b.cancel[:0], alt: b.alt[:0]}
	}
	c.br = c.br[:0]
	c.nbr, c.round = 0, 0
	c.canceled, c.inFailure = false, false
	c.susp = 0
	c.onFailure, c.onBranch, c.onReply, c.onBranchFailure = "", "", "", ""
	c.fr, c.frInv = 0, 0
	c.rFrom, c.rTo = c.rFrom[:0], c.rTo[:0]
}

// keep returns b when its capacity is small enough to keep in the pool,
// nil otherwise.
func keep(b []byte) []byte {
	if cap(b) > maxKeepBuf {
		return nil
	}
	return b[:0]
}

// dropBig lets go of the buffers of a cleared cell that grew past
// maxKeepBuf (a large request, reply or failure reply).
func (c *cell) dropBig() {
	c.base, c.tmp, c.reply = keep(c.base), keep(c.tmp), keep(c.reply)
	for i := range c.br[:cap(c.br)] {
		b := &c.br[:cap(c.br)][i]
		b.out, b.reply, b.ack, b.cancel = keep(b.out), keep(b.reply), keep(b.ack), keep(b.cancel)
	}
}

// bufBytes is the capacity of the buffers a cleared cell keeps.
func (c *cell) bufBytes() int {
	n := cap(c.base) + cap(c.tmp) + cap(c.reply)
	for _, b := range c.br[:cap(c.br)] {
		n += cap(b.out) + cap(b.reply) + cap(b.ack) + cap(b.cancel)
	}
	return n
}
