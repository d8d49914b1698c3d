package sip

import (
	"bytes"
	"strconv"
)

// MaxMessageSize is the largest message Parse accepts, in bytes.
const MaxMessageSize = 65536

// maxContentLength is the largest Content-Length value Parse reads as a
// number; one larger than the datagram is a short body (ShortBody), as
// in Kamailio, whose sanity_check then answers 400.
const maxContentLength = 1<<31 - 1

// MaxHeaders is the number of header lines a Msg indexes. A message with
// more header lines is rejected by Parse with a *ParseError: a proxy that
// silently dropped the extra lines would forward a different message.
const MaxHeaders = 64

// ParseError says where in the buffer parsing failed and why.
type ParseError struct {
	Offset int
	Reason string
}

func (e *ParseError) Error() string {
	return "sip: at offset " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

func perr(off int, reason string) *ParseError {
	return &ParseError{Offset: off, Reason: reason}
}

// Method is a small id for a request method.
type Method uint8

// Known methods. MethodOther is any other token.
const (
	MethodOther Method = iota
	MethodINVITE
	MethodACK
	MethodBYE
	MethodCANCEL
	MethodOPTIONS
	MethodREGISTER
	MethodPRACK
	MethodSUBSCRIBE
	MethodNOTIFY
	MethodPUBLISH
	MethodINFO
	MethodREFER
	MethodMESSAGE
	MethodUPDATE
)

var methodNames = [...]string{"", "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER",
	"PRACK", "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE"}

// String returns the method name, or "" for MethodOther.
func (m Method) String() string {
	if int(m) < len(methodNames) {
		return methodNames[m]
	}
	return ""
}

// LookupMethod maps a method token to its id. Methods are case-sensitive
// (RFC 3261 §7.1), so "invite" is MethodOther.
func LookupMethod(b []byte) Method {
	switch len(b) {
	case 3:
		if string(b) == "ACK" {
			return MethodACK
		}
		if string(b) == "BYE" {
			return MethodBYE
		}
	case 4:
		if string(b) == "INFO" {
			return MethodINFO
		}
	case 5:
		if string(b) == "PRACK" {
			return MethodPRACK
		}
		if string(b) == "REFER" {
			return MethodREFER
		}
	case 6:
		switch string(b) {
		case "INVITE":
			return MethodINVITE
		case "CANCEL":
			return MethodCANCEL
		case "NOTIFY":
			return MethodNOTIFY
		case "UPDATE":
			return MethodUPDATE
		}
	case 7:
		switch string(b) {
		case "OPTIONS":
			return MethodOPTIONS
		case "PUBLISH":
			return MethodPUBLISH
		case "MESSAGE":
			return MethodMESSAGE
		}
	case 8:
		if string(b) == "REGISTER" {
			return MethodREGISTER
		}
	case 9:
		if string(b) == "SUBSCRIBE" {
			return MethodSUBSCRIBE
		}
	}
	return MethodOther
}

// span is a half-open byte range [s, e) into the message buffer.
type span struct{ s, e int32 }

func (p span) of(b []byte) []byte {
	if p.e <= p.s {
		if p.s == 0 && p.e == 0 {
			return nil
		}
		return b[p.s:p.s]
	}
	return b[p.s:p.e]
}

// hdr is one header line in the index.
type hdr struct {
	id    HdrID
	name  span // the name as written
	value span // the value, LWS trimmed at both ends; may contain folded CRLFs
	line  span // the whole line including its CRLF, for removal
}

// Msg is one SIP message. The zero value is ready to use; a worker keeps one
// Msg and calls Parse for every message. A Msg keeps the buffer given to
// Parse and returns slices of it; the buffer must not change while the Msg
// is in use.
type Msg struct {
	buf []byte

	isReq    bool
	methodID Method
	status   int
	method   span // request method
	ruri     span
	version  span
	reason   span
	start    int32 // where the start line begins, after ignored CRLFs
	lineLWS  bool  // the request line has LWS other than two single SPs
	noBlank  bool  // the datagram ended after the headers, with no empty line
	shortCL  bool  // Content-Length is larger than the body that arrived

	nh    int
	hdrs  [MaxHeaders]hdr
	first [numHdrIDs]int8 // index+1 of the first header with that id, 0 if none

	hdrEnd int32 // offset of the empty line ending the headers
	body   span

	ed edits
}

// Parse indexes buf as one SIP message as it came in a datagram. It reads
// the first line and the header boundaries and leaves header values unparsed
// until asked for. The body is Content-Length bytes after the empty line;
// extra bytes after that are ignored (RFC 3261 §18.3). Without a
// Content-Length the body is the rest of the buffer. A Content-Length
// larger than what is left is not a parse error: the body is what arrived
// (never more), ShortBody reports it and Validate answers 400, so the
// script sees the request and sanity_check answers it, as in Kamailio.
// Parse resets all state and pending edits.
func (m *Msg) Parse(buf []byte) error {
	m.reset()
	m.buf = buf
	if len(buf) > MaxMessageSize {
		return perr(MaxMessageSize, "message larger than "+strconv.Itoa(MaxMessageSize)+" bytes")
	}
	if len(buf) == 0 {
		return perr(0, "empty message")
	}
	// RFC 3261 §7.5: CRLFs before the start line are ignored.
	start := SkipKeepAlive(buf)
	if start == len(buf) {
		return perr(0, "no message, only CRLF (a keep-alive: see IsKeepAlive)")
	}
	m.start = int32(start)
	i, err := m.parseFirstLine(buf, start)
	if err != nil {
		return err
	}
	i, err = m.parseHeaders(buf, i)
	if err != nil {
		return err
	}
	return m.setBody(buf, i)
}

func (m *Msg) reset() {
	m.buf = nil
	m.isReq = false
	m.methodID = MethodOther
	m.status = 0
	m.method, m.ruri, m.version, m.reason = span{}, span{}, span{}, span{}
	m.lineLWS = false
	m.start = 0
	m.noBlank = false
	m.shortCL = false
	m.nh = 0
	m.first = [numHdrIDs]int8{}
	m.hdrEnd = 0
	m.body = span{}
	m.ed.reset()
}

// lineEnd returns the index of the LF ending the line that contains i and
// the index where the line content ends (before CR), or -1, -1.
func lineEnd(b []byte, i int) (contentEnd, next int) {
	j := bytes.IndexByte(b[i:], '\n')
	if j < 0 {
		return -1, -1
	}
	j += i
	ce := j
	if ce > i && b[ce-1] == '\r' {
		ce--
	}
	return ce, j + 1
}

func isTokenChar(c byte) bool {
	return tokenTab[c]
}

// tokenTab marks the characters of RFC 3261's token rule.
var tokenTab = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "-.!%*_+`'~" {
		t[c] = true
	}
	return
}()

