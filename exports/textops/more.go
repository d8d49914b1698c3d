package textops

import (
	"bytes"
	"encoding/hex"
	"regexp"
	"strings"

	"kemi/core"
)

// setPV assigns s to the writable pseudo-variable named pv ("$var(x)").
func setPV(ctx *core.Ctx, fn, pv string, s string) bool {
	name, arg, ok := core.SplitPV(pv)
	set := core.LookupPVSetter(name)
	if !ok || set == nil {
		ctx.Log(core.LErr, "textops: "+fn+": "+quote([]byte(pv))+" is not a writable pseudo-variable\n")
		return false
	}
	if err := set(ctx, arg, core.Str(s)); err != nil {
		ctx.Log(core.LErr, "textops: "+fn+": "+core.LogValue(err.Error())+"\n")
		return false
	}
	return true
}

// SearchStr is 1 when the regular expression matches text.
func SearchStr(ctx *core.Ctx, text, expr string) int {
	re, err := compile(expr, false)
	if err != nil {
		return logErr(ctx, "search_str", err)
	}
	return b2i(re.MatchString(text))
}

// SubstV applies "/re/repl/flags" to text and stores the result in the
// pseudo-variable pv; -1 when nothing matched (pv is left alone).
func SubstV(ctx *core.Ctx, text, expr, pv string) int {
	se, err := parseSubst(expr)
	if err != nil {
		return logErr(ctx, "subst_v", err)
	}
	st := scratch(ctx)
	out, n := se.replace(ctx, st.buf[:0], []byte(text), se.global)
	st.buf = out
	if n == 0 {
		return -1
	}
	return b2i(setPV(ctx, "subst_v", pv, string(out)))
}

// RegexSubstring stores in pv the group mindex of the first match of expr
// in text; mcount is the number of groups to look at (mindex < mcount).
// -2 when there is no match, -1 on errors or an empty group.
func RegexSubstring(ctx *core.Ctx, text, expr string, mindex, mcount int, pv string) int {
	if mindex < 0 || mindex > mcount-1 {
		ctx.Log(core.LErr, "textops: regex_substring: the match index must be below the match count\n")
		return -1
	}
	re, err := compile(expr, false)
	if err != nil {
		return logErr(ctx, "regex_substring", err)
	}
	m := re.FindStringSubmatchIndex(text)
	if m == nil {
		return -2
	}
	if 2*mindex+1 >= len(m) || m[2*mindex] < 0 || m[2*mindex] == m[2*mindex+1] {
		return -1
	}
	return b2i(setPV(ctx, "regex_substring", pv, text[m[2*mindex]:m[2*mindex+1]]))
}

// literalRe compiles a plain string match (case-sensitive).
func literalRe(s string) (*regexp.Regexp, error) { return compile(regexp.QuoteMeta(s), false) }

func replaceStr(ctx *core.Ctx, fn, mkey, rval, mode string, hdrs, body bool) int {
	if mkey == "" {
		return 1
	}
	re, err := literalRe(mkey)
	if err != nil {
		return logErr(ctx, fn, err)
	}
	all := mode != "" && mode[0] != 'f' && mode[0] != 'F'
	return rewrite(ctx, fn, literal(re, rval), all, hdrs, body)
}

// ReplaceStr replaces the string mkey with rval in the headers and body:
// the first one (mode "f") or all ("a").
func ReplaceStr(ctx *core.Ctx, mkey, rval, mode string) int {
	return replaceStr(ctx, "replace_str", mkey, rval, mode, true, true)
}

// ReplaceHdrsStr is ReplaceStr on the headers.
func ReplaceHdrsStr(ctx *core.Ctx, mkey, rval, mode string) int {
	return replaceStr(ctx, "replace_hdrs_str", mkey, rval, mode, true, false)
}

// ReplaceBodyStr is ReplaceStr on the body.
func ReplaceBodyStr(ctx *core.Ctx, mkey, rval, mode string) int {
	return replaceStr(ctx, "replace_body_str", mkey, rval, mode, false, true)
}

