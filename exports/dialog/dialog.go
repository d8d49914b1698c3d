// Package dialog implements module dialog: call state from the INVITE
// through its 2xx, ACK and BYE, profiles for call limits, dialog
// variables and flags, timeouts that end a call with a BYE to both sides,
// and the dialog:start, dialog:end and dialog:failed events.
//
// A dialog is created by dlg_manage on an initial INVITE. Its outcome
// comes from tm (tm.OnComplete): a 2xx confirms it (dialog:start), a
// failure ends it (dialog:failed); a BYE relayed through tm ends it
// (dialog:end), as does dlg_manage or is_known_dlg on a BYE. An INVITE
// whose request route ends without a transaction (the script replied
// statelessly, a call limit's 486) forgets its dialog at once, so it is
// never counted in a profile. In-dialog requests are matched by the
// Record-Route cookie rr_param ("did", added with rr's add_rr_param) and,
// per dlg_match_mode, by Call-ID and tags.
//
// All dialogs of a runtime are in one table under one lock, bounded by
// max_dialogs; the timer runs on a goroutine of its own (or on kemi
// test's stepped clock), sends the BYEs of expired dialogs through the
// runtime's sender and runs the event callback on a VM of its own.
package dialog

import (
	"container/heap"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"kemi/core"
	"kemi/exports/tm"
	"kemi/sip"
)

// Dialog states, as Kamailio's $dlg(state).
const (
	StateUnconfirmed = 1
	StateEarly       = 2
	StateConfirmedNA = 3 // answered, no ACK seen yet
	StateConfirmed   = 4
	StateDeleted     = 5
)

// Dialog is one tracked call. Its fields are guarded by the Module's mu.
type Dialog struct {
	Entry, ID uint32
	CallID    string
	FromTag   string
	ToTag     string
	FromURI   string
	ToURI     string
	ReqURI    string
	// Contacts of the two sides, and where their requests go.
	CallerContact, CalleeContact string
	CallerAddr, CalleeAddr       netip.AddrPort
	Local                        netip.AddrPort
	CallerCSeq, CalleeCSeq       uint32

	State      int
	Created    int64 // Unix seconds
	StartTS    int64 // Unix seconds when answered; 0 before
	EndTS      int64
	Timeout    int // seconds of lifetime from the answer
	expireAt   int64
	heapIdx    int
	Flags      uint32
	noReset    bool // dlg_set_property("timeout-noreset")
	timeoutBye bool // $dlg_ctx(timeout_bye), dlg_set_property("timeout-bye")
	byeDone    bool
	answered   bool // a 2xx came

	vars     map[string]string
	profiles []link
}

// link is a dialog's membership of a profile.
type link struct {
	p     *profile
	value string
}

// MaxDialogBytes bounds what a dialog keeps of its INVITE (Call-ID,
// tags, Request-URI, From, To, Contact), so max_dialogs bounds memory:
// dlg_manage refuses a bigger INVITE (-1, logged).
const MaxDialogBytes = 4096

// Module is dialog's state for one runtime.
type Module struct {
	rt *core.Runtime

	rrParam        string
	matchMode      int
	defaultTimeout int
	maxDialogs     int
	hashSize       uint32
	eventCB        string
	sendBye        bool

	mu       sync.Mutex
	byKey    map[string]*Dialog // Call-ID "\x00" From tag
	byID     map[uint64]*Dialog // entry<<32 | id
	nextID   uint32
	timers   timerHeap
	profiles map[string]*profile

	// Counters for dlg.stats_active and the rest.
	Refused, Expired atomic.Uint64

	ended []*Dialog // answered dialogs ended, for the OnEnd hooks after unlock

	tmr *timer
}

var modules = core.NewRuntimeState[Module](func(*core.Runtime) *Module { return nil })

// Of returns rt's dialog module, or nil before it started.
func Of(rt *core.Runtime) *Module { return modules.Peek(rt) }

