package sip

import "strconv"

// Validate checks what Parse leaves for later, the way a proxy checks a
// message before routing it (RFC 3261 §16.3): SIP/2.0 version; one each of
// To, From, Call-ID and CSeq (and Max-Forwards, if present) with a value
// that parses; every Via; a Request-URI that parses (sip, sips and tel
// strictly; another scheme is left to routing, which answers 416); CSeq
// method equal to the request method; Contact, Route, Record-Route and
// Expires values; a Content-Length no larger than the body. It returns the status a server should answer with (400,
// or 505 for another version) and the first error; 0, nil when all is
// well. It allocates nothing when the message is valid.
func (m *Msg) Validate() (status int, err error) {
	if !eqFold(m.version.of(m.buf), "sip/2.0") {
		return 505, perr(int(m.version.s), "version: expected SIP/2.0, got "+strconv.Quote(string(m.version.of(m.buf))))
	}
	if m.shortCL {
		return 400, perr(len(m.buf), "Content-Length "+strconv.Itoa(m.ContentLength())+" larger than the "+strconv.Itoa(int(m.body.e-m.body.s))+" body bytes present")
	}
	if !m.isReq && m.status > 699 {
		return 400, perr(int(m.version.e)+1, "status code "+strconv.Itoa(m.status)+" above 699")
	}
	for _, c := range [...]struct {
		id       HdrID
		optional bool
	}{{HdrTo, false}, {HdrFrom, false}, {HdrCallID, false}, {HdrCSeq, false}, {HdrMaxForwards, true}} {
		n := 0
		for it := m.LinesID(c.id); it.Next(); {
			n++
		}
		if n == 0 && !c.optional {
			return 400, perr(int(m.hdrEnd), "missing "+c.id.String()+" header")
		}
		if n > 1 {
			return 400, perr(int(m.hdrEnd), c.id.String()+" header given "+strconv.Itoa(n)+" times")
		}
	}
	if len(trimLWS(m.CallID())) == 0 {
		return 400, perr(int(m.hdrEnd), "empty Call-ID")
	}
	if _, err := m.From(); err != nil {
		return 400, err
	}
	if _, err := m.To(); err != nil {
		return 400, err
	}
	_, cm, err := m.CSeq()
	if err != nil {
		return 400, err
	}
	if m.isReq && string(cm) != string(m.method.of(m.buf)) {
		return 400, perr(int(m.method.s), "CSeq method "+strconv.Quote(string(cm))+" differs from request method "+strconv.Quote(string(m.method.of(m.buf))))
	}
	if _, _, err := m.MaxForwards(); err != nil {
		return 400, err
	}
	if _, _, err := m.Expires(); err != nil {
		return 400, err
	}
	nv := 0
	for _, id := range [...]HdrID{HdrVia, HdrContact, HdrRoute, HdrRecordRoute} {
		for it := m.LinesID(id); it.Next(); {
			if k := emptyElement(it.Value()); k >= 0 {
				h := &m.hdrs[it.Index()]
				return 400, perr(int(h.value.s)+k, id.String()+": empty list element")
			}
		}
	}
	vi := m.Vias()
	for vi.Next() {
		nv++
	}
	if vi.Err() != nil {
		return 400, vi.Err()
	}
	if nv == 0 {
		return 400, perr(int(m.hdrEnd), "missing Via header")
	}
	ci := m.Contacts()
	for ci.Next() {
	}
	if ci.Err() != nil {
		return 400, ci.Err()
	}
	for _, id := range [...]HdrID{HdrRoute, HdrRecordRoute} {
		it := m.NameAddrs(id)
		for it.Next() {
		}
		if it.Err() != nil {
			return 400, it.Err()
		}
	}
	if m.isReq {
		if m.lineLWS {
			return 400, perr(int(m.ruri.s), "request line: expected Method SP Request-URI SP SIP-Version, got extra whitespace")
		}
		var u URI
		if err := u.parse(m.ruri.of(m.buf), int(m.ruri.s)); err != nil {
			return 400, err
		}
		if u.IsSIP() && len(u.Headers) > 0 {
			return 400, perr(int(m.ruri.s), "Request-URI must not have headers (RFC 3261 §19.1.1)")
		}
	}
	return 0, nil
}

// emptyElement returns the offset of an empty element in a comma list
// (",," or a leading or trailing comma), or -1.
func emptyElement(v []byte) int {
	for i := 0; ; {
		e := commaEnd(v, i)
		if len(trimLWS(v[i:e])) == 0 {
			return i
		}
		if e >= len(v) {
			return -1
		}
		i = e + 1
	}
}