func (m *Msg) parseFirstLine(buf []byte, start int) (int, error) {
	// Offsets below are relative to the start line; o converts them back.
	b := buf[start:]
	o := int32(start)
	ce, next := lineEnd(b, 0)
	if ce < 0 {
		return 0, perr(len(buf), "first line not terminated by CRLF")
	}
	line := b[:ce]
	if len(line) >= 4 && string(line[:4]) == "SIP/" {
		// Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
		sp := indexByte(line, ' ')
		if sp < 0 {
			return 0, perr(start+ce, "status line: expected SP after version")
		}
		m.version = span{o, o + int32(sp)}
		j := sp + 1
		if j+3 > len(line) {
			return 0, perr(start+j, "status line: expected 3-digit status code")
		}
		code := 0
		for k := j; k < j+3; k++ {
			c := line[k]
			if c < '0' || c > '9' {
				return 0, perr(start+k, "status line: expected 3-digit status code, got "+strconv.Quote(string(line[j:j+3])))
			}
			code = code*10 + int(c-'0')
		}
		if code < 100 {
			return 0, perr(start+j, "status line: status code below 100")
		}
		j += 3
		if j < len(line) {
			if line[j] != ' ' {
				return 0, perr(start+j, "status line: expected SP after status code")
			}
			j++
		}
		m.status = code
		m.reason = span{o + int32(j), o + int32(ce)}
		return start + next, nil
	}
	// Request-Line = Method SP Request-URI SP SIP-Version. Parse takes
	// the method up to the first SP and the version after the last one,
	// so that a request line with extra LWS (RFC 4475 lwsruri, lwsstart,
	// trws) still parses far enough to be answered with 400 by Validate.
	j := 0
	for j < len(line) && isTokenChar(line[j]) {
		j++
	}
	if j == 0 {
		return 0, perr(start, "request line: expected method token")
	}
	if j >= len(line) || line[j] != ' ' {
		return 0, perr(start+j, "request line: expected SP after method")
	}
	m.method = span{o, o + int32(j)}
	us := j + 1
	end := len(line)
	for end > us && isWS(line[end-1]) {
		end--
	}
	vs := end
	for vs > us && !isWS(line[vs-1]) {
		vs--
	}
	vn := 4 // "SIP/"; an HTTP/1.x request (xhttp) has the same header syntax
	if vs > us && end-vs == 8 && string(line[vs:vs+7]) == "HTTP/1." && line[vs+7] >= '0' && line[vs+7] <= '9' {
		vn = 8
	} else if vs <= us || end-vs < 4 || !eqFold(line[vs:vs+4], "sip/") {
		return 0, perr(start+vs, "request line: expected SIP-Version at the end, got "+strconv.Quote(string(line[vs:end])))
	}
	for k := vs + vn; k < end; k++ {
		c := line[k]
		if !(c >= '0' && c <= '9' || c == '.') {
			return 0, perr(start+k, "request line: unexpected "+quoteByte(c)+" in SIP-Version")
		}
	}
	m.version = span{o + int32(vs), o + int32(end)}
	m.ruri = span{o + int32(us), o + int32(vs-1)}
	m.lineLWS = end != len(line) || line[vs-1] != ' ' || vs-1 == us || isWS(line[us]) || isWS(line[vs-2])
	for k := us; k < vs-1 && !m.lineLWS; k++ {
		if isWS(line[k]) {
			m.lineLWS = true
		}
	}
	m.isReq = true
	m.methodID = LookupMethod(line[:m.method.e-o])
	return start + next, nil
}

