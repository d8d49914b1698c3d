package usrloc

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"kemi/core"
	"kemi/internal/store"
)

// persister writes dirty records to the database from one goroutine:
// each batch is one transaction (one fsync) holding every record changed
// since the last, so concurrent saves share a commit (group commit).
//
// With db_mode 1 (write-through) a change waits for the commit of its
// batch before Update returns, so registrar's 200 goes out only once the
// binding is on disk. With db_mode 2 (write-back) nothing waits: a batch
// is written as soon as the one before it is done (milliseconds), and a
// crash loses what was acknowledged since the last commit.
type persister struct {
	u    *Usrloc
	sync bool // writers wait for their batch (db_mode 1 and 3)
	// inline: a writer waiting for its batch writes it itself (Redis,
	// a round trip of well under a millisecond) instead of waking the
	// flusher and sleeping until it is done: two goroutine hand-offs
	// less per REGISTER. The flusher still retries after a failure.
	inline bool
	mu     sync.Mutex
	dirty  map[*Table]map[string]struct{}
	// writing is the batch being written (flush), nil between batches.
	writing map[*Table]map[string]struct{}
	cur     *batch // the batch marks go into
	wake    chan struct{}
	quit    chan struct{}
	done    chan struct{}

	flushMu sync.Mutex // one flush at a time; guards the fields below
	full    bool       // rewrite every record next time
	failing atomic.Pointer[error]
	stopped atomic.Bool // the flusher goroutine is gone
	logged  string      // the last flush error logged
	loggedT time.Time
}

// batch is one commit: done closes when it is written or failed.
type batch struct {
	done chan struct{}
	err  error
	held []Held // run after the commit, in order (UpdateHeld)
}

func newBatch() *batch { return &batch{done: make(chan struct{})} }

// retryDelay is the pause after a failed flush (the file locked by
// `kemi user`, a full disk, a damaged file) before the batch is tried
// again.
const retryDelay = time.Second

// relogEvery repeats a flush error that did not change.
const relogEvery = time.Minute

