// Package textops implements module textops: search and replace with
// regular expressions on the message, header checks and removal, body
// checks, and string comparisons.
//
// Regular expressions are Go's (RE2), compiled once and cached; searches
// see the message as received, as in Kamailio. Substitutions work on the
// header block (everything after the first line) and the body; their
// results become edits: each changed header line is removed and written
// again, a changed body is replaced. A match may span header lines, but
// not the end of the headers.
package textops

import (
	"bytes"
	"strings"

	"kemi/core"
	"kemi/sip"
)

func b2i(ok bool) int {
	if ok {
		return 1
	}
	return -1
}

func logErr(ctx *core.Ctx, fn string, err error) int {
	ctx.Log(core.LErr, "textops: "+fn+": "+core.LogValue(err.Error())+"\n")
	return -1
}

// IsPresentHF is 1 when the message has a header named hname.
func IsPresentHF(ctx *core.Ctx, hname string) int {
	return b2i(ctx.Msg != nil && hname != "" && ctx.Msg.HasHeader(hname))
}

// IsPresentHFRe is 1 when a header name matches the regular expression.
func IsPresentHFRe(ctx *core.Ctx, expr string) int {
	re, err := compile(expr, false)
	if err != nil {
		return logErr(ctx, "is_present_hf_re", err)
	}
	if ctx.Msg == nil {
		return -1
	}
	for i := 0; i < ctx.Msg.NumHeaders(); i++ {
		name, _ := ctx.Msg.HeaderAt(i)
		if re.Match(name) {
			return 1
		}
	}
	return -1
}

// RemoveHF removes every header named hname; 1 when one was removed, -1
// when there was none.
func RemoveHF(ctx *core.Ctx, hname string) int {
	if ctx.Msg == nil || hname == "" {
		return -1
	}
	n, err := ctx.Msg.RemoveHeader(hname)
	if err != nil {
		return logErr(ctx, "remove_hf", err)
	}
	return b2i(n > 0)
}

// removeMatching removes the headers whose name matches match and not skip.
func removeMatching(ctx *core.Ctx, fn, match, skip string) int {
	re, err := compile(match, true)
	if err != nil {
		return logErr(ctx, fn, err)
	}
	var sk interface{ Match([]byte) bool }
	if skip != "" {
		r, err := compile(skip, true)
		if err != nil {
			return logErr(ctx, fn, err)
		}
		sk = r
	}
	if ctx.Msg == nil {
		return -1
	}
	n := 0
	for i := 0; i < ctx.Msg.NumHeaders(); i++ {
		name, _ := ctx.Msg.HeaderAt(i)
		if !fullMatch(re, name) || sk != nil && sk.Match(name) {
			continue
		}
		if err := ctx.Msg.RemoveHeaderAt(i); err != nil {
			return logErr(ctx, fn, err)
		}
		n++
	}
	return b2i(n > 0)
}

// fullMatch tells whether re matches all of b (Kamailio anchors header
// name expressions).
func fullMatch(re interface {
	FindIndex([]byte) []int
}, b []byte) bool {
	loc := re.FindIndex(b)
	return loc != nil && loc[0] == 0 && loc[1] == len(b)
}

// RemoveHFRe removes the headers whose whole name matches the expression.
func RemoveHFRe(ctx *core.Ctx, expr string) int { return removeMatching(ctx, "remove_hf_re", expr, "") }

// RemoveHFExp removes the headers whose name matches ematch but not eskip.
func RemoveHFExp(ctx *core.Ctx, ematch, eskip string) int {
	return removeMatching(ctx, "remove_hf_exp", ematch, eskip)
}

// RemoveHFIdx removes the idx-th header named hname (0 the first, -1 the
// last).
func RemoveHFIdx(ctx *core.Ctx, hname string, idx int) int {
	if ctx.Msg == nil || hname == "" {
		return -1
	}
	if idx < 0 {
		idx += ctx.Msg.CountHeader(hname)
		if idx < 0 {
			return -1
		}
	}
	it := ctx.Msg.Lines(hname)
	for n := 0; it.Next(); n++ {
		if n == idx {
			if err := ctx.Msg.RemoveHeaderAt(it.Index()); err != nil {
				return logErr(ctx, "remove_hf_idx", err)
			}
			return 1
		}
	}
	return -1
}