func indexByte(b []byte, c byte) int {
	for i := 0; i < len(b); i++ {
		if b[i] == c {
			return i
		}
	}
	return -1
}

func isWS(c byte) bool { return c == ' ' || c == '\t' }

// parseHeaders indexes header lines from i up to the empty line. It returns
// the offset just after the empty line.
func (m *Msg) parseHeaders(b []byte, i int) (int, error) {
	for {
		if i >= len(b) {
			// A datagram may end right after its last header line; its
			// end then also ends the headers (RFC 4475's baddn.dat does).
			if i > 0 && b[i-1] == '\n' {
				m.hdrEnd = int32(i)
				m.noBlank = true
				return i, nil
			}
			return 0, perr(i, "headers not terminated by an empty line")
		}
		// Empty line ends the headers.
		if b[i] == '\n' {
			m.hdrEnd = int32(i)
			return i + 1, nil
		}
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			m.hdrEnd = int32(i)
			return i + 2, nil
		}
		if isWS(b[i]) {
			return 0, perr(i, "header line starts with whitespace (continuation without a header)")
		}
		ls := i
		for i < len(b) && isTokenChar(b[i]) {
			i++
		}
		if i == ls {
			return 0, perr(i, "expected header name, got "+strconv.QuoteRune(rune(b[i])))
		}
		name := span{int32(ls), int32(i)}
		for i < len(b) && isWS(b[i]) {
			i++
		}
		if i >= len(b) || b[i] != ':' {
			return 0, perr(i, "expected ':' after header name "+strconv.Quote(string(b[ls:name.e])))
		}
		i++
		// The value runs to a line end not followed by SP/HT (folding).
		vs := -1
		ve := i
		for {
			nl := bytes.IndexByte(b[i:], '\n')
			if nl < 0 {
				return 0, perr(len(b), "header "+strconv.Quote(string(b[ls:name.e]))+" not terminated by CRLF")
			}
			ce := i + nl
			next := ce + 1
			if ce > i && b[ce-1] == '\r' {
				ce--
			}
			k := i
			if vs < 0 {
				for k < ce && isWS(b[k]) {
					k++
				}
				if k < ce {
					vs = k
				}
			}
			e := ce
			for e > k && isWS(b[e-1]) {
				e--
			}
			if e > k {
				ve = e
			}
			i = next
			if i < len(b) && isWS(b[i]) {
				continue
			}
			break
		}
		if vs < 0 {
			// An empty value: an empty span at the end of the line.
			vs = i - 1
			if vs > ls && b[vs-1] == '\r' {
				vs--
			}
			ve = vs
		}
		if m.nh >= MaxHeaders {
			return 0, perr(ls, "more than "+strconv.Itoa(MaxHeaders)+" header lines")
		}
		id := LookupHdr(b[name.s:name.e])
		h := &m.hdrs[m.nh]
		h.id = id
		h.name = name
		h.value = span{int32(vs), int32(ve)}
		h.line = span{int32(ls), int32(i)}
		m.nh++
		if id != HdrOther && m.first[id] == 0 {
			m.first[id] = int8(m.nh)
		}
	}
}