func param(rt *core.Runtime, name string) core.Value { return rt.Param("dialog", name) }

func start(rt *core.Runtime) error {
	m := &Module{rt: rt, byKey: map[string]*Dialog{}, byID: map[uint64]*Dialog{}, profiles: map[string]*profile{}}
	m.rrParam = param(rt, "rr_param").S
	if m.rrParam == "" || strings.ContainsAny(m.rrParam, ";=,<> \t\r\n") {
		return fmt.Errorf(`modparam("dialog", "rr_param", %s): expected a parameter name`, core.LogQuote(m.rrParam))
	}
	m.matchMode = int(param(rt, "dlg_match_mode").I)
	if m.matchMode < 0 || m.matchMode > 2 {
		return fmt.Errorf(`modparam("dialog", "dlg_match_mode", %d): expected 0, 1 or 2`, m.matchMode)
	}
	m.defaultTimeout = int(param(rt, "default_timeout").I)
	if m.defaultTimeout <= 0 {
		return fmt.Errorf(`modparam("dialog", "default_timeout", %d): expected seconds above 0`, m.defaultTimeout)
	}
	m.maxDialogs = int(param(rt, "max_dialogs").I)
	if m.maxDialogs <= 0 {
		return fmt.Errorf(`modparam("dialog", "max_dialogs", %d): expected a number above 0`, m.maxDialogs)
	}
	hs := param(rt, "hash_size").I
	if hs <= 0 || hs > 1<<20 {
		return fmt.Errorf(`modparam("dialog", "hash_size", %d): expected 1 to 1048576`, hs)
	}
	m.hashSize = uint32(hs)
	m.eventCB = param(rt, "event_callback").S
	m.sendBye = param(rt, "send_bye").I != 0
	for _, x := range []struct {
		name  string
		value bool
	}{{"profiles_no_value", false}, {"profiles_with_value", true}} {
		for _, v := range rt.ParamValues("dialog", x.name) {
			for _, n := range strings.Split(v.S, ";") {
				n = strings.TrimSpace(n)
				if n == "" {
					continue
				}
				if _, dup := m.profiles[n]; dup {
					return fmt.Errorf(`modparam("dialog", %q): profile %s is defined twice`, x.name, core.LogQuote(n))
				}
				m.profiles[n] = newProfile(n, x.value)
			}
		}
	}
	if u := param(rt, "db_url").S; u != "" && param(rt, "db_mode").I != 0 {
		return fmt.Errorf(`modparam("dialog", "db_mode", %d): the database backend of dialog is not supported yet; use db_mode 0`, param(rt, "db_mode").I)
	}
	if _, stepped := rt.Clock.(core.SteppedClock); !stepped {
		// Ids start at a random point, so a restart does not hand out
		// the cookies of the last run again; kemi test's runs are
		// reproducible instead.
		var tok [2]byte
		_, _ = crand.Read(tok[:])
		m.nextID = uint32(tok[0])<<8 | uint32(tok[1])
	}
	modules.Set(rt, m)
	tm.OnComplete(rt, m.onComplete)
	rt.AddRequestDoneHook(m.requestDone)
	m.startTimer()
	return nil
}

func stop(rt *core.Runtime) {
	if m := Of(rt); m != nil && m.tmr != nil {
		m.tmr.Stop()
	}
}

// endHooks are the OnEnd functions of a runtime, kept apart from the
// Module so a module that starts before dialog (acc) can register.
type endHooks struct {
	mu sync.Mutex
	fs []func(d *Dialog)
}

var endHooksOf = core.NewRuntimeState[endHooks](nil)

// OnEnd registers fn to run when a dialog of rt ends, with EndTS set:
// answered ones (BYE, timeout, dlg_bye, end_dlg; Answered is true) and
// ones whose INVITE failed; acc's CDRs and dispatcher's call load use it. fn
// runs just after the dialog table is unlocked, on the goroutine that
// ended the dialog (possibly with a tm transaction locked: it must not
// call tm); it may read d through this package.
func OnEnd(rt *core.Runtime, fn func(d *Dialog)) {
	h := endHooksOf.Get(rt)
	h.mu.Lock()
	h.fs = append(h.fs, fn)
	h.mu.Unlock()
}

