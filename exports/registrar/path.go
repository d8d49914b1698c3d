package registrar

import (
	"strconv"

	"kemi/core"
	"kemi/sip"
)

// Path (RFC 3327) on the registrar's side: save stores the REGISTER's
// Path values with the binding, in order, and lookup routes through
// them (lookup.go).

// MaxPath bounds the Path a binding stores, all values together: the
// size of the path column of Kamailio's location table. A REGISTER with
// more is refused (400), so a flood of Path headers cannot grow the
// location table.
const MaxPath = 512

// savePath reads the REGISTER's Path values into s.pathVal and the echo
// for the 200 into s.path, per path_mode. ok is false when the REGISTER
// was refused (r is save's return then).
func savePath(ctx *core.Ctx, c *config, s *state, flags int) (r int, ok bool) {
	m := ctx.Msg
	s.path, s.pathVal = s.path[:0], s.pathVal[:0]
	if !c.usePath || !m.HasHeader("Path") {
		return 0, true
	}
	n := 0
	for it := m.ValuesID(sip.HdrPath); it.Next(); {
		v := it.Value()
		if _, err := sip.ParseNameAddr(v); err != nil {
			return reject(ctx, flags, 400, "Bad Path", "registrar: save: Path: "+core.LogValue(err.Error())), false
		}
		if len(s.pathVal)+len(v)+1 > MaxPath {
			return reject(ctx, flags, 400, "Path Too Long", "registrar: save: Path values over "+strconv.Itoa(MaxPath)+" bytes"), false
		}
		if n > 0 {
			s.pathVal = append(s.pathVal, ',')
		}
		s.pathVal = append(s.pathVal, v...)
		n++
	}
	supported := m.HasOption(sip.HdrSupported, "path")
	if c.pathMode == 2 && !supported {
		// RFC 3327 5.3: a registrar that stores Path needs the client to
		// say it supports it.
		ctx.Count(statRejected)
		ctx.Log(core.LNotice, "registrar: save: Path without Supported: path (path_mode 2)\n")
		s.pathVal = s.pathVal[:0]
		h := append(s.hdrs[:0], "Unsupported: path\r\n"...)
		h = appendPathEcho(h, m)
		s.hdrs = h
		respond(ctx, flags, 420, "Bad Extension", h)
		return -1, false
	}
	if c.pathMode != 0 && supported {
		s.path = appendPathEcho(s.path, m)
	}
	return 0, true
}

// appendPathEcho appends the REGISTER's Path lines as they came.
func appendPathEcho(b []byte, m *sip.Msg) []byte {
	for it := m.LinesID(sip.HdrPath); it.Next(); {
		b = append(b, "Path: "...)
		b = append(b, it.Value()...)
		b = append(b, "\r\n"...)
	}
	return b
}

// pathReceived returns the received parameter of the first Path URI,
// unescaped (path_use_received), or "".
func pathReceived(path []byte) string {
	sp := sip.SplitCommas(path)
	v, ok := sp.Next()
	if !ok {
		return ""
	}
	na, err := sip.ParseNameAddr(v)
	if err != nil {
		return ""
	}
	u, err := sip.ParseURI(na.URI)
	if err != nil {
		return ""
	}
	r, ok := u.Params.Get("received")
	if !ok || len(r) == 0 {
		return ""
	}
	out := make([]byte, 0, len(r))
	for i := 0; i < len(r); i++ {
		if r[i] == '%' && i+2 < len(r) {
			if x, err := strconv.ParseUint(string(r[i+1:i+3]), 16, 8); err == nil {
				out = append(out, byte(x))
				i += 2
				continue
			}
		}
		out = append(out, r[i])
	}
	if _, err := sip.ParseURI(out); err != nil {
		return ""
	}
	return string(out)
}
