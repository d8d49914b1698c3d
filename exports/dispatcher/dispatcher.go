// Package dispatcher implements module dispatcher: load balancing over
// destination sets read from Kamailio's dispatcher.list file.
//
// A List holds the sets; it is swapped whole by a reload (an
// atomic.Pointer), so a worker reads it without a lock. Each Dest keeps
// its state flags (inactive, trying, disabled, probing) in an atomic, set
// by ds_mark_dst, by the keepalive prober and by the RPC functions.
//
// Selection (select.go) picks an index by one of Kamailio's algorithms,
// walks on to a usable destination, and builds the failover list in the
// message's own state (a core Slot, bounded to MaxFailover destinations).
// Kamailio keeps that list in XAVPs that travel with the transaction into
// the failure route; kemi's failure route runs on a context of tm's, so
// when failover is on (flags bit 2) the list is also stored in a fixed
// table keyed by the transaction (Call-ID, CSeq, top Via branch), where
// ds_next_dst in the failure route finds it. The table is bounded: a
// colliding newer transaction takes the slot, and the older one then has
// no failover left (ds_next_dst gives -1), which is logged.
//
// Keepalives (probe.go) run on a goroutine of their own: OPTIONS through
// the runtime's sender, replies claimed by a reply hook by their Via
// branch, and the event_callback run on a VM of the prober's.
package dispatcher

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"kemi/core"
	"kemi/internal/sqldb"
)

// MaxFailover bounds the failover list of one message (Kamailio's XAVP
// list is unbounded; a limit argument above this is cut to it).
const MaxFailover = 16

// Module is the dispatcher state of one runtime.
type Module struct {
	rt   *core.Runtime
	list atomic.Pointer[List]

	path string
	opt  ParseOptions
	db   *sqldb.DB // db_url: the sets come from this database's table
	dbQ  string    // the SELECT of the sets

	flags, useDefault, forceDst int
	hashFmt                     *core.Format
	setidPV, attrsPV            pvRef

	probeThreshold, inactiveThreshold int32
	probingMode                       int
	pingMethod, pingFrom              string
	pingInterval                      time.Duration
	replyCodes                        codes
	eventCB                           string

	reloadDelta time.Duration
	reloadMu    sync.Mutex
	lastReload  time.Time

	tx     *txTable
	prober *prober

	loadOnce sync.Once
	callLoad *loadTable // algorithm 10
}

type pvRef struct {
	set core.PVSetter
	arg string
}

// modules holds each runtime's dispatcher, set by start.
var modules = core.NewRuntimeState[Module](func(*core.Runtime) *Module { return nil })

// Of returns the dispatcher of rt, or nil before it started.
func Of(rt *core.Runtime) *Module { return modules.Peek(rt) }

// List returns the sets in use.
func (m *Module) List() *List { return m.list.Load() }

func param(rt *core.Runtime, name string) core.Value { return rt.Param("dispatcher", name) }

func start(rt *core.Runtime) error {
	m, err := newModule(rt)
	if err != nil {
		return err
	}
	modules.Set(rt, m)
	m.startProber()
	return nil
}

// stop ends the keepalives and closes the event callback's VM (stop: in
// module.yaml).
func stop(rt *core.Runtime) {
	m := Of(rt)
	if m != nil && m.db != nil {
		m.db.Close()
	}
	if m == nil || m.prober == nil {
		return
	}
	m.prober.Stop()
	m.prober.closeVM()
}

// replyHook takes the replies that are the dispatcher's (reply_hooks: in
// module.yaml): a 2xx that frees a transaction's failover list, and the
// keepalives' replies.
func replyHook(ctx *core.Ctx) bool {
	m := Of(ctx.RT)
	if m == nil {
		return false
	}
	if m.tx != nil && m.replyHook(ctx) {
		return true
	}
	return m.prober != nil && m.pingInterval > 0 && m.prober.hook(ctx)
}

