package sip

import "strconv"

// NameAddr is a From, To, Contact, Route or Record-Route value:
// a display name, a URI and header parameters. Byte fields are slices of
// the message.
type NameAddr struct {
	Raw     []byte
	Display []byte // as written: quotes kept for a quoted-string, nil if none
	URI     []byte // the addr-spec, without <>
	Params  Params // header parameters after the URI, from the first ';'
	Tag     []byte // the tag parameter, nil if none
	Angle   bool   // the URI was written in <>
}

// ParsedURI parses n.URI.
func (n *NameAddr) ParsedURI() (URI, error) { return ParseURI(n.URI) }

// DisplayName returns the display name without surrounding quotes. Escapes
// inside a quoted string are kept as written.
func (n *NameAddr) DisplayName() []byte { return unquote(n.Display) }

// ParseNameAddr parses one name-addr or addr-spec with parameters (one
// element of a comma list).
func ParseNameAddr(b []byte) (NameAddr, error) {
	var n NameAddr
	err := n.parse(b, 0)
	return n, err
}

func naErr(base, off int, why string) error { return perr(base+off, why) }

func (n *NameAddr) parse(b []byte, base int) error {
	*n = NameAddr{Raw: b}
	i := skipLWS(b, 0)
	if i >= len(b) {
		return naErr(base, i, "expected name-addr or addr-spec, got nothing")
	}
	ds := i
	switch {
	case b[i] == '"':
		j := skipQuoted(b, i)
		if j < 0 {
			return naErr(base, i, "unterminated quoted display name")
		}
		n.Display = b[i:j]
		i = skipLWS(b, j)
		if i >= len(b) || b[i] != '<' {
			return naErr(base, i, "expected '<' after quoted display name")
		}
	case b[i] == '<':
	default:
		// Either tokens then '<', or an addr-spec.
		j := i
		for j < len(b) && (isTokenChar(b[j]) || isLWS(b[j])) {
			j++
		}
		if j < len(b) && b[j] == '<' {
			n.Display = trimLWS(b[ds:j])
			i = j
		} else {
			return n.parseAddrSpec(b, i, base)
		}
	}
	// b[i] == '<'
	i++
	us := i
	for i < len(b) && b[i] != '>' {
		if isLWS(b[i]) {
			return naErr(base, i, "whitespace inside <> around the URI")
		}
		i++
	}
	if i >= len(b) {
		return naErr(base, us, "'<' not closed by '>'")
	}
	n.URI = b[us:i]
	n.Angle = true
	var u URI
	if err := u.parse(n.URI, base+us); err != nil {
		return err
	}
	i = skipLWS(b, i+1)
	return n.parseParams(b, i, base)
}

// parseAddrSpec handles a URI not in <>: it runs to the first ';', and must
// not hold '?' or ',' (RFC 3261 §20.10).
func (n *NameAddr) parseAddrSpec(b []byte, i, base int) error {
	us := i
	for i < len(b) && b[i] != ';' && !isLWS(b[i]) {
		switch b[i] {
		case '?', ',', '<', '>', '"':
			return naErr(base, i, "unexpected "+quoteByte(b[i])+" in a URI not enclosed in <>")
		}
		i++
	}
	n.URI = b[us:i]
	var u URI
	if err := u.parse(n.URI, base+us); err != nil {
		return err
	}
	i = skipLWS(b, i)
	return n.parseParams(b, i, base)
}

func (n *NameAddr) parseParams(b []byte, i, base int) error {
	if i >= len(b) {
		return nil
	}
	if b[i] != ';' {
		return naErr(base, i, "unexpected "+quoteByte(b[i])+" after the URI, expected ';' or end")
	}
	if scanParams(b, i) != len(b) {
		return naErr(base, i, "bad header parameters "+strconv.Quote(string(b[i:])))
	}
	n.Params = Params(b[i:])
	for it := n.Params.Iter(); it.Next(); {
		if eqFold(it.Name(), "tag") && n.Tag == nil {
			n.Tag = it.Value()
		}
	}
	return nil
}

