package sip

// Params is the raw text of a ;-separated parameter list as it appears in
// a URI or a header value, including the leading ';'. It is a slice of the
// message buffer; lookups scan it and allocate nothing.
type Params []byte

// Get returns the value of the first parameter named name (ASCII case
// ignored) and whether it is present. A parameter without "=value" is
// present with an empty value. Surrounding double quotes are removed; the
// escapes inside them are kept.
func (p Params) Get(name string) ([]byte, bool) {
	it := p.Iter()
	for it.Next() {
		if EqualFold(it.Name(), name) {
			return it.Value(), true
		}
	}
	return nil, false
}

// Has reports whether a parameter is present.
func (p Params) Has(name string) bool {
	_, ok := p.Get(name)
	return ok
}

// Iter returns an iterator over the parameters.
func (p Params) Iter() ParamIter { return ParamIter{b: p} }

// ParamIter walks a Params list.
type ParamIter struct {
	b           []byte
	i           int
	name, value []byte
	start, end  int // the parameter's span in b, from its ';'
}

// Next moves to the next parameter.
func (it *ParamIter) Next() bool {
	for it.i < len(it.b) {
		semi := it.i
		if it.b[it.i] == ';' {
			it.i++
		}
		s := it.i
		inQ := false
		for it.i < len(it.b) {
			c := it.b[it.i]
			if inQ {
				if c == '\\' {
					it.i++
				} else if c == '"' {
					inQ = false
				}
			} else if c == '"' {
				inQ = true
			} else if c == ';' {
				break
			}
			it.i++
		}
		if it.i > len(it.b) {
			it.i = len(it.b)
		}
		kv := trimLWS(it.b[s:it.i])
		if len(kv) == 0 {
			continue
		}
		it.start, it.end = semi, it.i
		eq := indexByte(kv, '=')
		if eq < 0 {
			it.name, it.value = kv, kv[len(kv):]
		} else {
			it.name = trimLWS(kv[:eq])
			it.value = unquote(trimLWS(kv[eq+1:]))
		}
		return true
	}
	return false
}

// Name returns the current parameter's name.
func (it *ParamIter) Name() []byte { return it.name }

// Value returns the current parameter's value without quotes.
func (it *ParamIter) Value() []byte { return it.value }

func unquote(v []byte) []byte {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

// scanParams checks the grammar of a ;-separated generic-param list
// (RFC 3261: *( SEMI token [ EQUAL ( token / host / quoted-string ) ] ))
// starting at b[i] and returns where it ends: at a ',' outside quotes or at
// len(b). It returns -1 on a syntax error such as an empty parameter.
// Values may also hold ':' so that an unbracketed IPv6 received= passes
// (RFC 5118 §4.5).
func scanParams(b []byte, i int) int {
	for {
		i = skipLWS(b, i)
		if i >= len(b) || b[i] == ',' {
			return i
		}
		if b[i] != ';' {
			return -1
		}
		i = skipLWS(b, i+1)
		s := i
		for i < len(b) && isTokenChar(b[i]) {
			i++
		}
		if i == s {
			return -1
		}
		i = skipLWS(b, i)
		if i < len(b) && b[i] == '=' {
			i = skipLWS(b, i+1)
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"':
				j := skipQuoted(b, i)
				if j < 0 {
					return -1
				}
				i = j
			case '[':
				j := indexByte(b[i:], ']')
				if j < 0 {
					return -1
				}
				i += j + 1
			default:
				s := i
				for i < len(b) && (isTokenChar(b[i]) || b[i] == ':') {
					i++
				}
				if i == s {
					return -1
				}
			}
		}
	}
}

// skipQuoted returns the index after the quoted string starting at b[i],
// or -1 if it is not terminated.
func skipQuoted(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}
