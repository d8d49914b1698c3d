// Package registrar implements module registrar: save processes REGISTER
// requests into usrloc tables and replies; lookup routes requests to the
// registered contacts.
//
// Per message, save and lookup work in a per-worker state (a core Slot):
// the AoR key, the parsed contacts and the reply's Contact lines are built
// in reused buffers. A REGISTER allocates only what the table keeps: the
// AoR string of a new record and the strings of a new or changed binding.
package registrar

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"kemi/core"
	"kemi/exports/hdr"
	"kemi/exports/tm"
	"kemi/exports/usrloc"
	"kemi/sip"
)

// Save flags (Kamailio's values).
const (
	FlagMemOnly = 0x01 // the bindings stay out of the database
	FlagNoReply = 0x02
	FlagReplace = 0x04
)

// MaxReply is the largest reply save sends: the most a UDP datagram
// carries over IPv4 (65535 less the IP and UDP headers). A REGISTER whose
// 200 would list more than fits is refused before anything is stored, on
// every transport, so the bindings of an AoR can always be returned to a
// client, whichever transport it uses next.
const MaxReply = 65535 - 20 - 8

// Default limits (module.yaml gives the reasons).
const (
	DefaultMaxContacts    = 12
	DefaultContactMaxSize = 512
)

// config is the registrar modparams, read once per runtime.
type config struct {
	defaultExpires, minExpires, maxExpires int
	defaultQ, maxContacts, contactMaxSize  int
	methodFiltering, appendBranches        bool
	usePath, pathUseReceived               bool
	pathMode                               int
	// sockFlag (-1 none) and sockHdrName: the header naming the socket
	// to store instead of the one the REGISTER came in on.
	sockFlag    int
	sockHdrName string
}

func strParam(rt *core.Runtime, name string) string {
	if rt.Reg == nil {
		return ""
	}
	if v := rt.Param("registrar", name); v.Kind == core.KStr {
		return v.S
	}
	return ""
}

var configs = core.NewRuntimeState(newConfig)

func cfg(rt *core.Runtime) *config { return configs.Get(rt) }

func newConfig(rt *core.Runtime) *config {
	p := func(name string, def int) int {
		if rt.Reg == nil {
			return def
		}
		if v := rt.Param("registrar", name); v.Kind == core.KInt {
			return int(v.I)
		}
		return def
	}
	return &config{
		defaultExpires:  p("default_expires", 3600),
		minExpires:      p("min_expires", 60),
		maxExpires:      p("max_expires", 0),
		defaultQ:        p("default_q", -1),
		maxContacts:     p("max_contacts", DefaultMaxContacts),
		contactMaxSize:  p("contact_max_size", DefaultContactMaxSize),
		methodFiltering: p("method_filtering", 0) != 0,
		appendBranches:  p("append_branches", 1) != 0,
		usePath:         p("use_path", 0) != 0,
		pathMode:        p("path_mode", 2),
		pathUseReceived: p("path_use_received", 0) != 0,
		sockFlag:        p("sock_flag", -1),
		sockHdrName:     strParam(rt, "sock_hdr_name"),
	}
}

// pending is one Contact of the REGISTER being saved; byte slices point
// into the message.
type pending struct {
	uri      []byte
	q        int
	expires  int
	instance []byte
	regID    int
}

// state is the per-worker scratch of this module.
type state struct {
	aor  []byte
	pend []pending
	hdrs []byte
	path []byte
	// pathVal is the REGISTER's Path values in order, comma-separated:
	// what the binding stores (use_path).
	pathVal []byte
	// listed: apply wrote the 200's Contact lines into hdrs.
	listed bool
	// pathIn: hdrs already ends with the Path echo.
	pathIn bool
	best   []int
	reply  []byte
	// The reply save kept for reg_send_reply (flag 0x02): its code and
	// reason and the header lines, for the message in hand.
	keptCode   int
	keptReason string
	kept       []byte
}

