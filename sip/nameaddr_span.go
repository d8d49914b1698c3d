package sip

// NameAddrSpan returns where, in Raw(), the display name and URI of n (a
// name-addr read from this message) are written: from the display name
// (or the '<', or the URI) to the end of the URI (or the '>' after it),
// leaving out the header parameters (;tag=...). ok is false when n does
// not point into this message. uac rewrites this span, and tm puts the
// request's back into replies.
func (m *Msg) NameAddrSpan(n *NameAddr) (start, end int, ok bool) {
	raw := m.buf
	u := m.OffsetOf(n.URI)
	if u < 0 {
		return 0, 0, false
	}
	start, end = u, u+len(n.URI)
	if n.Angle {
		for start > int(m.start) && raw[start-1] != '<' {
			start--
		}
		if start == int(m.start) {
			return 0, 0, false
		}
		start--
		for end < len(raw) && raw[end] != '>' {
			end++
		}
		if end == len(raw) {
			return 0, 0, false
		}
		end++
	}
	if len(n.Display) > 0 {
		if d := m.OffsetOf(n.Display); d >= 0 && d < start {
			start = d
		}
	}
	return start, end, true
}