// unlock releases the table and then runs the OnEnd hooks of the dialogs
// that ended meanwhile, so a hook may read them through this package
// ($dlg_var on a context bound with Bind).
func (m *Module) unlock() {
	ended := m.ended
	m.ended = nil
	m.mu.Unlock()
	if len(ended) == 0 {
		return
	}
	h := endHooksOf.Peek(m.rt)
	h.mu.Lock()
	fs := h.fs
	h.mu.Unlock()
	for _, d := range ended {
		for _, f := range fs {
			f(d)
		}
	}
}

// Answered reports whether a 2xx confirmed d.
func (d *Dialog) Answered() bool { return d.answered }

// Bind makes d the dialog of ctx's message, for $dlg and $dlg_var in
// code that runs outside a request (an OnEnd hook's context).
func Bind(ctx *core.Ctx, d *Dialog) {
	st := msgStates.Get(ctx)
	st.dlg, st.looked, st.down = d, true, true
}

func (m *Module) now() int64 {
	if c := m.rt.Clock; c != nil {
		return c.Now()
	}
	return time.Now().UnixNano()
}

func (m *Module) wall() int64 {
	if c := m.rt.Clock; c != nil {
		if _, ok := c.(core.SteppedClock); ok {
			return c.Now() / int64(time.Second)
		}
	}
	return time.Now().Unix()
}

func key(callID, fromTag string) string { return callID + "\x00" + fromTag }

// DID is the rr_param cookie of d, "entry.id" in hex as Kamailio writes it.
func (d *Dialog) DID() string { return fmt.Sprintf("%x.%x", d.Entry, d.ID) }

// Active returns how many dialogs are tracked, and how many of them are
// answered.
func (m *Module) Active() (all, answered int) {
	m.mu.Lock()
	defer m.unlock()
	for _, d := range m.byKey {
		if d.State == StateConfirmed || d.State == StateConfirmedNA {
			answered++
		}
	}
	return len(m.byKey), answered
}

// create makes the dialog of an initial INVITE. m.mu held.
func (m *Module) create(ctx *core.Ctx) (*Dialog, error) {
	msg := ctx.Msg
	callID, fromTag := string(msg.CallID()), string(msg.FromTag())
	if callID == "" || fromTag == "" {
		return nil, fmt.Errorf("the INVITE has no Call-ID or no From tag")
	}
	if d := m.byKey[key(callID, fromTag)]; d != nil {
		return d, nil // a retransmission or a spiral
	}
	if n := len(callID) + len(fromTag) + len(msg.RequestURI()) + len(msg.HeaderID(sip.HdrFrom)) +
		len(msg.HeaderID(sip.HdrTo)) + len(msg.HeaderID(sip.HdrContact)); n > MaxDialogBytes {
		return nil, fmt.Errorf("the INVITE's Call-ID, tags, URIs and Contact take %d bytes, more than a dialog keeps (%d)", n, MaxDialogBytes)
	}
	if len(m.byKey) >= m.maxDialogs {
		m.Refused.Add(1)
		return nil, fmt.Errorf("max_dialogs (%d) reached", m.maxDialogs)
	}
	d := &Dialog{CallID: callID, FromTag: fromTag, ReqURI: string(msg.RequestURI()),
		CallerAddr: ctx.Src, Local: ctx.Local, State: StateUnconfirmed, Created: m.wall(),
		Timeout: m.defaultTimeout, heapIdx: -1}
	if f, err := msg.From(); err == nil {
		d.FromURI = string(f.URI)
	}
	if t, err := msg.To(); err == nil {
		d.ToURI = string(t.URI)
	}
	if it := msg.Contacts(); it.Next() {
		d.CallerContact = string(it.Contact().URI)
	}
	if n, _, err := msg.CSeq(); err == nil {
		d.CallerCSeq = n
	}
	h := fnv.New32a()
	h.Write([]byte(callID))
	d.Entry = h.Sum32() % m.hashSize
	for {
		m.nextID++
		if m.nextID == 0 {
			continue
		}
		if _, used := m.byID[uint64(d.Entry)<<32|uint64(m.nextID)]; !used {
			break
		}
	}
	d.ID = m.nextID
	m.byKey[key(callID, fromTag)] = d
	m.byID[uint64(d.Entry)<<32|uint64(d.ID)] = d
	return d, nil
}