// A new message keeps the worker's buffers; the flags and the kept reply
// start empty.
var msgStates = core.NewMsgState(func(old *state) state {
	return state{
		aor: old.aor, pend: old.pend, hdrs: old.hdrs, path: old.path, pathVal: old.pathVal[:0],
		best: old.best, reply: old.reply, kept: old.kept,
	}
})

func st(ctx *core.Ctx) *state { return msgStates.Get(ctx) }

// bytesOf views a string as bytes without copying, for APIs that copy.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// appendAoR appends the address-of-record key of u: the user, with
// "@host" (host lowercased) when useDomain.
func appendAoR(dst []byte, u *sip.URI, useDomain bool) []byte {
	dst = append(dst, u.User...)
	if useDomain {
		dst = append(dst, '@')
		dst = sip.AppendLower(dst, u.Host)
	}
	return dst
}

// aorOf parses uri and builds its AoR key in s.aor; ok is false for a URI
// that does not parse or has no user part.
func aorOf(ctx *core.Ctx, s *state, uri []byte) bool {
	u, err := sip.ParseURI(uri)
	if err != nil || len(u.User) == 0 {
		return false
	}
	s.aor = appendAoR(s.aor[:0], &u, usrloc.Get(ctx.RT).UseDomain)
	return true
}

// parseDelta reads delta-seconds, clamping values past 2^32-1 (RFC 3261
// 20.19 says to treat them as 2^32-1); ok is false for non-digits.
func parseDelta(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < 1<<32 {
			n = n*10 + int(c-'0')
		}
	}
	if n > 1<<32-1 {
		n = 1<<32 - 1
	}
	return n, true
}

// parseQ reads a q-value ("0.5", "1", "1.000") as thousandths.
func parseQ(b []byte) (int, bool) {
	if len(b) == 0 || (b[0] != '0' && b[0] != '1') {
		return 0, false
	}
	q := int(b[0]-'0') * 1000
	if len(b) == 1 {
		return q, true
	}
	if b[1] != '.' || len(b) > 5 {
		return 0, false
	}
	mul := 100
	for _, c := range b[2:] {
		if c < '0' || c > '9' {
			return 0, false
		}
		q += int(c-'0') * mul
		mul /= 10
	}
	if q > 1000 {
		return 0, false
	}
	return q, true
}

// clampExpires applies min_expires and max_expires; 0 stays 0 (remove).
func (c *config) clamp(e int) int {
	if e == 0 {
		return 0
	}
	if c.minExpires > 0 && e < c.minExpires {
		e = c.minExpires
	}
	if c.maxExpires > 0 && e > c.maxExpires {
		e = c.maxExpires
	}
	return e
}

// allowMask turns the Allow header into a method bit set; 0 (all) when
// the REGISTER has no Allow.
func allowMask(m *sip.Msg) uint32 {
	var mask uint32
	for it := m.ValuesID(sip.HdrAllow); it.Next(); {
		mask |= 1 << uint(sip.LookupMethod(it.Value()))
	}
	return mask
}

// start checks that usrloc is loaded (start: in module.yaml).
func start(rt *core.Runtime) error {
	// As in Kamailio, registrar stores through usrloc; without it the
	// expiry timer and the database would silently be missing.
	if rt.Reg.Module("usrloc") == nil {
		return errors.New(`registrar needs usrloc: add loadmodule "usrloc.so" before it`)
	}
	cfg(rt)
	return nil
}

// Save is save(table, flags).
func Save(ctx *core.Ctx, table string, flags int) int {
	return save(ctx, table, flags, nil)
}

// SaveURI is save_uri(table, flags, uri).
func SaveURI(ctx *core.Ctx, table string, flags int, uri string) int {
	return save(ctx, table, flags, bytesOf(uri))
}