// Search is 1 when the expression (case-insensitive) matches somewhere in
// the message as received.
func Search(ctx *core.Ctx, expr string) int {
	if expr == "" {
		return 1
	}
	re, err := compile(expr, true)
	if err != nil {
		return logErr(ctx, "search", err)
	}
	return b2i(ctx.Msg != nil && re.Match(ctx.Msg.Raw()))
}

// SearchBody is Search on the body.
func SearchBody(ctx *core.Ctx, expr string) int {
	re, err := compile(expr, true)
	if err != nil {
		return logErr(ctx, "search_body", err)
	}
	return b2i(ctx.Msg != nil && len(ctx.Msg.Body()) > 0 && re.Match(ctx.Msg.Body()))
}

// SearchHF is 1 when the value of a header named hname matches the
// expression; flags "f" checks the first such header, "l" the last, ""
// any.
func SearchHF(ctx *core.Ctx, hname, expr, flags string) int {
	re, err := compile(expr, false)
	if err != nil {
		return logErr(ctx, "search_hf", err)
	}
	if ctx.Msg == nil {
		return -1
	}
	var last []byte
	found := false
	for it := ctx.Msg.Lines(hname); it.Next(); {
		v := it.Value()
		switch flags {
		case "f":
			return b2i(re.Match(v))
		case "l":
			last, found = v, true
		default:
			if re.Match(v) {
				return 1
			}
		}
	}
	return b2i(found && re.Match(last))
}

// HasBody is 1 when the message has a body (Content-Length above 0).
func HasBody(ctx *core.Ctx) int {
	return b2i(ctx.Msg != nil && len(ctx.Msg.Body()) > 0 && ctx.Msg.ContentLength() != 0)
}

// HasBodyType is 1 when the message has a body of the given media type
// ("application/sdp"); without a Content-Type, the body is taken to be
// application/sdp as RFC 3261 says.
func HasBodyType(ctx *core.Ctx, ctype string) int {
	if HasBody(ctx) < 0 {
		return -1
	}
	if ctype == "" {
		return 1
	}
	ct := ctx.Msg.ContentType()
	if ct == nil {
		return b2i(strings.EqualFold(ctype, "application/sdp"))
	}
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return b2i(strings.EqualFold(string(bytes.TrimSpace(ct)), ctype))
}

// SetBody replaces the body (and Content-Type when ctype is not empty).
func SetBody(ctx *core.Ctx, body, ctype string) int {
	if ctx.Msg == nil {
		return -1
	}
	ctx.Scratch = append(ctx.Scratch[:0], body...)
	ctx.Msg.SetBody(ctx.Scratch, ctype)
	return 1
}

// Subst is KSR.textops.subst("/re/repl/flags") on the headers and body.
func Subst(ctx *core.Ctx, expr string) int {
	se, err := parseSubst(expr)
	if err != nil {
		return logErr(ctx, "subst", err)
	}
	return rewrite(ctx, "subst", se, se.global, true, true)
}

// SubstBody is subst on the body only.
func SubstBody(ctx *core.Ctx, expr string) int {
	se, err := parseSubst(expr)
	if err != nil {
		return logErr(ctx, "subst_body", err)
	}
	return rewrite(ctx, "subst_body", se, se.global, false, true)
}

// SubstURI applies "/re/repl/flags" to the Request-URI.
func SubstURI(ctx *core.Ctx, expr string) int {
	se, err := parseSubst(expr)
	if err != nil {
		return logErr(ctx, "subst_uri", err)
	}
	if ctx.Msg == nil || !ctx.Msg.IsRequest() {
		return -1
	}
	out, n := se.replace(ctx, ctx.Scratch[:0], ctx.Msg.RequestURI(), se.global)
	ctx.Scratch = out
	if n == 0 {
		return -1
	}
	if _, err := sip.ParseURI(out); err != nil {
		return logErr(ctx, "subst_uri", errorf("the result "+core.LogQuote(out)+" is not a URI: "+core.LogValue(err.Error())))
	}
	ctx.Msg.SetRequestURI(out)
	return 1
}