// newPersister starts the flusher; inline (Redis) applies with sync.
func newPersister(u *Usrloc, sync, inline bool) *persister {
	p := &persister{
		u:      u,
		sync:   sync,
		inline: sync && inline,
		dirty:  map[*Table]map[string]struct{}{},
		cur:    newBatch(),
		wake:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go p.run()
	return p
}

// mark queues aor of t for the next batch and returns that batch.
func (p *persister) mark(t *Table, aor string) *batch {
	b := p.markQuiet(t, aor)
	p.signal()
	return b
}

// markQuiet is mark without waking the flusher (the caller writes).
func (p *persister) markQuiet(t *Table, aor string) *batch {
	p.mu.Lock()
	m := p.dirty[t]
	if m == nil {
		m = map[string]struct{}{}
		p.dirty[t] = m
	}
	m[aor] = struct{}{}
	b := p.cur
	p.mu.Unlock()
	return b
}

// writeNow writes b from the calling goroutine (inline): unless a flush
// already wrote it meanwhile, it flushes, taking along whatever else is
// dirty. A failure leaves the change queued and wakes the flusher, which
// retries as after its own failures.
func (p *persister) writeNow(b *batch) error {
	p.flushMu.Lock()
	select {
	case <-b.done:
		p.flushMu.Unlock()
		return b.err
	default:
	}
	err := p.flushLocked()
	p.flushMu.Unlock()
	if err != nil {
		p.signal()
	}
	<-b.done // closed by this flush or an earlier one
	return b.err
}

// markHeld is mark that attaches h to the batch, unless writing fails
// or the flusher is gone: then held is false and the caller waits for b
// as Update does (an error at once, or its own flush at shutdown).
func (p *persister) markHeld(t *Table, aor string, h Held) (b *batch, held bool) {
	p.mu.Lock()
	m := p.dirty[t]
	if m == nil {
		m = map[string]struct{}{}
		p.dirty[t] = m
	}
	m[aor] = struct{}{}
	b = p.cur
	if p.failing.Load() == nil && !p.stopped.Load() {
		b.held = append(b.held, h)
		held = true
	}
	p.mu.Unlock()
	p.signal()
	return b, held
}

// wait blocks until b is committed, in write-through mode. While the
// database fails, it returns that error at once instead of holding the
// worker through the retries: the change stays queued and is written
// when the database works again.
func (p *persister) wait(b *batch) error {
	if !p.sync {
		return nil
	}
	if e := p.failing.Load(); e != nil {
		return *e
	}
	if p.stopped.Load() {
		// A late change during shutdown: no flusher is left to write it.
		p.flush()
	}
	<-b.done
	return b.err
}

func (p *persister) run() {
	defer close(p.done)
	for {
		select {
		case <-p.quit:
			return
		case <-p.wake:
		}
		if err := p.flush(); err != nil {
			select {
			case <-p.quit:
				return
			case <-time.After(retryDelay):
			}
			p.signal()
		}
	}
}

func (p *persister) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// stop ends the goroutine and writes what is left: nothing acknowledged
// is lost on a clean stop.
func (p *persister) stop() {
	close(p.quit)
	<-p.done
	p.stopped.Store(true)
	if err := p.flush(); err != nil {
		p.u.logf(core.LErr, "usrloc: final flush: %v", err)
	}
}

// flush writes the dirty records, or every record when the backend asks
// for it (a bbolt file moved aside, replaced or damaged; a Redis server
// that came back empty). On failure the records stay dirty.
func (p *persister) flush() error {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	return p.flushLocked()
}

// flushLocked is flush under flushMu.
func (p *persister) flushLocked() error {
	p.mu.Lock()
	dirty := p.dirty
	p.dirty = map[*Table]map[string]struct{}{}
	p.writing = dirty
	b := p.cur
	p.cur = newBatch()
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.writing = nil
		p.mu.Unlock()
	}()
	be := p.u.b
	var last error
	if e := p.failing.Load(); e != nil {
		last = *e
	}
	full := p.full || be.wantFull(last)
	var err error
	if len(dirty) > 0 || full {
		err = p.write(dirty, full)
	}
	if err == nil {
		if full {
			p.u.logf(core.LNotice, "usrloc: wrote every binding to %s (new, replaced or damaged)", be.desc())
		}
		p.full = false
		be.written()
		if p.failing.Load() != nil {
			p.failing.Store(nil)
			p.logged = ""
			p.u.logf(core.LNotice, "usrloc: writing to %s works again", be.desc())
		}
	} else {
		if errors.Is(err, store.ErrDamaged) {
			p.full = true
		}
		p.failing.Store(&err)
		// Put the batch back; newer marks merge with it.
		p.mu.Lock()
		for t, aors := range dirty {
			m := p.dirty[t]
			if m == nil {
				p.dirty[t] = aors
				continue
			}
			for a := range aors {
				m[a] = struct{}{}
			}
		}
		p.mu.Unlock()
		if msg := err.Error(); msg != p.logged || time.Since(p.loggedT) >= relogEvery {
			p.logged, p.loggedT = msg, time.Now()
			p.u.logf(core.LErr, "usrloc: writing bindings: %v; kept in memory, retrying every %v", err, retryDelay)
		}
	}
	b.err = err
	// Still under flushMu: held replies go out in commit order, and
	// before the writers waiting for this batch wake and send theirs.
	for i, h := range b.held {
		h.Committed(err)
		b.held[i] = nil
	}
	close(b.done)
	return err
}

// isDirty reports whether aor of t waits for the next batch (a reload
// from a shared backend leaves such a record alone).
func (p *persister) isDirty(t *Table, aor string) bool {
	p.mu.Lock()
	_, ok := p.dirty[t][aor]
	if !ok {
		_, ok = p.writing[t][aor]
	}
	p.mu.Unlock()
	return ok
}

// write copies the records (under the shard locks) and hands them to the
// backend as one batch (outside them). full writes every record in
// memory.
func (p *persister) write(dirty map[*Table]map[string]struct{}, full bool) error {
	var items []item
	var tables []string
	if full {
		for _, t := range p.u.Tables() {
			tables = append(tables, t.Name)
			for i := range t.shards {
				s := &t.shards[i]
				s.mu.RLock()
				for aor, r := range s.recs {
					if cs := stored(r); len(cs) > 0 {
						items = append(items, item{table: t.Name, aor: aor, contacts: cs})
					}
				}
				s.mu.RUnlock()
			}
		}
	} else {
		for t, aors := range dirty {
			for aor := range aors {
				var cs []Contact
				t.peek([]byte(aor), func(r *Record) {
					if r != nil {
						cs = stored(r)
					}
				})
				items = append(items, item{table: t.Name, aor: aor, contacts: cs})
			}
		}
	}
	return p.u.b.write(items, tables, full)
}

// load reads every location table from the backend, skipping bindings
// that ended while the server was down.
func (u *Usrloc) load() error {
	return u.b.load(time.Now().Unix(), func(table string, r *Record) {
		u.Table(table).put(r)
	})
}

func (u *Usrloc) logf(level int, format string, args ...any) {
	if u.log != nil {
		u.log.Log(level, nil, fmt.Sprintf(format, args...))
	}
}