func save(ctx *core.Ctx, table string, flags int, aorURI []byte) int {
	m := ctx.Msg
	if m == nil || !m.IsRequest() || m.MethodID() != sip.MethodREGISTER {
		ctx.Log(core.LErr, "registrar: save: the message is not a REGISTER\n")
		return -1
	}
	c := cfg(ctx.RT)
	s := st(ctx)
	if aorURI == nil {
		to, err := m.To()
		if err != nil {
			return reject(ctx, flags, 400, "Bad To Header", "registrar: save: "+core.LogValue(err.Error()))
		}
		aorURI = to.URI
	}
	if !aorOf(ctx, s, aorURI) {
		return reject(ctx, flags, 400, "Bad Address Of Record", "registrar: save: no user in "+core.LogQuote(aorURI))
	}
	hdrExp, hasHdrExp := c.defaultExpires, false
	if v := m.HeaderID(sip.HdrExpires); v != nil {
		if n, ok := parseDelta(v); ok {
			hdrExp, hasHdrExp = n, true
		}
	}
	// Parse every Contact before changing anything: a bad one rejects
	// the whole REGISTER.
	s.pend = s.pend[:0]
	star := false
	for it := m.ValuesID(sip.HdrContact); it.Next(); {
		v := it.Value()
		if len(v) == 1 && v[0] == '*' {
			star = true
			continue
		}
		na, err := sip.ParseNameAddr(v)
		if err != nil {
			return reject(ctx, flags, 400, "Bad Contact", "registrar: save: Contact: "+core.LogValue(err.Error()))
		}
		if c.contactMaxSize > 0 && len(na.URI) > c.contactMaxSize {
			return reject(ctx, flags, 400, "Contact Too Long", "registrar: save: Contact URI of "+
				strconv.Itoa(len(na.URI))+" bytes, longer than contact_max_size "+strconv.Itoa(c.contactMaxSize))
		}
		p := pending{uri: na.URI, q: c.defaultQ, expires: hdrExp}
		if e, ok := na.Params.Get("expires"); ok {
			if n, ok := parseDelta(e); ok {
				p.expires = n
			}
		}
		p.expires = c.clamp(p.expires)
		if q, ok := na.Params.Get("q"); ok {
			if p.q, ok = parseQ(q); !ok {
				return reject(ctx, flags, 400, "Bad Contact", "registrar: save: Contact: bad q "+core.LogQuote(q))
			}
		}
		if in, ok := na.Params.Get("+sip.instance"); ok {
			p.instance = in
		}
		if r, ok := na.Params.Get("reg-id"); ok {
			p.regID, _ = strconv.Atoi(string(r))
		}
		s.pend = append(s.pend, p)
	}
	if r, ok := savePath(ctx, c, s, flags); !ok {
		return r
	}
	t := usrloc.Get(ctx.RT).Table(table)
	now := time.Now().Unix()
	rc := 4
	s.listed, s.pathIn = false, false
	if star {
		// RFC 3261 10.3 step 6: "*" only alone and with Expires: 0.
		if len(s.pend) > 0 || !hasHdrExp || hdrExp != 0 {
			return reject(ctx, flags, 400, "Invalid Contact", "registrar: save: Contact * needs Expires: 0 and no other contact")
		}
		if _, err := t.DeleteErr(s.aor); err != nil {
			return failed(ctx, flags, s, err)
		}
		rc = 3
	} else if len(s.pend) > 0 {
		var h *heldReply
		if flags&FlagNoReply == 0 && holdable(ctx, t) {
			h = getHeld(ctx)
		}
		r := apply(ctx, c, s, t, flags, now, MaxReply-replyBase(ctx, s), h)
		if r.held {
			// The flusher sends the 200 once the binding is on disk.
			return r.rc
		}
		if h != nil {
			h.release()
		}
		if r.code != 0 {
			reject(ctx, flags, r.code, r.why, "registrar: save: "+r.why+" for "+core.LogQuote(s.aor))
			if r.code == 503 || r.code == codeTooLarge {
				return -2 // Kamailio's code for too many contacts
			}
			return -1
		}
		if r.err != nil {
			return failed(ctx, flags, s, r.err)
		}
		rc = r.rc
	}
	// The 200 lists every binding; with flag 0x02 it is kept for
	// reg_send_reply.
	if !s.listed {
		s.hdrs = s.hdrs[:0]
		t.View(s.aor, func(r *usrloc.Record) {
			if r != nil {
				s.hdrs = appendContacts(s.hdrs, r.Contacts, now)
			}
		})
	}
	if !s.pathIn {
		s.hdrs = append(s.hdrs, s.path...)
	}
	if r := respond(ctx, flags, 200, "OK", s.hdrs); r < 0 {
		return r
	}
	ctx.Count(statAccepted)
	return rc
}

