package sip

import (
	"net/netip"
)

// URI is a parsed sip, sips or tel URI. Every field is a slice of the input;
// nothing is copied or unescaped. For other schemes only Scheme and Raw are
// set and Opaque holds what follows the colon.
type URI struct {
	Raw      []byte
	Scheme   []byte // as written: "sip", "SIP", "sips", "tel"...
	User     []byte // sip: user part; tel: the number
	Password []byte
	Host     []byte // IPv6 references keep their brackets
	Port     int    // 0 when absent
	Params   Params // from the first ';' after the host (tel: after the number), to '?'
	Headers  []byte // after '?', without it
	Opaque   []byte // for schemes other than sip, sips, tel
	hasPass  bool
}

// IsSIP reports whether the scheme is sip or sips.
func (u URI) IsSIP() bool { return eqFold(u.Scheme, "sip") || eqFold(u.Scheme, "sips") }

// IsSecure reports whether the scheme is sips.
func (u URI) IsSecure() bool { return eqFold(u.Scheme, "sips") }

// IsTel reports whether the scheme is tel.
func (u URI) IsTel() bool { return eqFold(u.Scheme, "tel") }

// HasPassword reports whether a ':' password part was written (maybe empty).
func (u URI) HasPassword() bool { return u.hasPass }

// Param returns a URI parameter value.
func (u URI) Param(name string) ([]byte, bool) { return u.Params.Get(name) }

// HostAddr returns the host as an IP address when it is an IPv4 address or
// an IPv6 reference.
func (u URI) HostAddr() (netip.Addr, bool) { return hostAddr(u.Host) }

func hostAddr(h []byte) (netip.Addr, bool) {
	if len(h) >= 2 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	} else if indexByte(h, ':') >= 0 {
		return netip.Addr{}, false
	}
	return parseIP(h)
}

// ParseURI parses a sip, sips or tel URI without copying. Other schemes
// parse with only Scheme, Opaque and Raw set.
func ParseURI(b []byte) (URI, error) {
	var u URI
	err := u.parse(b, 0)
	return u, err
}

// uriErr makes a ParseError with an offset relative to the URI.
func uriErr(base, off int, why string) error { return perr(base+off, "URI: "+why) }

func isSchemeChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

// parse fills u from b. base is added to error offsets so that errors point
// into the message.
func (u *URI) parse(b []byte, base int) error {
	*u = URI{Raw: b}
	i := 0
	for i < len(b) && isSchemeChar(b[i]) {
		i++
	}
	if i == 0 || i >= len(b) || b[i] != ':' || !(LowerASCII(b[0]) >= 'a' && LowerASCII(b[0]) <= 'z') {
		return uriErr(base, i, "expected scheme and ':'")
	}
	u.Scheme = b[:i]
	i++
	rest := b[i:]
	switch {
	case eqFold(u.Scheme, "sip") || eqFold(u.Scheme, "sips"):
		return u.parseSIP(rest, base+i)
	case eqFold(u.Scheme, "tel"):
		return u.parseTel(rest, base+i)
	}
	for k, c := range rest {
		if c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '"' {
			return uriErr(base, i+k, "unexpected character in URI")
		}
	}
	u.Opaque = rest
	return nil
}

// userTab marks the characters allowed unescaped in the user and password
// parts (RFC 3261: unreserved, escaped, user-unreserved, and ':' between).
var userTab = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	// '#' is not allowed unescaped (RFC 3261 §25.1) but feature codes such
	// as sip:*21#@host are common, so it is accepted as written.
	for _, c := range "-_.!~*'()%&=+$,;?/:#" {
		t[c] = true
	}
	return
}()

// paramTab marks the characters of URI parameters and headers.
var paramTab = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "-_.!~*'()%[]/:&+$=;?@," {
		t[c] = true
	}
	return
}()

