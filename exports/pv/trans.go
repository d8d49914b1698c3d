package pv

import (
	"strconv"
	"strings"

	"kemi/core"
	"kemi/sip"
)

// trans is one parsed transformation, such as {s.substr,1,3}.
type trans struct {
	key         string // lower-case "class.name", the switch key
	class, name string
	args        []string
}

// splitTrans parses "$(base{t1}{t2})" into the base pseudo-variable
// ("$base") and its transformations; ok is false for other forms.
func splitTrans(full string) (base string, ts []trans, ok bool, err string) {
	if !strings.HasPrefix(full, "$(") || !strings.HasSuffix(full, ")") {
		return "", nil, false, ""
	}
	inner := full[2 : len(full)-1]
	brace := strings.IndexByte(inner, '{')
	if brace <= 0 {
		return "", nil, false, ""
	}
	base, rest := "$("+inner[:brace]+")", inner[brace:]
	for rest != "" {
		if rest[0] != '{' {
			return "", nil, true, "expected '{' at " + strconv.Quote(rest)
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return "", nil, true, "unterminated transformation " + strconv.Quote(rest)
		}
		body := rest[1:end]
		rest = rest[end+1:]
		parts := strings.Split(body, ",")
		cls, name, found := strings.Cut(parts[0], ".")
		if !found {
			return "", nil, true, "expected {class.name}, got {" + body + "}"
		}
		// Kamailio matches the names case-insensitively.
		cls, name = strings.ToLower(cls), strings.ToLower(name)
		t := trans{key: cls + "." + name, class: cls, name: name, args: parts[1:]}
		if e := t.check(); e != "" {
			return "", nil, true, e
		}
		ts = append(ts, t)
	}
	return base, ts, true, ""
}

// transArity is the number of arguments a transformation takes, from
// min to max.
type transArity struct{ min, max int }

var transArgs = map[string]transArity{
	"s.len": {}, "s.int": {}, "s.tolower": {}, "s.toupper": {}, "s.trim": {}, "s.rtrim": {},
	"s.ltrim": {}, "s.substr": {2, 2}, "s.select": {2, 2},
	// issue 18: Kamailio's other commonly used transformations.
	"sql.val": {}, "sql.val.int": {}, "sql.val.str": {},
	"s.corehash": {0, 1}, "s.md5": {}, "s.sha1": {}, "s.sha256": {}, "s.sha384": {}, "s.sha512": {}, "s.crc32": {},
	"s.encode.base64": {}, "s.decode.base64": {}, "s.encode.base64t": {}, "s.decode.base64t": {},
	"s.encode.hexa": {}, "s.decode.hexa": {},
	"s.escape.common": {}, "s.unescape.common": {}, "s.escape.crlf": {}, "s.unescape.crlf": {},
	"s.escape.user": {}, "s.unescape.user": {}, "s.escape.param": {}, "s.unescape.param": {},
	"s.escape.csv": {}, "s.urlencode.param": {}, "s.urldecode.param": {},
	"s.numeric": {}, "s.rmws": {}, "s.prefixes": {0, 1}, "s.prefixes.quoted": {0, 1},
	"s.replace": {2, 2}, "s.rm": {1, 1}, "s.count": {1, 1},
	"s.strip": {1, 1}, "s.striptail": {1, 1}, "s.stripto": {1, 1},
	"s.before": {1, 1}, "s.after": {1, 1}, "s.rbefore": {1, 1}, "s.rafter": {1, 1},
	"s.unquote": {}, "s.unbracket": {}, "s.charat": {1, 1}, "s.byteat": {1, 1}, "s.ftime": {1, 1},
	"line.count": {}, "line.at": {1, 1}, "line.sw": {1, 1},
	"uri.user": {}, "uri.host": {}, "uri.port": {}, "uri.params": {}, "uri.param": {1, 1},
	"uri.transport": {}, "uri.scheme": {}, "uri.passwd": {}, "uri.headers": {},
	"nameaddr.uri": {}, "nameaddr.name": {}, "nameaddr.len": {},
	"tobody.uri": {}, "tobody.display": {}, "tobody.tag": {}, "tobody.user": {}, "tobody.host": {},
	"param.value": {1, 2}, "param.count": {},
	"param.in": {1, 2}, "param.valueat": {1, 2}, "param.name": {1, 2},
	"uri.duri": {}, "uri.saor": {}, "uri.suri": {}, "uri.rmparam": {1, 1}, "uri.ttl": {},
	"uri.uparam": {}, "uri.maddr": {}, "uri.method": {}, "uri.lr": {}, "uri.r2": {},
	"s.sha3": {0, 1}, "s.intv": {}, "s.selectsw": {1, 1}, "s.rmhdws": {}, "s.rmhlws": {},
	"s.encode.base64url": {}, "s.decode.base64url": {}, "s.encode.base64urlt": {}, "s.decode.base64urlt": {},
}

func (t trans) check() string {
	n, ok := transArgs[t.key]
	if !ok {
		return "unsupported transformation {" + t.class + "." + t.name + "}"
	}
	if len(t.args) < n.min || len(t.args) > n.max {
		want := strconv.Itoa(n.min)
		if n.max != n.min {
			want += " to " + strconv.Itoa(n.max)
		}
		return "{" + t.class + "." + t.name + "} takes " + want + " arguments, got " + strconv.Itoa(len(t.args))
	}
	return ""
}