// codeTooLarge and reasonTooLarge answer a REGISTER whose 200 would not
// fit in MaxReply. A 5xx as for max_contacts (the same limit, counted in
// bytes), and 500 rather than 503 since retrying later does not help; the
// reason phrase names the problem.
const (
	codeTooLarge   = 500
	reasonTooLarge = "Contacts Too Large For One Reply"
)

// replyBase returns the size of save's 200 OK without its Contact lines:
// status line, Vias (with received and rport), From, To with tag, Call-ID,
// CSeq, Server, the script's reply headers, the Path echo and
// Content-Length. It builds that reply in ctx.Scratch, which reply reuses.
func replyBase(ctx *core.Ctx, s *state) int {
	opt := sip.ReplyOptions{ServerHeader: ctx.ServerHeader(), Src: ctx.Src, ForceRport: ctx.ForceRport}
	b := sip.AppendReply(ctx.Scratch[:0], ctx.Msg, 200, "OK", &opt)
	ctx.Scratch = b[:0]
	return len(b) + len(ctx.ReplyHeaders()) + len(s.path)
}

// contactLineLen is the length of the line appendContacts writes for one
// binding: "Contact: <uri>;expires=N[;q=Q]\r\n".
func contactLineLen(uri int, expires int64, q int) int {
	n := len("Contact: <") + uri + len(">;expires=") + decimalLen(expires) + 2
	if q >= 0 {
		n += len(";q=") + qLen(q)
	}
	return n
}

// qLen is the length appendQ writes for q.
func qLen(q int) int {
	n := 3 // "d.d"
	if q%100 != 0 {
		n++
		if q%10 != 0 {
			n++
		}
	}
	return n
}

func decimalLen(v int64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}

// applied is what apply did: save's code, or a status code and reason to
// reject with (nothing changed), or the database error that kept the
// change from being durable; held when the 200 went to the flusher.
type applied struct {
	rc, code int
	why      string
	err      error
	held     bool
}