// remove takes d out of the tables and its profiles. m.mu held.
func (m *Module) remove(d *Dialog) {
	if d.State == StateDeleted {
		return
	}
	d.State = StateDeleted
	delete(m.byKey, key(d.CallID, d.FromTag))
	delete(m.byID, uint64(d.Entry)<<32|uint64(d.ID))
	for _, l := range d.profiles {
		l.p.remove(d, l.value)
	}
	d.profiles = nil
	if d.heapIdx >= 0 {
		heap.Remove(&m.timers, d.heapIdx)
	}
}

// end ends an answered dialog: removed, its CDR written, dialog:end. m.mu held.
func (m *Module) end(d *Dialog) {
	if d.State == StateDeleted {
		return
	}
	answered := d.answered
	d.EndTS = m.wall()
	m.remove(d)
	if endHooksOf.Peek(m.rt) != nil {
		m.ended = append(m.ended, d)
	}
	if answered {
		m.queue(d, "dialog:end")
	} else {
		m.queue(d, "dialog:failed")
	}
}

// match finds the dialog of an in-dialog request (one with a To tag),
// by the rr_param cookie and/or Call-ID and tags per dlg_match_mode. It
// reports whether the request goes downstream (from the caller). m.mu held.
func (m *Module) match(ctx *core.Ctx, did []byte) (*Dialog, bool) {
	msg := ctx.Msg
	callID, fromTag, toTag := string(msg.CallID()), string(msg.FromTag()), string(msg.ToTag())
	check := func(d *Dialog) (*Dialog, bool) {
		if d == nil || d.CallID != callID {
			return nil, false
		}
		switch {
		case d.FromTag == fromTag && (d.ToTag == "" || d.ToTag == toTag):
			return d, true
		case d.FromTag == toTag && d.ToTag == fromTag:
			return d, false
		}
		return nil, false
	}
	if m.matchMode != 2 && len(did) > 0 {
		if e, id, ok := parseDID(string(did)); ok {
			if d, down := check(m.byID[uint64(e)<<32|uint64(id)]); d != nil {
				return d, down
			}
		}
		if m.matchMode == 0 {
			return nil, false
		}
	} else if m.matchMode == 0 {
		return nil, false
	}
	if d, down := check(m.byKey[key(callID, fromTag)]); d != nil {
		return d, down
	}
	return check(m.byKey[key(callID, toTag)])
}

func parseDID(s string) (entry, id uint32, ok bool) {
	a, b, found := strings.Cut(s, ".")
	if !found || len(a) == 0 || len(b) == 0 || len(a) > 8 || len(b) > 8 {
		return 0, 0, false
	}
	var x, y uint64
	for _, p := range []struct {
		s string
		v *uint64
	}{{a, &x}, {b, &y}} {
		for i := 0; i < len(p.s); i++ {
			c := p.s[i] | 0x20
			switch {
			case c >= '0' && c <= '9':
				*p.v = *p.v<<4 | uint64(c-'0')
			case c >= 'a' && c <= 'f':
				*p.v = *p.v<<4 | uint64(c-'a'+10)
			default:
				return 0, 0, false
			}
		}
	}
	return uint32(x), uint32(y), true
}

