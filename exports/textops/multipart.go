package textops

import (
	"bytes"
	"encoding/hex"
	"strings"

	"kemi/core"
	"kemi/sip"
)

// defaultBoundary is the boundary Kamailio uses when it makes a body
// multipart.
const defaultBoundary = "unique-boundary-1"

// bodyPart is one body part of a multipart body (RFC 2046 §5.1).
type bodyPart struct {
	raw     []byte // headers, blank line and content
	headers []byte // header lines, each with its CRLF
	ctype   []byte // Content-Type value, trimmed
	content []byte // without the CRLF that belongs to the next delimiter
}

// boundary returns the boundary parameter of a multipart Content-Type.
func boundary(m *sip.Msg) ([]byte, bool) {
	ct := m.ContentType()
	semi := bytes.IndexByte(ct, ';')
	if semi < 0 || !bytes.HasPrefix(bytes.ToLower(bytes.TrimSpace(ct[:semi])), []byte("multipart/")) {
		return nil, false
	}
	b, ok := sip.Params(ct[semi:]).Get("boundary")
	return b, ok && len(b) > 0
}

// parts splits body at the delimiters of boundary b.
func parts(body, b []byte) []bodyPart {
	delim := append([]byte("--"), b...)
	var out []bodyPart
	i := bytes.Index(body, delim)
	for i >= 0 {
		// Skip the delimiter line.
		j := i + len(delim)
		if bytes.HasPrefix(body[j:], []byte("--")) {
			break // close delimiter
		}
		nl := bytes.IndexByte(body[j:], '\n')
		if nl < 0 {
			break
		}
		start := j + nl + 1
		next := bytes.Index(body[start:], delim)
		if next < 0 {
			break
		}
		end := start + next
		raw := body[start:end]
		content := raw
		// The CRLF before a delimiter belongs to it.
		content = bytes.TrimSuffix(content, []byte("\n"))
		content = bytes.TrimSuffix(content, []byte("\r"))
		p := bodyPart{raw: raw}
		if h := bytes.Index(content, []byte("\r\n\r\n")); h >= 0 {
			p.headers, p.content = content[:h+2], content[h+4:]
		} else if bytes.HasPrefix(content, []byte("\r\n")) {
			p.content = content[2:]
		} else {
			p.content = content
		}
		for _, l := range bytes.Split(p.headers, []byte("\r\n")) {
			if c := bytes.IndexByte(l, ':'); c > 0 && strings.EqualFold(string(bytes.TrimSpace(l[:c])), "Content-Type") {
				p.ctype = bytes.TrimSpace(l[c+1:])
			}
		}
		out = append(out, p)
		i = end
	}
	return out
}

// mediaIs tells whether a Content-Type value is the media type want.
func mediaIs(ct []byte, want string) bool {
	if s := bytes.IndexByte(ct, ';'); s >= 0 {
		ct = ct[:s]
	}
	return strings.EqualFold(string(bytes.TrimSpace(ct)), want)
}

func getBodyPart(ctx *core.Ctx, fn, ctype, pv string, raw bool) int {
	m := ctx.Msg
	if m == nil || len(m.Body()) == 0 {
		return -1
	}
	b, ok := boundary(m)
	if !ok {
		// Not multipart: the whole body, as Kamailio gives it.
		return b2i(setPV(ctx, fn, pv, string(m.Body())))
	}
	for _, p := range parts(m.Body(), b) {
		if !mediaIs(p.ctype, ctype) {
			continue
		}
		if raw {
			return b2i(setPV(ctx, fn, pv, string(p.raw)))
		}
		// Kamailio keeps the CRLF before the next delimiter, which ends
		// the last line of an SDP.
		return b2i(setPV(ctx, fn, pv, string(p.raw[cap(p.raw)-cap(p.content):])))
	}
	return -1
}

// GetBodyPart stores in pv the content of the first body part of type
// ctype (the whole body when it is not multipart).
func GetBodyPart(ctx *core.Ctx, ctype, pv string) int {
	return getBodyPart(ctx, "get_body_part", ctype, pv, false)
}