// apply changes the bindings under the record's lock. room is how many
// bytes of Contact lines the 200 may carry. With h, the 200 is built in
// h under the lock and held until the change is on disk (held.go).
func apply(ctx *core.Ctx, c *config, s *state, t *usrloc.Table, flags int, now int64, room int, h *heldReply) applied {
	m := ctx.Msg
	callID := m.CallID()
	cseq, _, _ := m.CSeq()
	received := usrloc.Received(ctx)
	ua := m.UserAgent()
	var path []byte
	if c.usePath && len(s.pathVal) > 0 {
		path = s.pathVal
		if c.pathUseReceived {
			if r := pathReceived(s.pathVal); r != "" {
				received = r
			}
		}
	}
	methods := allowMask(m)
	// sock_flag and sock_hdr_name: a replicating server in front named
	// the socket the REGISTER reached it on (add_sock_hdr).
	var sock []byte
	if c.sockHdrName != "" && c.sockFlag >= 0 && c.sockFlag < 64 && ctx.Flags&(1<<uint(c.sockFlag)) != 0 {
		sock = m.Header(c.sockHdrName)
	}
	var inserted, updated, deleted int
	var code int
	var why string
	held, err := t.UpdateHeld(s.aor, func(r *usrloc.Record) (bool, usrloc.Held) {
		changed := r.Expire(now) > 0
		// Check first: CSeq order and max_contacts. Nothing changes when
		// the REGISTER is rejected.
		count := len(r.Contacts)
		if flags&FlagReplace != 0 {
			count = 0
		}
		for _, p := range s.pend {
			i := find(r.Contacts, p.uri)
			if i >= 0 && r.Contacts[i].CallID == string(callID) && cseq < r.Contacts[i].CSeq {
				code, why = 400, "Invalid CSeq Number"
				return changed, nil
			}
			switch {
			case i < 0 && p.expires > 0:
				count++
			case i >= 0 && p.expires == 0 && flags&FlagReplace == 0:
				count--
			case i >= 0 && p.expires > 0 && flags&FlagReplace != 0:
				count++
			}
		}
		if c.maxContacts > 0 && count > c.maxContacts {
			code, why = 503, "Too Many Registered Contacts"
			return changed, nil
		}
		// The 200 lists every binding: refuse what it could not carry,
		// before anything is stored.
		need := 0
		for i := range r.Contacts {
			b := &r.Contacts[i]
			if b.Expires <= now || containsURI(s.pend, b.URI) || flags&FlagReplace != 0 {
				continue // gone, or counted below as the REGISTER has it
			}
			need += contactLineLen(len(b.URI), b.Expires-now, b.Q)
		}
		for _, p := range s.pend {
			if p.expires > 0 {
				need += contactLineLen(len(p.uri), int64(p.expires), p.q)
			}
		}
		if need > room {
			code, why = codeTooLarge, reasonTooLarge
			return changed, nil
		}
		if flags&FlagReplace != 0 {
			// Keep only the bindings the REGISTER names.
			j := 0
			for _, b := range r.Contacts {
				if containsURI(s.pend, b.URI) {
					r.Contacts[j] = b
					j++
				} else {
					deleted++
				}
			}
			clear(r.Contacts[j:])
			r.Contacts = r.Contacts[:j]
		}
		for _, p := range s.pend {
			i := find(r.Contacts, p.uri)
			if p.expires == 0 {
				if i >= 0 {
					r.Contacts = remove(r.Contacts, i)
					deleted++
				}
				continue
			}
			if i < 0 {
				r.Contacts = append(r.Contacts, usrloc.Contact{URI: string(p.uri)})
				i = len(r.Contacts) - 1
				inserted++
			} else {
				updated++
			}
			b := &r.Contacts[i]
			b.Q = p.q
			b.Expires = now + int64(p.expires)
			setStr(&b.CallID, callID)
			b.CSeq = cseq
			b.Received = received
			setStr(&b.Path, path)
			setStr(&b.UserAgent, ua)
			setStr(&b.Instance, p.instance)
			setStr(&b.Socket, sock)
			b.ConnID = 0
			if ctx.Proto.IsStream() {
				b.ConnID = ctx.ConnID
			}
			b.RegID = p.regID
			b.Flags = ctx.BranchFlags
			b.Methods = methods
			b.Modified = now
			b.Mem = flags&FlagMemOnly != 0
		}
		// List the bindings the size check passed, under the same lock:
		// a REGISTER for the AoR in between cannot grow this 200.
		s.hdrs = appendContacts(s.hdrs[:0], r.Contacts, now)
		s.listed = true
		if h == nil {
			return true, nil
		}
		// Build the whole 200 now, under the lock: the flusher may send
		// it as soon as the change is marked, before UpdateHeld returns.
		s.hdrs = append(s.hdrs, s.path...)
		s.pathIn = true
		h.buf = buildReply(ctx, h.buf[:0], 200, "OK", s.hdrs)
		if len(h.buf) > MaxReply {
			return true, nil // reply() answers it
		}
		h.to = sip.ReplyAddr(ctx.Msg, ctx.Src, ctx.ForceRport)
		h.aor = append(h.aor[:0], s.aor...)
		h.count()
		return true, h
	})
	a := applied{rc: 1, err: err, held: held}
	switch {
	case code != 0:
		a.rc, a.code, a.why = -1, code, why
	case inserted > 0:
		a.rc = 1
	case updated > 0:
		a.rc = 2
	case deleted > 0:
		a.rc = 3
	}
	return a
}

// setStr replaces *dst with b, allocating only when the text changed.
func setStr(dst *string, b []byte) {
	if *dst != string(b) {
		*dst = string(b)
	}
}

func find(cs []usrloc.Contact, uri []byte) int {
	for i := range cs {
		if cs[i].URI == string(uri) {
			return i
		}
	}
	return -1
}

