package usrloc

import (
	"sync"
	"time"
)

const nShards = 64

// Table is one location table: shards of address of record -> Record.
type Table struct {
	Name   string
	u      *Usrloc
	shards [nShards]shard
}

type shard struct {
	mu   sync.RWMutex
	recs map[string]*Record
}

func newTable(name string, u *Usrloc) *Table {
	t := &Table{Name: name, u: u}
	for i := range t.shards {
		t.shards[i].recs = map[string]*Record{}
	}
	return t
}

// shardOf hashes an AoR with FNV-1a; it allocates nothing.
func (t *Table) shardOf(aor []byte) *shard {
	h := uint32(2166136261)
	for _, c := range aor {
		h ^= uint32(c)
		h *= 16777619
	}
	return &t.shards[h%nShards]
}

// View calls fn with the record of aor under a read lock (nil when there
// is none). fn must not keep the record or its contacts.
func (t *Table) View(aor []byte, fn func(r *Record)) {
	if sb := t.u.mode3; sb != nil {
		if err := t.refresh(sb, aor); err != nil {
			t.u.logLimited(&fetchLog, "usrloc: lookup of %q reads %s: %v; using the bindings in memory", aor, sb.desc(), err)
		}
	}
	t.peek(aor, fn)
}

// peek is View without reading a shared backend first.
func (t *Table) peek(aor []byte, fn func(r *Record)) {
	s := t.shardOf(aor)
	s.mu.RLock()
	fn(s.recs[string(aor)])
	s.mu.RUnlock()
}

// Update calls fn with the record of aor under the write lock, creating
// an empty one when there is none. fn reports whether it changed the
// record; a changed record is marked for the database, and one left
// without contacts is removed. The AoR string is allocated only for a new
// record.
//
// With db_mode 1 (write-through) Update returns once the change is on
// disk (committed with the other changes of its batch), or with the
// error that kept it from being written: the change then stays in memory
// and is written when the database works again, and the caller should
// not acknowledge it as saved. Otherwise Update returns nil at once.
func (t *Table) Update(aor []byte, fn func(r *Record) bool) error {
	_, err := t.update(aor, fn, nil)
	return err
}

// Held is an action waiting for the commit of a change: registrar's 200
// OK, sent once its binding is on disk. Committed runs on the flusher
// goroutine, in commit order (and, within a batch, in the order the
// changes were made under their records' locks), with nil when the batch
// is durable or with the error that kept it from being written. It must
// not block for long: the next batch waits for it.
type Held interface {
	Committed(err error)
}

// UpdateHeld is Update for a caller that need not wait for the disk. fn
// changes the record as for Update and also returns a Held (or nil). In
// db_mode 1 and 3, when fn changed the record and returned h, h is
// attached to the batch holding the change, UpdateHeld returns at once
// with held true, and h.Committed runs once that batch is written or
// failed. held is false, and nothing calls h, when there is nothing to
// wait for (no change, no database, write-back), when writing already
// fails (err says why, as from Update), or during shutdown (UpdateHeld
// then waited like Update).
func (t *Table) UpdateHeld(aor []byte, fn func(r *Record) (changed bool, h Held)) (held bool, err error) {
	return t.update(aor, nil, fn)
}

// Holds reports whether UpdateHeld may hold: the table is written
// through (db_mode 1 or 3) and the database is not failing.
func (t *Table) Holds() bool {
	if t.u.mode3 != nil {
		// Written by the worker itself (writeShared), not by the
		// persister: nothing to hold.
		return false
	}
	p := t.u.p
	return p != nil && p.sync && !p.inline && p.failing.Load() == nil && !p.stopped.Load()
}

func (t *Table) update(aor []byte, fn func(r *Record) bool, fnh func(r *Record) (bool, Held)) (held bool, err error) {
	if sb := t.u.mode3; sb != nil {
		return false, t.writeShared(sb, aor, fn, fnh)
	}
	s := t.shardOf(aor)
	s.mu.Lock()
	r := s.recs[string(aor)]
	isNew := r == nil
	if isNew {
		r = &Record{AoR: string(aor)}
	}
	var changed bool
	var h Held
	if fn != nil {
		changed = fn(r)
	} else {
		changed, h = fnh(r)
	}
	switch {
	case len(r.Contacts) == 0:
		if !isNew {
			delete(s.recs, r.AoR)
		}
	case isNew:
		s.recs[r.AoR] = r
	}
	p := t.u.p
	mark := changed && (!isNew || len(r.Contacts) > 0) && p != nil
	var b *batch
	if mark && p.inline && p.failing.Load() == nil && !p.stopped.Load() {
		// Marked under the record's lock, as below; written by this
		// goroutine once the lock is released.
		b = p.markQuiet(t, r.AoR)
		s.mu.Unlock()
		return false, p.writeNow(b)
	}
	if mark && h != nil && p.sync {
		// Marked under the record's lock, so that two changes of one AoR
		// reach the batches, and their held replies go out, in the order
		// they were made.
		b, held = p.markHeld(t, r.AoR, h)
	}
	s.mu.Unlock()
	if held {
		return true, nil
	}
	if mark && b == nil {
		b = p.mark(t, r.AoR)
	}
	if b != nil {
		return false, p.wait(b)
	}
	return false, nil
}

