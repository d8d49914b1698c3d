// Package store is kemi's embedded database: one bbolt file (go.etcd.io/bbolt,
// pure Go, ACID, single file, used by etcd) holding the registrations that
// usrloc writes through and the subscribers auth_db checks.
//
// The file is opened for each batch of work and closed after it, rather
// than held open: bbolt locks the file for as long as it is open, and
// `kemi user add` must be able to change subscribers while a server runs.
// A server batches its writes (one transaction per flush), so the open and
// close are paid per batch, not per REGISTER.
//
// Layout: bucket "subscriber" maps "user@domain" to a JSON Subscriber;
// bucket "meta" holds "subscriber_gen", bumped by every subscriber change
// so a server can tell it must reload; bucket "location/<table>" maps an
// address of record to the JSON list of its bindings.
package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DefaultPath is where the server and `kemi user` keep the database when
// no path is configured: $KEMI_DB when set; /var/lib/kemi/kemi.db for
// root; otherwise $XDG_STATE_HOME/kemi/kemi.db (~/.local/state/kemi), so a
// server run without root needs no setup.
func DefaultPath() string {
	if p := os.Getenv("KEMI_DB"); p != "" {
		return p
	}
	if os.Geteuid() == 0 {
		return "/var/lib/kemi/kemi.db"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "kemi", "kemi.db")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "kemi", "kemi.db")
	}
	return "kemi.db"
}

// LockTimeout bounds how long an open waits for another process (a server
// flushing, or `kemi user`) to release the file.
var LockTimeout = 5 * time.Second

// DB names a database file. It holds no open handle between calls.
type DB struct {
	path string
}

// Open returns the database at path; nothing is read or created yet.
func Open(path string) *DB { return &DB{path: path} }

// Path returns the file name.
func (d *DB) Path() string { return d.path }

// ErrNoFile is returned by View when the file does not exist yet.
var ErrNoFile = errors.New("no database file")

// errLocked is returned when another process holds the file longer than
// LockTimeout.
var errLocked = errors.New("locked by another process (a running kemi flushing, or kemi user) for longer than the lock timeout")

// Update runs fn in a read-write transaction, creating the file (mode
// 0600) and its folder when needed. fn's error rolls the transaction back.
func (d *DB) Update(fn func(tx *bolt.Tx) error) error {
	if err := os.MkdirAll(filepath.Dir(d.path), 0o700); err != nil {
		return fmt.Errorf("store %s: %w", d.path, err)
	}
	return d.run(false, fn)
}

// View runs fn in a read-only transaction. A missing file gives ErrNoFile
// and creates nothing.
func (d *DB) View(fn func(tx *bolt.Tx) error) error {
	if _, err := os.Stat(d.path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store %s: %w", d.path, ErrNoFile)
	}
	return d.run(true, fn)
}

// run opens the file, checks it, runs fn in one transaction and closes
// it. The file is checked (Inspect) after taking bbolt's lock and before
// bbolt maps it, so a file cut short or overwritten is an error naming it
// (a DamagedError), never a fault. A file changed under the map by
// something that ignores the lock (truncate, cp over it) can still fault
// while fn reads: the goroutine runs with debug.SetPanicOnFault, and the
// fault, like a panic inside bbolt on a garbled page, becomes a
// DamagedError too.
func (d *DB) run(readOnly bool, fn func(tx *bolt.Tx) error) (err error) {
	var f *os.File // the handle bbolt works on, once opened
	var db *bolt.DB
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		r := recover()
		if r == nil {
			return
		}
		err = &DamagedError{Path: d.path, Why: fmt.Sprintf("reading it failed (%v); it may have been changed while kemi read it", r)}
		// Release the lock and the map as far as possible; bbolt's own
		// state may be inconsistent after the panic.
		func() {
			defer func() { recover() }()
			if db != nil {
				db.Close()
			}
		}()
		if f != nil {
			f.Close()
		}
	}()
	opts := &bolt.Options{
		Timeout:  LockTimeout,
		ReadOnly: readOnly,
		OpenFile: func(name string, flag int, mode os.FileMode) (*os.File, error) {
			h, created, err := openFile(name, flag, mode)
			if err != nil {
				return nil, err
			}
			if err := lockFile(h, !readOnly, LockTimeout); err != nil {
				h.Close()
				return nil, err
			}
			if fi, err := h.Stat(); err == nil && !(created && fi.Size() == 0) {
				if _, err := inspect(h, d.path); err != nil {
					h.Close()
					return nil, err
				}
			}
			f = h
			return h, nil
		},
	}
	db, err = bolt.Open(d.path, 0o600, opts)
	if err != nil {
		var de *DamagedError
		if errors.As(err, &de) {
			return err
		}
		return fmt.Errorf("store %s: open: %w", d.path, err)
	}
	if readOnly {
		err = db.View(fn)
	} else {
		err = db.Update(fn)
	}
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("store %s: close: %w", d.path, cerr)
	}
	return err
}

