package usrloc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	bolt "go.etcd.io/bbolt"

	"kemi/internal/store"
)

// boltBackend is kemi's embedded database file: one bucket per table,
// one key per AoR holding its bindings as JSON.
type boltBackend struct {
	u    *Usrloc
	db   *store.DB
	file os.FileInfo // the file last written or loaded; nil when none
}

func openBolt(u *Usrloc, dbURL, dbPath string) (*boltBackend, error) {
	if err := store.CheckURL("usrloc", dbURL); err != nil {
		return nil, err
	}
	db := store.Open(DBPath(dbPath, dbURL))
	file, _ := os.Stat(db.Path())
	return &boltBackend{u: u, db: db, file: file}, nil
}

func (b *boltBackend) desc() string { return b.db.Path() }
func (b *boltBackend) close()       {}

// wantFull: the file is not the one written last (moved aside,
// replaced), or the last write found it damaged.
func (b *boltBackend) wantFull(lastErr error) bool {
	if errors.Is(lastErr, store.ErrDamaged) {
		return true
	}
	if b.file != nil {
		if fi, err := os.Stat(b.db.Path()); err != nil || !os.SameFile(fi, b.file) {
			return true
		}
	}
	return false
}

func (b *boltBackend) written() {
	if fi, err := os.Stat(b.db.Path()); err == nil {
		b.file = fi
	}
}

// write encodes the records and writes them in one transaction; full
// replaces every table's bucket.
func (b *boltBackend) write(items []item, names []string, full bool) error {
	vals := make([][]byte, len(items))
	for i, it := range items {
		if len(it.contacts) == 0 {
			continue
		}
		v, err := json.Marshal(it.contacts)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", it.aor, err)
		}
		vals[i] = v
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		if full {
			for _, name := range names {
				if err := store.ClearLocations(tx, name); err != nil {
					return err
				}
			}
		}
		for i, it := range items {
			if err := store.PutLocation(tx, it.table, it.aor, vals[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// load reads every location table from the file, skipping bindings that
// ended while the server was down.
func (b *boltBackend) load(now int64, fn func(table string, r *Record)) error {
	var names []string
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			if t, ok := strings.CutPrefix(string(name), "location/"); ok {
				names = append(names, t)
			}
			return nil
		})
	})
	if err != nil && !errors.Is(err, store.ErrNoFile) {
		return fmt.Errorf("usrloc: loading bindings: %w", err)
	}
	for _, name := range names {
		err := b.db.Locations(name, func(aor, val []byte) error {
			r := &Record{AoR: string(aor)}
			if err := json.Unmarshal(val, &r.Contacts); err != nil {
				return &store.DamagedError{Path: b.db.Path(), Why: fmt.Sprintf("table %s, record %q: %v", name, aor, err)}
			}
			r.expire(now)
			if len(r.Contacts) > 0 {
				fn(name, r)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("usrloc: loading bindings: %w", err)
		}
	}
	return nil
}