// arm sets d's expiry from now. m.mu held.
func (m *Module) arm(d *Dialog) {
	d.expireAt = m.now() + int64(d.Timeout)*int64(time.Second)
	if d.heapIdx >= 0 {
		heap.Fix(&m.timers, d.heapIdx)
	} else {
		heap.Push(&m.timers, d)
	}
}

// onComplete follows INVITE and BYE transactions (tm.OnComplete).
func (m *Module) onComplete(c *tm.Completion) {
	ms := msgPool.Get().(*parsed)
	defer msgPool.Put(ms)
	req, rpl := &ms.req, &ms.rpl
	if req.Parse(c.Req) != nil {
		return
	}
	meth := req.MethodID()
	if meth != sip.MethodINVITE && meth != sip.MethodBYE {
		return
	}
	callID, fromTag, toTag := req.CallID(), req.FromTag(), req.ToTag()
	if meth == sip.MethodINVITE && len(toTag) > 0 {
		return // a re-INVITE
	}
	// Keys built in a pooled buffer: the map lookups do not allocate.
	ms.k1 = append(append(append(ms.k1[:0], callID...), 0), fromTag...)
	m.mu.Lock()
	defer m.unlock()
	if meth == sip.MethodBYE {
		d := m.byKey[string(ms.k1)]
		if d == nil || d.ToTag != string(toTag) {
			ms.k2 = append(append(append(ms.k2[:0], callID...), 0), toTag...)
			d = m.byKey[string(ms.k2)]
			if d == nil || d.ToTag != string(fromTag) {
				return
			}
		}
		m.end(d)
		return
	}
	d := m.byKey[string(ms.k1)]
	if d == nil || (d.State != StateUnconfirmed && d.State != StateEarly) {
		return
	}
	if c.Code >= 300 {
		d.EndTS = m.wall()
		m.remove(d)
		if endHooksOf.Peek(m.rt) != nil {
			m.ended = append(m.ended, d)
		}
		m.queue(d, "dialog:failed")
		return
	}
	if rpl.Parse(c.Reply) != nil {
		return
	}
	d.ToTag = string(rpl.ToTag())
	if it := rpl.Contacts(); it.Next() {
		d.CalleeContact = string(it.Contact().URI)
		if u, err := sip.ParseURI(it.Contact().URI); err == nil {
			if a, err := netip.ParseAddr(strings.Trim(string(u.Host), "[]")); err == nil {
				port := u.Port
				if port == 0 {
					port = 5060
				}
				d.CalleeAddr = netip.AddrPortFrom(a, uint16(port))
			}
		}
	}
	d.State = StateConfirmedNA
	d.answered = true
	d.StartTS = m.wall()
	m.arm(d)
	m.queue(d, "dialog:start")
}

// msgPool holds the messages onComplete parses, so following every
// transaction allocates nothing for them.
var msgPool = sync.Pool{New: func() any { return new(parsed) }}

type parsed struct {
	req, rpl sip.Msg
	k1, k2   []byte
}

// requestDone forgets the dialog an INVITE created when the request route
// ended without a transaction to follow it.
func (m *Module) requestDone(ctx *core.Ctx) {
	st := msgStates.Peek(ctx)
	if st == nil || st.created == nil {
		return
	}
	d := st.created
	st.created = nil
	if tm.HasTransaction(ctx) {
		return
	}
	m.mu.Lock()
	if d.State == StateUnconfirmed {
		m.remove(d)
	}
	m.unlock()
}

// timerHeap orders answered dialogs by expiry.
type timerHeap []*Dialog

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].expireAt < h[j].expireAt }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}
func (h *timerHeap) Push(x any) {
	d := x.(*Dialog)
	d.heapIdx = len(*h)
	*h = append(*h, d)
}
func (h *timerHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	d.heapIdx = -1
	return d
}

// token marks this start's BYE branches.
func newToken() string {
	var b [6]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}