// GetBodyPartRaw is GetBodyPart with the part's headers.
func GetBodyPartRaw(ctx *core.Ctx, ctype, pv string) int {
	return getBodyPart(ctx, "get_body_part_raw", ctype, pv, true)
}

// FilterBody keeps only the first part of type ctype of a multipart body:
// it becomes the body, and its type the Content-Type.
func FilterBody(ctx *core.Ctx, ctype string) int {
	m := ctx.Msg
	if m == nil || len(m.Body()) == 0 {
		return -1
	}
	b, ok := boundary(m)
	if !ok {
		ctx.Log(core.LWarn, "textops: filter_body: the body is not multipart\n")
		return -1
	}
	for _, p := range parts(m.Body(), b) {
		if mediaIs(p.ctype, ctype) {
			st := scratch(ctx)
			st.buf = append(st.buf[:0], p.content...)
			m.SetBody(st.buf, string(p.ctype))
			return 1
		}
	}
	return -1
}

// build writes a multipart body of ps plus an optional new part.
func build(dst []byte, b []byte, ps []bodyPart, extra *bodyPart, cd string) []byte {
	write := func(headers, content []byte) {
		dst = append(dst, "--"...)
		dst = append(dst, b...)
		dst = append(dst, "\r\n"...)
		dst = append(dst, headers...)
		dst = append(dst, "\r\n"...)
		dst = append(dst, content...)
		dst = append(dst, "\r\n"...)
	}
	for _, p := range ps {
		write(p.headers, p.content)
	}
	if extra != nil {
		var h []byte
		h = append(h, "Content-Type: "...)
		h = append(h, extra.ctype...)
		h = append(h, "\r\n"...)
		if cd != "" {
			h = append(h, "Content-Disposition: "...)
			h = append(h, cd...)
			h = append(h, "\r\n"...)
		}
		write(h, extra.content)
	}
	dst = append(dst, "--"...)
	dst = append(dst, b...)
	return append(dst, "--\r\n"...)
}

// RemoveBodyPart removes the parts of type ctype from a multipart body.
func RemoveBodyPart(ctx *core.Ctx, ctype string) int {
	m := ctx.Msg
	if m == nil || len(m.Body()) == 0 {
		return -1
	}
	b, ok := boundary(m)
	if !ok {
		ctx.Log(core.LErr, "textops: remove_body_part: the body is not multipart\n")
		return -1
	}
	all := parts(m.Body(), b)
	keep := all[:0:0]
	for _, p := range all {
		if !mediaIs(p.ctype, ctype) {
			keep = append(keep, p)
		}
	}
	if len(keep) == len(all) {
		return -1
	}
	st := scratch(ctx)
	st.buf = build(st.buf[:0], b, keep, nil, "")
	m.SetBody(st.buf, "")
	return 1
}

// AppendBodyPart adds a part to the body, making it multipart/mixed
// (boundary "unique-boundary-1", with Mime-Version: 1.0) when it is not:
// a body already there becomes the first part.
func AppendBodyPart(ctx *core.Ctx, txt, ctype string) int {
	return appendPart(ctx, "append_body_part", []byte(txt), ctype, "")
}

// AppendBodyPartCd is AppendBodyPart with a Content-Disposition.
func AppendBodyPartCd(ctx *core.Ctx, txt, ctype, cd string) int {
	return appendPart(ctx, "append_body_part_cd", []byte(txt), ctype, cd)
}

// AppendBodyPartHex is AppendBodyPart with the content in hex.
func AppendBodyPartHex(ctx *core.Ctx, htxt, ctype string) int {
	return AppendBodyPartHexCd(ctx, htxt, ctype, "")
}

// AppendBodyPartHexCd is AppendBodyPartCd with the content in hex.
func AppendBodyPartHexCd(ctx *core.Ctx, htxt, ctype, cd string) int {
	b, err := hex.DecodeString(strings.ReplaceAll(htxt, " ", ""))
	if err != nil {
		return logErr(ctx, "append_body_part_hex", err)
	}
	return appendPart(ctx, "append_body_part_hex", b, ctype, cd)
}

