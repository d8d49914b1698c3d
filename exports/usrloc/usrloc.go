// Package usrloc implements module usrloc: the in-memory location tables
// behind registrar, optionally written through to kemi's embedded
// database (internal/store).
//
// A table (Kamailio calls it a domain: "location") is split into shards,
// each a map from address of record to Record under its own lock, so
// workers registering different users do not contend. Writes mark the
// record dirty; with db_mode != 0 a flusher goroutine writes the dirty
// records in one transaction per batch and the final batch on stop.
package usrloc

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"kemi/core"
	"kemi/internal/store"
)

// Contact is one binding of an address of record.
type Contact struct {
	URI       string `json:"uri"`
	Q         int    `json:"q"`       // q-value times 1000; -1 when not given
	Expires   int64  `json:"expires"` // Unix time the binding ends
	CallID    string `json:"callid"`
	CSeq      uint32 `json:"cseq"`
	Received  string `json:"received,omitempty"` // source URI when behind NAT
	Path      string `json:"path,omitempty"`     // Path header values, comma-separated
	UserAgent string `json:"ua,omitempty"`
	Instance  string `json:"instance,omitempty"` // +sip.instance (RFC 5626)
	RegID     int    `json:"reg_id,omitempty"`
	Flags     uint64 `json:"flags,omitempty"`   // branch flags when saved
	Methods   uint32 `json:"methods,omitempty"` // allowed methods (1<<sip.Method); 0 for all
	Socket    string `json:"socket,omitempty"`
	// ConnID is the TCP/TLS connection the binding was registered over
	// ($conid; 0 for UDP); lookup's branch is sent on it while it is
	// open. Connections do not outlive the process, so it is not stored.
	ConnID   uint64 `json:"-"`
	Modified int64  `json:"modified"` // Unix time of the last update
	// Mem keeps the binding out of the database (save flag 0x01).
	Mem bool `json:"-"`
}

// Record is an address of record and its bindings.
type Record struct {
	AoR      string
	Contacts []Contact
}

// Usrloc is the module state of one runtime: its tables and settings.
type Usrloc struct {
	UseDomain bool

	mu     sync.Mutex
	tables map[string]*Table
	b      backend // nil when db_mode is 0
	p      *persister
	// mode3 is set with db_mode 3 and a shared backend: save and lookup
	// read the backend every time (Kamailio's DB-only mode).
	mode3 sharedBackend
	// mode is db_mode.
	mode int
	log  *core.Logger

	quit, done chan struct{} // the expiry timer's; nil when none runs
}

var states = core.NewRuntimeState(func(rt *core.Runtime) *Usrloc {
	return &Usrloc{
		UseDomain: intParam(rt, "use_domain", 0) != 0,
		tables:    map[string]*Table{},
		log:       rt.Log,
	}
})

// Get returns the usrloc state of rt, made with the module's params (or
// Kamailio's defaults when usrloc is not loaded).
func Get(rt *core.Runtime) *Usrloc { return states.Get(rt) }

// intParam reads an int modparam with a default for when the module is
// not loaded (rt.Param gives null then).
func intParam(rt *core.Runtime, name string, def int) int {
	if rt == nil || rt.Reg == nil {
		return def
	}
	v := rt.Param("usrloc", name)
	if v.Kind != core.KInt {
		return def
	}
	return int(v.I)
}

func strParam(rt *core.Runtime, name string) string {
	if rt == nil || rt.Reg == nil {
		return ""
	}
	v := rt.Param("usrloc", name)
	if v.Kind != core.KStr {
		return ""
	}
	return v.S
}

// Table returns the named table, creating it on first use.
func (u *Usrloc) Table(name string) *Table {
	u.mu.Lock()
	t := u.tables[name]
	if t == nil {
		t = newTable(name, u)
		u.tables[name] = t
	}
	u.mu.Unlock()
	return t
}

// Tables returns every table.
func (u *Usrloc) Tables() []*Table {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]*Table, 0, len(u.tables))
	for _, t := range u.tables {
		out = append(out, t)
	}
	return out
}

// DBPath resolves the database file from db_path and db_url.
func DBPath(dbPath, dbURL string) string { return store.ResolvePath(dbPath, dbURL) }

