package pv

// Kamailio's sql.*, hashing, encoding, escaping and line transformations
// (issue 18), after Kamailio's pv_trans.c and sqlops' sql_trans.c.
//
// Bounds: Kamailio writes every result into a 64 KiB buffer
// (TR_BUFFER_SIZE) and fails the transformation when it would not fit;
// kemi keeps that bound for every result (maxTransOut), checking the
// size before it builds anything, so a value from the network cannot
// make a transformation grow memory without bound. Every transformation
// runs in time linear in its input and output; s.prefixes, whose output
// is quadratic in its input, fails (null) past Kamailio's own limit,
// about 360 characters.

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash/crc32"
	"strconv"
	"strings"
	"time"

	"kemi/core"
)

// maxTransOut is the largest result a transformation gives: Kamailio's
// TR_BUFFER_SIZE (65536) less its terminating NUL.
const maxTransOut = 65536 - 1

var null = core.Value{}

// sqlNull is what sql.val, sql.val.int and sql.val.str give for a null
// value: NULL, 0 and an empty quoted string.
func sqlNull(key string) core.Value {
	switch key {
	case "sql.val.int":
		return core.Str("0")
	case "sql.val.str":
		return core.Str("''")
	}
	return core.Str("NULL")
}

// sqlVal quotes a value for an SQL statement, as sqlops' sql.val: a
// number stays bare, a string is put in single quotes. Kamailio escapes
// with backslashes (escape_common: \' \" \\ \0), which PostgreSQL with
// its default standard_conforming_strings=on reads as literal
// backslashes, so that a value ending in a backslash closes the quote
// and the rest of it runs as SQL. kemi doubles a single quote instead
// (a doubled quote is a quote in every SQL dialect and mode) and escapes a
// backslash and NUL as Kamailio does; the value stored is the same as
// Kamailio's in MySQL/MariaDB, and in PostgreSQL, whose connections kemi
// opens with standard_conforming_strings=off (internal/sqldb). No mode
// of either database lets the value end the quote.
func sqlVal(v core.Value) (core.Value, bool) {
	if v.Kind != core.KStr {
		return core.Str(v.String()), true
	}
	s := v.S
	n := len(s) + 2
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\'', '\\', 0:
			n++
		}
	}
	if n > maxTransOut {
		return null, false
	}
	b := make([]byte, 0, n)
	b = append(b, '\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			b = append(b, '\'', '\'')
		case '\\':
			b = append(b, '\\', '\\')
		case 0:
			b = append(b, '\\', '0')
		default:
			b = append(b, c)
		}
	}
	b = append(b, '\'')
	return core.Str(string(b)), true
}

const hexDigits = "0123456789abcdef"