func (m *Msg) setBody(b []byte, i int) error {
	cl := -1
	for k := 0; k < m.nh; k++ {
		h := &m.hdrs[k]
		if h.id != HdrContentLength {
			continue
		}
		v := h.value.of(b)
		n, ok := parseUint(v, maxContentLength)
		if !ok {
			return perr(int(h.value.s), "Content-Length: expected a number up to "+strconv.Itoa(maxContentLength)+", got "+strconv.Quote(string(v)))
		}
		if cl >= 0 && n != cl {
			return perr(int(h.value.s), "Content-Length given twice with different values")
		}
		cl = n
	}
	if cl < 0 {
		m.body = span{int32(i), int32(len(b))}
		return nil
	}
	if cl > len(b)-i {
		// Over UDP the datagram is all there is (RFC 4475 §3.1.2.2 wants a
		// 400): keep what arrived as the body, never reading past it.
		m.body = span{int32(i), int32(len(b))}
		m.shortCL = true
		return nil
	}
	m.body = span{int32(i), int32(i + cl)}
	return nil
}

// ShortBody reports whether the Content-Length is larger than the body
// that arrived; Body then holds only what arrived.
func (m *Msg) ShortBody() bool { return m.shortCL }

// parseUint parses decimal digits with no sign, rejecting values over max.
func parseUint(b []byte, max int) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
		if n > max {
			return 0, false
		}
	}
	return n, true
}

// Raw returns the buffer given to Parse, without pending edits.
func (m *Msg) Raw() []byte { return m.buf }

// IsRequest reports whether the message is a request.
func (m *Msg) IsRequest() bool { return m.isReq }

// Method returns the request method, or for a reply the CSeq method.
func (m *Msg) Method() []byte {
	if m.isReq {
		return m.method.of(m.buf)
	}
	_, meth, _ := m.CSeq()
	return meth
}

// MethodID returns the id of Method().
func (m *Msg) MethodID() Method {
	if m.isReq {
		return m.methodID
	}
	return LookupMethod(m.Method())
}

// RequestURI returns the Request-URI, showing a pending SetRequestURI.
func (m *Msg) RequestURI() []byte {
	if m.ed.ruriSet {
		return m.ed.ruri.of(m.ed.buf)
	}
	return m.ruri.of(m.buf)
}

// OriginalRequestURI returns the Request-URI as received, ignoring a
// pending SetRequestURI (Kamailio's $ou).
func (m *Msg) OriginalRequestURI() []byte { return m.ruri.of(m.buf) }

