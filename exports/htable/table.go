package htable

import (
	"fmt"
	"hash/maphash"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"time"
)

// item is one value. exp is the expiry in Unix nanoseconds, 0 for never.
type item struct {
	s   string
	n   int64
	str bool
	exp int64
}

// shard is one lock and the items hashed to it. The padding keeps two
// shards' locks off one cache line when workers hammer different keys.
type shard struct {
	mu     sync.Mutex
	m      map[string]item
	script chan struct{} // sht_lock (lock.go)
	_      [32]byte
}

// Table is one named table.
type Table struct {
	Name         string
	Autoexpire   time.Duration // 0: items never expire
	UpdateExpire bool          // set/inc restart an item's expiry
	HasInit      bool          // initval given: missing items read as Init
	Init         int64
	// DBTable is the dbtable attribute: the SQL table (Kamailio's
	// htable layout) loaded at start; DBMode 1 writes the items back to
	// it at a clean stop.
	DBTable string
	DBMode  int

	// Redis is the redis= attribute (kemi's): an ndb_redis server name
	// or a redis:// URL the table is shared through; "" for none.
	Redis string
	sync  *redisSync // set by start when Redis is given

	seed   maphash.Seed
	mask   uint64
	shards []shard
	now    func() int64 // Unix nanoseconds; replaced in tests
}

// maxShards bounds the locks of one table: size=31 in Kamailio means 2^31
// slots, which as shards would only waste memory.
const maxShards = 256

func newTable(name string, size int) *Table {
	n := 1
	if size > 0 {
		n = 1 << min(size, bits.Len(maxShards)-1)
	}
	t := &Table{Name: name, UpdateExpire: true, seed: maphash.MakeSeed(), mask: uint64(n - 1), shards: make([]shard, n), now: nowNanos}
	for i := range t.shards {
		t.shards[i].m = map[string]item{}
		t.shards[i].script = make(chan struct{}, 1)
	}
	return t
}

func nowNanos() int64 { return time.Now().UnixNano() }

func (t *Table) shard(key string) *shard {
	return &t.shards[maphash.String(t.seed, key)&t.mask]
}

// live reports whether it has not expired at now. Expiry counts only in a
// table with autoexpire, as in Kamailio.
func (t *Table) live(it *item, now int64) bool {
	return t.Autoexpire == 0 || it.exp == 0 || it.exp > now
}

// Get returns the live item under key.
func (t *Table) Get(key string) (item, bool) {
	sh := t.shard(key)
	sh.mu.Lock()
	it, ok := sh.m[key]
	if ok && !t.live(&it, t.now()) {
		delete(sh.m, key)
		ok = false
	}
	sh.mu.Unlock()
	return it, ok
}

// expiry is the expiry of an item set now with its own expire seconds
// (<= 0: the table's autoexpire).
func (t *Table) expiry(now int64, expire int) int64 {
	switch {
	case t.Autoexpire == 0:
		return 0
	case expire > 0:
		return now + int64(expire)*int64(time.Second)
	}
	return now + int64(t.Autoexpire)
}

// Set stores v under key; expire > 0 gives the item its own lifetime.
func (t *Table) Set(key string, v item, expire int) {
	sh := t.shard(key)
	sh.mu.Lock()
	now := t.now()
	if old, ok := sh.m[key]; ok && !t.UpdateExpire && expire <= 0 && t.live(&old, now) {
		v.exp = old.exp
	} else {
		v.exp = t.expiry(now, expire)
	}
	sh.m[key] = v
	sh.mu.Unlock()
	if t.sync != nil {
		t.sync.set(key, v)
	}
}

// setLocal stores an item as it is, without telling Redis (an update
// that came from Redis).
func (t *Table) setLocal(key string, v item) {
	sh := t.shard(key)
	sh.mu.Lock()
	sh.m[key] = v
	sh.mu.Unlock()
}

// deleteLocal removes key without telling Redis.
func (t *Table) deleteLocal(key string) {
	sh := t.shard(key)
	sh.mu.Lock()
	delete(sh.m, key)
	sh.mu.Unlock()
}

// SetExpire changes the expiry of a live item; seconds <= 0 means never.
func (t *Table) SetExpire(key string, seconds int) {
	if t.Autoexpire == 0 {
		return
	}
	sh := t.shard(key)
	sh.mu.Lock()
	now := t.now()
	if it, ok := sh.m[key]; ok && t.live(&it, now) {
		it.exp = 0
		if seconds > 0 {
			it.exp = now + int64(seconds)*int64(time.Second)
		}
		sh.m[key] = it
		if t.sync != nil {
			defer t.sync.set(key, it)
		}
	}
	sh.mu.Unlock()
}

// Add adds d to an integer item. A missing (or expired) item starts from
// the initval; without one, or for a string item, ok is false.
func (t *Table) Add(key string, d int64) (n int64, ok bool) {
	if t.sync != nil {
		// Shared: Redis adds (atomic across nodes) and the result is
		// kept here too; with Redis away, this node counts alone.
		if n, ok, done := t.sync.add(key, d); done {
			return n, ok
		}
	}
	sh := t.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := t.now()
	it, found := sh.m[key]
	if found && !t.live(&it, now) {
		found = false
	}
	switch {
	case !found && !t.HasInit:
		return 0, false
	case !found:
		it = item{n: t.Init, exp: t.expiry(now, 0)}
	case it.str:
		return 0, false
	case t.UpdateExpire:
		it.exp = t.expiry(now, 0)
	}
	it.n += d
	sh.m[key] = it
	return it.n, true
}

