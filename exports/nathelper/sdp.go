package nathelper

import (
	"bytes"
	"net/netip"

	"kemi/core"
)

// fix_nated_sdp levels, Kamailio's flags.
const (
	sdpAddDirection = 0x01 // a=direction:active in each media section
	sdpFixMediaIP   = 0x02 // c= (and a=rtcp) addresses become the source
	sdpAddNoRTP     = 0x04 // nortpproxy_str at the end of the body
	sdpFixOriginIP  = 0x08 // o= address too
)

// FixNatedSDP is fix_nated_sdp.
func FixNatedSDP(ctx *core.Ctx, level int) int {
	return fixSDP(ctx, "fix_nated_sdp", level, ctx.Src.Addr())
}

// FixNatedSDPIP is fix_nated_sdp_ip.
func FixNatedSDPIP(ctx *core.Ctx, level int, ip string) int {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Zone() != "" {
		ctx.Log(core.LErr, "nathelper: fix_nated_sdp_ip: "+core.LogQuote(ip)+" is not an IP address\n")
		return -1
	}
	return fixSDP(ctx, "fix_nated_sdp_ip", level, a)
}

// ipField finds "IP4 addr" or "IP6 addr" in an SDP line value: the start
// of "IPx", the address and where it ends.
func ipField(v []byte) (start int, addr []byte, end int, ok bool) {
	i := 0
	for i < len(v) {
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
		s := i
		for i < len(v) && v[i] != ' ' && v[i] != '\t' {
			i++
		}
		tok := v[s:i]
		if len(tok) == 3 && tok[0] == 'I' && tok[1] == 'P' && (tok[2] == '4' || tok[2] == '6') {
			for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
				i++
			}
			as := i
			for i < len(v) && v[i] != ' ' && v[i] != '\t' && v[i] != '/' {
				i++
			}
			if i == as {
				return 0, nil, 0, false
			}
			return s, v[as:i], i, true
		}
	}
	return 0, nil, 0, false
}

func fixSDP(ctx *core.Ctx, fn string, level int, to netip.Addr) int {
	m := ctx.Msg
	if !isSDP(m) {
		ctx.Log(core.LErr, "nathelper: "+fn+": the message has no SDP body\n")
		return -1
	}
	st := stateOf(ctx)
	to = to.Unmap()
	body := m.Body()
	out := st.body[:0]
	old := st.old[:0] // a=oldmediaip lines
	count, media := 0, false
	keepOld := ctx.RT == nil || ctx.RT.Reg == nil || ctx.RT.Param("nathelper", "append_sdp_oldmediaip").I != 0
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i+1], body[i+1:]
		} else {
			body = nil
		}
		text := bytes.TrimRight(line, "\r\n")
		if level&sdpAddDirection != 0 && bytes.HasPrefix(text, []byte("m=")) {
			if media {
				out = append(out, "a=direction:active\r\n"...)
			}
			media = true
		}
		fix := level&sdpFixMediaIP != 0 && (bytes.HasPrefix(text, []byte("c=")) || bytes.HasPrefix(text, []byte("a=rtcp:"))) ||
			level&sdpFixOriginIP != 0 && bytes.HasPrefix(text, []byte("o="))
		if fix {
			if s, addr, e, ok := ipField(text); ok {
				a, aok := parseHost(addr)
				if !(aok && a.IsUnspecified()) && !(aok && a.Unmap() == to) {
					out = append(out, text[:s]...)
					if to.Is4() {
						out = append(out, "IP4 "...)
					} else {
						out = append(out, "IP6 "...)
					}
					out = to.AppendTo(out)
					out = append(out, text[e:]...)
					out = append(out, line[len(text):]...)
					if keepOld {
						if text[s+2] == '6' {
							old = append(old, "a=oldmediaip6:"...)
						} else {
							old = append(old, "a=oldmediaip:"...)
						}
						old = append(append(old, addr...), "\r\n"...)
					}
					count++
					continue
				}
			}
		}
		out = append(out, line...)
	}
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, "\r\n"...)
	}
	if level&sdpAddDirection != 0 && media {
		out = append(out, "a=direction:active\r\n"...)
	}
	out = append(out, old...)
	if level&sdpAddNoRTP != 0 {
		if s := st.noRTP; s != "" {
			out = append(append(out, s...), "\r\n"...)
		}
	}
	st.body, st.old = out, old
	if !bytes.Equal(out, m.Body()) {
		m.SetBody(out, "")
	}
	if count > 0 {
		return 1
	}
	return 2
}
