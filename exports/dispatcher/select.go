package dispatcher

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"kemi/core"
	"kemi/sip"
)

// Algorithms, Kamailio's numbers.
const (
	AlgCallID    = 0
	AlgFromURI   = 1
	AlgToURI     = 2
	AlgRURI      = 3
	AlgRoundRob  = 4
	AlgAuthUser  = 5
	AlgRandom    = 6
	AlgHashPV    = 7
	AlgPriority  = 8
	AlgWeight    = 9
	AlgCallLoad  = 10
	AlgRelWeight = 11
	AlgParallel  = 12
	AlgLatency   = 13
)

// Where a selection puts the first destination.
const (
	modeDst = iota
	modeDomain
	modeList
)

// msgStates keeps each message's dispatcher state in the worker's Ctx;
// only the buffer is carried from one message to the next.
var msgStates = core.NewMsgState(func(old *msgState) msgState {
	buf := old.buf[:0]
	if buf == nil {
		buf = make([]byte, 0, 256)
	}
	return msgState{pos: -1, buf: buf, fresh: true}
})

// msgState is the dispatcher state of one message in a worker's Ctx.
type msgState struct {
	fresh bool // not yet set up for this message
	m     *Module

	dests [MaxFailover]*Dest // the failover list, the selected one first
	n     int
	pos   int  // index of the current destination; -1 before the first
	last  *Set // the set last selected or asked about ($dsg)
	key   uint64
	keyed bool // the list is in the transaction table under key
	buf   []byte
}

// state returns ctx's dispatcher state, reset for a new message. In a
// failure route (a new context of tm's) it is filled from the
// transaction table.
func state(ctx *core.Ctx) *msgState {
	st := msgStates.Get(ctx)
	if st.fresh {
		st.fresh, st.m = false, Of(ctx.RT)
		if st.m != nil && st.m.tx != nil && (ctx.Route == core.FailureRoute || ctx.Route == core.EventRoute) && ctx.Msg != nil {
			if k, ok := txKey(ctx.Msg); ok {
				st.n, st.pos = st.m.tx.load(k, &st.dests)
				st.key, st.keyed = k, st.n > 0
			}
		}
	}
	return st
}

// txTable keeps failover lists per transaction for failure routes. A
// list is looked for in a window of txWindow slots from its key's; a 2xx
// reply to the transaction (seen by the module's reply hook) and the end
// of a walk free its slot, and a slot older than txMaxAge counts as free,
// so only transactions alive together compete for slots. When a window
// is full of live lists, the oldest is overwritten (and its transaction,
// if it fails, finds no failover: ds_next_dst gives -1).
const (
	txSize    = 1 << 13
	txWindow  = 8
	txStripes = 64
	txMaxAge  = int64(5 * time.Minute)
)

type txEntry struct {
	key   uint64
	at    int64
	n     int8
	pos   int8
	dests [MaxFailover]*Dest
}

type txTable struct {
	mu    [txStripes]sync.Mutex
	e     [txSize]txEntry
	start time.Time
}

func newTxTable() *txTable { return &txTable{start: time.Now()} }

func (t *txTable) now() int64 { return int64(time.Since(t.start)) + 1 }

// lock locks the stripe of key's window (windows never straddle stripes:
// a window starts at a multiple of txWindow).
func (t *txTable) lock(key uint64) (base uint64, mu *sync.Mutex) {
	base = key % txSize &^ (txWindow - 1)
	mu = &t.mu[(base/txWindow)%txStripes]
	mu.Lock()
	return base, mu
}

func (t *txTable) store(key uint64, dests []*Dest, pos int) {
	now := t.now()
	base, mu := t.lock(key)
	defer mu.Unlock()
	var e *txEntry
	for i := base; i < base+txWindow; i++ {
		x := &t.e[i]
		if x.key == key {
			e = x
			break
		}
		if e == nil && (x.key == 0 || now-x.at > txMaxAge) {
			e = x
		}
	}
	if e == nil {
		e = &t.e[base]
		for i := base + 1; i < base+txWindow; i++ {
			if t.e[i].at < e.at {
				e = &t.e[i]
			}
		}
	}
	e.key, e.at, e.n, e.pos = key, now, int8(len(dests)), int8(pos)
	copy(e.dests[:], dests)
	clear(e.dests[len(dests):])
}

