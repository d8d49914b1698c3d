package sip

// Credentials is an Authorization or Proxy-Authorization value, and
// Challenge a WWW-Authenticate or Proxy-Authenticate one: a scheme and
// comma-separated auth-params. The named fields are filled for Digest;
// quoted values come without their quotes.
type Credentials struct {
	Raw       []byte
	Scheme    []byte // "Digest", as written
	Params    []byte // everything after the scheme
	Username  []byte
	Realm     []byte
	Nonce     []byte
	URI       []byte
	Response  []byte
	Algorithm []byte
	CNonce    []byte
	Opaque    []byte
	QOP       []byte
	NC        []byte
	Stale     []byte
	Domain    []byte
}

// Challenge has the same shape as Credentials.
type Challenge = Credentials

// IsDigest reports whether the scheme is Digest.
func (c *Credentials) IsDigest() bool { return eqFold(c.Scheme, "digest") }

// Param returns any auth-param by name, unquoted.
func (c *Credentials) Param(name string) ([]byte, bool) {
	sp := SplitCommas(c.Params)
	for {
		p, ok := sp.Next()
		if !ok {
			return nil, false
		}
		eq := indexByte(p, '=')
		if eq < 0 {
			continue
		}
		if EqualFold(trimLWS(p[:eq]), name) {
			return unquote(trimLWS(p[eq+1:])), true
		}
	}
}

// ParseCredentials parses a credentials or challenge value.
func ParseCredentials(b []byte) (Credentials, error) {
	var c Credentials
	err := c.parse(b, 0)
	return c, err
}

func (c *Credentials) parse(b []byte, base int) error {
	*c = Credentials{Raw: b}
	i := skipLWS(b, 0)
	s := i
	for i < len(b) && isTokenChar(b[i]) {
		i++
	}
	if i == s {
		return perr(base+i, "auth: expected scheme")
	}
	c.Scheme = b[s:i]
	c.Params = trimLWS(b[i:])
	if len(c.Params) > 0 && i < len(b) && !isLWS(b[i]) {
		return perr(base+i, "auth: expected LWS after scheme")
	}
	sp := SplitCommas(c.Params)
	for {
		p, ok := sp.Next()
		if !ok {
			break
		}
		eq := indexByte(p, '=')
		if eq < 0 {
			continue // token68 or a bare token: kept in Params only
		}
		name, val := trimLWS(p[:eq]), trimLWS(p[eq+1:])
		if len(val) > 0 && val[0] == '"' {
			if skipQuoted(val, 0) != len(val) {
				return perr(base+i, "auth: unterminated quoted value")
			}
		}
		val = unquote(val)
		switch {
		case eqFold(name, "username"):
			c.Username = val
		case eqFold(name, "realm"):
			c.Realm = val
		case eqFold(name, "nonce"):
			c.Nonce = val
		case eqFold(name, "uri"):
			c.URI = val
		case eqFold(name, "response"):
			c.Response = val
		case eqFold(name, "algorithm"):
			c.Algorithm = val
		case eqFold(name, "cnonce"):
			c.CNonce = val
		case eqFold(name, "opaque"):
			c.Opaque = val
		case eqFold(name, "qop"):
			c.QOP = val
		case eqFold(name, "nc"):
			c.NC = val
		case eqFold(name, "stale"):
			c.Stale = val
		case eqFold(name, "domain"):
			c.Domain = val
		}
	}
	return nil
}

// Credentials parses the first line of Authorization (id HdrAuthorization)
// or Proxy-Authorization, WWW-Authenticate, Proxy-Authenticate.
func (m *Msg) Credentials(id HdrID) (Credentials, bool, error) {
	var c Credentials
	k := int(m.first[id]) - 1
	if k < 0 {
		return c, false, nil
	}
	h := &m.hdrs[k]
	err := c.parse(h.value.of(m.buf), int(h.value.s))
	return c, true, err
}

// AuthLines iterates over every line of an auth header (a request may carry
// credentials for several realms).
func (m *Msg) AuthLines(id HdrID) AuthIter { return AuthIter{lines: m.LinesID(id)} }

// AuthIter walks auth header lines.
type AuthIter struct {
	lines LineIter
	cur   Credentials
	err   error
}

// Next parses the next line; it stops at the first error.
func (it *AuthIter) Next() bool {
	if it.err != nil || !it.lines.Next() {
		return false
	}
	h := &it.lines.m.hdrs[it.lines.k]
	it.err = it.cur.parse(h.value.of(it.lines.m.buf), int(h.value.s))
	return it.err == nil
}

// Credentials returns the current value.
func (it *AuthIter) Credentials() *Credentials { return &it.cur }

// Err returns the error that stopped the iteration, if any.
func (it *AuthIter) Err() error { return it.err }