// str2 runs the s.* transformations added for issue 18; done is false
// for the others, which apply handles.
func (t trans) str2(ctx *core.Ctx, v core.Value) (r core.Value, ok, done bool) {
	s := v.String()
	str := func(x string) (core.Value, bool, bool) {
		if len(x) > maxTransOut {
			return null, false, true
		}
		return core.Str(x), true, true
	}
	fail := func() (core.Value, bool, bool) { return null, false, true }
	switch t.key {
	case "s.md5":
		h := md5.Sum([]byte(s))
		return str(hex.EncodeToString(h[:]))
	case "s.sha1":
		h := sha1.Sum([]byte(s))
		return str(hex.EncodeToString(h[:]))
	case "s.sha256":
		h := sha256.Sum256([]byte(s))
		return str(hex.EncodeToString(h[:]))
	case "s.sha384":
		h := sha512.Sum384([]byte(s))
		return str(hex.EncodeToString(h[:]))
	case "s.sha512":
		h := sha512.Sum512([]byte(s))
		return str(hex.EncodeToString(h[:]))
	case "s.corehash":
		size := 0
		if len(t.args) == 1 {
			n, ok1 := t.intArg(ctx, 0)
			if !ok1 {
				return fail()
			}
			size = n
		}
		return str(strconv.FormatUint(uint64(coreHash(s, uint32(size))), 10))
	case "s.crc32":
		return core.Int(int64(crc32.ChecksumIEEE([]byte(s)))), true, true
	case "s.sha3":
		bits := 256
		if len(t.args) == 1 {
			n, ok1 := t.intArg(ctx, 0)
			if !ok1 {
				return fail()
			}
			bits = n
		}
		switch bits {
		case 256:
			h := sha3.Sum256([]byte(s))
			return str(hex.EncodeToString(h[:]))
		case 384:
			h := sha3.Sum384([]byte(s))
			return str(hex.EncodeToString(h[:]))
		case 512:
			h := sha3.Sum512([]byte(s))
			return str(hex.EncodeToString(h[:]))
		}
		return fail()
	case "s.encode.base64", "s.encode.base64t", "s.encode.base64url", "s.encode.base64urlt":
		enc := base64.StdEncoding
		if strings.HasPrefix(t.name, "encode.base64url") {
			enc = base64.URLEncoding
		}
		if enc.EncodedLen(len(s)) > maxTransOut {
			return fail()
		}
		e := enc.EncodeToString([]byte(s))
		if strings.HasSuffix(t.key, "t") {
			e = strings.TrimRight(e, "=")
		}
		return str(e)
	case "s.decode.base64", "s.decode.base64t", "s.decode.base64url", "s.decode.base64urlt":
		if len(s) > maxTransOut {
			return fail()
		}
		enc := base64.StdEncoding
		if strings.HasPrefix(t.name, "decode.base64url") {
			enc = base64.URLEncoding
		}
		if strings.HasSuffix(t.key, "t") && len(s)%4 != 0 {
			s += "===="[:4-len(s)%4]
		}
		d, err := enc.DecodeString(s)
		if err != nil {
			return fail()
		}
		return str(string(d))
	case "s.encode.hexa":
		if 2*len(s) > maxTransOut {
			return fail()
		}
		return str(hex.EncodeToString([]byte(s)))
	case "s.decode.hexa":
		// Kamailio decodes the pairs and ignores an odd last digit.
		if len(s) > 2*maxTransOut {
			return fail()
		}
		d, err := hex.DecodeString(s[:len(s)&^1])
		if err != nil {
			return fail()
		}
		return str(string(d))
	case "s.escape.common":
		if 2*len(s) > maxTransOut {
			return fail()
		}
		return str(escapeCommon(s))
	case "s.unescape.common":
		return str(unescapeCommon(s))
	case "s.escape.crlf":
		if s == "" || 2*len(s) > maxTransOut {
			return fail()
		}
		return str(strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(s))
	case "s.unescape.crlf":
		if s == "" {
			return fail()
		}
		return str(unescapeCRLF(s))
	case "s.escape.user", "s.escape.param":
		if 3*len(s) > maxTransOut {
			return fail()
		}
		keep := userUnreserved
		if t.key == "s.escape.param" {
			keep = paramUnreserved
		}
		e, good := escapeURIPart(s, keep)
		if !good {
			return fail()
		}
		return str(e)
	case "s.unescape.user", "s.unescape.param":
		u, good := unescapeURIPart(s)
		if !good {
			return fail()
		}
		return str(u)
	case "s.escape.csv":
		if 2*len(s)+2 > maxTransOut {
			return fail()
		}
		return str(`"` + strings.ReplaceAll(s, `"`, `""`) + `"`)
	case "s.urlencode.param":
		if 3*len(s) > maxTransOut {
			return fail()
		}
		return str(urlEncode(s))
	case "s.urldecode.param":
		return str(urlDecode(s))
	case "s.numeric":
		return str(strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s))
	case "s.rmws":
		return str(strings.Map(func(r rune) rune {
			switch r {
			case ' ', '\t', '\r', '\n':
				return -1
			}
			return r
		}, s))
	case "s.intv":
		// Kamailio's str2slong: all of it a number, or it fails (s.int
		// in kemi reads a leading number, as it always has).
		if v.Kind == core.KInt {
			return v, true, true
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || s == "" || s[0] == ' ' {
			return fail()
		}
		return core.Int(n), true, true
	case "s.selectsw":
		// The idx-th field, each space, tab, CR or LF ending one (so two
		// in a row make an empty field); a negative idx counts from the
		// end; past the fields, "".
		i, ok1 := t.intArg(ctx, 0)
		if !ok1 {
			return fail()
		}
		f := splitWS(s)
		if i < 0 {
			i += len(f)
		}
		if i < 0 || i >= len(f) {
			return str("")
		}
		return str(f[i])
	case "s.rmhdws", "s.rmhlws":
		// Line breaks go; the blanks that follow one become one space
		// (rmhdws) or nothing (rmhlws), as header folding is undone.
		var b strings.Builder
		b.Grow(len(s))
		state := 0 // 1 after a line break, 2 after its space
		for i := 0; i < len(s); i++ {
			switch c := s[i]; {
			case c == '\r' || c == '\n':
				state = 1
			case state != 0 && (c == ' ' || c == '\t'):
				if state == 1 && t.key == "s.rmhdws" {
					b.WriteByte(' ')
				}
				state = 2
			default:
				b.WriteByte(c)
				state = 0
			}
		}
		return str(b.String())
	case "s.prefixes", "s.prefixes.quoted":
		return t.prefixes(ctx, s)
	case "s.replace":
		old, ok1 := t.arg(ctx, 0)
		repl, ok2 := t.arg(ctx, 1)
		if !ok1 || !ok2 {
			return fail()
		}
		if old == "" {
			return str(s)
		}
		if n := strings.Count(s, old); len(s)+n*(len(repl)-len(old)) > maxTransOut {
			return fail()
		}
		return str(strings.ReplaceAll(s, old, repl))
	case "s.rm":
		old, ok1 := t.arg(ctx, 0)
		if !ok1 {
			return fail()
		}
		if !strings.HasPrefix(t.args[0], "$") { // a literal knows \n, \r, \t and \\
			old = unescapeRm(old)
		}
		if old == "" {
			return str(s)
		}
		return str(strings.ReplaceAll(s, old, ""))
	case "s.count":
		c, ok1 := t.arg(ctx, 0)
		if !ok1 || c == "" {
			return fail()
		}
		return core.Int(int64(strings.Count(s, c[:1]))), true, true
	case "s.strip", "s.striptail":
		n, ok1 := t.intArg(ctx, 0)
		if !ok1 {
			return fail()
		}
		switch {
		case n <= 0:
			return str(s)
		case n >= len(s):
			return str("")
		case t.key == "s.strip":
			return str(s[n:])
		}
		return str(s[:len(s)-n])
	case "s.stripto":
		c, ok1 := t.arg(ctx, 0)
		if !ok1 || c == "" {
			return fail()
		}
		if i := strings.IndexByte(s, c[0]); i >= 0 {
			return str(s[i:])
		}
		return str("")
	case "s.before", "s.after", "s.rbefore", "s.rafter":
		c, ok1 := t.arg(ctx, 0)
		if !ok1 || c == "" {
			return fail()
		}
		i := strings.IndexByte(s, c[0])
		if t.key == "s.rbefore" || t.key == "s.rafter" {
			i = strings.LastIndexByte(s, c[0])
		}
		switch {
		case t.key == "s.before" || t.key == "s.rbefore":
			if i < 0 {
				return str(s) // no separator: all of it
			}
			return str(s[:i])
		case i < 0:
			return str("") // no separator: nothing after it
		}
		return str(s[i+1:])
	case "s.unquote":
		if len(s) >= 2 && s[0] == s[len(s)-1] && (s[0] == '"' || s[0] == '\'') {
			return str(s[1 : len(s)-1])
		}
		return str(s)
	case "s.unbracket":
		if len(s) >= 2 {
			switch s[0:1] + s[len(s)-1:] {
			case "()", "[]", "{}", "<>":
				return str(s[1 : len(s)-1])
			}
		}
		return str(s)
	case "s.charat", "s.byteat":
		i, ok1 := t.intArg(ctx, 0)
		if !ok1 {
			return fail()
		}
		if i < 0 || i >= len(s) {
			if t.key == "s.byteat" {
				return core.Int(-1), true, true
			}
			return str("")
		}
		if t.key == "s.byteat" {
			return core.Int(int64(s[i])), true, true
		}
		return str(s[i : i+1])
	case "s.ftime":
		var sec int64
		if v.Kind == core.KInt {
			sec = v.I
		} else {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return fail()
			}
			sec = n
		}
		f, ok1 := t.arg(ctx, 0)
		if !ok1 {
			return fail()
		}
		return str(strftime(f, time.Unix(sec, 0)))
	}
	return null, false, false
}