// Delete removes key.
func (t *Table) Delete(key string) {
	t.deleteLocal(key)
	if t.sync != nil {
		t.sync.del(key)
	}
}

// Each calls fn for every live item, shard by shard under the shard's
// lock; fn returns what to do: keep going, remove the item, or stop.
func (t *Table) Each(fn func(key string, it *item) action) {
	now := t.now()
	var removed []string // told to Redis after the shard's lock
	defer func() {
		for _, k := range removed {
			t.sync.del(k)
		}
	}()
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for k, it := range sh.m {
			if !t.live(&it, now) {
				delete(sh.m, k)
				continue
			}
			switch fn(k, &it) {
			case remove:
				delete(sh.m, k)
				if t.sync != nil {
					removed = append(removed, k)
				}
			case stop:
				sh.mu.Unlock()
				return
			}
		}
		sh.mu.Unlock()
	}
}

type action uint8

const (
	keep action = iota
	remove
	stop
)

// Reset removes every item.
func (t *Table) Reset() {
	t.resetLocal()
	if t.sync != nil {
		t.sync.reset()
	}
}

func (t *Table) resetLocal() {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.mu.Unlock()
	}
}

// Sweep removes expired items and returns how many.
func (t *Table) Sweep() int {
	if t.Autoexpire == 0 {
		return 0
	}
	n := 0
	now := t.now()
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for k, it := range sh.m {
			if !t.live(&it, now) {
				delete(sh.m, k)
				n++
			}
		}
		sh.mu.Unlock()
	}
	return n
}

// Len counts live items.
func (t *Table) Len() int {
	n := 0
	t.Each(func(string, *item) action { n++; return keep })
	return n
}

// ParseDef parses a table definition, "name=>size=8;autoexpire=300;".
// Errors quote the definition and say what was expected.
func ParseDef(def string) (*Table, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("htable %q: %s", def, fmt.Sprintf(format, a...))
	}
	name, attrs, ok := strings.Cut(def, "=>")
	name = strings.TrimSpace(name)
	if !ok {
		return nil, bad(`expected "name=>attr=value;...", got no "=>"`)
	}
	if name == "" {
		return nil, bad("expected a table name before \"=>\"")
	}
	for _, c := range name {
		if !(c == '_' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return nil, bad("table name %q: expected letters, digits, '_', '-' or '.'", name)
		}
	}
	size, expire, update, dbmode := 4, 0, 1, 0
	dbtable, cols := "", ""
	var init int64
	hasInit := false
	redisRef := ""
	for _, a := range strings.Split(attrs, ";") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		k, v, ok := strings.Cut(a, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok {
			return nil, bad("attribute %q: expected name=value", a)
		}
		num := func(lo, hi int) (int, error) {
			n, err := strconv.Atoi(v)
			if err != nil || n < lo || n > hi {
				return 0, bad("%s=%s: expected an integer %d-%d", k, v, lo, hi)
			}
			return n, nil
		}
		var err error
		switch k {
		case "size":
			size, err = num(0, 1<<31-1)
		case "autoexpire":
			expire, err = num(0, 1<<31-1)
		case "updateexpire":
			update, err = num(0, 1)
		case "initval":
			init, err = strconv.ParseInt(v, 10, 64)
			if err != nil {
				err = bad("initval=%s: expected an integer", v)
			}
			hasInit = true
		case "dbtable":
			dbtable = v
			if !validIdent(v) {
				err = bad("dbtable=%s: expected a table name (letters, digits, _)", v)
			}
		case "dbmode":
			dbmode, err = num(0, 1)
		case "cols":
			cols = v
		case "dmqreplicate":
			if v != "0" {
				err = bad("dmqreplicate=%s: kemi has no DMQ replication; remove it or set 0", v)
			}
		case "redis":
			// kemi's: share the table through Redis (redis.go).
			if v == "" {
				err = bad("redis=: expected an ndb_redis server name or a redis://host:port/db URL")
			}
			redisRef = v
		case "coldelim", "colnull", "reloadat":
			// Meaningful only with cols, which kemi does not read.
		default:
			err = bad("unknown attribute %q; expected size, autoexpire, initval, updateexpire, redis (kemi's), or the database ones without dbtable", k)
		}
		if err != nil {
			return nil, err
		}
	}
	if dbtable != "" && cols != "" {
		return nil, bad("cols=%s: kemi reads dbtable in Kamailio's htable layout (key_name, key_type, value_type, key_value, expires) only; remove cols", cols)
	}
	if dbtable == "" && dbmode != 0 {
		return nil, bad("dbmode=%d: needs dbtable", dbmode)
	}
	// Kamailio turns size <= 1 into 8 slots and caps size above 31.
	if size <= 1 {
		size = 3
	}
	t := newTable(name, size)
	t.Autoexpire = time.Duration(expire) * time.Second
	t.UpdateExpire = update == 1
	t.HasInit, t.Init = hasInit, init
	t.Redis = redisRef
	t.DBTable, t.DBMode = dbtable, dbmode
	return t, nil
}

// ExpiresIn returns the whole seconds until key expires: 0 for a table
// without autoexpire, a missing item or one that never expires.
func (t *Table) ExpiresIn(key string) int64 {
	if t.Autoexpire == 0 {
		return 0
	}
	sh := t.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := t.now()
	it, ok := sh.m[key]
	if !ok || it.exp == 0 || !t.live(&it, now) {
		return 0
	}
	return (it.exp - now) / int64(time.Second)
}
