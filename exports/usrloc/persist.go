package usrloc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

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
	u     *Usrloc
	sync  bool // writers wait for their batch (db_mode 1 and 3)
	mu    sync.Mutex
	dirty map[*Table]map[string]struct{}
	cur   *batch // the batch marks go into
	wake  chan struct{}
	quit  chan struct{}
	done  chan struct{}

	flushMu sync.Mutex  // one flush at a time; guards the fields below
	file    os.FileInfo // the file last written or loaded; nil when none
	full    bool        // rewrite every record next time
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

func newPersister(u *Usrloc, sync bool, file os.FileInfo) *persister {
	p := &persister{
		u:     u,
		sync:  sync,
		dirty: map[*Table]map[string]struct{}{},
		cur:   newBatch(),
		wake:  make(chan struct{}, 1),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
		file:  file,
	}
	go p.run()
	return p
}

// mark queues aor of t for the next batch and returns that batch.
func (p *persister) mark(t *Table, aor string) *batch {
	p.mu.Lock()
	m := p.dirty[t]
	if m == nil {
		m = map[string]struct{}{}
		p.dirty[t] = m
	}
	m[aor] = struct{}{}
	b := p.cur
	p.mu.Unlock()
	p.signal()
	return b
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

// flush writes the dirty records, or every record when the file is not
// the one written last (moved aside, replaced) or a write failed on a
// damaged file. On failure the records stay dirty.
func (p *persister) flush() error {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	p.mu.Lock()
	dirty := p.dirty
	p.dirty = map[*Table]map[string]struct{}{}
	b := p.cur
	p.cur = newBatch()
	p.mu.Unlock()
	path := p.u.db.Path()
	full := p.full
	if p.file != nil {
		if fi, err := os.Stat(path); err != nil || !os.SameFile(fi, p.file) {
			full = true
		}
	}
	var err error
	if len(dirty) > 0 || full {
		err = p.write(dirty, full)
	}
	if err == nil {
		if full {
			p.u.logf(core.LNotice, "usrloc: wrote every binding to %s (the file was new, replaced or damaged)", path)
		}
		p.full = false
		if fi, serr := os.Stat(path); serr == nil {
			p.file = fi
		}
		if p.failing.Load() != nil {
			p.failing.Store(nil)
			p.logged = ""
			p.u.logf(core.LNotice, "usrloc: writing to %s works again", path)
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

// write encodes the records (under the shard locks) and writes them in
// one transaction (outside them). full replaces every table's bucket
// with the tables in memory.
func (p *persister) write(dirty map[*Table]map[string]struct{}, full bool) error {
	type item struct {
		table, aor string
		val        []byte
	}
	var items []item
	encode := func(r *Record) ([]byte, error) {
		var keep []Contact
		for _, c := range r.Contacts {
			if !c.Mem {
				keep = append(keep, c)
			}
		}
		if len(keep) == 0 {
			return nil, nil
		}
		return json.Marshal(keep)
	}
	var tables []string
	if full {
		for _, t := range p.u.Tables() {
			tables = append(tables, t.Name)
			for i := range t.shards {
				s := &t.shards[i]
				s.mu.RLock()
				for aor, r := range s.recs {
					val, err := encode(r)
					if err != nil {
						s.mu.RUnlock()
						return fmt.Errorf("encoding %s: %w", aor, err)
					}
					if val != nil {
						items = append(items, item{t.Name, aor, val})
					}
				}
				s.mu.RUnlock()
			}
		}
	} else {
		for t, aors := range dirty {
			for aor := range aors {
				var val []byte
				var err error
				t.View([]byte(aor), func(r *Record) {
					if r != nil {
						val, err = encode(r)
					}
				})
				if err != nil {
					return fmt.Errorf("encoding %s: %w", aor, err)
				}
				items = append(items, item{t.Name, aor, val})
			}
		}
	}
	return p.u.db.Update(func(tx *bolt.Tx) error {
		for _, name := range tables {
			if err := store.ClearLocations(tx, name); err != nil {
				return err
			}
		}
		for _, it := range items {
			if err := store.PutLocation(tx, it.table, it.aor, it.val); err != nil {
				return err
			}
		}
		return nil
	})
}

// load reads every location table from the database, skipping bindings
// that ended while the server was down.
func (u *Usrloc) load() error {
	now := time.Now().Unix()
	var names []string
	err := u.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			if t, ok := strings.CutPrefix(string(name), "location/"); ok {
				names = append(names, t)
			}
			return nil
		})
	})
	if err != nil && !isNoFile(err) {
		return fmt.Errorf("usrloc: loading bindings: %w", err)
	}
	for _, name := range names {
		t := u.Table(name)
		err := u.db.Locations(name, func(aor, val []byte) error {
			r := &Record{AoR: string(aor)}
			if err := json.Unmarshal(val, &r.Contacts); err != nil {
				return &store.DamagedError{Path: u.db.Path(), Why: fmt.Sprintf("table %s, record %q: %v", name, aor, err)}
			}
			r.expire(now)
			if len(r.Contacts) > 0 {
				t.put(r)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("usrloc: loading bindings: %w", err)
		}
	}
	return nil
}

func isNoFile(err error) bool { return errors.Is(err, store.ErrNoFile) }

func (u *Usrloc) logf(level int, format string, args ...any) {
	if u.log != nil {
		u.log.Log(level, nil, fmt.Sprintf(format, args...))
	}
}