// coreHash is Kamailio's core_hash (core/hashes.h) of one string, the
// hash s.corehash gives (and tm and htable use for their slots); a size
// other than 0 masks it with size-1, so it should be a power of two.
func coreHash(s string, size uint32) uint32 {
	var h, v uint32
	p := 0
	for ; p+4 <= len(s); p += 4 {
		v = uint32(s[p])<<24 + uint32(s[p+1])<<16 + uint32(s[p+2])<<8 + uint32(s[p+3])
		h += v ^ (v >> 3)
	}
	v = 0
	for ; p < len(s); p++ {
		v = v<<8 + uint32(s[p])
	}
	h += v ^ (v >> 3)
	h = (h + (h >> 11)) + ((h >> 13) + (h >> 23))
	if size != 0 {
		return h & (size - 1)
	}
	return h
}

// splitWS splits s at every space, tab, CR and LF.
func splitWS(s string) []string {
	var f []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\r', '\n':
			f = append(f, s[start:i])
			start = i + 1
		}
	}
	return append(f, s[start:])
}

// prefixes gives "1,12,123" (s.prefixes) or "'1','12','123'"
// (s.prefixes.quoted) for "123", up to an optional maximal length. The
// output grows with the square of the length, so, as Kamailio, it fails
// when max*(max/2+k) passes the 64 KiB bound (about 360 characters).
func (t trans) prefixes(ctx *core.Ctx, s string) (core.Value, bool, bool) {
	max := len(s)
	if len(t.args) == 1 {
		n, ok := t.intArg(ctx, 0)
		if !ok {
			return null, false, true
		}
		if n > 0 && n < max {
			max = n
		}
	}
	quoted := t.key == "s.prefixes.quoted"
	k := 3
	if quoted {
		k = 1
	}
	if max*(max/2+k) > maxTransOut {
		return null, false, true
	}
	var b strings.Builder
	for i := 1; i <= max; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		if quoted {
			b.WriteByte('\'')
		}
		b.WriteString(s[:i])
		if quoted {
			b.WriteByte('\'')
		}
	}
	return core.Str(b.String()), true, true
}