func (u *URI) parseSIP(b []byte, base int) error {
	i := 0
	if at := indexByte(b, '@'); at >= 0 {
		ui := b[:at]
		for k, c := range ui {
			if !userTab[c] {
				return uriErr(base, k, "unexpected "+quoteByte(c)+" in user part")
			}
		}
		if !validEscapes(ui) {
			return uriErr(base, 0, "bad % escape in user part")
		}
		if c := indexByte(ui, ':'); c >= 0 {
			u.User, u.Password, u.hasPass = ui[:c], ui[c+1:], true
		} else {
			u.User = ui
		}
		i = at + 1
	}
	hs := i
	if i < len(b) && b[i] == '[' {
		for i < len(b) && b[i] != ']' {
			c := b[i]
			if i > hs && !(isHex(c) || c == ':' || c == '.') {
				return uriErr(base, i, "unexpected "+quoteByte(c)+" in IPv6 reference")
			}
			i++
		}
		if i >= len(b) {
			return uriErr(base, i, "IPv6 reference not closed by ']'")
		}
		i++
		if _, ok := hostAddr(b[hs:i]); !ok {
			return uriErr(base, hs, "bad IPv6 reference")
		}
	} else {
		for i < len(b) && isHostChar(b[i]) {
			i++
		}
	}
	if i == hs {
		return uriErr(base, i, "expected host")
	}
	u.Host = b[hs:i]
	if i < len(b) && b[i] == ':' {
		i++
		ps := i
		port := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			port = port*10 + int(b[i]-'0')
			if port > 65535 {
				return uriErr(base, ps, "port larger than 65535")
			}
			i++
		}
		if i == ps {
			return uriErr(base, i, "expected port digits after ':'")
		}
		u.Port = port
	}
	if i < len(b) && b[i] == ';' {
		ps := i
		for i < len(b) && b[i] != '?' {
			if !paramTab[b[i]] {
				return uriErr(base, i, "unexpected "+quoteByte(b[i])+" in URI parameters")
			}
			i++
		}
		u.Params = Params(b[ps:i])
	}
	if i < len(b) && b[i] == '?' {
		i++
		hs := i
		for i < len(b) {
			if !paramTab[b[i]] || b[i] == ';' {
				return uriErr(base, i, "unexpected "+quoteByte(b[i])+" in URI headers")
			}
			i++
		}
		u.Headers = b[hs:i]
	}
	if i != len(b) {
		return uriErr(base, i, "unexpected "+quoteByte(b[i])+" after host")
	}
	return nil
}

func (u *URI) parseTel(b []byte, base int) error {
	i := 0
	for i < len(b) && b[i] != ';' {
		c := b[i]
		if !(isHex(c) || c == '+' || c == '-' || c == '.' || c == '(' || c == ')' || c == '*' || c == '#' || c == 'p' || c == 'w' || c == 'P' || c == 'W') {
			return uriErr(base, i, "unexpected "+quoteByte(c)+" in telephone number")
		}
		i++
	}
	if i == 0 {
		return uriErr(base, 0, "expected telephone number")
	}
	u.User = b[:i]
	for k := i; k < len(b); k++ {
		if !paramTab[b[k]] {
			return uriErr(base, k, "unexpected "+quoteByte(b[k])+" in tel parameters")
		}
	}
	u.Params = Params(b[i:])
	return nil
}

func quoteByte(c byte) string {
	const hex = "0123456789abcdef"
	if c >= 0x21 && c < 0x7f {
		return "'" + string(rune(c)) + "'"
	}
	return "0x" + string(hex[c>>4]) + string(hex[c&15])
}