// remove deletes cs[i], clearing the freed slot so its strings can go.
func remove(cs []usrloc.Contact, i int) []usrloc.Contact {
	copy(cs[i:], cs[i+1:])
	cs[len(cs)-1] = usrloc.Contact{}
	return cs[:len(cs)-1]
}

func containsURI(ps []pending, uri string) bool {
	for _, p := range ps {
		if string(p.uri) == uri {
			return true
		}
	}
	return false
}

// appendContacts writes one Contact line per live binding, with the
// seconds left and its q.
func appendContacts(dst []byte, cs []usrloc.Contact, now int64) []byte {
	for i := range cs {
		b := &cs[i]
		if b.Expires <= now {
			continue
		}
		dst = append(dst, "Contact: <"...)
		dst = append(dst, b.URI...)
		dst = append(dst, ">;expires="...)
		dst = strconv.AppendInt(dst, b.Expires-now, 10)
		if b.Q >= 0 {
			dst = append(dst, ";q="...)
			dst = appendQ(dst, b.Q)
		}
		dst = append(dst, "\r\n"...)
	}
	return dst
}

func appendQ(dst []byte, q int) []byte {
	dst = append(dst, byte('0'+q/1000), '.')
	q %= 1000
	dst = append(dst, byte('0'+q/100))
	if q%100 != 0 {
		dst = append(dst, byte('0'+q/10%10))
		if q%10 != 0 {
			dst = append(dst, byte('0'+q%10))
		}
	}
	return dst
}

// reject logs why, sends code (or keeps it for reg_send_reply when flags
// say no reply) and returns -1.
// Kamailio's registrar statistics.
var (
	statAccepted = core.NewCounter("registrar", "registrar", "accepted_regs")
	statRejected = core.NewCounter("registrar", "registrar", "rejected_regs")
)

func reject(ctx *core.Ctx, flags, code int, reason, why string) int {
	ctx.Count(statRejected)
	ctx.Log(core.LNotice, why+"\n")
	respond(ctx, flags, code, reason, nil)
	return -1
}

// respond sends save's reply, or with FlagNoReply keeps it for
// reg_send_reply.
func respond(ctx *core.Ctx, flags, code int, reason string, hdrs []byte) int {
	if flags&FlagNoReply == 0 {
		return reply(ctx, code, reason, hdrs)
	}
	s := st(ctx)
	s.keptCode, s.keptReason = code, reason
	s.kept = append(s.kept[:0], hdrs...)
	return 1
}

// RegSendReply is reg_send_reply: it sends the reply save kept when it
// ran with flag 0x02 on this message (the 200 listing the bindings, or
// the error), once.
func RegSendReply(ctx *core.Ctx) int {
	s := st(ctx)
	if s.keptCode == 0 || ctx.Msg == nil {
		ctx.Log(core.LErr, "registrar: reg_send_reply: no reply kept for this message: call save with flag 0x02 first\n")
		return -1
	}
	code := s.keptCode
	s.keptCode = 0
	if reply(ctx, code, s.keptReason, s.kept) < 0 {
		return -1
	}
	return 1
}