func appendPart(ctx *core.Ctx, fn string, content []byte, ctype, cd string) int {
	m := ctx.Msg
	if m == nil {
		return -1
	}
	if ctype == "" {
		ctx.Log(core.LErr, "textops: "+fn+": a Content-Type is needed\n")
		return -1
	}
	st := scratch(ctx)
	b, multi := boundary(m)
	var ps []bodyPart
	switch {
	case multi:
		ps = parts(m.Body(), b)
	case len(m.Body()) > 0:
		old := bodyPart{content: m.Body()}
		if ct := m.ContentType(); ct != nil {
			old.headers = append(append(append([]byte(nil), "Content-Type: "...), ct...), "\r\n"...)
		}
		ps = []bodyPart{old}
		b = []byte(defaultBoundary)
	default:
		b = []byte(defaultBoundary)
	}
	// b may point into the body being replaced: copy it first.
	b = append([]byte(nil), b...)
	st.buf = build(st.buf[:0], b, ps, &bodyPart{ctype: []byte(ctype), content: content}, cd)
	newCT := ""
	if !multi {
		newCT = "multipart/mixed;boundary=\"" + string(b) + "\""
		if !m.HasHeader("Mime-Version") {
			if err := m.AppendHeader("Mime-Version", []byte("1.0")); err != nil {
				return logErr(ctx, fn, err)
			}
		}
	}
	m.SetBody(st.buf, newCT)
	return 1
}

// setMultibody makes the body multipart/mixed: with txt (of type ctype,
// text/plain by default) as its one part when txt is given, else with the
// current body as that part. A body that is already multipart is left as
// it is when no txt is given. boundary defaults to unique-boundary-1.
func setMultibody(ctx *core.Ctx, fn, txt, ctype, bnd string) int {
	m := ctx.Msg
	if m == nil {
		return -1
	}
	if _, multi := boundary(m); multi && txt == "" {
		return 1
	}
	if bnd == "" {
		bnd = defaultBoundary
	}
	p := bodyPart{content: []byte(txt)}
	if ctype == "" {
		ctype = "text/plain"
	}
	p.headers = []byte("Content-Type: " + ctype + "\r\n")
	if txt == "" {
		if len(m.Body()) == 0 {
			ctx.Log(core.LWarn, "textops: "+fn+": no body to put in a multipart body\n")
			return -1
		}
		p.content = m.Body()
		if ct := m.ContentType(); ct != nil {
			p.headers = []byte("Content-Type: " + string(ct) + "\r\n")
		}
	}
	st := scratch(ctx)
	st.buf = build(st.buf[:0], []byte(bnd), []bodyPart{p}, nil, "")
	if !m.HasHeader("Mime-Version") {
		if err := m.AppendHeader("Mime-Version", []byte("1.0")); err != nil {
			return logErr(ctx, fn, err)
		}
	}
	m.SetBody(st.buf, "multipart/mixed;boundary=\""+bnd+"\"")
	return 1
}

// SetBodyMultipart is set_body_multipart(txt, ctype, boundary).
func SetBodyMultipart(ctx *core.Ctx, txt, ctype, bnd string) int {
	return setMultibody(ctx, "set_body_multipart", txt, ctype, bnd)
}

// SetBodyMultipartContent is set_body_multipart with the default boundary.
func SetBodyMultipartContent(ctx *core.Ctx, txt, ctype string) int {
	return setMultibody(ctx, "set_body_multipart_content", txt, ctype, "")
}

// SetBodyMultipartBoundary turns the current body into a multipart body
// with the given boundary.
func SetBodyMultipartBoundary(ctx *core.Ctx, bnd string) int {
	return setMultibody(ctx, "set_body_multipart_boundary", "", "", bnd)
}

// SetBodyMultipartMode turns the current body into a multipart body.
func SetBodyMultipartMode(ctx *core.Ctx) int {
	return setMultibody(ctx, "set_body_multipart_mode", "", "", "")
}