// openFile opens name as bbolt asks; with O_CREATE it tells whether this
// call created the file (an empty file it did not create is damaged, not
// new: bbolt would silently start an empty database in it).
func openFile(name string, flag int, mode os.FileMode) (*os.File, bool, error) {
	if flag&os.O_CREATE == 0 {
		f, err := os.OpenFile(name, flag, mode)
		return f, false, err
	}
	for range 3 {
		f, err := os.OpenFile(name, flag&^os.O_CREATE, mode)
		if !errors.Is(err, fs.ErrNotExist) {
			return f, false, err
		}
		f, err = os.OpenFile(name, flag|os.O_EXCL, mode)
		if !errors.Is(err, fs.ErrExist) {
			return f, err == nil, err
		}
	}
	return nil, false, fmt.Errorf("%s: created and removed by another process while opening", name)
}

// LoosePerms reports the file's permission bits when group or others may
// read or write it (it holds HA1 values and registrations).
func LoosePerms(path string) (os.FileMode, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	return fi.Mode().Perm(), fi.Mode().Perm()&0o077 != 0
}

// Stamp identifies the file's current content cheaply (size and mtime),
// so a server polls for changes made by another process with one stat.
type Stamp struct {
	Size    int64
	ModTime time.Time
}

// Stamp returns the file's stamp; the zero Stamp when it does not exist.
func (d *DB) Stamp() Stamp {
	fi, err := os.Stat(d.path)
	if err != nil {
		return Stamp{}
	}
	return Stamp{fi.Size(), fi.ModTime()}
}

var (
	bucketSubscriber = []byte("subscriber")
	bucketMeta       = []byte("meta")
	keySubscriberGen = []byte("subscriber_gen")
)

// Subscriber is one account auth_db checks. Password is the plaintext;
// HA1 and HA1SHA256 are H(user:realm:password) with MD5 and SHA-256 for
// realm = Domain. An account may keep only the HA1 values.
type Subscriber struct {
	User      string `json:"user"`
	Domain    string `json:"domain"`
	Password  string `json:"password,omitempty"`
	HA1       string `json:"ha1,omitempty"`
	HA1SHA256 string `json:"ha1_sha256,omitempty"`
}

// Key is the subscriber's key: "user@domain".
func (s *Subscriber) Key() string { return s.User + "@" + s.Domain }

// SplitUser splits "user@domain" as `kemi user` takes it.
func SplitUser(s string) (user, domain string, err error) {
	user, domain, ok := strings.Cut(s, "@")
	if !ok || user == "" || domain == "" || strings.ContainsAny(s, " \t\r\n:") {
		return "", "", fmt.Errorf("expected USER@DOMAIN, got %q", s)
	}
	return user, domain, nil
}

func bumpGen(tx *bolt.Tx) error {
	m, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	var n uint64
	if v := m.Get(keySubscriberGen); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n+1)
	return m.Put(keySubscriberGen, b[:])
}

// PutSubscriber adds or replaces a subscriber.
func (d *DB) PutSubscriber(s Subscriber) error {
	v, err := json.Marshal(&s)
	if err != nil {
		return err
	}
	return d.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketSubscriber)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(s.Key()), v); err != nil {
			return err
		}
		return bumpGen(tx)
	})
}

// ErrNotFound is returned when deleting a subscriber that does not exist.
var ErrNotFound = errors.New("not found")

// DeleteSubscriber removes user@domain.
func (d *DB) DeleteSubscriber(key string) error {
	return d.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSubscriber)
		if b == nil || b.Get([]byte(key)) == nil {
			return fmt.Errorf("subscriber %s: %w", key, ErrNotFound)
		}
		if err := b.Delete([]byte(key)); err != nil {
			return err
		}
		return bumpGen(tx)
	})
}