// ReplaceBodyAtonce replaces every match in the body; kemi replaces all
// matches in one pass anyway, so it is replace_body_all.
func ReplaceBodyAtonce(ctx *core.Ctx, expr, txt string) int {
	return replaceRe(ctx, "replace_body_atonce", expr, txt, true, false, true)
}

// RemoveHFMatch removes the headers named hname whose value matches expr:
// op "eq" equal, "ne" not equal, "in" contains (all case-sensitive), "re"
// regular expression (case-insensitive). 1 when one was removed.
func RemoveHFMatch(ctx *core.Ctx, hname, op, expr string) int {
	var re *regexp.Regexp
	switch strings.ToLower(op) {
	case "eq", "ne", "in":
	case "re":
		var err error
		if re, err = compile(expr, true); err != nil {
			return logErr(ctx, "remove_hf_match", err)
		}
	default:
		ctx.Log(core.LErr, "textops: remove_hf_match: expected operator eq, ne, in or re, got "+quote([]byte(op))+"\n")
		return -1
	}
	if ctx.Msg == nil {
		return -1
	}
	n := 0
	for it := ctx.Msg.Lines(hname); it.Next(); {
		v := it.Value()
		var rm bool
		switch strings.ToLower(op) {
		case "eq":
			rm = string(v) == expr
		case "ne":
			rm = string(v) != expr
		case "in":
			rm = bytes.Contains(v, []byte(expr))
		case "re":
			rm = re.Match(v)
		}
		if !rm {
			continue
		}
		if err := ctx.Msg.RemoveHeaderAt(it.Index()); err != nil {
			return logErr(ctx, "remove_hf_match", err)
		}
		n++
	}
	if n == 0 {
		return -2
	}
	return 1
}

// IsAudioOnHold tells whether an audio stream of the SDP body is on hold:
// 1 for the RFC 2543 way (c= 0.0.0.0), 2 for the RFC 3264 way (a=sendonly
// or a=inactive, on the stream or the session); -1 when not.
func IsAudioOnHold(ctx *core.Ctx) int {
	if HasBodyType(ctx, "application/sdp") < 0 {
		return -1
	}
	body := ctx.Msg.Body()
	sessHold, hold, inAudio, seenMedia := 0, 0, false, false
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimRight(line, "\r")
		switch {
		case bytes.HasPrefix(line, []byte("m=")):
			if inAudio && hold != 0 {
				return hold
			}
			seenMedia = true
			inAudio = bytes.HasPrefix(line, []byte("m=audio "))
			hold = sessHold
		case bytes.HasPrefix(line, []byte("c=")) && (bytes.HasSuffix(line, []byte(" 0.0.0.0")) || bytes.HasSuffix(line, []byte(" ::"))):
			if seenMedia {
				hold = 1
			} else {
				sessHold = 1
			}
		case bytes.Equal(line, []byte("a=sendonly")) || bytes.Equal(line, []byte("a=inactive")):
			if seenMedia {
				hold = 2
			} else if sessHold == 0 {
				sessHold = 2
			}
		}
	}
	if inAudio && hold != 0 {
		return hold
	}
	return -1
}

// IsPrivacy is 1 when the Privacy header holds the value (none, id,
// header, session, user, critical; case ignored).
func IsPrivacy(ctx *core.Ctx, value string) int {
	if ctx.Msg == nil || value == "" {
		return -1
	}
	for it := ctx.Msg.Lines("Privacy"); it.Next(); {
		for _, f := range bytes.FieldsFunc(it.Value(), func(r rune) bool { return r == ';' || r == ',' || r == ' ' }) {
			if strings.EqualFold(string(f), value) {
				return 1
			}
		}
	}
	return -1
}

// SetBodyHex sets the body from hex text ("48656c6c6f").
func SetBodyHex(ctx *core.Ctx, htxt, ctype string) int {
	b, err := hex.DecodeString(strings.ReplaceAll(htxt, " ", ""))
	if err != nil {
		return logErr(ctx, "set_body_hex", err)
	}
	if ctx.Msg == nil {
		return -1
	}
	ctx.Msg.SetBody(b, ctype)
	return 1
}