// SubstUser applies "/re/repl/flags" to the user part of the Request-URI.
func SubstUser(ctx *core.Ctx, expr string) int {
	se, err := parseSubst(expr)
	if err != nil {
		return logErr(ctx, "subst_user", err)
	}
	if ctx.Msg == nil || !ctx.Msg.IsRequest() {
		return -1
	}
	uri := ctx.Msg.RequestURI()
	u, err := sip.ParseURI(uri)
	if err != nil || !u.IsSIP() {
		return -1
	}
	us := len(u.Scheme) + 1
	ue := us + len(u.User)
	hasUser := u.User != nil
	var user [256]byte
	nu, n := se.replace(ctx, user[:0], u.User, se.global)
	if n == 0 {
		return -1
	}
	out := append(ctx.Scratch[:0], uri[:us]...)
	out = append(out, nu...)
	switch {
	case hasUser:
		out = append(out, uri[ue:]...)
	case len(nu) > 0:
		out = append(out, '@')
		out = append(out, uri[us:]...)
	default:
		out = append(out, uri[us:]...)
	}
	if len(nu) == 0 && hasUser && ue < len(uri) && uri[ue] == '@' {
		out = append(out[:us], uri[ue+1:]...)
	}
	ctx.Scratch = out
	ctx.Msg.SetRequestURI(out)
	return 1
}

// SubstHF applies "/re/repl/flags" to the values of headers named hname:
// flags "a" all of them, "f" the first, "l" the last.
func SubstHF(ctx *core.Ctx, hname, expr, flags string) int {
	se, err := parseSubst(expr)
	if err != nil {
		return logErr(ctx, "subst_hf", err)
	}
	if ctx.Msg == nil {
		return -1
	}
	m := ctx.Msg
	var idx [sip.MaxHeaders]int
	n := 0
	for it := m.Lines(hname); it.Next(); {
		idx[n] = it.Index()
		n++
	}
	sel := idx[:n]
	switch flags {
	case "f":
		if n > 0 {
			sel = idx[:1]
		}
	case "l":
		if n > 0 {
			sel = idx[n-1 : n]
		}
	case "a", "":
	default:
		return logErr(ctx, "subst_hf", errorf("expected flags a, f or l, got "+core.LogQuote(flags)))
	}
	done := 0
	st := scratch(ctx)
	for _, i := range sel {
		name, val := m.HeaderAt(i)
		out, k := se.replace(ctx, st.buf[:0], val, se.global)
		st.buf = out
		if k == 0 {
			continue
		}
		if err := m.RemoveHeaderAt(i); err != nil {
			return logErr(ctx, "subst_hf", err)
		}
		if err := m.InsertHeaderBefore(i, string(name), out); err != nil {
			return logErr(ctx, "subst_hf", err)
		}
		done++
	}
	return b2i(done > 0)
}

// Replace replaces the first match (case-insensitive) in the headers and
// body with txt.
func Replace(ctx *core.Ctx, expr, txt string) int {
	return replaceRe(ctx, "replace", expr, txt, false, true, true)
}

// ReplaceAll replaces every match in the headers and body with txt.
func ReplaceAll(ctx *core.Ctx, expr, txt string) int {
	return replaceRe(ctx, "replace_all", expr, txt, true, true, true)
}

// ReplaceBody replaces the first match in the body with txt.
func ReplaceBody(ctx *core.Ctx, expr, txt string) int {
	return replaceRe(ctx, "replace_body", expr, txt, false, false, true)
}

// ReplaceBodyAll replaces every match in the body with txt.
func ReplaceBodyAll(ctx *core.Ctx, expr, txt string) int {
	return replaceRe(ctx, "replace_body_all", expr, txt, true, false, true)
}

// ReplaceHdrs replaces every match in the headers with txt.
func ReplaceHdrs(ctx *core.Ctx, expr, txt string) int {
	return replaceRe(ctx, "replace_hdrs", expr, txt, true, true, false)
}

