package sdpops

import (
	"bytes"
	"strings"
)

// SDP is a body split into its session part and media sections, line by
// line, enough to remove codecs, lines and streams and to write it back.
// nathelper's fix_nated_sdp and rtpproxy rewrite addresses in place and
// need no more than a line scan; this is the one parser of SDP
// structure, and rtpproxy reuses it for m= ports.
type SDP struct {
	Session []string // lines before the first m=, without line ends
	Media   []*Media
	EOL     string // "\r\n" or "\n", as the body had it
}

// Media is one m= section.
type Media struct {
	Type, Port, Proto string   // m=<type> <port> <proto> <fmt...>
	Fmts              []string // payload types
	Lines             []string // the lines after m=
}

// Parse splits body. It never fails: lines it does not understand stay
// where they were.
func Parse(body []byte) *SDP {
	s := &SDP{EOL: "\r\n"}
	if i := bytes.IndexByte(body, '\n'); i > 0 && body[i-1] != '\r' {
		s.EOL = "\n"
	}
	var cur *Media
	for _, l := range strings.Split(string(body), "\n") {
		l = strings.TrimRight(l, "\r")
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "m=") {
			f := strings.Fields(l[2:])
			cur = &Media{}
			if len(f) > 0 {
				cur.Type = f[0]
			}
			if len(f) > 1 {
				cur.Port = f[1]
			}
			if len(f) > 2 {
				cur.Proto = f[2]
			}
			if len(f) > 3 {
				cur.Fmts = f[3:]
			}
			s.Media = append(s.Media, cur)
			continue
		}
		if cur == nil {
			s.Session = append(s.Session, l)
		} else {
			cur.Lines = append(cur.Lines, l)
		}
	}
	return s
}

// Bytes writes the SDP back.
func (s *SDP) Bytes() []byte {
	var b bytes.Buffer
	for _, l := range s.Session {
		b.WriteString(l)
		b.WriteString(s.EOL)
	}
	for _, m := range s.Media {
		b.WriteString("m=" + m.Type + " " + m.Port + " " + m.Proto)
		for _, f := range m.Fmts {
			b.WriteString(" " + f)
		}
		b.WriteString(s.EOL)
		for _, l := range m.Lines {
			b.WriteString(l)
			b.WriteString(s.EOL)
		}
	}
	return b.Bytes()
}

// staticNames are the RFC 3551 payload types a body may use without an
// a=rtpmap line.
var staticNames = map[string]string{
	"0": "PCMU", "3": "GSM", "4": "G723", "5": "DVI4", "6": "DVI4", "7": "LPC", "8": "PCMA",
	"9": "G722", "10": "L16", "11": "L16", "12": "QCELP", "13": "CN", "14": "MPA", "15": "G728",
	"16": "DVI4", "17": "DVI4", "18": "G729", "25": "CelB", "26": "JPEG", "28": "nv",
	"31": "H261", "32": "MPV", "33": "MP2T", "34": "H263",
}

// CodecName is the encoding name of payload type pt in m: its a=rtpmap,
// else the static name.
func (m *Media) CodecName(pt string) string {
	for _, l := range m.Lines {
		if v, ok := strings.CutPrefix(l, "a=rtpmap:"); ok {
			id, rest, _ := strings.Cut(v, " ")
			if id == pt {
				name, _, _ := strings.Cut(strings.TrimSpace(rest), "/")
				return name
			}
		}
	}
	return staticNames[pt]
}

// attrPT is the payload type an a=rtpmap/fmtp/rtcp-fb line is about, or "".
func attrPT(l string) string {
	for _, p := range [...]string{"a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"} {
		if v, ok := strings.CutPrefix(l, p); ok {
			id, _, _ := strings.Cut(v, " ")
			return id
		}
	}
	return ""
}

// Filter keeps the payload types keep says yes to, with their attribute
// lines; it returns how many it removed.
func (m *Media) Filter(keep func(pt string) bool) int {
	removed := 0
	fmts := m.Fmts[:0]
	gone := map[string]bool{}
	for _, f := range m.Fmts {
		if keep(f) {
			fmts = append(fmts, f)
		} else {
			gone[f] = true
			removed++
		}
	}
	m.Fmts = fmts
	if removed > 0 {
		lines := m.Lines[:0]
		for _, l := range m.Lines {
			if pt := attrPT(l); pt != "" && gone[pt] {
				continue
			}
			lines = append(lines, l)
		}
		m.Lines = lines
	}
	return removed
}

// Inactive says whether the stream is off: port 0 or a=inactive.
func (m *Media) Inactive() bool {
	if m.Port == "0" {
		return true
	}
	for _, l := range m.Lines {
		if l == "a=inactive" {
			return true
		}
	}
	return false
}

// IsSDP reports whether a Content-Type value is application/sdp.
func IsSDP(ct []byte) bool {
	ct = bytes.TrimSpace(ct)
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = bytes.TrimSpace(ct[:i])
	}
	return bytes.EqualFold(ct, []byte("application/sdp"))
}
