package pv

// Kamailio's further uri.* and param.* transformations (issue 18), after
// pv_trans.c: as there, a part the URI lacks gives "" (the older
// uri.user, uri.transport, ... give null, as kemi always has).

import (
	"strconv"
	"strings"

	"kemi/core"
	"kemi/sip"
)

// uri2 runs uri.duri, uri.saor, uri.suri, uri.rmparam and the named
// parameters; done is false for the others.
func (t trans) uri2(ctx *core.Ctx, s string, u sip.URI) (core.Value, bool, bool) {
	param := func(name string) (core.Value, bool, bool) {
		v, _ := u.Params.Get(name)
		return core.Str(string(v)), true, true
	}
	switch t.name {
	case "duri", "saor", "suri":
		// scheme:[user@]host[:port][;transport=x], as Kamailio
		// rebuilds it: duri has no user, saor no port or transport.
		var b strings.Builder
		b.Write(u.Scheme)
		b.WriteByte(':')
		if len(u.User) > 0 && t.name != "duri" {
			b.Write(u.User)
			b.WriteByte('@')
		}
		b.Write(u.Host)
		if t.name != "saor" {
			if u.Port != 0 {
				b.WriteByte(':')
				b.WriteString(strconv.Itoa(u.Port))
			}
			if tr, ok := u.Params.Get("transport"); ok && len(tr) > 0 {
				b.WriteString(";transport=")
				b.Write(tr)
			}
		}
		return core.Str(b.String()), true, true
	case "rmparam":
		name, ok := t.arg(ctx, 0)
		if !ok {
			return null, false, true
		}
		return core.Str(rmURIParam(s, u, name)), true, true
	case "ttl":
		return param("ttl")
	case "uparam":
		return param("user")
	case "maddr":
		return param("maddr")
	case "method":
		return param("method")
	case "lr":
		return param("lr")
	case "r2":
		return param("r2")
	}
	return null, false, false
}

// rmURIParam is s without its URI parameter name (any case), or s when
// it has none.
func rmURIParam(s string, u sip.URI, name string) string {
	params := string(u.Params)
	end := len(s)
	if u.Headers != nil {
		end = len(s) - len(u.Headers) - 1
	}
	start := end - len(params)
	if params == "" || start < 0 || end > len(s) || s[start:end] != params {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:start])
	for _, p := range strings.Split(strings.TrimPrefix(params, ";"), ";") {
		n, _, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(n), name) {
			continue
		}
		b.WriteByte(';')
		b.WriteString(p)
	}
	b.WriteString(s[end:])
	return b.String()
}

// paramList runs param.in, param.valueat and param.name on a list such
// as "a=1;b=2" (the separator is ';' unless given). An index counts
// from 0, a negative one from the end; one past the list gives "".
func (t trans) paramList(ctx *core.Ctx, s string) (core.Value, bool) {
	sep := ";"
	if len(t.args) == 2 {
		if len(t.args[1]) != 1 {
			return null, false
		}
		sep = t.args[1]
	}
	if len(s) > 1 && strings.HasSuffix(s, sep) {
		s = s[:len(s)-1]
	}
	var names, vals []string
	for _, p := range strings.Split(s, sep) {
		if strings.TrimSpace(p) == "" {
			continue
		}
		n, v, _ := strings.Cut(p, "=")
		names = append(names, strings.TrimSpace(n))
		vals = append(vals, strings.TrimSpace(v))
	}
	if len(names) == 0 {
		return null, false
	}
	if t.name == "in" {
		want, ok := t.arg(ctx, 0)
		if !ok {
			return null, false
		}
		for _, n := range names {
			if strings.EqualFold(n, want) {
				return core.Int(1), true
			}
		}
		return core.Int(0), true
	}
	i, ok := t.intArg(ctx, 0)
	if !ok {
		return null, false
	}
	if i < 0 {
		i += len(names)
	}
	if i < 0 || i >= len(names) {
		return core.Str(""), true
	}
	if t.name == "name" {
		return core.Str(names[i]), true
	}
	return core.Str(vals[i]), true
}