// start loads the tables from the database and starts the flusher and
// the expiry timer; stop ends them and writes the last batch (start: and
// stop: in module.yaml).
func start(rt *core.Runtime) error {
	if err := checkURL(strParam(rt, "db_url")); err != nil {
		return err
	}
	u := Get(rt)
	rt.AddGauge("usrloc:registered_users", func() int64 { return int64(u.counts(true)) })
	rt.AddGauge("usrloc:location-contacts", func() int64 { return int64(u.counts(false)) })
	if mode := intParam(rt, "db_mode", 0); mode != 0 {
		workers := 8
		if v, ok := rt.Globals["children"]; ok && v.Kind == core.KInt && v.I > 0 {
			workers = int(v.I)
		}
		u.mode = mode
		b, err := openBackend(u, strParam(rt, "db_url"), strParam(rt, "db_path"), workers)
		if err != nil {
			return err
		}
		u.b = b
		sb, shared := b.(sharedBackend)
		if mode == 3 && shared {
			// Kamailio's DB-only mode: nothing to load, every save and
			// lookup reads the backend.
			u.mode3 = sb
		} else if err := u.load(); err != nil {
			b.close()
			return err
		}
		// 1 write-through and 3 (Kamailio's DB-only) wait for the
		// backend; 2 write-back and others do not.
		_, redis := b.(*redisBackend)
		u.p = newPersister(u, mode == 1 || mode == 3, redis)
	}
	iv := intParam(rt, "timer_interval", 60)
	if iv <= 0 {
		return errors.New("timer_interval: expected seconds > 0, got " + strconv.Itoa(iv))
	}
	quit := make(chan struct{})
	done := make(chan struct{})
	u.quit, u.done = quit, done
	go func() {
		defer close(done)
		tk := time.NewTicker(time.Duration(iv) * time.Second)
		defer tk.Stop()
		for {
			select {
			case <-quit:
				return
			case now := <-tk.C:
				u.Expire(now.Unix())
			}
		}
	}()
	return nil
}

func stop(rt *core.Runtime) {
	u := states.Peek(rt)
	if u == nil || u.quit == nil {
		return
	}
	close(u.quit)
	<-u.done
	u.quit = nil
	if u.p != nil {
		u.p.stop()
	}
	if u.b != nil {
		u.b.close()
	}
}

// Expire removes every binding that ended before now, from every table.
func (u *Usrloc) Expire(now int64) int {
	n := 0
	for _, t := range u.Tables() {
		n += t.Expire(now)
	}
	return n
}

// Flush writes every pending change to the database now (a no-op with
// db_mode 0). Tests and shutdown use it.
func (u *Usrloc) Flush() error {
	if u.p == nil {
		return nil
	}
	return u.p.flush()
}

// receivedState keeps what nathelper's fix_nated_register leaves for
// save, for the current message.
var receivedState = core.NewMsgState[received](nil)

type received struct {
	uri string
}

// SetReceived records the source URI (sip:ip:port;transport=x) of the
// current REGISTER for save to keep with its bindings; lookup then sends
// to it (as ctx.DstURI). nathelper's fix_nated_register calls it.
func SetReceived(ctx *core.Ctx, uri string) {
	receivedState.Get(ctx).uri = uri
}

// Received returns what SetReceived recorded for the current message.
func Received(ctx *core.Ctx) string {
	if st := receivedState.Peek(ctx); st != nil {
		return st.uri
	}
	return ""
}

// counts sums the records (aors) or the bindings of every table, for the
// usrloc statistics.
func (u *Usrloc) counts(records bool) int {
	u.mu.Lock()
	ts := make([]*Table, 0, len(u.tables))
	for _, t := range u.tables {
		ts = append(ts, t)
	}
	u.mu.Unlock()
	n := 0
	for _, t := range ts {
		r, c := t.Len()
		if records {
			n += r
		} else {
			n += c
		}
	}
	return n
}

// fetchLog limits the lines about reads of a shared backend that failed.
var fetchLog = core.LogLimit{What: "usrloc backend reads"}

func (u *Usrloc) logLimited(l *core.LogLimit, format string, args ...any) {
	if u.log != nil {
		u.log.LogLimited(l, core.LErr, nil, fmt.Sprintf(format, args...))
	}
}