// isHostChar accepts the hostname characters of RFC 3261 plus '_', which
// RFC 3261 forbids but real devices use in host names (Kamailio accepts it
// too).
func isHostChar(c byte) bool {
	return isAlnum(c) || c == '-' || c == '.' || c == '_'
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// validEscapes reports whether every '%' starts a %XX escape.
func validEscapes(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] == '%' {
			if i+2 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

// unescIter yields the bytes of b with %XX escapes decoded.
type unescIter struct {
	b []byte
	i int
}

func (it *unescIter) next() (byte, bool) {
	if it.i >= len(it.b) {
		return 0, false
	}
	c := it.b[it.i]
	if c == '%' && it.i+2 < len(it.b) && isHex(it.b[it.i+1]) && isHex(it.b[it.i+2]) {
		it.i += 3
		return unhex(it.b[it.i-2])<<4 | unhex(it.b[it.i-1]), true
	}
	it.i++
	return c, true
}

// eqUnescaped compares two strings after decoding %XX escapes; fold
// ignores ASCII case.
func eqUnescaped(a, b []byte, fold bool) bool {
	x, y := unescIter{b: a}, unescIter{b: b}
	for {
		c1, ok1 := x.next()
		c2, ok2 := y.next()
		if ok1 != ok2 {
			return false
		}
		if !ok1 {
			return true
		}
		if fold {
			c1, c2 = LowerASCII(c1), LowerASCII(c2)
		}
		if c1 != c2 {
			return false
		}
	}
}

// URIEqual compares two URIs as RFC 3261 §19.1.4 says: same scheme; user
// and password byte-equal after unescaping; host equal ignoring case (IP
// addresses compare as addresses, RFC 5118 §4.1); port equal, an absent
// port not equal to an explicit one; the user, ttl, method, maddr and
// transport parameters present in either must be in both and equal; other
// parameters are compared only when both have them; headers must match as
// a set. tel URIs compare numbers with visual separators removed and then
// parameters as above. Other schemes compare their bytes.
func URIEqual(a, b URI) bool {
	if !EqualFold(a.Scheme, b.Scheme) {
		return false
	}
	if eqFold(a.Scheme, "tel") {
		return telEqual(a.User, b.User) && paramsEqual(a.Params, b.Params, true)
	}
	if !a.IsSIP() {
		return string(a.Opaque) == string(b.Opaque)
	}
	if !eqUnescaped(a.User, b.User, false) || a.hasPass != b.hasPass || !eqUnescaped(a.Password, b.Password, false) {
		return false
	}
	if a.Port != b.Port {
		return false
	}
	if ia, ok := hostAddr(a.Host); ok {
		ib, ok := hostAddr(b.Host)
		if !ok || ia != ib {
			return false
		}
	} else if !eqUnescaped(a.Host, b.Host, true) {
		return false
	}
	if !paramsEqual(a.Params, b.Params, false) {
		return false
	}
	return headersEqual(a.Headers, b.Headers) && headersEqual(b.Headers, a.Headers)
}

// Equal is URIEqual(u, o).
func (u URI) Equal(o URI) bool { return URIEqual(u, o) }

func telEqual(a, b []byte) bool {
	x, y := 0, 0
	for {
		for x < len(a) && isVisualSep(a[x]) {
			x++
		}
		for y < len(b) && isVisualSep(b[y]) {
			y++
		}
		if x == len(a) || y == len(b) {
			return x == len(a) && y == len(b)
		}
		if LowerASCII(a[x]) != LowerASCII(b[y]) {
			return false
		}
		x++
		y++
	}
}

func isVisualSep(c byte) bool { return c == '-' || c == '.' || c == '(' || c == ')' }

// mustMatch lists the URI parameters that, present in one URI, must be in
// the other (RFC 3261 §19.1.4).
func mustMatch(name []byte) bool {
	return eqFold(name, "user") || eqFold(name, "ttl") || eqFold(name, "method") ||
		eqFold(name, "maddr") || eqFold(name, "transport")
}

func paramsEqual(a, b Params, all bool) bool {
	return paramsCover(a, b, all) && paramsCover(b, a, all)
}

// paramsCover checks every parameter of a against b. Only the first
// occurrence of a repeated name counts, in both lists.
func paramsCover(a, b Params, all bool) bool {
	for it := a.Iter(); it.Next(); {
		name := it.Name()
		if a[:it.start].repeats(name) {
			continue
		}
		found := false
		for jt := b.Iter(); jt.Next(); {
			if eqUnescaped(jt.Name(), name, true) {
				found = true
				if !eqUnescaped(jt.Value(), it.Value(), true) {
					return false
				}
				break
			}
		}
		if !found && (all || mustMatch(name)) {
			return false
		}
	}
	return true
}

// repeats reports whether name is among the parameters of p.
func (p Params) repeats(name []byte) bool {
	for it := p.Iter(); it.Next(); {
		if eqUnescaped(it.Name(), name, true) {
			return true
		}
	}
	return false
}

// headersEqual reports whether every header of a is in b with an equal
// value. Header names ignore case; values are compared after unescaping.
func headersEqual(a, b []byte) bool {
	for len(a) > 0 {
		var h []byte
		if k := indexByte(a, '&'); k >= 0 {
			h, a = a[:k], a[k+1:]
		} else {
			h, a = a, nil
		}
		if len(h) == 0 {
			continue
		}
		hn, hv := h, []byte(nil)
		if k := indexByte(h, '='); k >= 0 {
			hn, hv = h[:k], h[k+1:]
		}
		found := false
		rest := b
		for len(rest) > 0 {
			var g []byte
			if k := indexByte(rest, '&'); k >= 0 {
				g, rest = rest[:k], rest[k+1:]
			} else {
				g, rest = rest, nil
			}
			gn, gv := g, []byte(nil)
			if k := indexByte(g, '='); k >= 0 {
				gn, gv = g[:k], g[k+1:]
			}
			if eqUnescaped(gn, hn, true) && eqUnescaped(gv, hv, false) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
