// Package hdr implements module hdr: add, remove and read header lines of
// the current message, and collect header lines for the next reply kemi
// sends to it (append_to_reply).
//
// Text arguments are whole header lines, as in Kamailio:
// KSR.hdr.append("X-Info: yes\r\n"). A text may hold several lines; a last
// line without CRLF gets one. Like every edit, an added header does not
// show in reads (is_present, get) of the same message: reads see the
// message as received.
package hdr

import (
	"bytes"
	"regexp"
	"strings"

	"kemi/core"
	"kemi/internal/recache"
	"kemi/sip"
)

// state is a worker's buffer for the text of an edit; nothing in it
// lasts past a call.
type state struct {
	buf []byte
}

var scratch = core.NewMsgState(func(old *state) state { return state{buf: old.buf[:0]} })

func get(ctx *core.Ctx) *state { return scratch.Get(ctx) }

// line is one header line of a text argument.
type line struct{ name, value []byte }

// eachLine splits text into header lines and calls fn for each; folded
// continuation lines stay in their header's value. It reports false when
// a line is not "Name: value".
func eachLine(text []byte, fn func(l line) error) (bool, error) {
	text = bytes.TrimRight(text, "\r\n")
	if len(text) == 0 {
		return false, nil
	}
	for len(text) > 0 {
		// The line ends at a line break not followed by SP or HT.
		end := len(text)
		next := len(text)
		for i := 0; i < len(text); i++ {
			if text[i] != '\n' {
				continue
			}
			if i+1 < len(text) && (text[i+1] == ' ' || text[i+1] == '\t') {
				continue
			}
			end, next = i, i+1
			if end > 0 && text[end-1] == '\r' {
				end--
			}
			break
		}
		l := text[:end]
		text = text[next:]
		colon := bytes.IndexByte(l, ':')
		if colon <= 0 {
			return false, nil
		}
		name := bytes.TrimRight(l[:colon], " \t")
		for _, c := range name {
			if c <= ' ' || c >= 0x7f {
				return false, nil
			}
		}
		if err := fn(line{name: name, value: bytes.TrimLeft(l[colon+1:], " \t")}); err != nil {
			return true, err
		}
	}
	return true, nil
}