// Version returns the SIP-Version of the first line, e.g. "SIP/2.0".
func (m *Msg) Version() []byte { return m.version.of(m.buf) }

// IsHTTP reports whether the message is an HTTP request (its request
// line ends in HTTP/1.x), which arrives on TCP and TLS listens for the
// xhttp module; its Request-URI is the HTTP target ($hu).
func (m *Msg) IsHTTP() bool {
	v := m.version.of(m.buf)
	return m.isReq && len(v) > 5 && string(v[:5]) == "HTTP/"
}

// StatusCode returns the status code of a reply, 0 for a request.
func (m *Msg) StatusCode() int { return m.status }

// Reason returns the reason phrase of a reply.
func (m *Msg) Reason() []byte { return m.reason.of(m.buf) }

// Body returns the body, showing a pending SetBody.
func (m *Msg) Body() []byte {
	if m.ed.bodySet {
		return m.ed.body.of(m.ed.buf)
	}
	return m.body.of(m.buf)
}

// NumHeaders returns the number of header lines.
func (m *Msg) NumHeaders() int { return m.nh }

// HeaderAt returns the name and value of the i-th header line, in message
// order. The value keeps folded line breaks as they were.
func (m *Msg) HeaderAt(i int) (name, value []byte) {
	if i < 0 || i >= m.nh {
		return nil, nil
	}
	h := &m.hdrs[i]
	return h.name.of(m.buf), h.value.of(m.buf)
}

// HeaderLine returns the i-th header line as written, from its name to
// and including its line end (folded continuation lines included), and
// its offset in Raw().
func (m *Msg) HeaderLine(i int) (line []byte, off int) {
	if i < 0 || i >= m.nh {
		return nil, -1
	}
	l := m.hdrs[i].line
	return l.of(m.buf), int(l.s)
}

// HeaderIDAt returns the id of the i-th header line.
func (m *Msg) HeaderIDAt(i int) HdrID {
	if i < 0 || i >= m.nh {
		return HdrOther
	}
	return m.hdrs[i].id
}

// find returns the index of the first header line named name at or after
// start, or -1.
func (m *Msg) find(id HdrID, name string, start int) int {
	if id != HdrOther {
		if start == 0 {
			return int(m.first[id]) - 1
		}
		for k := start; k < m.nh; k++ {
			if m.hdrs[k].id == id {
				return k
			}
		}
		return -1
	}
	for k := start; k < m.nh; k++ {
		h := &m.hdrs[k]
		if h.id == HdrOther && EqualFold(h.name.of(m.buf), name) {
			return k
		}
	}
	return -1
}

// Header returns the value of the first header line with that name (full
// or compact form, any case), or nil when there is none. A line holding
// comma-joined values is returned whole; see Values to split it. Header
// reads the parsed buffer: pending edits do not show until Apply.
func (m *Msg) Header(name string) []byte {
	k := m.find(LookupHdr(name), name, 0)
	if k < 0 {
		return nil
	}
	return m.hdrs[k].value.of(m.buf)
}

// HeaderID is Header for a known header id.
func (m *Msg) HeaderID(id HdrID) []byte {
	k := int(m.first[id]) - 1
	if k < 0 {
		return nil
	}
	return m.hdrs[k].value.of(m.buf)
}

// HasHeader reports whether a header line with that name is present.
func (m *Msg) HasHeader(name string) bool {
	return m.find(LookupHdr(name), name, 0) >= 0
}

// CountHeader returns how many header lines have that name.
func (m *Msg) CountHeader(name string) int {
	id := LookupHdr(name)
	n := 0
	for k := m.find(id, name, 0); k >= 0; k = m.find(id, name, k+1) {
		n++
	}
	return n
}

// Lines iterates over every header line with a given name:
//
//	for it := m.Lines("Route"); it.Next(); { use(it.Value()) }
//
// It allocates nothing.
func (m *Msg) Lines(name string) LineIter {
	return LineIter{m: m, id: LookupHdr(name), name: name, k: -1}
}

