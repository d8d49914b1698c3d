package usrloc

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"kemi/core"
	"kemi/internal/store"
)

// persister writes dirty records to the database from one goroutine, so a
// REGISTER never waits for the disk: each batch is one transaction (one
// fsync) holding every record changed since the last.
type persister struct {
	u     *Usrloc
	mu    sync.Mutex
	dirty map[*Table]map[string]struct{}
	wake  chan struct{}
	quit  chan struct{}
	done  chan struct{}

	flushMu sync.Mutex // one flush at a time
}

// retryDelay is the pause after a failed flush (the file locked by
// `kemi user`, a full disk) before the batch is tried again.
const retryDelay = time.Second

func newPersister(u *Usrloc) *persister {
	p := &persister{
		u:     u,
		dirty: map[*Table]map[string]struct{}{},
		wake:  make(chan struct{}, 1),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go p.run()
	return p
}

func (p *persister) mark(t *Table, aor string) {
	p.mu.Lock()
	m := p.dirty[t]
	if m == nil {
		m = map[string]struct{}{}
		p.dirty[t] = m
	}
	m[aor] = struct{}{}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
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
			p.u.logf(core.LErr, "usrloc: %v; retrying", err)
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
	if err := p.flush(); err != nil {
		p.u.logf(core.LErr, "usrloc: final flush: %v", err)
	}
}

// flush writes the dirty records. On failure they stay dirty.
func (p *persister) flush() error {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	p.mu.Lock()
	batch := p.dirty
	p.dirty = map[*Table]map[string]struct{}{}
	p.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	// Encode under the shard locks, write outside them.
	type item struct {
		table, aor string
		val        []byte
	}
	var items []item
	for t, aors := range batch {
		for aor := range aors {
			var val []byte
			var err error
			t.View([]byte(aor), func(r *Record) {
				if r == nil {
					return
				}
				var keep []Contact
				for _, c := range r.Contacts {
					if !c.Mem {
						keep = append(keep, c)
					}
				}
				if len(keep) > 0 {
					val, err = json.Marshal(keep)
				}
			})
			if err != nil {
				return fmt.Errorf("encoding %s: %w", aor, err)
			}
			items = append(items, item{t.Name, aor, val})
		}
	}
	err := p.u.db.Update(func(tx *bolt.Tx) error {
		for _, it := range items {
			if err := store.PutLocation(tx, it.table, it.aor, it.val); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Put the batch back; newer marks merge with it.
		p.mu.Lock()
		for t, aors := range batch {
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
	}
	return err
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
		return fmt.Errorf("loading locations: %w", err)
	}
	for _, name := range names {
		t := u.Table(name)
		err := u.db.Locations(name, func(aor, val []byte) error {
			r := &Record{AoR: string(aor)}
			if err := json.Unmarshal(val, &r.Contacts); err != nil {
				return fmt.Errorf("table %s, %s: %w", name, aor, err)
			}
			r.expire(now)
			if len(r.Contacts) > 0 {
				t.put(r)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("loading locations: %w", err)
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