// line runs line.count, line.at and line.sw. As Kamailio, a null or
// empty value fails, and a line keeps no trailing '\r'.
func (t trans) line(ctx *core.Ctx, v core.Value) (core.Value, bool) {
	if v.Kind != core.KStr || v.S == "" {
		return null, false
	}
	s := v.S
	body := strings.TrimSuffix(s, "\n")
	switch t.key {
	case "line.count":
		return core.Int(int64(strings.Count(body, "\n") + 1)), true
	case "line.at":
		n, ok := t.intArg(ctx, 0)
		if !ok {
			return null, false
		}
		count := strings.Count(body, "\n") + 1
		if n < 0 {
			n += count
		}
		if n < 0 || n >= count {
			return core.Str(""), true
		}
		rest := body
		for ; n > 0; n-- {
			rest = rest[strings.IndexByte(rest, '\n')+1:]
		}
		l, _, _ := strings.Cut(rest, "\n")
		return core.Str(strings.TrimSuffix(l, "\r")), true
	case "line.sw":
		p, ok := t.arg(ctx, 0)
		if !ok {
			return null, false
		}
		rest := s
		for {
			l, next, more := strings.Cut(rest, "\n")
			if strings.HasPrefix(l, p) {
				return core.Str(strings.TrimSuffix(l, "\r")), true
			}
			if !more {
				return core.Str(""), true
			}
			rest = next
		}
	}
	return null, false
}

