package sip

import (
	"errors"
	"net/netip"
	"strconv"
)

// MaxEdits is the number of header and body edits a Msg records between
// two Parse calls. SetRequestURI and SetMaxForwards do not count.
const MaxEdits = 32

// ErrTooManyEdits is returned by an edit when MaxEdits are already pending.
var ErrTooManyEdits = errors.New("sip: too many pending edits (max " + strconv.Itoa(MaxEdits) + ")")

// ErrNoHeader is returned by an edit that names a header line or value the
// message does not have.
var ErrNoHeader = errors.New("sip: no such header or value")

// lumpKind says what a lump does.
type lumpKind uint8

const (
	// lumpInsert inserts data (a span of edits.buf) at off; end == off.
	lumpInsert lumpKind = iota
	// lumpDelete deletes [off, end) of the original buffer.
	lumpDelete
	// lumpVirtual is an edit AppendTo derives from the Set* calls; data.s
	// indexes its table of them (vedit), which says what it writes.
	lumpVirtual
)

// lump is one recorded edit of the original buffer.
type lump struct {
	off, end int32
	data     span
	kind     lumpKind
	seq      int16
}

// removes reports whether the lump takes text of the original away: a
// delete, or a virtual replacement of a non-empty range. It sorts after
// inserts at the same offset.
func (l *lump) removes() bool {
	return l.kind == lumpDelete || l.kind == lumpVirtual && l.end > l.off
}

// veditKind says what a virtual edit of AppendTo writes.
type veditKind uint8

const (
	// veditReplace writes data in place of [off, end) (an insert when
	// end == off).
	veditReplace veditKind = iota
	// veditContentType writes a "Content-Type: data" line at the end of
	// the headers.
	veditContentType
	// veditContentLength writes a "Content-Length: data" line at the end
	// of the headers.
	veditContentLength
	// veditBlankLine writes the empty line that ends the headers, after
	// every other insert there.
	veditBlankLine
)

// vedit is a virtual edit: one AppendTo derives from SetRequestURI,
// SetMaxForwards, SetBody or a missing empty line.
type vedit struct {
	kind     veditKind
	off, end int32
	data     []byte
}

type edits struct {
	buf   []byte // bytes to insert, reused across messages
	n     int
	lumps [MaxEdits]lump

	ruriSet bool
	ruri    span
	mfSet   bool
	mf      int
	bodySet bool
	body    span
	ctSet   bool
	ct      span
}

func (e *edits) reset() {
	e.buf = e.buf[:0]
	e.n = 0
	e.ruriSet, e.mfSet, e.bodySet, e.ctSet = false, false, false, false
}

func (e *edits) add(l lump) error {
	if e.n >= MaxEdits {
		return ErrTooManyEdits
	}
	l.seq = int16(e.n)
	e.lumps[e.n] = l
	e.n++
	return nil
}

// save copies b into the edit buffer.
func (e *edits) save(parts ...[]byte) span {
	s := int32(len(e.buf))
	for _, p := range parts {
		e.buf = append(e.buf, p...)
	}
	return span{s, int32(len(e.buf))}
}

// saveLine stores "name: value\r\n".
func (e *edits) saveLine(name string, value []byte) span {
	s := int32(len(e.buf))
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, ": "...)
	e.buf = append(e.buf, value...)
	e.buf = append(e.buf, "\r\n"...)
	return span{s, int32(len(e.buf))}
}

// PendingEdits reports whether any edit is recorded.
func (m *Msg) PendingEdits() bool {
	e := &m.ed
	return e.n > 0 || e.ruriSet || e.mfSet || e.bodySet || e.ctSet
}

// SetRequestURI replaces the Request-URI when the message is written out.
// RequestURI() returns the new value at once. uri is copied. It does
// nothing on a reply.
func (m *Msg) SetRequestURI(uri []byte) {
	if !m.isReq {
		return
	}
	m.ed.ruri = m.ed.save(uri)
	m.ed.ruriSet = true
}

// SetMaxForwards sets Max-Forwards (adding the header if missing) when the
// message is written out. MaxForwards() returns the new value at once.
func (m *Msg) SetMaxForwards(n int) {
	if n < 0 {
		n = 0
	}
	m.ed.mf = n
	m.ed.mfSet = true
}