func newModule(rt *core.Runtime) (*Module, error) {
	m := &Module{rt: rt}
	if u := param(rt, "db_url").S; u != "" {
		if !sqldb.IsSQL(u) {
			return nil, fmt.Errorf(`modparam("dispatcher", "db_url", %s): expected postgres://user:password@host:port/db or mysql://..., or list_file`, core.LogQuote(redactURL(u)))
		}
		if err := m.openSQL(rt, u); err != nil {
			return nil, err
		}
	}
	m.path = param(rt, "list_file").S
	m.flags = int(param(rt, "flags").I)
	m.useDefault = int(param(rt, "use_default").I)
	m.forceDst = int(param(rt, "force_dst").I)
	m.opt = ParseOptions{
		Strict:    param(rt, "ds_load_mode").I == 1,
		AttrsNone: param(rt, "ds_attrs_none").I == 1,
		Resolve:   DefaultResolve,
		Warn: func(msg string) {
			if rt.Log != nil {
				rt.Log.Log(core.LWarn, nil, "dispatcher: "+msg)
			}
		},
	}
	if s := param(rt, "hash_pvar").S; s != "" {
		f, err := core.CompileFormat(s)
		if err != nil {
			return nil, fmt.Errorf(`modparam("dispatcher", "hash_pvar", %s): %v`, core.LogQuote(s), err)
		}
		m.hashFmt = f
	}
	for _, x := range []struct {
		name string
		ref  *pvRef
	}{{"setid_pvname", &m.setidPV}, {"attrs_pvname", &m.attrsPV}} {
		s := param(rt, x.name).S
		if s == "" {
			continue
		}
		name, arg, ok := core.SplitPV(s)
		set := core.LookupPVSetter(name)
		if !ok || set == nil {
			return nil, fmt.Errorf(`modparam("dispatcher", %q, %s): expected a writable pseudo-variable such as $var(x)`, x.name, core.LogQuote(s))
		}
		*x.ref = pvRef{set, arg}
	}
	m.probeThreshold = int32(max(1, param(rt, "ds_probing_threshold").I))
	m.inactiveThreshold = int32(max(1, param(rt, "ds_inactive_threshold").I))
	m.probingMode = int(param(rt, "ds_probing_mode").I)
	if m.probingMode < 0 || m.probingMode > 3 {
		return nil, fmt.Errorf(`modparam("dispatcher", "ds_probing_mode", %d): expected 0, 1, 2 or 3`, m.probingMode)
	}
	m.pingMethod = param(rt, "ds_ping_method").S
	if m.pingMethod == "" || strings.ContainsAny(m.pingMethod, " \t\r\n") {
		return nil, fmt.Errorf(`modparam("dispatcher", "ds_ping_method", %s): expected a method name`, core.LogQuote(m.pingMethod))
	}
	m.pingFrom = param(rt, "ds_ping_from").S
	if !core.LineOK(m.pingFrom) {
		return nil, errors.New(`modparam("dispatcher", "ds_ping_from"): expected one line`)
	}
	iv := param(rt, "ds_ping_interval").I
	if iv < 0 {
		return nil, fmt.Errorf(`modparam("dispatcher", "ds_ping_interval", %d): expected 0 or more seconds`, iv)
	}
	m.pingInterval = time.Duration(iv) * time.Second
	var err error
	if m.replyCodes, err = parseCodes(param(rt, "ds_ping_reply_codes").S); err != nil {
		return nil, fmt.Errorf(`modparam("dispatcher", "ds_ping_reply_codes"): %v`, err)
	}
	m.eventCB = param(rt, "event_callback").S
	m.reloadDelta = time.Duration(param(rt, "reload_delta").I) * time.Second
	if m.flags&2 != 0 {
		m.tx = newTxTable()
	}
	l, err := m.load()
	if err != nil && m.db == nil && len(rt.ParamValues("dispatcher", "list_file")) == 0 && errors.Is(err, fs.ErrNotExist) {
		// No list_file given and no default file: no sets, as a config
		// that loads the module only for ds_is_from_list of a later
		// reload, or a tool loading every module, expects.
		if rt.Log != nil {
			rt.Log.Log(core.LNotice, nil, "dispatcher: no list_file given and "+m.path+" does not exist: no destination sets")
		}
		l, err = &List{byID: map[int]*Set{}}, nil
	}
	if err != nil {
		return nil, err
	}
	m.list.Store(l)
	m.lastReload = time.Now()
	return m, nil
}

// load reads and parses the list file, or the table when db_url is set.
func (m *Module) load() (*List, error) {
	if m.db != nil {
		return m.loadSQL()
	}
	f, err := os.Open(m.path)
	if err != nil {
		return nil, fmt.Errorf(`modparam("dispatcher", "list_file"): %w`, err)
	}
	defer f.Close()
	// Read one byte past the limit, so ParseList says the file is too big
	// without the whole of a huge file in memory.
	data, err := io.ReadAll(io.LimitReader(f, MaxListBytes+1))
	if err != nil {
		return nil, fmt.Errorf(`modparam("dispatcher", "list_file"): %w`, err)
	}
	return ParseList(m.path, data, m.opt)
}