// edit applies fn to every line of txt, logging what went wrong.
func edit(ctx *core.Ctx, fn string, txt string, add func(m *sip.Msg, l line) error) int {
	if ctx.Msg == nil {
		return -1
	}
	st := get(ctx)
	// Copy the text once: the sip edits take []byte and copy again.
	st.buf = append(st.buf[:0], txt...)
	// Check every line before adding any, so a bad text changes nothing.
	ok, _ := eachLine(st.buf, func(line) error { return nil })
	var err error
	if ok {
		_, err = eachLine(st.buf, func(l line) error { return add(ctx.Msg, l) })
	}
	if !ok {
		ctx.Log(core.LErr, "hdr: "+fn+": expected header lines \"Name: value\\r\\n\", got "+quote(txt)+"\n")
		return -1
	}
	if err != nil {
		ctx.Log(core.LErr, "hdr: "+fn+": "+core.LogValue(err.Error())+"\n")
		return -1
	}
	return 1
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\r':
			b = append(b, `\r`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return string(append(b, '"'))
}

// first returns the index of the first header line named name, or -1.
func first(m *sip.Msg, name string) int {
	it := m.Lines(name)
	if it.Next() {
		return it.Index()
	}
	return -1
}

// Append adds header lines after the last header.
func Append(ctx *core.Ctx, txt string) int {
	return edit(ctx, "append", txt, func(m *sip.Msg, l line) error {
		return m.AppendHeader(string(l.name), l.value)
	})
}

// AppendAfter adds header lines after the first header named hname, or
// after the last header when there is none.
func AppendAfter(ctx *core.Ctx, txt, hname string) int {
	if ctx.Msg == nil {
		return -1
	}
	k := first(ctx.Msg, hname)
	return edit(ctx, "append_after", txt, func(m *sip.Msg, l line) error {
		if k < 0 {
			return m.AppendHeader(string(l.name), l.value)
		}
		return m.InsertHeaderAfter(k, string(l.name), l.value)
	})
}

// Insert adds header lines before the first header.
func Insert(ctx *core.Ctx, txt string) int {
	return edit(ctx, "insert", txt, func(m *sip.Msg, l line) error {
		return m.InsertHeaderBefore(0, string(l.name), l.value)
	})
}

// InsertBefore adds header lines before the first header named hname, or
// before the first header when there is none.
func InsertBefore(ctx *core.Ctx, txt, hname string) int {
	if ctx.Msg == nil {
		return -1
	}
	k := first(ctx.Msg, hname)
	if k < 0 {
		k = 0
	}
	return edit(ctx, "insert_before", txt, func(m *sip.Msg, l line) error {
		return m.InsertHeaderBefore(k, string(l.name), l.value)
	})
}

// Remove removes every header line named hname (full or compact form).
func Remove(ctx *core.Ctx, hname string) int {
	if ctx.Msg == nil || hname == "" {
		return -1
	}
	if _, err := ctx.Msg.RemoveHeader(hname); err != nil {
		ctx.Log(core.LErr, "hdr: remove "+hname+": "+core.LogValue(err.Error())+"\n")
		return -1
	}
	return 1
}

// IsPresent tells whether a header named hname is in the message.
func IsPresent(ctx *core.Ctx, hname string) int {
	if ctx.Msg != nil && hname != "" && ctx.Msg.HasHeader(hname) {
		return 1
	}
	return -1
}

// RmAppend removes headers named hrm, then appends hadd.
func RmAppend(ctx *core.Ctx, hrm, hadd string) int {
	if r := Remove(ctx, hrm); r < 0 {
		return r
	}
	return Append(ctx, hadd)
}

// RmInsert removes headers named hrm, then inserts hadd at the top.
func RmInsert(ctx *core.Ctx, hrm, hadd string) int {
	if r := Remove(ctx, hrm); r < 0 {
		return r
	}
	return Insert(ctx, hadd)
}

// AppendToReply keeps header lines for the reply kemi sends to this
// message (sl, tm).
func AppendToReply(ctx *core.Ctx, txt string) int {
	if ctx.Msg == nil {
		return -1
	}
	st := get(ctx)
	st.buf = append(st.buf[:0], txt...)
	// All lines or none: check them before the first goes in.
	if ok, _ := eachLine(st.buf, func(line) error { return nil }); ok {
		eachLine(st.buf, func(l line) error {
			ctx.AddReplyHeader(l.name, l.value)
			return nil
		})
		return 1
	}
	ctx.Log(core.LErr, "hdr: append_to_reply: expected header lines \"Name: value\\r\\n\", got "+quote(txt)+"\n")
	return -1
}

type mode uint8

const (
	nullNone mode = iota
	nullEmpty
	nullPrint
)

// value returns the idx-th (from 0; negative counts from the end) header
// line value named hname.
func value(ctx *core.Ctx, hname string, idx int, md mode) core.Value {
	var v []byte
	found := false
	if ctx.Msg != nil && hname != "" {
		if idx >= 0 {
			it := ctx.Msg.Lines(hname)
			for n := 0; it.Next(); n++ {
				if n == idx {
					v, found = it.Value(), true
					break
				}
			}
		} else {
			n := ctx.Msg.CountHeader(hname)
			want := n + idx
			it := ctx.Msg.Lines(hname)
			for k := 0; want >= 0 && it.Next(); k++ {
				if k == want {
					v, found = it.Value(), true
					break
				}
			}
		}
	}
	if !found {
		switch md {
		case nullEmpty:
			return core.Str("")
		case nullPrint:
			return core.Str("<null>")
		}
		return core.Null()
	}
	return core.Str(string(v))
}

// Get is the first value of header hname, or null.
func Get(ctx *core.Ctx, hname string) core.Value { return value(ctx, hname, 0, nullNone) }

// Gete is Get with "" for a missing header.
func Gete(ctx *core.Ctx, hname string) core.Value { return value(ctx, hname, 0, nullEmpty) }

// Getw is Get with "<null>" for a missing header.
func Getw(ctx *core.Ctx, hname string) core.Value { return value(ctx, hname, 0, nullPrint) }

// GetIdx is the idx-th header hname (negative from the end), or null.
func GetIdx(ctx *core.Ctx, hname string, idx int) core.Value {
	return value(ctx, hname, idx, nullNone)
}

// GeteIdx is GetIdx with "" for a missing header.
func GeteIdx(ctx *core.Ctx, hname string, idx int) core.Value {
	return value(ctx, hname, idx, nullEmpty)
}

// GetwIdx is GetIdx with "<null>" for a missing header.
func GetwIdx(ctx *core.Ctx, hname string, idx int) core.Value {
	return value(ctx, hname, idx, nullPrint)
}

// regexps matches header values without case, as Kamailio's REG_ICASE.
var regexps = recache.New("(?i)")

func compileRe(expr string) (*regexp.Regexp, error) { return regexps.Compile(expr) }

// MatchContent compares the values (trimmed) of headers named hname with
// mval, ignoring case: op "eq" equal, "ne" not equal, "sw" starts with,
// "in" contains, "re" matches the regular expression mval. hidx picks
// which headers must match: "f" the first, "l" the last, "a" all, "o" at
// least one.
func MatchContent(ctx *core.Ctx, hname, op, mval, hidx string) bool {
	if ctx.Msg == nil || hname == "" || hidx == "" {
		return false
	}
	var re *regexp.Regexp
	switch strings.ToLower(op) {
	case "eq", "ne", "sw", "in":
	case "re":
		var err error
		if re, err = compileRe(mval); err != nil {
			ctx.Log(core.LErr, "hdr: match_content: bad regular expression "+quote(mval)+": "+core.LogValue(err.Error())+"\n")
			return false
		}
	default:
		ctx.Log(core.LErr, "hdr: match_content: expected operator eq, ne, sw, in or re, got "+quote(op)+"\n")
		return false
	}
	which := hidx[0] | 0x20
	if which != 'f' && which != 'l' && which != 'a' && which != 'o' {
		ctx.Log(core.LErr, "hdr: match_content: expected f, l, a or o to pick headers, got "+quote(hidx)+"\n")
		return false
	}
	matched, n := false, 0
	for it := ctx.Msg.Lines(hname); it.Next(); n++ {
		v := bytes.TrimSpace(it.Value())
		switch strings.ToLower(op) {
		case "eq":
			matched = sip.EqualFold(v, mval)
		case "ne":
			matched = !sip.EqualFold(v, mval)
		case "sw":
			matched = len(v) >= len(mval) && sip.EqualFold(v[:len(mval)], mval)
		case "in":
			matched = sip.ContainsFold(v, mval)
		case "re":
			matched = re.Match(v)
		}
		switch {
		case which == 'f':
			return matched
		case which == 'a' && !matched:
			return false
		case which == 'o' && matched:
			return true
		}
	}
	return n > 0 && matched
}
