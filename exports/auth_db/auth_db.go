// Package auth_db implements module auth_db: digest checks (through
// package auth) against the subscribers of kemi's embedded database.
//
// The subscribers live in memory behind an atomic pointer, so a check
// takes no lock and allocates nothing; a watcher goroutine stats the
// database file every second and reloads when `kemi user` changed the
// subscriber generation. A file that cannot be read (damaged, cut short,
// replaced by something else) leaves the last good subscribers in place;
// the error is logged once per state of the file, and the recovery too.
package auth_db

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"kemi/core"
	"kemi/exports/auth"
	"kemi/internal/sqldb"
	"kemi/internal/store"
	"kemi/sip"
)

// subscribers is one immutable snapshot.
type subscribers struct {
	byKey  map[string]*store.Subscriber // "user@domain"
	byUser map[string]*store.Subscriber // first by key order
	gen    uint64
}

// DB is the runtime state: the file and the current snapshot.
type DB struct {
	db        *store.DB
	useDomain bool
	calcHA1   bool // calculate_ha1: prefer the plaintext password
	cur       atomic.Pointer[subscribers]
	mu        sync.Mutex // serializes Poll and Reload
	stamp     store.Stamp
	file      os.FileInfo // the file the subscribers were read from
	badStamp  store.Stamp // the file's state when a poll last failed
	failing   bool
	log       *core.Logger
	sql       *sqlSubs // set when db_url names PostgreSQL or MySQL

	stopPoll, pollDone chan struct{} // the watcher's; nil when none runs
}

// dbs is each runtime's subscriber store, opened on first use.
var dbs = core.NewRuntimeState(func(rt *core.Runtime) *DB {
	p := func(name string) core.Value {
		if rt.Reg == nil {
			return core.Null()
		}
		return rt.Param("auth_db", name)
	}
	d := &DB{
		db:        store.Open(store.ResolvePath(p("db_path").S, p("db_url").S)),
		useDomain: p("use_domain").I != 0,
		calcHA1:   p("calculate_ha1").I != 0,
		log:       rt.Log,
	}
	d.cur.Store(&subscribers{})
	return d
})

func get(rt *core.Runtime) *DB { return dbs.Get(rt) }

// pollInterval is how often the watcher stats the database file.
const pollInterval = time.Second

// start checks db_url, reads the subscribers and starts the watcher
// (start: in module.yaml).
func start(rt *core.Runtime) error {
	if v := rt.Param("auth_db", "db_url"); v.Kind == core.KStr && sqldb.IsSQL(v.S) && rt.Param("auth_db", "db_path").S == "" {
		s, err := openSQL(rt, v.S)
		if err != nil {
			return err
		}
		d := get(rt)
		d.sql = s
		if err := s.db.Ping(); err != nil {
			d.logf(core.LErr, "auth_db: "+err.Error()+"; each check fails (-1) until the database answers")
		} else if w := s.db.CheckVersion("subscriber", "subscriber"); w != "" {
			d.logf(core.LWarn, "auth_db: "+w)
		}
		return nil
	} else if v.Kind == core.KStr {
		if err := store.CheckURL("auth_db", v.S); err != nil {
			return err
		}
	}
	d := get(rt)
	if err := d.Reload(); err != nil {
		return err
	}
	if mode, loose := store.LoosePerms(d.db.Path()); loose {
		d.logf(core.LWarn, fmt.Sprintf("auth_db: %s has mode %04o: group or others may read or change the subscribers' secrets; fix: chmod 600 %s", d.db.Path(), mode, d.db.Path()))
	}
	if n := len(d.cur.Load().byKey); n == 0 {
		d.logf(core.LNotice, "auth_db: no subscribers in "+d.db.Path()+"; add them with: kemi user add USER@DOMAIN PASSWORD")
	}
	quit := make(chan struct{})
	done := make(chan struct{})
	d.stopPoll, d.pollDone = quit, done
	go func() {
		defer close(done)
		tk := time.NewTicker(pollInterval)
		defer tk.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tk.C:
				d.poll()
			}
		}
	}()
	return nil
}

// stop ends the watcher (stop: in module.yaml).
func stop(rt *core.Runtime) {
	if d := dbs.Peek(rt); d != nil && d.sql != nil {
		d.sql.db.Close()
		d.sql = nil
	}
	if d := dbs.Peek(rt); d != nil && d.stopPoll != nil {
		close(d.stopPoll)
		<-d.pollDone
		d.stopPoll = nil
	}
}

func (d *DB) logf(level int, msg string) {
	if d.log != nil {
		d.log.Log(level, nil, msg)
	}
}

// poll runs Poll for the watcher: an error is logged once for each
// state of the file (not every second), and so is the recovery; the
// subscribers read last stay in use meanwhile.
func (d *DB) poll() {
	err := d.Poll()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err == nil {
		if d.failing {
			d.failing = false
			d.badStamp = store.Stamp{}
			d.logf(core.LNotice, fmt.Sprintf("auth_db: %s is readable again; %d subscribers", d.db.Path(), len(d.cur.Load().byKey)))
		}
		return
	}
	st := d.db.Stamp()
	if d.failing && st == d.badStamp {
		return
	}
	d.failing, d.badStamp = true, st
	d.logf(core.LErr, fmt.Sprintf("auth_db: reloading subscribers: %s; still using the %d subscribers read before", core.LogValue(err.Error()), len(d.cur.Load().byKey)))
}