// ErrReloadTooSoon is what a reload within reload_delta of the last gives.
var ErrReloadTooSoon = errors.New("dispatcher: reload within reload_delta seconds of the last one")

// Reload reads the list file again. On an error the sets in use stay.
// Destinations start in the states the file gives, as in Kamailio.
func (m *Module) Reload() error {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	if m.reloadDelta > 0 && time.Since(m.lastReload) < m.reloadDelta {
		return ErrReloadTooSoon
	}
	l, err := m.load()
	if err != nil {
		return err
	}
	m.list.Store(l)
	m.lastReload = time.Now()
	return nil
}

// codes are the keepalive reply codes counted as success.
type codes struct {
	classes [7]bool
	list    []int
}

func (c *codes) ok(code int) bool {
	if code == 200 || (code >= 100 && code < 700 && c.classes[code/100]) {
		return true
	}
	for _, x := range c.list {
		if x == code {
			return true
		}
	}
	return false
}

// parseCodes parses "class=2;code=403;code=488".
func parseCodes(s string) (codes, error) {
	var c codes
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		n, err := strconv.Atoi(strings.TrimSpace(v))
		switch strings.TrimSpace(strings.ToLower(k)) {
		case "class":
			if err != nil || n < 1 || n > 6 {
				return c, fmt.Errorf("%s: expected class=1 to class=6", core.LogQuote(part))
			}
			c.classes[n] = true
		case "code":
			if err != nil || n < 100 || n > 699 {
				return c, fmt.Errorf("%s: expected code=100 to code=699", core.LogQuote(part))
			}
			c.list = append(c.list, n)
		default:
			return c, fmt.Errorf("%s: expected class=N or code=NNN", core.LogQuote(part))
		}
	}
	return c, nil
}

// ParseState parses a ds_mark_dst / set_state state: a, i, t or d, with p
// for probing ("ip"); case does not matter.
func ParseState(s string) (uint32, error) {
	var f uint32
	var base bool
	for i := 0; i < len(s); i++ {
		switch s[i] | 0x20 {
		case 'a':
			base = true
		case 'i':
			f |= FlagInactive
			base = true
		case 't':
			f |= FlagTrying
			base = true
		case 'd':
			f |= FlagDisabled
			base = true
		case 'p':
			f |= FlagProbing
		default:
			return 0, fmt.Errorf("state %s: expected a, i, t or d, optionally with p", core.LogQuote(s))
		}
	}
	if !base {
		return 0, fmt.Errorf("state %s: expected a, i, t or d, optionally with p", core.LogQuote(s))
	}
	return f, nil
}

// SetState gives d a new state (flags from ParseState). Trying counts a
// failure and turns inactive at ds_probing_threshold, as Kamailio's
// ds_update_state; active clears the failure count. A move to or from
// inactive raises dispatcher:dst-down or dispatcher:dst-up.
func (m *Module) SetState(d *Dest, state uint32, code int, reason string) {
	old := d.flags.Load()
	nf := state
	switch {
	case state&FlagTrying != 0 && old&FlagInactive != 0:
		// Trying does not wake an inactive destination (Kamailio keeps
		// it inactive); only a success or an explicit "a" does.
		nf = nf&^FlagTrying | FlagInactive
	case state&FlagTrying != 0:
		if old&FlagTrying == 0 {
			d.fails.Store(0)
		}
		if d.fails.Add(1) >= m.probeThreshold {
			nf = nf&^FlagTrying | FlagInactive
			d.fails.Store(0)
		}
	case state&(FlagInactive|FlagDisabled) == 0:
		d.fails.Store(0)
	}
	if state&FlagInactive == 0 {
		d.oks.Store(0)
	}
	d.flags.Store(nf)
	m.transition(d, old, nf, code, reason)
}

func (m *Module) transition(d *Dest, old, nf uint32, code int, reason string) {
	down := func(f uint32) bool { return f&(FlagInactive|FlagDisabled) != 0 }
	switch {
	case !down(old) && down(nf):
		m.event(d, false, code, reason)
	case down(old) && !down(nf):
		m.event(d, true, code, reason)
	}
}

// Find returns the destination of set whose URI is uri, or nil.
func (l *List) Find(set int, uri string) *Dest {
	s := l.Set(set)
	if s == nil {
		return nil
	}
	for _, d := range s.Dests {
		if d.URI == uri {
			return d
		}
	}
	return nil
}