// isToken reports whether name is a header name: an RFC 3261 token.
func isToken(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-.!%*_+`'~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// AddSockHdr is add_sock_hdr: it appends to the REGISTER a header named
// name whose value is the socket it came in on, proto:ip:port (as
// "udp:127.0.0.1:5060"); with sock_hdr_name set to the same name, a
// registrar behind this one stores that socket with the bindings.
func AddSockHdr(ctx *core.Ctx, name string) int {
	if ctx.Msg == nil || !ctx.Msg.IsRequest() {
		ctx.Log(core.LErr, "registrar: add_sock_hdr: the message is not a request\n")
		return -1
	}
	if !isToken(name) {
		ctx.Log(core.LErr, "registrar: add_sock_hdr: expected a header name (a token), got "+core.LogQuote(name)+"\n")
		return -1
	}
	if !ctx.Local.IsValid() {
		ctx.Log(core.LErr, "registrar: add_sock_hdr: the message has no receiving socket\n")
		return -1
	}
	v := ctx.Proto.String() + ":" + ctx.Local.String()
	if err := ctx.Msg.AppendHeader(name, bytesOf(v)); err != nil {
		ctx.Log(core.LErr, "registrar: add_sock_hdr: "+core.LogValue(err.Error())+"\n")
		return -1
	}
	return 1
}

// failed answers a REGISTER whose change could not be made durable (the
// database file cannot be written): 500, never 200. The binding stays in
// memory and usrloc writes it when the database works again.
func failed(ctx *core.Ctx, flags int, s *state, err error) int {
	ctx.Log(core.LErr, "registrar: save: binding of "+core.LogQuote(s.aor)+" not written to the database: "+
		core.LogValue(err.Error())+"; answering "+strconv.Itoa(code500)+"\n")
	respond(ctx, flags, code500, reason500, nil)
	return -1
}

// holdable reports whether save may hand its 200 to usrloc's flusher
// rather than wait for the disk (held.go).
func holdable(ctx *core.Ctx, t *usrloc.Table) bool {
	return ctx.RT != nil && ctx.RT.SendFrom != nil && ctx.Out != nil &&
		t.Holds() && canHold() && !tm.HasTransaction(ctx)
}

// buildReply appends to dst the reply to ctx.Msg with the script's reply
// headers (KSR.hdr.append_to_reply, first, as Kamailio's reply lumps) and
// hdrs.
func buildReply(ctx *core.Ctx, dst []byte, code int, reason string, hdrs []byte) []byte {
	if rh := ctx.ReplyHeaders(); len(rh) > 0 {
		s := st(ctx)
		s.reply = append(append(s.reply[:0], rh...), hdrs...)
		hdrs = s.reply
	}
	opt := sip.ReplyOptions{ServerHeader: ctx.ServerHeader(), Src: ctx.Src, ForceRport: ctx.ForceRport, ExtraHeaders: hdrs}
	return sip.AppendReply(dst, ctx.Msg, code, reason, &opt)
}

// reply sends a reply carrying extra header lines: through tm when the
// script made a transaction for the REGISTER (t_newtran), so that tm
// records it and answers retransmissions with it, as Kamailio's
// registrar does through sl's send_reply; else statelessly.
func reply(ctx *core.Ctx, code int, reason string, hdrs []byte) int {
	if ctx.Out == nil {
		ctx.Log(core.LErr, "registrar: reply: no sender for this message\n")
		return -1
	}
	if tm.HasTransaction(ctx) {
		if len(hdrs) > 0 && hdr.AppendToReply(ctx, unsafe.String(unsafe.SliceData(hdrs), len(hdrs))) < 0 {
			return -1
		}
		if tm.Reply(ctx, code, reason) < 0 {
			return -1
		}
		return 1
	}
	opt := sip.ReplyOptions{ServerHeader: ctx.ServerHeader(), Src: ctx.Src, ForceRport: ctx.ForceRport}
	b := buildReply(ctx, ctx.Scratch[:0], code, reason, hdrs)
	if len(b) > MaxReply {
		// A query of bindings stored under another REGISTER's smaller
		// headers can still outgrow a datagram: answer, but briefly.
		ctx.Log(core.LNotice, "registrar: reply: "+strconv.Itoa(code)+" of "+strconv.Itoa(len(b))+
			" bytes is larger than "+strconv.Itoa(MaxReply)+"; sending "+strconv.Itoa(codeTooLarge)+" "+reasonTooLarge+"\n")
		opt.ExtraHeaders = nil
		b = sip.AppendReply(b[:0], ctx.Msg, codeTooLarge, reasonTooLarge, &opt)
		code = codeTooLarge
	}
	ctx.Scratch = b
	if err := ctx.Out.SendTo(b, ctx.Proto, sip.ReplyAddr(ctx.Msg, ctx.Src, ctx.ForceRport)); err != nil {
		ctx.Log(core.LErr, "registrar: reply: "+core.LogValue(err.Error())+"\n")
		return -1
	}
	if code == codeTooLarge {
		return -2
	}
	return 1
}
