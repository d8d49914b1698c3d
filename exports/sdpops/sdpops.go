// Package sdpops implements module sdpops: tests on the SDP body and edits
// of it (codecs, lines, streams), as Kamailio's sdpops. Edits replace the
// body through the message's edits, so Content-Length follows and a
// later call sees the edited body.
package sdpops

import (
	"strings"

	"kemi/core"
)

func body(ctx *core.Ctx) ([]byte, bool) {
	m := ctx.Msg
	ct := m.Header("Content-Type")
	if ct == nil {
		ct = m.Header("c")
	}
	b := m.Body()
	return b, len(b) > 0 && IsSDP(ct)
}

func parsed(ctx *core.Ctx, fn string) *SDP {
	b, ok := body(ctx)
	if !ok {
		ctx.Log(core.LDbg, "sdpops: "+fn+": the message has no SDP body\n")
		return nil
	}
	return Parse(b)
}

// media says whether m is of type mtype ("" is every type).
func media(m *Media, mtype string) bool { return mtype == "" || strings.EqualFold(m.Type, mtype) }

func list(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// hasCodec reports whether the list names s, ignoring case.
func hasCodec(l []string, s string) bool {
	for _, x := range l {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func filter(ctx *core.Ctx, fn, codecs, mtype string, byName, keep bool) int {
	s := parsed(ctx, fn)
	if s == nil {
		return -1
	}
	l := list(codecs)
	if len(l) == 0 {
		ctx.Log(core.LErr, "sdpops: "+fn+": empty codec list\n")
		return -1
	}
	n := 0
	for _, m := range s.Media {
		if !media(m, mtype) {
			continue
		}
		mm := m
		n += m.Filter(func(pt string) bool {
			id := pt
			if byName {
				id = mm.CodecName(pt)
			}
			return hasCodec(l, id) == keep
		})
	}
	if n > 0 {
		ctx.Msg.SetBody(s.Bytes(), "")
	}
	return 1
}

// RemoveCodecsByName is remove_codecs_by_name.
func RemoveCodecsByName(ctx *core.Ctx, codecs, mtype string) int {
	return filter(ctx, "remove_codecs_by_name", codecs, mtype, true, false)
}

// RemoveCodecsByID is remove_codecs_by_id.
func RemoveCodecsByID(ctx *core.Ctx, ids, mtype string) int {
	return filter(ctx, "remove_codecs_by_id", ids, mtype, false, false)
}

// KeepCodecsByName is keep_codecs_by_name.
func KeepCodecsByName(ctx *core.Ctx, codecs, mtype string) int {
	return filter(ctx, "keep_codecs_by_name", codecs, mtype, true, true)
}

// KeepCodecsByID is keep_codecs_by_id.
func KeepCodecsByID(ctx *core.Ctx, ids, mtype string) int {
	return filter(ctx, "keep_codecs_by_id", ids, mtype, false, true)
}

// RemoveLineByPrefix is remove_line_by_prefix.
func RemoveLineByPrefix(ctx *core.Ctx, prefix, mtype string) int {
	s := parsed(ctx, "remove_line_by_prefix")
	if s == nil || prefix == "" {
		return -1
	}
	n := 0
	drop := func(ls []string) []string {
		out := ls[:0]
		for _, l := range ls {
			if strings.HasPrefix(l, prefix) {
				n++
				continue
			}
			out = append(out, l)
		}
		return out
	}
	for _, m := range s.Media {
		if media(m, mtype) {
			m.Lines = drop(m.Lines)
		}
	}
	if n == 0 {
		return 2
	}
	ctx.Msg.SetBody(s.Bytes(), "")
	return 1
}

// RemoveMedia is remove_media: drop the streams of a type.
func RemoveMedia(ctx *core.Ctx, mtype string) int {
	s := parsed(ctx, "remove_media")
	if s == nil {
		return -1
	}
	keep := s.Media[:0]
	for _, m := range s.Media {
		if !strings.EqualFold(m.Type, mtype) {
			keep = append(keep, m)
		}
	}
	if len(keep) == len(s.Media) {
		return -1
	}
	s.Media = keep
	ctx.Msg.SetBody(s.Bytes(), "")
	return 1
}

// SDPContent is sdp_content.
func SDPContent(ctx *core.Ctx) int {
	if _, ok := body(ctx); ok {
		return 1
	}
	return -1
}

// SDPContentFlags is sdp_content_flags: 1 also accepts a body that only
// looks like SDP ("v=0" first) whatever its Content-Type.
func SDPContentFlags(ctx *core.Ctx, flags int) int {
	if SDPContent(ctx) > 0 {
		return 1
	}
	if flags&1 != 0 && strings.HasPrefix(string(ctx.Msg.Body()), "v=0") {
		return 1
	}
	return -1
}

// SDPWithICE is sdp_with_ice.
func SDPWithICE(ctx *core.Ctx) int {
	s := parsed(ctx, "sdp_with_ice")
	if s == nil {
		return -1
	}
	for _, m := range s.Media {
		for _, l := range m.Lines {
			if strings.HasPrefix(l, "a=candidate:") {
				return 1
			}
		}
	}
	return -1
}

// SDPWithMedia is sdp_with_media.
func SDPWithMedia(ctx *core.Ctx, mtype string) int {
	s := parsed(ctx, "sdp_with_media")
	if s == nil {
		return -1
	}
	for _, m := range s.Media {
		if strings.EqualFold(m.Type, mtype) {
			return 1
		}
	}
	return -1
}

// SDPWithActiveMedia is sdp_with_active_media.
func SDPWithActiveMedia(ctx *core.Ctx, mtype string) int {
	s := parsed(ctx, "sdp_with_active_media")
	if s == nil {
		return -1
	}
	for _, m := range s.Media {
		if strings.EqualFold(m.Type, mtype) && !m.Inactive() {
			return 1
		}
	}
	return -1
}

func withCodecs(ctx *core.Ctx, fn, codecs string, byName bool) int {
	s := parsed(ctx, fn)
	if s == nil {
		return -1
	}
	l := list(codecs)
	for _, m := range s.Media {
		for _, pt := range m.Fmts {
			id := pt
			if byName {
				id = m.CodecName(pt)
			}
			if hasCodec(l, id) {
				return 1
			}
		}
	}
	return -1
}

// SDPWithCodecsByName is sdp_with_codecs_by_name: 1 when any is there.
func SDPWithCodecsByName(ctx *core.Ctx, codecs string) int {
	return withCodecs(ctx, "sdp_with_codecs_by_name", codecs, true)
}

// SDPWithCodecsByID is sdp_with_codecs_by_id: 1 when any is there.
func SDPWithCodecsByID(ctx *core.Ctx, ids string) int {
	return withCodecs(ctx, "sdp_with_codecs_by_id", ids, false)
}

// SDPWithTransport is sdp_with_transport.
func SDPWithTransport(ctx *core.Ctx, proto string) int {
	return withTransport(ctx, "sdp_with_transport", proto, false)
}

// SDPWithTransportLike is sdp_with_transport_like: the transport contains proto.
func SDPWithTransportLike(ctx *core.Ctx, proto string) int {
	return withTransport(ctx, "sdp_with_transport_like", proto, true)
}

func withTransport(ctx *core.Ctx, fn, proto string, like bool) int {
	s := parsed(ctx, fn)
	if s == nil {
		return -1
	}
	for _, m := range s.Media {
		if like && strings.Contains(strings.ToUpper(m.Proto), strings.ToUpper(proto)) || !like && strings.EqualFold(m.Proto, proto) {
			return 1
		}
	}
	return -1
}

// setPV assigns v to a writable pseudo-variable named like "$avp(x)".
func setPV(ctx *core.Ctx, fn, spec string, v core.Value) int {
	name, arg, ok := core.SplitPV(spec)
	set := core.LookupPVSetter(name)
	if !ok || set == nil {
		ctx.Log(core.LErr, "sdpops: "+fn+": "+core.LogQuote(spec)+" is not a writable pseudo-variable\n")
		return -1
	}
	if err := set(ctx, arg, v); err != nil {
		ctx.Log(core.LErr, "sdpops: "+fn+": "+err.Error()+"\n")
		return -1
	}
	return 1
}

// SDPTransport is sdp_transport: the transport all m= lines share.
func SDPTransport(ctx *core.Ctx, pv string) int {
	s := parsed(ctx, "sdp_transport")
	if s == nil || len(s.Media) == 0 {
		return -1
	}
	t := s.Media[0].Proto
	for _, m := range s.Media[1:] {
		if !strings.EqualFold(m.Proto, t) {
			return -2
		}
	}
	return setPV(ctx, "sdp_transport", pv, core.Str(t))
}

// SDPGet is sdp_get: the whole SDP into a pseudo-variable.
func SDPGet(ctx *core.Ctx, pv string) int {
	b, ok := body(ctx)
	if !ok {
		return -2
	}
	return setPV(ctx, "sdp_get", pv, core.Str(string(b)))
}

// SDPGetLineStartswith is sdp_get_line_startswith: the first line that
// starts with prefix into a pseudo-variable.
func SDPGetLineStartswith(ctx *core.Ctx, pv, prefix string) int {
	b, ok := body(ctx)
	if !ok {
		return -2
	}
	if prefix == "" {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimRight(l, "\r"); strings.HasPrefix(l, prefix) {
			return setPV(ctx, "sdp_get_line_startswith", pv, core.Str(l))
		}
	}
	return -1
}

// SDPGetAddressFamily is sdp_get_address_family: 4 or 6 from the first c= line.
func SDPGetAddressFamily(ctx *core.Ctx) int {
	s := parsed(ctx, "sdp_get_address_family")
	if s == nil {
		return -1
	}
	lines := s.Session
	for _, m := range s.Media {
		lines = append(lines[:len(lines):len(lines)], m.Lines...)
	}
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, "c=IN "); ok {
			switch {
			case strings.HasPrefix(v, "IP4"):
				return 4
			case strings.HasPrefix(v, "IP6"):
				return 6
			}
		}
	}
	return -1
}
