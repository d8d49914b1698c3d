package pv

import (
	"strconv"
	"strings"

	"kemi/core"
	"kemi/sip"
)

// trans is one parsed transformation, such as {s.substr,1,3}.
type trans struct {
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
		t := trans{class: cls, name: name, args: parts[1:]}
		if e := t.check(); e != "" {
			return "", nil, true, e
		}
		ts = append(ts, t)
	}
	return base, ts, true, ""
}

var transArgs = map[string]int{
	"s.len": 0, "s.int": 0, "s.tolower": 0, "s.toupper": 0, "s.trim": 0, "s.rtrim": 0,
	"s.ltrim": 0, "s.substr": 2, "s.select": 2,
	"uri.user": 0, "uri.host": 0, "uri.port": 0, "uri.params": 0, "uri.param": 1,
	"uri.transport": 0, "uri.scheme": 0, "uri.passwd": 0, "uri.headers": 0,
	"nameaddr.uri": 0, "nameaddr.name": 0, "nameaddr.len": 0,
	"tobody.uri": 0, "tobody.display": 0, "tobody.tag": 0, "tobody.user": 0, "tobody.host": 0,
	"param.value": 1, "param.count": 0,
}

func (t trans) check() string {
	n, ok := transArgs[t.class+"."+t.name]
	if !ok {
		return "unsupported transformation {" + t.class + "." + t.name + "}"
	}
	if len(t.args) != n && !(t.class == "param" && t.name == "value" && len(t.args) == 2) {
		return "{" + t.class + "." + t.name + "} takes " + strconv.Itoa(n) + " arguments, got " + strconv.Itoa(len(t.args))
	}
	return ""
}

// apply runs a transformation; ok is false for a null result.
func (t trans) apply(v core.Value) (core.Value, bool) {
	s := v.String()
	switch t.class + "." + t.name {
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
		off, err1 := strconv.Atoi(t.args[0])
		n, err2 := strconv.Atoi(t.args[1])
		if err1 != nil || err2 != nil {
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
		idx, err := strconv.Atoi(t.args[0])
		if err != nil || t.args[1] == "" {
			return core.Value{}, false
		}
		f := strings.Split(s, t.args[1][:1])
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
		for _, p := range strings.Split(s, sep) {
			name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(name), t.args[0]) {
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
	}
	// uri.*
	u, err := sip.ParseURI([]byte(s))
	if err != nil {
		return core.Value{}, false
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