// escapeCommon is Kamailio's escape_common: a backslash before ', ",
// \ and NUL (written \0).
func escapeCommon(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'', '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescapeCommon is Kamailio's unescape_common, escapeCommon undone; a
// backslash before anything else stays.
func unescapeCommon(s string) string {
	return unescapeBackslash(s, true, func(c byte) (byte, bool) {
		switch c {
		case '\'', '"', '\\':
			return c, true
		case '0':
			return 0, true
		}
		return c, false
	})
}

// unescapeCRLF is Kamailio's unescape_crlf: \n and \r become the bytes.
func unescapeCRLF(s string) string {
	return unescapeBackslash(s, true, decodeCRLF)
}

// unescapeRm reads the \n, \r, \t and \\ of a literal s.rm argument; a
// backslash before anything else goes.
func unescapeRm(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	return unescapeBackslash(s, false, func(c byte) (byte, bool) {
		if c == 't' {
			return '\t', true
		}
		return decodeCRLF(c)
	})
}

func decodeCRLF(c byte) (byte, bool) {
	switch c {
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	}
	return c, false
}

// unescapeBackslash decodes the backslash escapes of s that decode knows;
// before any other byte the backslash stays (keep) or is dropped.
func unescapeBackslash(s string, keep bool, decode func(byte) (byte, bool)) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			d, ok := decode(s[i+1])
			if ok || !keep {
				c = d
				i++
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// The characters Kamailio's escape_user and escape_param leave as they
// are, besides letters and digits.
const (
	userUnreserved  = "-_.!~*'()&=+$,;?"
	paramUnreserved = "-_.!~*'()[]/:&+$"
)

// escapeURIPart is Kamailio's escape_user / escape_param: %xx (lower
// case) for what keep does not hold; a byte outside printable ASCII
// fails.
func escapeURIPart(s, keep string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 32 || c > 126:
			return "", false
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', strings.IndexByte(keep, c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String(), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unescapeURIPart is Kamailio's unescape_user / unescape_param: %xx
// decoded; a cut or bad sequence, or one that gives a byte outside
// printable ASCII, fails.
func unescapeURIPart(s string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) {
				return "", false
			}
			h, ok1 := unhex(s[i+1])
			l, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", false
			}
			c = h<<4 | l
			if c < 32 || c > 126 {
				return "", false
			}
			i += 2
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

// urlEncode is Kamailio's urlencode: letters, digits and -_.~ stay, the
// rest is %xx (lower case).
func urlEncode(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// urlDecode is Kamailio's urldecode: %xx decoded, '+' a space; a '%'
// too near the end is dropped, as Kamailio does; a '%' before a non-hex
// pair stays as it is (Kamailio would make an arbitrary byte of it).
func urlDecode(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			if i+2 < len(s) {
				h, ok1 := unhex(s[i+1])
				l, ok2 := unhex(s[i+2])
				if ok1 && ok2 {
					b.WriteByte(h<<4 | l)
					i += 2
					continue
				}
				b.WriteByte(c)
			}
		case '+':
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// strftime formats t (in local time, as Kamailio's localtime_r) with
// the C strftime conversions s.ftime scripts use; an unknown one is
// copied as it is. The output is bounded by maxTransOut.
func strftime(f string, t time.Time) string {
	t = t.Local()
	var b []byte
	for i := 0; i < len(f) && len(b) < maxTransOut; i++ {
		if f[i] != '%' || i+1 == len(f) {
			b = append(b, f[i])
			continue
		}
		i++
		switch f[i] {
		case 'Y':
			b = strconv.AppendInt(b, int64(t.Year()), 10)
		case 'C':
			b = strconv.AppendInt(b, int64(t.Year()/100), 10)
		case 'y':
			b = t.AppendFormat(b, "06")
		case 'm':
			b = t.AppendFormat(b, "01")
		case 'd':
			b = t.AppendFormat(b, "02")
		case 'e':
			b = t.AppendFormat(b, "_2")
		case 'H':
			b = t.AppendFormat(b, "15")
		case 'I':
			b = t.AppendFormat(b, "03")
		case 'M':
			b = t.AppendFormat(b, "04")
		case 'S':
			b = t.AppendFormat(b, "05")
		case 'p':
			b = t.AppendFormat(b, "PM")
		case 'a':
			b = t.AppendFormat(b, "Mon")
		case 'A':
			b = t.AppendFormat(b, "Monday")
		case 'b', 'h':
			b = t.AppendFormat(b, "Jan")
		case 'B':
			b = t.AppendFormat(b, "January")
		case 'j':
			b = append(b, fmt3(t.YearDay())...)
		case 'u':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			b = strconv.AppendInt(b, int64(wd), 10)
		case 'w':
			b = strconv.AppendInt(b, int64(t.Weekday()), 10)
		case 'z':
			b = t.AppendFormat(b, "-0700")
		case 'Z':
			b = t.AppendFormat(b, "MST")
		case 's':
			b = strconv.AppendInt(b, t.Unix(), 10)
		case 'T':
			b = t.AppendFormat(b, "15:04:05")
		case 'R':
			b = t.AppendFormat(b, "15:04")
		case 'D':
			b = t.AppendFormat(b, "01/02/06")
		case 'F':
			b = t.AppendFormat(b, "2006-01-02")
		case 'c':
			b = t.AppendFormat(b, "Mon Jan _2 15:04:05 2006")
		case 'n':
			b = append(b, '\n')
		case 't':
			b = append(b, '\t')
		case '%':
			b = append(b, '%')
		default:
			b = append(b, '%', f[i])
		}
	}
	if len(b) > maxTransOut {
		b = b[:maxTransOut]
	}
	return string(b)
}

func fmt3(n int) string {
	s := strconv.Itoa(n)
	return "000"[len(s):] + s
}