// SearchAppend adds txt after the first match in the headers and body.
func SearchAppend(ctx *core.Ctx, expr, txt string) int {
	re, err := compile(expr, true)
	if err != nil {
		return logErr(ctx, "search_append", err)
	}
	return rewrite(ctx, "search_append", appending(re, txt), false, true, true)
}

// SearchAppendBody adds txt after the first match in the body.
func SearchAppendBody(ctx *core.Ctx, expr, txt string) int {
	re, err := compile(expr, true)
	if err != nil {
		return logErr(ctx, "search_append_body", err)
	}
	return rewrite(ctx, "search_append_body", appending(re, txt), false, false, true)
}

func replaceRe(ctx *core.Ctx, fn, expr, txt string, global, hdrs, body bool) int {
	re, err := compile(expr, true)
	if err != nil {
		return logErr(ctx, fn, err)
	}
	return rewrite(ctx, fn, literal(re, txt), global, hdrs, body)
}

// CmpStr compares two strings: 1 equal, -1 s1 greater, -2 s1 smaller.
func CmpStr(ctx *core.Ctx, s1, s2 string) int { return cmpRet(strings.Compare(s1, s2)) }

// CmpIstr compares two strings ignoring ASCII case.
func CmpIstr(ctx *core.Ctx, s1, s2 string) int {
	return cmpRet(strings.Compare(strings.ToLower(s1), strings.ToLower(s2)))
}

func cmpRet(c int) int {
	switch {
	case c == 0:
		return 1
	case c > 0:
		return -1
	}
	return -2
}

// StartsWith is 1 when s starts with prefix.
func StartsWith(ctx *core.Ctx, s, prefix string) int {
	if len(s) < len(prefix) {
		return -1
	}
	return cmpRet(strings.Compare(s[:len(prefix)], prefix))
}

// EndsWith is 1 when s ends with suffix.
func EndsWith(ctx *core.Ctx, s, suffix string) int {
	if len(s) < len(suffix) {
		return -1
	}
	return cmpRet(strings.Compare(s[len(s)-len(suffix):], suffix))
}

// StrFind is the 1-based position of needle in s, or -1.
func StrFind(ctx *core.Ctx, s, needle string) int {
	if i := strings.Index(s, needle); i >= 0 && len(needle) <= len(s) {
		return i + 1
	}
	return -1
}

// StrIfind is StrFind ignoring ASCII case.
func StrIfind(ctx *core.Ctx, s, needle string) int {
	for i := 0; i+len(needle) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(needle)], needle) {
			return i + 1
		}
	}
	return -1
}

// StrAnyIn is 1 when s holds any character of chars.
func StrAnyIn(ctx *core.Ctx, s, chars string) int {
	return b2i(s != "" && chars != "" && strings.ContainsAny(s, chars))
}

// StrAllIn is 1 when every character of s is in chars.
func StrAllIn(ctx *core.Ctx, s, chars string) int {
	if s == "" || chars == "" {
		return -1
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(chars, s[i]) < 0 {
			return -1
		}
	}
	return 1
}

// InList is 1 when subject is one of the sep-separated items of list
// (items trimmed of whitespace).
func InList(ctx *core.Ctx, subject, list, sep string) int {
	return inList(subject, list, sep, false)
}

// InListPrefix is 1 when an item of list is a prefix of subject.
func InListPrefix(ctx *core.Ctx, subject, list, sep string) int {
	return inList(subject, list, sep, true)
}

func inList(subject, list, sep string, prefix bool) int {
	if subject == "" || list == "" || sep == "" {
		return -1
	}
	for list != "" {
		item, rest, _ := strings.Cut(list, sep[:1])
		item = strings.Trim(item, " \t\r\n")
		if prefix && item != "" && strings.HasPrefix(subject, item) || !prefix && item == subject {
			return 1
		}
		list = rest
	}
	return -1
}

type errString string

func (e errString) Error() string { return string(e) }

func errorf(s string) error { return errString(s) }
