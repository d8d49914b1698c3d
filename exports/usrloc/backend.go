package usrloc

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"kemi/internal/store"
)

// backend is where the persister writes bindings beyond memory: kemi's
// bbolt file (backend_bolt.go), a Redis server shared by several nodes
// (backend_redis.go), or Kamailio's SQL location table (backend_sql.go).
//
// The persister calls write from its one goroutine, one batch at a time;
// load and fetch may run concurrently with it.
type backend interface {
	// desc names the backend in logs ("/var/lib/kemi/kemi.db",
	// "redis://127.0.0.1:6379/0").
	desc() string
	// write stores one batch: each item replaces the AoR's bindings,
	// and an item without contacts removes the AoR. With full, items hold
	// every record in memory (names lists every table) and the backend
	// must end up holding them (bbolt drops what it had; a shared
	// backend keeps the other nodes' records).
	write(items []item, names []string, full bool) error
	// wantFull reports whether the next write must be full: the bbolt
	// file was replaced or damaged (lastErr), or a Redis server came
	// back empty.
	wantFull(lastErr error) bool
	// written runs after a write that worked.
	written()
	// load calls fn with every live record of every table.
	load(now int64, fn func(table string, r *Record)) error
	close()
}

// sharedBackend is a backend several nodes write: Redis or SQL.
type sharedBackend interface {
	backend
	// fetch reads the live bindings of one AoR (db_mode 3 reads the
	// backend on every lookup and save). It returns nil, nil when there
	// are none.
	fetch(table, aor string, now int64) (*Record, error)
}

// item is one record of a batch: a copy of its stored bindings (those
// without the save flag 0x01), nil when the AoR has none left.
//
// A partial item (db_mode 3, written from what was just read) carries
// only the change: contacts are the bindings new or changed, removed the
// Contact URIs of the bindings gone, and the bindings it does not name
// stay as they are in the database. Two nodes saving two devices of one
// AoR at the same moment thus both keep theirs (a whole-record write
// would keep the last one only).
type item struct {
	table, aor string
	contacts   []Contact
	partial    bool
	removed    []string
	last       int64 // partial: the latest expiry of the AoR's bindings
}

// diffItem is the partial item turning before (the stored bindings as
// read) into after (as saved).
func diffItem(table, aor string, before, after []Contact) item {
	it := item{table: table, aor: aor, partial: true}
	for _, c := range after {
		it.last = max(it.last, c.Expires)
		c.ConnID = 0
		i := findURI(before, c.URI)
		if i < 0 {
			it.contacts = append(it.contacts, c)
			continue
		}
		b := before[i]
		b.ConnID = 0
		if b != c {
			it.contacts = append(it.contacts, c)
		}
	}
	for _, b := range before {
		if findURI(after, b.URI) < 0 {
			it.removed = append(it.removed, b.URI)
		}
	}
	return it
}

// stored copies the contacts that go to the database.
func stored(r *Record) []Contact {
	var keep []Contact
	for _, c := range r.Contacts {
		if !c.Mem {
			keep = append(keep, c)
		}
	}
	return keep
}

// openBackend picks the backend from db_url: redis://, postgres://,
// mysql:// reach a shared server; file:// or none is kemi's bbolt file.
func openBackend(u *Usrloc, dbURL, dbPath string, workers int) (backend, error) {
	switch sharedScheme(dbURL) {
	case "redis":
		return openRedis(u, dbURL, workers)
	case "sql":
		return openSQL(u, dbURL, workers)
	}
	b, err := openBolt(u, dbURL, dbPath)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// sharedScheme is "redis" or "sql" for a db_url naming a shared server,
// "" otherwise (file:// or none: the bbolt file).
func sharedScheme(dbURL string) string {
	scheme, _, _ := strings.Cut(dbURL, "://")
	switch strings.ToLower(scheme) {
	case "redis", "rediss", "redis-sentinel", "redis-cluster":
		return "redis"
	case "postgres", "postgresql", "mysql":
		return "sql"
	}
	return ""
}

// checkURL refuses at load a db_url no backend takes (oracle://...),
// whatever db_mode is, naming the parameter.
func checkURL(dbURL string) error {
	if sharedScheme(dbURL) != "" {
		return nil
	}
	return store.CheckURL("usrloc", dbURL)
}

// splitAoR splits a table key into user and domain ("" without
// use_domain).
func splitAoR(aor string) (user, domain string) {
	if i := strings.LastIndexByte(aor, '@'); i >= 0 {
		return aor[:i], aor[i+1:]
	}
	return aor, ""
}

func errWhere(where string, err error) error { return fmt.Errorf("usrloc: %s: %w", where, err) }

// breaker fails the calls to a shared backend at once for a while after
// one failed, so that while the server does not answer a worker waits
// for one timeout a second, not one per REGISTER (db_mode 3 writes from
// the worker).
type breaker struct {
	until atomic.Int64 // UnixNano before which calls fail at once
	last  atomic.Pointer[error]
}

const breakerPause = time.Second

func (b *breaker) check() error {
	if time.Now().UnixNano() < b.until.Load() {
		if e := b.last.Load(); e != nil {
			return fmt.Errorf("%w (not retried for %v)", *e, breakerPause)
		}
	}
	return nil
}

// done records the outcome of a call: an error opens the breaker.
func (b *breaker) done(err error) error {
	if err != nil {
		b.last.Store(&err)
		b.until.Store(time.Now().Add(breakerPause).UnixNano())
	}
	return err
}