// Subscribers returns every subscriber sorted by key, and the generation
// they were read at. A missing file is an empty list, not an error.
func (d *DB) Subscribers() ([]Subscriber, uint64, error) {
	var out []Subscriber
	var gen uint64
	err := d.View(func(tx *bolt.Tx) error {
		gen = SubscriberGen(tx)
		b := tx.Bucket(bucketSubscriber)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var s Subscriber
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("subscriber %s: %w", k, err)
			}
			out = append(out, s)
			return nil
		})
	})
	if errors.Is(err, ErrNoFile) {
		return nil, 0, nil
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out, gen, err
}

// SubscriberGen reads the subscriber generation inside a transaction.
func SubscriberGen(tx *bolt.Tx) uint64 {
	if m := tx.Bucket(bucketMeta); m != nil {
		if v := m.Get(keySubscriberGen); len(v) == 8 {
			return binary.BigEndian.Uint64(v)
		}
	}
	return 0
}

func locationBucket(table string) []byte { return []byte("location/" + table) }

// PutLocation stores the bindings of one address of record (val is the
// caller's encoding); an empty val deletes the record.
func PutLocation(tx *bolt.Tx, table, aor string, val []byte) error {
	b, err := tx.CreateBucketIfNotExists(locationBucket(table))
	if err != nil {
		return err
	}
	if len(val) == 0 {
		return b.Delete([]byte(aor))
	}
	return b.Put([]byte(aor), val)
}

// ClearLocations removes every record of table.
func ClearLocations(tx *bolt.Tx, table string) error {
	err := tx.DeleteBucket(locationBucket(table))
	if errors.Is(err, bolt.ErrBucketNotFound) {
		return nil
	}
	return err
}

// Locations calls fn for every stored record of table. A missing file or
// table is empty, not an error. The slices are valid only during fn.
func (d *DB) Locations(table string, fn func(aor, val []byte) error) error {
	err := d.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(locationBucket(table))
		if b == nil {
			return nil
		}
		return b.ForEach(fn)
	})
	if errors.Is(err, ErrNoFile) {
		return nil
	}
	return err
}

// CheckURL checks a module's db_url: empty, or file:///path naming
// kemi's database file. Any other scheme (mysql://, postgres://, text://
// from a Kamailio config) is an error naming the parameter, never quietly
// replaced by kemi's own file. The URL itself is not repeated, as it
// often holds a password.
func CheckURL(module, dbURL string) error {
	if dbURL == "" {
		return nil
	}
	const supported = `kemi supports file:///path/to/kemi.db (its own database file), or db_path`
	scheme, rest, ok := strings.Cut(dbURL, "://")
	if !ok || scheme == "" {
		return fmt.Errorf(`modparam("%s", "db_url", ...): no scheme://; %s`, module, supported)
	}
	if !strings.EqualFold(scheme, "file") {
		return fmt.Errorf(`modparam("%s", "db_url", ...): scheme %q not supported; %s`, module, strings.ToLower(scheme), supported)
	}
	if u, err := url.Parse(dbURL); err != nil || u.Path == "" || !strings.HasPrefix(rest, "/") {
		return fmt.Errorf(`modparam("%s", "db_url", %q): expected file:///path (an absolute path after file://)`, module, dbURL)
	}
	return nil
}

// ResolvePath picks the database file from a module's db_path and
// Kamailio's db_url: db_path when set, else the path of a file:// URL,
// else DefaultPath. Modules check db_url with CheckURL first: any other
// scheme is an error, not a reason to use the default file.
func ResolvePath(dbPath, dbURL string) string {
	if dbPath != "" {
		return dbPath
	}
	if strings.HasPrefix(dbURL, "file:") {
		if u, err := url.Parse(dbURL); err == nil && u.Path != "" {
			return u.Path
		}
	}
	return DefaultPath()
}

// Generation reads the subscriber generation; 0 for a missing file.
func (d *DB) Generation() (uint64, error) {
	var gen uint64
	err := d.View(func(tx *bolt.Tx) error {
		gen = SubscriberGen(tx)
		return nil
	})
	if errors.Is(err, ErrNoFile) {
		return 0, nil
	}
	return gen, err
}