// LinesID is Lines for a known header id.
func (m *Msg) LinesID(id HdrID) LineIter {
	return LineIter{m: m, id: id, k: -1}
}

// LineIter walks the header lines of one name. See Msg.Lines.
type LineIter struct {
	m    *Msg
	id   HdrID
	name string
	k    int
}

// Next moves to the next line and reports whether there is one.
func (it *LineIter) Next() bool {
	if it.k == -2 {
		return false
	}
	it.k = it.m.find(it.id, it.name, it.k+1)
	if it.k < 0 {
		it.k = -2
		return false
	}
	return true
}

// Value returns the current line's value.
func (it *LineIter) Value() []byte { return it.m.hdrs[it.k].value.of(it.m.buf) }

// Index returns the current line's position, as HeaderAt counts.
func (it *LineIter) Index() int { return it.k }

// Values iterates over every comma-separated value of every header line
// with that name, splitting at commas outside quotes and <>:
//
//	for it := m.Values("Via"); it.Next(); { use(it.Value()) }
//
// Only use it for headers whose grammar is a comma list (Via, Contact,
// Route, Supported...); a comma inside a Date or a User-Agent is text.
func (m *Msg) Values(name string) ValueIter {
	return ValueIter{lines: m.Lines(name)}
}

// ValuesID is Values for a known header id.
func (m *Msg) ValuesID(id HdrID) ValueIter {
	return ValueIter{lines: m.LinesID(id)}
}

// ValueIter walks comma-separated values across header lines.
type ValueIter struct {
	lines LineIter
	split CommaSplitter
	cur   []byte
	ok    bool
}

// Next moves to the next value.
func (it *ValueIter) Next() bool {
	for {
		if it.ok {
			if v, ok := it.split.Next(); ok {
				it.cur = v
				return true
			}
		}
		if !it.lines.Next() {
			it.ok = false
			return false
		}
		it.split = SplitCommas(it.lines.Value())
		it.ok = true
	}
}

// Value returns the current value, LWS trimmed.
func (it *ValueIter) Value() []byte { return it.cur }

// Line returns the index of the header line holding the current value.
func (it *ValueIter) Line() int { return it.lines.k }

// SplitCommas returns a splitter over a comma-separated header value.
func SplitCommas(v []byte) CommaSplitter { return CommaSplitter{b: v} }

// CommaSplitter splits a header value at commas that are outside quoted
// strings and outside <>. Empty elements are skipped.
type CommaSplitter struct {
	b   []byte
	i   int
	off int // start of the value last returned, relative to b
}

// Next returns the next value, LWS trimmed, and false at the end.
func (s *CommaSplitter) Next() ([]byte, bool) {
	for s.i < len(s.b) {
		start := s.i
		end := commaEnd(s.b, start)
		s.i = end + 1
		v, off := trimLWSOff(s.b[start:end])
		if len(v) > 0 {
			s.off = start + off
			return v, true
		}
	}
	return nil, false
}

// Offset returns where, in the value given to SplitCommas, the value last
// returned by Next starts.
func (s *CommaSplitter) Offset() int { return s.off }

// commaEnd returns the index of the first comma at or after i that is
// outside quotes and <>, or len(b).
func commaEnd(b []byte, i int) int {
	// Fast path: no quote or '<' before the first comma (or at all).
	rest := b[i:]
	c := bytes.IndexByte(rest, ',')
	head := rest
	if c >= 0 {
		head = rest[:c]
	}
	if bytes.IndexByte(head, '"') < 0 && bytes.IndexByte(head, '<') < 0 {
		if c < 0 {
			return len(b)
		}
		return i + c
	}
	inQ, inA := false, false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case inQ:
			if c == '\\' {
				i++
			} else if c == '"' {
				inQ = false
			}
		case c == '"':
			inQ = true
		case c == '<':
			inA = true
		case c == '>':
			inA = false
		case c == ',' && !inA:
			return i
		}
	}
	return len(b)
}

func isLWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func trimLWS(b []byte) []byte {
	v, _ := trimLWSOff(b)
	return v
}

func trimLWSOff(b []byte) ([]byte, int) {
	s := 0
	for s < len(b) && isLWS(b[s]) {
		s++
	}
	e := len(b)
	for e > s && isLWS(b[e-1]) {
		e--
	}
	return b[s:e], s
}

// CallID returns the Call-ID value.
func (m *Msg) CallID() []byte { return m.HeaderID(HdrCallID) }

// CSeq returns the CSeq number and method.
func (m *Msg) CSeq() (num uint32, method []byte, err error) {
	k := int(m.first[HdrCSeq]) - 1
	if k < 0 {
		return 0, nil, perr(int(m.hdrEnd), "no CSeq header")
	}
	h := &m.hdrs[k]
	v := h.value.of(m.buf)
	i := 0
	var n uint64
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		n = n*10 + uint64(v[i]-'0')
		if n > 1<<32-1 {
			return 0, nil, perr(int(h.value.s)+i, "CSeq: number larger than 2**32-1")
		}
		i++
	}
	if i == 0 {
		return 0, nil, perr(int(h.value.s), "CSeq: expected a number, got "+strconv.Quote(string(v)))
	}
	j := i
	for j < len(v) && isLWS(v[j]) {
		j++
	}
	if j == i || j >= len(v) {
		return 0, nil, perr(int(h.value.s)+j, "CSeq: expected LWS and a method after the number")
	}
	ms := j
	for j < len(v) && isTokenChar(v[j]) {
		j++
	}
	if j == ms || j != len(v) {
		return 0, nil, perr(int(h.value.s)+j, "CSeq: expected a method token, got "+strconv.Quote(string(v[ms:])))
	}
	return uint32(n), v[ms:j], nil
}

// MaxForwards returns the Max-Forwards value, showing a pending
// SetMaxForwards. A value over 255 is an error (RFC 3261 §20.22 caps it).
func (m *Msg) MaxForwards() (n int, present bool, err error) {
	if m.ed.mfSet {
		return m.ed.mf, true, nil
	}
	k := int(m.first[HdrMaxForwards]) - 1
	if k < 0 {
		return 0, false, nil
	}
	h := &m.hdrs[k]
	v := h.value.of(m.buf)
	n, ok := parseUint(v, 255)
	if !ok {
		return 0, true, perr(int(h.value.s), "Max-Forwards: expected 0-255, got "+strconv.Quote(string(v)))
	}
	return n, true, nil
}

// Expires returns the Expires header value in seconds.
func (m *Msg) Expires() (n int, present bool, err error) {
	k := int(m.first[HdrExpires]) - 1
	if k < 0 {
		return 0, false, nil
	}
	h := &m.hdrs[k]
	v := h.value.of(m.buf)
	n, ok := parseUint(v, 1<<32-1)
	if !ok {
		return 0, true, perr(int(h.value.s), "Expires: expected delta-seconds, got "+strconv.Quote(string(v)))
	}
	return n, true, nil
}

// ContentLength returns the Content-Length value as parsed, or -1 when the
// header is absent.
func (m *Msg) ContentLength() int {
	k := int(m.first[HdrContentLength]) - 1
	if k < 0 {
		return -1
	}
	n, _ := parseUint(m.hdrs[k].value.of(m.buf), maxContentLength)
	return n
}

// ContentType returns the Content-Type value (media type and parameters).
func (m *Msg) ContentType() []byte { return m.HeaderID(HdrContentType) }

// UserAgent returns the User-Agent value.
func (m *Msg) UserAgent() []byte { return m.HeaderID(HdrUserAgent) }

// HasOption reports whether an option tag appears in any Supported,
// Require or Proxy-Require line (pick with id), compared case-insensitively.
func (m *Msg) HasOption(id HdrID, tag string) bool {
	for it := m.ValuesID(id); it.Next(); {
		if EqualFold(it.Value(), tag) {
			return true
		}
	}
	return false
}