func (t *txTable) load(key uint64, dst *[MaxFailover]*Dest) (n, pos int) {
	base, mu := t.lock(key)
	defer mu.Unlock()
	for i := base; i < base+txWindow; i++ {
		if e := &t.e[i]; e.key == key && e.n > 0 {
			copy(dst[:], e.dests[:e.n])
			return int(e.n), int(e.pos)
		}
	}
	return 0, -1
}

func (t *txTable) drop(key uint64) {
	base, mu := t.lock(key)
	defer mu.Unlock()
	for i := base; i < base+txWindow; i++ {
		if e := &t.e[i]; e.key == key {
			*e = txEntry{}
			return
		}
	}
}

// replyHook frees the failover list of a transaction answered 2xx. The
// reply's second Via is the request's top one as received.
func (m *Module) replyHook(ctx *core.Ctx) bool {
	msg := ctx.Msg
	if c := msg.StatusCode(); c < 200 || c >= 300 {
		return false
	}
	it := msg.Vias()
	if !it.Next() || !it.Next() {
		return false
	}
	branch := it.Via().Branch
	num, _, err := msg.CSeq()
	if err != nil {
		return false
	}
	m.tx.drop(keyOf(msg.CallID(), branch, num))
	return false
}

// txKey hashes what names a transaction: Call-ID, CSeq number and the top
// Via branch of the request as received.
func txKey(m *sip.Msg) (uint64, bool) {
	v, err := m.TopVia()
	if err != nil {
		return 0, false
	}
	num, _, err := m.CSeq()
	if err != nil {
		return 0, false
	}
	return keyOf(m.CallID(), v.Branch, num), true
}

func keyOf(callID, branch []byte, cseq uint32) uint64 {
	h := uint64(14695981039346656037)
	h = fnv64(h, callID)
	h = fnv64(h, branch)
	h ^= uint64(cseq)
	h *= 1099511628211
	if h == 0 {
		h = 1
	}
	return h
}