// Poll reloads the subscribers when the file changed and its subscriber
// generation moved (a usrloc flush changes the file, not the generation).
// On error the subscribers read before stay in use.
func (d *DB) Poll() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.db.Stamp()
	if st == d.stamp {
		return nil
	}
	gen, err := d.db.Generation()
	if err != nil {
		return err
	}
	d.stamp = st
	// Another file (moved aside and made anew, or a backup moved in) or
	// one that failed before may hold the same generation number.
	fi, _ := os.Stat(d.db.Path())
	same := (fi == nil) == (d.file == nil) && (fi == nil || os.SameFile(fi, d.file))
	if gen == d.cur.Load().gen && same && !d.failing {
		return nil
	}
	return d.reload()
}

// Reload reads every subscriber into a new snapshot.
func (d *DB) Reload() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reload()
}

func (d *DB) reload() error {
	st := d.db.Stamp()
	fi, _ := os.Stat(d.db.Path())
	list, gen, err := d.db.Subscribers()
	if err != nil {
		return err
	}
	s := &subscribers{
		byKey:  make(map[string]*store.Subscriber, len(list)),
		byUser: make(map[string]*store.Subscriber, len(list)),
		gen:    gen,
	}
	for i := range list {
		sub := &list[i]
		s.byKey[sub.Key()] = sub
		if _, dup := s.byUser[sub.User]; !dup {
			s.byUser[sub.User] = sub
		}
	}
	d.cur.Store(s)
	d.stamp, d.file = st, fi
	return nil
}

// find returns the subscriber for user (and realm with use_domain).
func (d *DB) find(user, realm, buf []byte) (*store.Subscriber, []byte) {
	s := d.cur.Load()
	if !d.useDomain {
		return s.byUser[string(user)], buf
	}
	buf = append(buf[:0], user...)
	buf = append(buf, '@')
	buf = append(buf, realm...)
	return s.byKey[string(buf)], buf
}

// HA1 implements auth.Secrets. As in Kamailio, calculate_ha1 1 computes
// H(user:realm:password) from the plaintext password for the realm asked,
// and calculate_ha1 0 uses the stored HA1 (valid for realm = the
// subscriber's domain): MD5 or SHA-256 as the digest asks. A subscriber
// without the kind asked falls back to the other kind, so HA1-only
// subscribers (what `kemi user add` stores) work with calculate_ha1 1,
// and password-only ones (older kemi files) with calculate_ha1 0.
func (d *DB) HA1(_ *core.Ctx, user, realm []byte, alg auth.Alg, dst, buf []byte) ([]byte, []byte, bool) {
	sub, buf := d.find(user, realm, buf)
	if sub == nil {
		return dst, buf, false
	}
	stored := sub.HA1
	if alg == auth.SHA256 {
		stored = sub.HA1SHA256
	}
	if sub.Password != "" && (d.calcHA1 || stored == "") {
		dst, buf = auth.AppendHA1(dst, buf, alg, user, realm, bytesOf(sub.Password))
		return dst, buf, true
	}
	if stored != "" {
		return append(dst, stored...), buf, true
	}
	return dst, buf, false
}

func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// secrets is what a check of table runs against: the SQL table when
// db_url names one, else the subscribers of kemi's file.
func secrets(ctx *core.Ctx, table string) auth.Secrets {
	d := get(ctx.RT)
	if d.sql != nil {
		sqlMsgs.Get(ctx).table = table
		return d.sql
	}
	return d
}

// AuthCheck is auth_check(realm, table, flags).
func AuthCheck(ctx *core.Ctx, realm, table string, flags int) int {
	if ctx.Msg == nil {
		return auth.Error
	}
	return auth.Check(ctx, bytesOf(realm), auth.CredHeader(ctx.Msg), secrets(ctx, table), flags&1 != 0, nil)
}

// WWWAuthenticate is www_authenticate(realm, table).
func WWWAuthenticate(ctx *core.Ctx, realm, table string) int {
	return auth.Check(ctx, bytesOf(realm), sip.HdrAuthorization, secrets(ctx, table), false, nil)
}

// WWWAuthenticateMethod is www_authenticate_method(realm, table, method).
func WWWAuthenticateMethod(ctx *core.Ctx, realm, table, method string) int {
	return auth.Check(ctx, bytesOf(realm), sip.HdrAuthorization, secrets(ctx, table), false, bytesOf(method))
}

// IsSubscriber is is_subscriber(uri, table, flags).
func IsSubscriber(ctx *core.Ctx, uri, table string, flags int) int {
	u, err := sip.ParseURI(bytesOf(uri))
	if err != nil || len(u.User) == 0 {
		return -1
	}
	d := get(ctx.RT)
	if d.sql != nil {
		ok, err := d.sql.exists(ctx, table, u.User, u.Host)
		if err != nil {
			ctx.Log(core.LErr, "auth_db.is_subscriber: "+err.Error()+"\n")
		}
		if ok {
			return 1
		}
		return -1
	}
	if sub, _ := d.find(u.User, u.Host, nil); sub != nil {
		return 1
	}
	return -1
}