// SetBody replaces the body; Content-Length is rewritten (or added) to
// match. A non-empty contentType replaces (or adds) Content-Type. Body()
// returns the new body at once. b is copied.
func (m *Msg) SetBody(b []byte, contentType string) {
	m.ed.body = m.ed.save(b)
	m.ed.bodySet = true
	if contentType != "" {
		s := int32(len(m.ed.buf))
		m.ed.buf = append(m.ed.buf, contentType...)
		m.ed.ct = span{s, int32(len(m.ed.buf))}
		m.ed.ctSet = true
	}
}

// RemoveHeaderAt removes the i-th header line (HeaderAt numbering).
func (m *Msg) RemoveHeaderAt(i int) error {
	if i < 0 || i >= m.nh {
		return ErrNoHeader
	}
	l := m.hdrs[i].line
	return m.ed.add(lump{off: l.s, end: l.e, kind: lumpDelete})
}

// RemoveHeader removes every line with that name and returns how many
// there were.
func (m *Msg) RemoveHeader(name string) (int, error) {
	n := 0
	for it := m.Lines(name); it.Next(); {
		if err := m.RemoveHeaderAt(it.Index()); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// RemoveValue removes the n-th (from 0) comma-separated value of the
// header, counting across lines and in the original message (values
// removed by earlier edits still count). A line left with no value is
// removed whole.
func (m *Msg) RemoveValue(name string, n int) error {
	it := m.Values(name)
	for k := 0; it.Next(); k++ {
		if k < n {
			continue
		}
		h := &m.hdrs[it.Line()]
		line := h.value.of(m.buf)
		base := int(h.value.s)
		vs := it.split.Offset()
		ve := vs + len(it.Value())
		// Find the nearest neighbours in the line that are still there.
		prevEnd, nextStart := -1, -1
		sp := SplitCommas(line)
		for {
			v, ok := sp.Next()
			if !ok {
				break
			}
			o := sp.Offset()
			if m.ed.covered(int32(base+o), int32(base+o+len(v))) {
				continue
			}
			if o+len(v) <= vs {
				prevEnd = o + len(v)
			} else if o >= ve && nextStart < 0 {
				nextStart = o
			}
		}
		switch {
		case prevEnd < 0 && nextStart < 0:
			return m.RemoveHeaderAt(it.Line())
		case nextStart >= 0:
			return m.ed.add(lump{off: int32(base + vs), end: int32(base + nextStart), kind: lumpDelete})
		default:
			return m.ed.add(lump{off: int32(base + prevEnd), end: int32(base + ve), kind: lumpDelete})
		}
	}
	return ErrNoHeader
}

// covered reports whether a pending delete removes all of [off, end).
func (e *edits) covered(off, end int32) bool {
	for i := 0; i < e.n; i++ {
		l := &e.lumps[i]
		if l.kind == lumpDelete && l.off <= off && l.end >= end {
			return true
		}
	}
	return false
}

// OffsetOf returns where sub, a slice returned by a read of this message
// (a header value, a NameAddr URI, a Via param...), starts in Raw(), or -1
// when sub does not point into Raw(). With Replace it lets a module edit
// any part it has read, such as the host of a Contact URI.
func (m *Msg) OffsetOf(sub []byte) int {
	if len(m.buf) == 0 || cap(sub) == 0 || cap(sub) > cap(m.buf) {
		return -1
	}
	off := cap(m.buf) - cap(sub)
	if off > len(m.buf) || off+len(sub) > len(m.buf) || len(sub) > 0 && &m.buf[off] != &sub[0] {
		return -1
	}
	return off
}

// Replace records replacing Raw()[off:end] with data. data is copied.
func (m *Msg) Replace(off, end int, data []byte) error {
	if off < int(m.start) || end < off || end > len(m.buf) {
		return ErrNoHeader
	}
	if m.ed.n+2 > MaxEdits {
		return ErrTooManyEdits
	}
	if len(data) > 0 {
		m.ed.add(lump{off: int32(off), end: int32(off), data: m.ed.save(data)})
	}
	if end > off {
		m.ed.add(lump{off: int32(off), end: int32(end), kind: lumpDelete})
	}
	return nil
}

// SetHeaderValue replaces the value of the i-th header line.
func (m *Msg) SetHeaderValue(i int, value []byte) error {
	if i < 0 || i >= m.nh {
		return ErrNoHeader
	}
	v := m.hdrs[i].value
	return m.Replace(int(v.s), int(v.e), value)
}

// insertAt records an insertion of a whole header line at off.
func (m *Msg) insertLine(off int32, name string, value []byte) error {
	if m.ed.n >= MaxEdits {
		return ErrTooManyEdits
	}
	return m.ed.add(lump{off: off, end: off, data: m.ed.saveLine(name, value)})
}

// headersStart is where the first header line starts.
func (m *Msg) headersStart() int32 {
	if m.nh > 0 {
		return m.hdrs[0].line.s
	}
	return m.hdrEnd
}

// InsertHeaderBefore adds "name: value" before the i-th header line.
func (m *Msg) InsertHeaderBefore(i int, name string, value []byte) error {
	if i < 0 || i >= m.nh {
		return ErrNoHeader
	}
	return m.insertLine(m.hdrs[i].line.s, name, value)
}

// InsertHeaderAfter adds "name: value" after the i-th header line.
func (m *Msg) InsertHeaderAfter(i int, name string, value []byte) error {
	if i < 0 || i >= m.nh {
		return ErrNoHeader
	}
	return m.insertLine(m.hdrs[i].line.e, name, value)
}

// AddHeaderBefore adds "name: value" before the first line named before,
// or at the end of the headers if there is none.
func (m *Msg) AddHeaderBefore(before, name string, value []byte) error {
	k := m.find(LookupHdr(before), before, 0)
	if k < 0 {
		return m.AppendHeader(name, value)
	}
	return m.insertLine(m.hdrs[k].line.s, name, value)
}

// AddHeaderAfter adds "name: value" after the last line named after, or at
// the end of the headers if there is none.
func (m *Msg) AddHeaderAfter(after, name string, value []byte) error {
	last := -1
	for it := m.Lines(after); it.Next(); {
		last = it.Index()
	}
	if last < 0 {
		return m.AppendHeader(name, value)
	}
	return m.insertLine(m.hdrs[last].line.e, name, value)
}

// AppendHeader adds "name: value" after the last header line.
func (m *Msg) AppendHeader(name string, value []byte) error {
	return m.insertLine(m.hdrEnd, name, value)
}

// AppendHeaderLines adds raw header lines (each ending in CRLF) after the
// last header line.
func (m *Msg) AppendHeaderLines(lines []byte) error {
	if m.ed.n >= MaxEdits {
		return ErrTooManyEdits
	}
	return m.ed.add(lump{off: m.hdrEnd, end: m.hdrEnd, data: m.ed.save(lines)})
}

// PrependVia adds a Via value on top: a new line before the first Via.
func (m *Msg) PrependVia(value []byte) error {
	off := m.headersStart()
	if k := int(m.first[HdrVia]) - 1; k >= 0 {
		off = m.hdrs[k].line.s
	}
	return m.insertLine(off, "Via", value)
}

// RemoveTopVia removes the first Via value (a proxy does this to a reply
// before forwarding it).
func (m *Msg) RemoveTopVia() error { return m.RemoveValue("Via", 0) }

// AddRecordRoute adds a Record-Route value on top of the others (or before
// the first header when there is none). value is a name-addr such as
// "<sip:10.0.0.1;lr>".
func (m *Msg) AddRecordRoute(value []byte) error {
	off := m.headersStart()
	if k := int(m.first[HdrRecordRoute]) - 1; k >= 0 {
		off = m.hdrs[k].line.s
	}
	return m.insertLine(off, "Record-Route", value)
}

// NeedsReceived reports whether a server must add received= to a Via that
// came from src: when sent-by is not that address (RFC 3261 §18.2.1).
func NeedsReceived(v *Via, src netip.Addr) bool {
	a, ok := hostAddr(v.Host)
	return !ok || a.Unmap() != src.Unmap()
}

// AppendAddr appends an address as it goes in a received parameter: IPv4
// dotted, IPv6 in brackets (RFC 5118 §4.5 allows both; brackets keep the
// parameter unambiguous next to rport).
// AppendIP writes a as a SIP host: IPv6 in brackets, IPv4-mapped
// addresses as IPv4.
func AppendIP(dst []byte, a netip.Addr) []byte { return appendIP(dst, a) }

// AppendHostPort writes ap as a SIP hostport: "192.0.2.1:5060" or
// "[2001:db8::1]:5060".
func AppendHostPort(dst []byte, ap netip.AddrPort) []byte {
	dst = appendIP(dst, ap.Addr())
	dst = append(dst, ':')
	return strconv.AppendUint(dst, uint64(ap.Port()), 10)
}

func appendIP(dst []byte, a netip.Addr) []byte {
	a = a.Unmap()
	if a.Is6() {
		dst = append(dst, '[')
		dst = a.AppendTo(dst)
		return append(dst, ']')
	}
	return a.AppendTo(dst)
}

// AddViaReceived records the edits RFC 3261 §18.2.1 and RFC 3581 ask of a
// server on the top Via of a request that came from src: received=<ip>
// when sent-by differs from the source address (or rport must be filled),
// and rport=<port> when the Via has an empty rport or forceRport is set.
// An existing received or rport value is replaced.
func (m *Msg) AddViaReceived(src netip.AddrPort, forceRport bool) error {
	v, err := m.TopVia()
	if err != nil {
		return err
	}
	k := int(m.first[HdrVia]) - 1
	h := &m.hdrs[k]
	base := int32(h.value.s)
	// Offset of v.Raw within the line value.
	line := h.value.of(m.buf)
	off := int32(0)
	if len(v.Raw) > 0 && len(line) > 0 {
		off = int32(cap(line) - cap(v.Raw))
	}
	start := base + off
	end := start + int32(len(v.Raw))
	rport := v.RportSet || forceRport
	recv := NeedsReceived(&v, src.Addr()) || rport
	if !recv && !rport {
		return nil
	}
	// Remove existing received / rport params, then append fresh ones.
	for it := v.Params.Iter(); it.Next(); {
		if eqFold(it.Name(), "received") || (rport && eqFold(it.Name(), "rport")) {
			ps := start + int32(v.paramsOff+it.start)
			pe := start + int32(v.paramsOff+it.end)
			if err := m.ed.add(lump{off: ps, end: pe, kind: lumpDelete}); err != nil {
				return err
			}
		}
	}
	if m.ed.n >= MaxEdits {
		return ErrTooManyEdits
	}
	s := int32(len(m.ed.buf))
	if recv {
		m.ed.buf = append(m.ed.buf, ";received="...)
		m.ed.buf = appendIP(m.ed.buf, src.Addr())
	}
	if rport {
		m.ed.buf = append(m.ed.buf, ";rport="...)
		m.ed.buf = strconv.AppendUint(m.ed.buf, uint64(src.Port()), 10)
	}
	return m.ed.add(lump{off: end, end: end, data: span{s, int32(len(m.ed.buf))}})
}

// AppendTo appends the message with every pending edit applied to dst and
// returns it. dst must not overlap Raw(). Bytes after the body that a
// datagram carried beyond Content-Length are not written.
func (m *Msg) AppendTo(dst []byte) []byte {
	if m.buf == nil {
		return dst
	}
	e := &m.ed
	var ls [MaxEdits + MaxHeaders + 8]lump
	n := copy(ls[:], e.lumps[:e.n])
	seq := int16(e.n)
	// virt holds the virtual edits; their data points into e.buf or into
	// the scratch below.
	var scratch [48]byte
	sc := scratch[:0]
	var virt [MaxHeaders + 8]vedit
	nv := 0
	addV := func(kind veditKind, off, end int32, data []byte) {
		virt[nv] = vedit{kind, off, end, data}
		nv++
	}
	if e.ruriSet && m.isReq {
		addV(veditReplace, m.ruri.s, m.ruri.e, e.ruri.of(e.buf))
	}
	if e.mfSet {
		s := len(sc)
		if k := int(m.first[HdrMaxForwards]) - 1; k >= 0 {
			sc = strconv.AppendInt(sc, int64(e.mf), 10)
			addV(veditReplace, m.hdrs[k].value.s, m.hdrs[k].value.e, sc[s:])
		} else {
			sc = append(sc, "Max-Forwards: "...)
			sc = strconv.AppendInt(sc, int64(e.mf), 10)
			sc = append(sc, "\r\n"...)
			addV(veditReplace, m.hdrEnd, m.hdrEnd, sc[s:])
		}
	}
	if e.ctSet {
		if k := int(m.first[HdrContentType]) - 1; k >= 0 {
			addV(veditReplace, m.hdrs[k].value.s, m.hdrs[k].value.e, e.ct.of(e.buf))
		} else {
			addV(veditContentType, m.hdrEnd, m.hdrEnd, e.ct.of(e.buf))
		}
	}
	body := m.body
	if e.bodySet {
		s := len(sc)
		sc = strconv.AppendInt(sc, int64(e.body.e-e.body.s), 10)
		cl := false
		for k := 0; k < m.nh; k++ {
			if m.hdrs[k].id == HdrContentLength {
				addV(veditReplace, m.hdrs[k].value.s, m.hdrs[k].value.e, sc[s:])
				cl = true
			}
		}
		if !cl {
			addV(veditContentLength, m.hdrEnd, m.hdrEnd, sc[s:])
		}
	}
	if m.noBlank {
		addV(veditBlankLine, m.hdrEnd, m.hdrEnd, nil)
	}
	// Merge the virtual edits as sortable lumps that index virt.
	for k := 0; k < nv; k++ {
		v := &virt[k]
		ls[n] = lump{off: v.off, end: v.end, kind: lumpVirtual, seq: seq, data: span{int32(k), 0}}
		if v.kind == veditBlankLine {
			ls[n].seq = MaxEdits + 8
		}
		n++
		seq++
	}
	// Insertion sort by offset, inserts before deletes at the same offset,
	// then recording order.
	for i := 1; i < n; i++ {
		for j := i; j > 0 && lumpLess(&ls[j], &ls[j-1]); j-- {
			ls[j], ls[j-1] = ls[j-1], ls[j]
		}
	}
	b := m.buf
	cur := m.start
	for i := 0; i < n; i++ {
		l := &ls[i]
		if l.off < cur && l.kind != lumpDelete {
			// Inside text an earlier delete removed: the insert or
			// replacement has nothing left to attach to.
			continue
		}
		if l.off > cur {
			dst = append(dst, b[cur:l.off]...)
			cur = l.off
		}
		switch l.kind {
		case lumpInsert:
			dst = append(dst, l.data.of(e.buf)...)
		case lumpVirtual:
			v := &virt[l.data.s]
			switch v.kind {
			case veditReplace:
				dst = append(dst, v.data...)
			case veditContentType:
				dst = append(dst, "Content-Type: "...)
				dst = append(dst, v.data...)
				dst = append(dst, "\r\n"...)
			case veditContentLength:
				dst = append(dst, "Content-Length: "...)
				dst = append(dst, v.data...)
				dst = append(dst, "\r\n"...)
			case veditBlankLine:
				dst = append(dst, "\r\n"...)
			}
		}
		if l.end > cur {
			cur = l.end
		}
	}
	if e.bodySet {
		if body.s > cur {
			dst = append(dst, b[cur:body.s]...)
		}
		return append(dst, e.body.of(e.buf)...)
	}
	if body.e > cur {
		dst = append(dst, b[cur:body.e]...)
	}
	return dst
}

func lumpLess(a, b *lump) bool {
	if a.off != b.off {
		return a.off < b.off
	}
	if ar, br := a.removes(), b.removes(); ar != br {
		return !ar
	}
	return a.seq < b.seq
}

// Apply writes the message with its pending edits into dst (reusing its
// capacity), parses the result into m, and returns it. After Apply every
// read, Header() included, sees the edited message. dst must not overlap
// Raw().
func (m *Msg) Apply(dst []byte) ([]byte, error) {
	out := m.AppendTo(dst[:0])
	return out, m.Parse(out)
}