// arg is the i-th argument; one starting with '$' is a pseudo-variable
// read when the transformation runs, as Kamailio allows
// ({s.strip,$var(n)}).
func (t trans) arg(ctx *core.Ctx, i int) (string, bool) {
	a := t.args[i]
	if len(a) > 1 && a[0] == '$' {
		v, ok := value(ctx, a)
		if !ok {
			return "", false
		}
		return v.String(), true
	}
	return a, true
}

// intArg is the i-th argument as a number.
func (t trans) intArg(ctx *core.Ctx, i int) (int, bool) {
	a, ok := t.arg(ctx, i)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(a))
	return n, err == nil
}

// apply runs a transformation; ok is false for a null result.
func (t trans) apply(ctx *core.Ctx, v core.Value) (core.Value, bool) {
	switch t.class {
	case "sql":
		return sqlVal(v)
	case "line":
		return t.line(ctx, v)
	case "s":
		if r, ok, done := t.str2(ctx, v); done {
			return r, ok
		}
	}
	s := v.String()
	switch t.key {
	case "s.len":
		return core.Int(int64(len(s))), true
	case "s.int":
		i := 0
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		n, _ := strconv.Atoi(s[:i])
		return core.Int(int64(n)), true
	case "s.tolower":
		return core.Str(strings.ToLower(s)), true
	case "s.toupper":
		return core.Str(strings.ToUpper(s)), true
	case "s.trim":
		return core.Str(strings.TrimSpace(s)), true
	case "s.rtrim":
		return core.Str(strings.TrimRight(s, " \t\r\n")), true
	case "s.ltrim":
		return core.Str(strings.TrimLeft(s, " \t\r\n")), true
	case "s.substr":
		off, ok1 := t.intArg(ctx, 0)
		n, ok2 := t.intArg(ctx, 1)
		if !ok1 || !ok2 {
			return core.Value{}, false
		}
		if off < 0 {
			off += len(s)
		}
		if off < 0 || off > len(s) {
			return core.Value{}, false
		}
		end := len(s)
		if n > 0 && off+n < end {
			end = off + n
		}
		return core.Str(s[off:end]), true
	case "s.select":
		idx, ok1 := t.intArg(ctx, 0)
		sep, ok2 := t.arg(ctx, 1)
		if !ok1 || !ok2 || sep == "" {
			return core.Value{}, false
		}
		f := strings.Split(s, sep[:1])
		if idx < 0 {
			idx += len(f)
		}
		if idx < 0 || idx >= len(f) {
			return core.Value{}, false
		}
		return core.Str(f[idx]), true
	case "nameaddr.uri", "nameaddr.name", "nameaddr.len", "tobody.uri", "tobody.display", "tobody.tag", "tobody.user", "tobody.host":
		na, err := sip.ParseNameAddr([]byte(s))
		if err != nil {
			return core.Value{}, false
		}
		switch t.name {
		case "uri":
			return core.Str(string(na.URI)), true
		case "name", "display":
			return core.Str(string(na.DisplayName())), na.Display != nil
		case "len":
			return core.Int(int64(len(s))), true
		case "tag":
			return core.Str(string(na.Tag)), na.Tag != nil
		}
		u, err := sip.ParseURI(na.URI)
		if err != nil {
			return core.Value{}, false
		}
		if t.name == "user" {
			return core.Str(string(u.User)), len(u.User) > 0
		}
		return core.Str(string(u.Host)), true
	case "param.value":
		sep := ";"
		if len(t.args) == 2 && t.args[1] != "" {
			sep = t.args[1][:1]
		}
		want, _ := t.arg(ctx, 0)
		for _, p := range strings.Split(s, sep) {
			name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(name), want) {
				return core.Str(strings.TrimSpace(val)), true
			}
		}
		return core.Value{}, false
	case "param.count":
		n := 0
		for _, p := range strings.Split(s, ";") {
			if strings.TrimSpace(p) != "" {
				n++
			}
		}
		return core.Int(int64(n)), true
	case "param.in", "param.valueat", "param.name":
		return t.paramList(ctx, s)
	}
	// uri.*
	u, err := sip.ParseURI([]byte(s))
	if err != nil {
		return core.Value{}, false
	}
	if r, ok, done := t.uri2(ctx, s, u); done {
		return r, ok
	}
	switch t.name {
	case "user":
		return core.Str(string(u.User)), len(u.User) > 0
	case "host":
		return core.Str(string(u.Host)), len(u.Host) > 0
	case "port":
		if u.Port == 0 {
			return core.Value{}, false
		}
		return core.Int(int64(u.Port)), true
	case "params":
		return core.Str(strings.TrimPrefix(string(u.Params), ";")), len(u.Params) > 0
	case "param":
		v, ok := u.Params.Get(t.args[0])
		return core.Str(string(v)), ok
	case "transport":
		v, ok := u.Params.Get("transport")
		return core.Str(string(v)), ok
	case "scheme":
		return core.Str(string(u.Scheme)), true
	case "passwd":
		return core.Str(string(u.Password)), u.HasPassword()
	case "headers":
		return core.Str(string(u.Headers)), len(u.Headers) > 0
	}
	return core.Value{}, false
}