// single parses the one value of a single-valued name-addr header.
func (m *Msg) single(id HdrID, what string) (NameAddr, error) {
	var n NameAddr
	k := int(m.first[id]) - 1
	if k < 0 {
		return n, perr(int(m.hdrEnd), "no "+what+" header")
	}
	h := &m.hdrs[k]
	err := n.parse(h.value.of(m.buf), int(h.value.s))
	if err != nil {
		return n, perr(err.(*ParseError).Offset, what+": "+err.(*ParseError).Reason)
	}
	return n, nil
}

// From parses the From header.
func (m *Msg) From() (NameAddr, error) { return m.single(HdrFrom, "From") }

// To parses the To header.
func (m *Msg) To() (NameAddr, error) { return m.single(HdrTo, "To") }

// FromTag returns the From tag, or nil.
func (m *Msg) FromTag() []byte {
	n, err := m.From()
	if err != nil {
		return nil
	}
	return n.Tag
}

// ToTag returns the To tag, or nil.
func (m *Msg) ToTag() []byte {
	n, err := m.To()
	if err != nil {
		return nil
	}
	return n.Tag
}

// Contact is one Contact value.
type Contact struct {
	NameAddr
	Star    bool   // the value is "*"
	Q       []byte // the q parameter as written, nil if none
	Expires int    // the expires parameter, -1 if none
}

// Contacts iterates over every Contact value across lines:
//
//	it := m.Contacts()
//	for it.Next() { c := it.Contact() ... }
//	if it.Err() != nil { ... }
func (m *Msg) Contacts() ContactIter { return ContactIter{na: m.NameAddrs(HdrContact)} }

// ContactIter walks Contact values.
type ContactIter struct {
	na  NameAddrIter
	cur Contact
}

// Next parses the next value; it stops at the first error.
func (it *ContactIter) Next() bool {
	if it.na.err != nil || !it.na.vals.Next() {
		return false
	}
	v := it.na.vals.Value()
	it.cur = Contact{Expires: -1}
	if len(v) == 1 && v[0] == '*' {
		it.cur.Star = true
		it.cur.Raw = v
		return true
	}
	h := &it.na.m.hdrs[it.na.vals.Line()]
	if err := it.cur.NameAddr.parse(v, int(h.value.s)+it.na.vals.split.Offset()); err != nil {
		it.na.err = err
		return false
	}
	if q, ok := it.cur.Params.Get("q"); ok {
		it.cur.Q = q
	}
	if e, ok := it.cur.Params.Get("expires"); ok {
		n, ok := parseUint(e, 1<<32-1)
		if !ok {
			it.na.err = perr(int(h.value.s), "Contact: expires: expected delta-seconds, got "+strconv.Quote(string(e)))
			return false
		}
		it.cur.Expires = n
	}
	return true
}

// Contact returns the current value.
func (it *ContactIter) Contact() *Contact { return &it.cur }

// Err returns the error that stopped the iteration, if any.
func (it *ContactIter) Err() error { return it.na.err }

// NameAddrs iterates over the name-addr values of a list header such as
// Route, Record-Route or Path, across lines and commas.
func (m *Msg) NameAddrs(id HdrID) NameAddrIter {
	return NameAddrIter{vals: m.ValuesID(id), m: m}
}

// Routes iterates over Route values.
func (m *Msg) Routes() NameAddrIter { return m.NameAddrs(HdrRoute) }

// RecordRoutes iterates over Record-Route values.
func (m *Msg) RecordRoutes() NameAddrIter { return m.NameAddrs(HdrRecordRoute) }

// NameAddrIter walks name-addr values.
type NameAddrIter struct {
	vals ValueIter
	m    *Msg
	cur  NameAddr
	err  error
}

// Next parses the next value; it stops at the first error.
func (it *NameAddrIter) Next() bool {
	if it.err != nil || !it.vals.Next() {
		return false
	}
	h := &it.m.hdrs[it.vals.Line()]
	it.err = it.cur.parse(it.vals.Value(), int(h.value.s)+it.vals.split.Offset())
	return it.err == nil
}

// NameAddr returns the current value.
func (it *NameAddrIter) NameAddr() *NameAddr { return &it.cur }

// Err returns the error that stopped the iteration, if any.
func (it *NameAddrIter) Err() error { return it.err }