func fnv64(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

func fnv32(h uint32, b []byte) uint32 {
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

const fnv32Init = 2166136261

// Hash is the hash algorithms 0-3, 5 and 7 pick by: FNV-1a of the bytes.
func Hash(b []byte) uint32 { return fnv32(fnv32Init, b) }

// save stores the failover list of st with the transaction of ctx's
// message, when failover is on.
func (st *msgState) save(ctx *core.Ctx) {
	if st.m.tx == nil || st.n == 0 {
		return
	}
	if !st.keyed {
		k, ok := txKey(ctx.Msg)
		if !ok {
			return
		}
		st.key, st.keyed = k, true
	}
	st.m.tx.store(st.key, st.dests[:st.n], st.pos)
}

func logErr(ctx *core.Ctx, msg string) { ctx.Log(core.LErr, "dispatcher: "+msg+"\n") }

// hashURI hashes user@host[:port] of a SIP URI, or the user only with
// flags bit 1, as Kamailio's ds_get_hash over From, To and R-URI.
func (m *Module) hashURI(raw []byte) (uint32, bool) {
	u, err := sip.ParseURI(raw)
	if err != nil {
		return 0, false
	}
	h := fnv32(fnv32Init, u.User)
	if m.flags&1 == 0 {
		h = fnv32(h, u.Host)
		if u.Port != 0 && u.Port != 5060 && u.Port != 5061 {
			var b [8]byte
			h = fnv32(h, strconv.AppendInt(append(b[:0], ':'), int64(u.Port), 10))
		}
	}
	return h, true
}

// authUser finds the username of a Proxy-Authorization or Authorization
// header.
func authUser(msg *sip.Msg) []byte {
	for _, name := range [...]string{"Proxy-Authorization", "Authorization"} {
		v := msg.Header(name)
		i := bytes.Index(v, []byte("username="))
		if i < 0 {
			continue
		}
		v = v[i+len("username="):]
		if len(v) > 0 && v[0] == '"' {
			v = v[1:]
			if j := bytes.IndexByte(v, '"'); j >= 0 {
				return v[:j]
			}
			return nil
		}
		if j := bytes.IndexAny(v, ", \t"); j >= 0 {
			v = v[:j]
		}
		return v
	}
	return nil
}

// pick chooses the index into s.Dests[:n] by alg; n leaves out the
// default destination (use_default). fn names the KSR function in errors.
func (m *Module) pick(ctx *core.Ctx, st *msgState, s *Set, alg, n int, fn string) (int, bool) {
	msg := ctx.Msg
	var h uint32
	switch alg {
	case AlgCallID:
		if msg == nil {
			return 0, false
		}
		h = Hash(msg.CallID())
	case AlgFromURI, AlgToURI:
		if msg == nil {
			return 0, false
		}
		var na sip.NameAddr
		var err error
		if alg == AlgFromURI {
			na, err = msg.From()
		} else {
			na, err = msg.To()
		}
		var ok bool
		if err == nil {
			h, ok = m.hashURI(na.URI)
		}
		if !ok {
			logErr(ctx, fn+": algorithm "+strconv.Itoa(alg)+": the "+[...]string{"", "From", "To"}[alg]+" URI does not parse")
			return 0, false
		}
	case AlgRURI:
		if msg == nil || !msg.IsRequest() {
			return 0, false
		}
		var ok bool
		if h, ok = m.hashURI(msg.RequestURI()); !ok {
			logErr(ctx, fn+": algorithm 3: the Request-URI does not parse")
			return 0, false
		}
	case AlgRoundRob:
		return int((s.rr.Add(1) - 1) % uint32(n)), true
	case AlgAuthUser:
		if msg == nil {
			return 0, false
		}
		u := authUser(msg)
		if len(u) == 0 {
			return int((s.rr.Add(1) - 1) % uint32(n)), true
		}
		h = Hash(u)
	case AlgRandom:
		return rand.IntN(n), true
	case AlgHashPV:
		if m.hashFmt == nil {
			logErr(ctx, fn+": algorithm 7 needs modparam(\"dispatcher\", \"hash_pvar\", ...)")
			return 0, false
		}
		st.buf = m.hashFmt.Append(st.buf[:0], ctx)
		h = Hash(st.buf)
	case AlgPriority:
		return 0, true
	case AlgWeight:
		if !s.hasW {
			return 0, true
		}
		i := int(s.wlist[(s.wnext.Add(1)-1)%100])
		if i >= n {
			i = 0
		}
		return i, true
	case AlgCallLoad:
		return m.pickLoad(ctx, s, n, fn)
	case AlgRelWeight:
		sum := 0
		for _, d := range s.Dests[:n] {
			if d.usable() {
				sum += d.RWeight
			}
		}
		if sum == 0 {
			return 0, true
		}
		v := int((s.rwn.Add(1) - 1) % uint32(sum))
		for i, d := range s.Dests[:n] {
			if d.usable() {
				if v < d.RWeight {
					return i, true
				}
				v -= d.RWeight
			}
		}
		return 0, true
	case AlgLatency:
		logErr(ctx, fn+": algorithm 13 (latency) needs ds_ping_latency_stats, which kemi does not have yet")
		return 0, false
	default:
		// Kamailio: an algorithm it does not know picks the first.
		return 0, true
	}
	return int(h % uint32(n)), true
}

// selectInto appends to st's list the destinations of set by alg: the
// selected one, then (when keep) the other usable ones in order, then the
// default one, at most limit in all.
func (m *Module) selectInto(ctx *core.Ctx, st *msgState, s *Set, alg, limit int, keep bool, fn string) bool {
	st.last = s
	all := len(s.Dests)
	if all == 0 {
		return false
	}
	n := all
	var def *Dest
	if m.useDefault == 1 && all > 1 {
		n--
		def = s.Dests[n]
	}
	idx, ok := m.pick(ctx, st, s, alg, n, fn)
	if !ok {
		return false
	}
	if limit <= 0 || limit > MaxFailover {
		limit = MaxFailover
	}
	room := min(limit, MaxFailover-st.n)
	if room <= 0 {
		return false
	}
	first := -1
	for i := 0; i < n; i++ {
		j := (idx + i) % n
		if s.Dests[j].usable() {
			first = j
			break
		}
	}
	added := 0
	add := func(d *Dest) {
		st.dests[st.n] = d
		st.n++
		added++
	}
	if first >= 0 {
		add(s.Dests[first])
	}
	if keep {
		// Room for the default is kept, as Kamailio puts it in first.
		want := room
		if def != nil && def.usable() {
			want--
		}
		for i := 1; i < n && added < want; i++ {
			if d := s.Dests[(first+i)%n]; first >= 0 && d.usable() {
				add(d)
			}
		}
	}
	if def != nil && def.usable() && added < room && (keep || added == 0) {
		add(def)
	}
	return added > 0
}

// sel is what every ds_select* function runs.
func sel(ctx *core.Ctx, set, alg, limit, mode int, fn string) int {
	st := state(ctx)
	m := st.m
	if m == nil {
		logErr(ctx, fn+": module dispatcher is not started")
		return -1
	}
	s := m.list.Load().Set(set)
	if s == nil {
		logErr(ctx, fn+": no destination set "+strconv.Itoa(set))
		return -1
	}
	if mode == modeDst && m.forceDst == 0 && ctx.DstURI != "" {
		logErr(ctx, fn+": the destination URI is set already and force_dst is 0")
		return -1
	}
	if p := m.prober; p != nil && !p.known.Load() {
		p.learn(ctx.Local)
	}
	clear(st.dests[:st.n])
	st.n, st.pos = 0, -1
	if alg == AlgParallel {
		return parallel(ctx, st, s, mode, fn)
	}
	keep := m.flags&2 != 0 || mode == modeList
	if !m.selectInto(ctx, st, s, alg, limit, keep, fn) {
		return -1
	}
	if mode != modeList {
		st.pos = 0
		if !apply(ctx, st.dests[0], mode, fn) {
			return -1
		}
	}
	if m.flags&2 != 0 {
		st.save(ctx)
	}
	return 1
}

// parallel is algorithm 12: the first usable destination as $du (or the
// R-URI host), every other one as a branch of its own.
func parallel(ctx *core.Ctx, st *msgState, s *Set, mode int, fn string) int {
	st.last = s
	var first *Dest
	for _, d := range s.Dests {
		if !d.usable() {
			continue
		}
		if first == nil {
			first = d
			if mode != modeList && !apply(ctx, d, mode, fn) {
				return -1
			}
			continue
		}
		b := core.Branch{Q: -1, Flags: ctx.BranchFlags}
		ruri := ctx.Msg.RequestURI()
		switch mode {
		case modeDomain:
			out, ok := domainURI(nil, ruri, d)
			if !ok {
				continue
			}
			b.URI = string(out)
		default:
			b.URI, b.DstURI = string(ruri), d.URI
		}
		ctx.Branches = append(ctx.Branches, b)
	}
	if first == nil {
		return -1
	}
	return 1
}

// apply sets d as the destination URI or the Request-URI host.
func apply(ctx *core.Ctx, d *Dest, mode int, fn string) bool {
	switch mode {
	case modeDst:
		ctx.DstURI = d.URI
	case modeDomain:
		if ctx.Msg == nil || !ctx.Msg.IsRequest() {
			logErr(ctx, fn+": the message is not a request")
			return false
		}
		out, ok := domainURI(ctx.Scratch[:0], ctx.Msg.RequestURI(), d)
		if !ok {
			logErr(ctx, fn+": the Request-URI does not parse")
			return false
		}
		ctx.Scratch = out
		ctx.Msg.SetRequestURI(out)
	}
	return true
}

// domainURI appends uri with its host and port replaced by d's.
func domainURI(dst, uri []byte, d *Dest) ([]byte, bool) {
	u, err := sip.ParseURI(uri)
	if err != nil || len(u.Scheme) == 0 || !u.IsSIP() {
		return dst, false
	}
	dst = append(dst, u.Scheme...)
	dst = append(dst, ':')
	if len(u.User) > 0 {
		dst = append(dst, u.User...)
		if u.HasPassword() {
			dst = append(dst, ':')
			dst = append(dst, u.Password...)
		}
		dst = append(dst, '@')
	}
	dst = append(dst, d.host...)
	if len(u.Params) > 0 {
		if u.Params[0] != ';' {
			dst = append(dst, ';')
		}
		dst = append(dst, u.Params...)
	}
	if len(u.Headers) > 0 {
		dst = append(dst, '?')
		dst = append(dst, u.Headers...)
	}
	return dst, true
}

// next moves to the next destination of the list and applies it.
func next(ctx *core.Ctx, mode int, fn string) int {
	st := state(ctx)
	if st.m == nil {
		return -1
	}
	if st.pos+1 >= st.n {
		if st.keyed && st.m.tx != nil {
			st.m.tx.drop(st.key)
			st.keyed = false
		}
		return -1
	}
	st.pos++
	if !apply(ctx, st.dests[st.pos], mode, fn) {
		return -1
	}
	if st.keyed || st.m.tx != nil {
		st.save(ctx)
	}
	return 1
}

// current applies the current destination again.
func current(ctx *core.Ctx, mode int, fn string) int {
	st := state(ctx)
	if st.m == nil || st.pos < 0 || st.pos >= st.n {
		return -1
	}
	if !apply(ctx, st.dests[st.pos], mode, fn) {
		return -1
	}
	return 1
}

// SelectDst is ds_select_dst.
func SelectDst(ctx *core.Ctx, set, alg int) int {
	return sel(ctx, set, alg, 0, modeDst, "ds_select_dst")
}

// SelectDstLimit is ds_select_dst_limit.
func SelectDstLimit(ctx *core.Ctx, set, alg, limit int) int {
	return sel(ctx, set, alg, limit, modeDst, "ds_select_dst")
}

// SelectDomain is ds_select_domain.
func SelectDomain(ctx *core.Ctx, set, alg int) int {
	return sel(ctx, set, alg, 0, modeDomain, "ds_select_domain")
}

// SelectDomainLimit is ds_select_domain_limit.
func SelectDomainLimit(ctx *core.Ctx, set, alg, limit int) int {
	return sel(ctx, set, alg, limit, modeDomain, "ds_select_domain")
}

// Select is ds_select.
func Select(ctx *core.Ctx, set, alg int) int { return sel(ctx, set, alg, 0, modeList, "ds_select") }

// SelectLimit is ds_select_limit.
func SelectLimit(ctx *core.Ctx, set, alg, limit int) int {
	return sel(ctx, set, alg, limit, modeList, "ds_select")
}

// SelectRoutes is ds_select_routes.
func SelectRoutes(ctx *core.Ctx, rules, mode string) int {
	return SelectRoutesLimit(ctx, rules, mode, 0)
}

// SelectRoutesLimit is ds_select_routes_limit: "1=4;2=0" picks from set 1
// by round robin, then from set 2 by Call-ID hash, into one list.
func SelectRoutesLimit(ctx *core.Ctx, rules, mode string, limit int) int {
	const fn = "ds_select_routes"
	st := state(ctx)
	m := st.m
	if m == nil {
		logErr(ctx, fn+": module dispatcher is not started")
		return -1
	}
	md := modeDst
	if mode != "" {
		switch mode[0] | 0x20 {
		case '0', 'd':
		case '1', 'r':
			md = modeDomain
		case '2', 'x':
			md = modeList
		default:
			logErr(ctx, fn+": mode "+core.LogQuote(mode)+": expected d, r or x")
			return -1
		}
	}
	if limit <= 0 || limit > MaxFailover {
		limit = MaxFailover
	}
	clear(st.dests[:st.n])
	st.n, st.pos = 0, -1
	l := m.list.Load()
	for rest := rules; rest != ""; {
		var rule string
		rule, rest = cut(rest, ';')
		if rule == "" {
			continue
		}
		gs, as := cut(rule, '=')
		g, err1 := strconv.Atoi(gs)
		a, err2 := strconv.Atoi(as)
		if err1 != nil || err2 != nil {
			logErr(ctx, fn+": rule "+core.LogQuote(rule)+": expected set=algorithm, such as 1=4")
			return -1
		}
		s := l.Set(g)
		if s == nil {
			logErr(ctx, fn+": no destination set "+strconv.Itoa(g))
			continue
		}
		if st.n >= limit {
			break
		}
		m.selectInto(ctx, st, s, a, limit-st.n, true, fn)
	}
	if st.n == 0 {
		return -1
	}
	if md != modeList {
		st.pos = 0
		if !apply(ctx, st.dests[0], md, fn) {
			return -1
		}
	}
	if m.flags&2 != 0 {
		st.save(ctx)
	}
	return 1
}

func cut(s string, sep byte) (string, string) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// NextDst is ds_next_dst.
func NextDst(ctx *core.Ctx) int { return next(ctx, modeDst, "ds_next_dst") }

// NextDomain is ds_next_domain.
func NextDomain(ctx *core.Ctx) int { return next(ctx, modeDomain, "ds_next_domain") }

// SetDst is ds_set_dst.
func SetDst(ctx *core.Ctx) int { return current(ctx, modeDst, "ds_set_dst") }

// SetDomain is ds_set_domain.
func SetDomain(ctx *core.Ctx) int { return current(ctx, modeDomain, "ds_set_domain") }