// Delete removes every binding of aor; it reports whether there were any.
// With db_mode 1 it returns once the removal is on disk (or failed; see
// DeleteErr).
func (t *Table) Delete(aor []byte) bool {
	found, _ := t.DeleteErr(aor)
	return found
}

// DeleteErr is Delete that also returns Update's error.
func (t *Table) DeleteErr(aor []byte) (bool, error) {
	found := false
	err := t.Update(aor, func(r *Record) bool {
		found = len(r.Contacts) > 0
		r.Contacts = r.Contacts[:0]
		return found
	})
	return found, err
}

// Expire removes the bindings that ended at or before now.
func (t *Table) Expire(now int64) int {
	n := 0
	var gone []string
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for k, r := range s.recs {
			if m := r.expire(now); m > 0 {
				n += m
				gone = append(gone, k)
				if len(r.Contacts) == 0 {
					delete(s.recs, k)
				}
			}
		}
		s.mu.Unlock()
	}
	if _, shared := t.u.b.(sharedBackend); shared {
		// A shared backend drops ended bindings itself (Redis key
		// expiry, the SQL purge): N nodes need not rewrite them.
		return n
	}
	for _, k := range gone {
		t.dirty(k)
	}
	return n
}

// expire drops the ended bindings in place and returns how many.
func (r *Record) expire(now int64) int {
	j := 0
	for _, c := range r.Contacts {
		if c.Expires > now {
			r.Contacts[j] = c
			j++
		}
	}
	n := len(r.Contacts) - j
	clear(r.Contacts[j:])
	r.Contacts = r.Contacts[:j]
	return n
}

// Expire is the exported form of expire for registrar.
func (r *Record) Expire(now int64) int { return r.expire(now) }

// Len returns the number of records and of bindings.
func (t *Table) Len() (records, contacts int) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		records += len(s.recs)
		for _, r := range s.recs {
			contacts += len(r.Contacts)
		}
		s.mu.RUnlock()
	}
	return
}

// Put stores a record as loaded from the database, replacing any.
func (t *Table) put(r *Record) {
	s := t.shardOf([]byte(r.AoR))
	s.mu.Lock()
	s.recs[r.AoR] = r
	s.mu.Unlock()
}

// dirty marks aor for the database without waiting (the expiry timer).
func (t *Table) dirty(aor string) {
	if p := t.u.p; p != nil {
		p.mark(t, aor)
	}
}

// refresh replaces the record of aor with the one the shared backend
// holds (db_mode 3), unless a change of it is still waiting for its
// batch: memory is newer then.
func (t *Table) refresh(sb sharedBackend, aor []byte) error {
	r, err := sb.fetch(t.Name, string(aor), time.Now().Unix())
	if err != nil {
		return err
	}
	t.replace(string(aor), r)
	return nil
}

// replace puts r (nil: none) as the record of aor, as another node wrote
// it, unless this node has a change of aor not yet written.
func (t *Table) replace(aor string, r *Record) {
	if p := t.u.p; p != nil && p.isDirty(t, aor) {
		return
	}
	s := t.shardOf([]byte(aor))
	s.mu.Lock()
	if r == nil || len(r.Contacts) == 0 {
		delete(s.recs, aor)
	} else {
		if old := s.recs[aor]; old != nil {
			keepLocal(r, old)
		}
		s.recs[aor] = r
	}
	s.mu.Unlock()
}

func findURI(cs []Contact, uri string) int {
	for i := range cs {
		if cs[i].URI == uri {
			return i
		}
	}
	return -1
}

// writeShared is update for db_mode 3 on a shared backend (Kamailio's
// DB-only mode): the record is read from the backend, changed, and
// written back by the calling worker, under the shard's lock so that
// this node's changes of one AoR reach the backend in order. A save
// costs two round trips (HGETALL, then one MULTI/EXEC) and no hand-off
// to another goroutine. A write that fails leaves no trace in memory
// (the next lookup reads the backend again) and returns the error: the
// caller answers 500.
func (t *Table) writeShared(sb sharedBackend, aor []byte, fn func(r *Record) bool, fnh func(r *Record) (bool, Held)) error {
	s := t.shardOf(aor)
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := sb.fetch(t.Name, string(aor), time.Now().Unix())
	if err != nil {
		return err
	}
	key := string(aor)
	if old := s.recs[key]; old != nil && r != nil {
		keepLocal(r, old)
	}
	if r == nil {
		r = &Record{AoR: key}
	}
	before := stored(r)
	var changed bool
	if fn != nil {
		changed = fn(r)
	} else {
		changed, _ = fnh(r)
	}
	if len(r.Contacts) == 0 {
		delete(s.recs, key)
	} else {
		s.recs[key] = r
	}
	if !changed {
		return nil
	}
	it := diffItem(t.Name, key, before, stored(r))
	if len(it.contacts) == 0 && len(it.removed) == 0 {
		return nil
	}
	if err := sb.write([]item{it}, nil, false); err != nil {
		delete(s.recs, key)
		return err
	}
	return nil
}

// keepLocal carries this node's connection ids and memory-only bindings
// from old into r, a record read from the shared backend.
func keepLocal(r, old *Record) {
	for _, c := range old.Contacts {
		if c.Mem {
			r.Contacts = append(r.Contacts, c)
			continue
		}
		if c.ConnID != 0 {
			if i := findURI(r.Contacts, c.URI); i >= 0 {
				r.Contacts[i].ConnID = c.ConnID
			}
		}
	}
}
