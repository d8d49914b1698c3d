package permissions

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"kemi/core"
)

// Trusted is one record of Kamailio's trusted table: requests from SrcIP
// over Proto whose From URI (and Request-URI) match are trusted.
type Trusted struct {
	SrcIP    string // as the source address prints
	Proto    core.Proto
	AnyProto bool
	From     *regexp.Regexp // nil: any From
	RURI     *regexp.Regexp // nil: any Request-URI
	Tag      string
	Priority int
}

var trustedProtos = map[string]core.Proto{"udp": core.UDP, "tcp": core.TCP, "tls": core.TLS, "ws": core.WS, "wss": core.WSS}

// ParseTrusted parses "src_ip proto [from_pattern [ruri_pattern [tag
// [priority]]]]"; proto is any, udp, tcp, tls, ws or wss; a pattern "-"
// matches everything, as a NULL column does in Kamailio.
func ParseTrusted(line string) (r Trusted, ok bool, err error) {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	f := strings.Fields(line)
	if len(f) == 0 {
		return r, false, nil
	}
	if len(f) < 2 || len(f) > 6 {
		return r, false, fmt.Errorf("expected src_ip proto [from_pattern [ruri_pattern [tag [priority]]]], got %d fields", len(f))
	}
	a, err := parseAddr(f[0])
	if err != nil {
		return r, false, err
	}
	r.SrcIP = a.String()
	switch p := strings.ToLower(f[1]); p {
	case "any", "none":
		r.AnyProto = true
	default:
		pr, known := trustedProtos[p]
		if !known {
			return r, false, fmt.Errorf("proto %q: expected any, udp, tcp, tls, ws or wss", f[1])
		}
		r.Proto = pr
	}
	pattern := func(s string) (*regexp.Regexp, error) {
		if s == "-" {
			return nil, nil
		}
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %v", s, err)
		}
		return re, nil
	}
	if len(f) > 2 {
		if r.From, err = pattern(f[2]); err != nil {
			return r, false, err
		}
	}
	if len(f) > 3 {
		if r.RURI, err = pattern(f[3]); err != nil {
			return r, false, err
		}
	}
	if len(f) > 4 && f[4] != "-" {
		r.Tag = f[4]
	}
	if len(f) > 5 {
		if r.Priority, err = strconv.Atoi(f[5]); err != nil {
			return r, false, fmt.Errorf("priority %q: expected an integer", f[5])
		}
	}
	return r, true, nil
}

// loadTrusted reads trusted_file and trusted modparams, highest priority
// first.
func loadTrusted(rt *core.Runtime) (map[string][]Trusted, error) {
	out := map[string][]Trusted{}
	add := func(r Trusted) { out[r.SrcIP] = append(out[r.SrcIP], r) }
	if v := rt.Param("permissions", "trusted_file"); v.Kind == core.KStr && v.S != "" {
		f, err := os.Open(v.S)
		if err != nil {
			return nil, fmt.Errorf(`modparam("permissions", "trusted_file"): %w`, err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			r, ok, err := ParseTrusted(sc.Text())
			if err != nil {
				return nil, fmt.Errorf("trusted_file %s:%d: %w", v.S, line, err)
			}
			if ok {
				add(r)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("trusted_file %s: %w", v.S, err)
		}
	}
	for _, v := range rt.ParamValues("permissions", "trusted") {
		r, ok, err := ParseTrusted(v.S)
		if err != nil {
			return nil, fmt.Errorf(`modparam("permissions", "trusted", %q): %w`, v.S, err)
		}
		if ok {
			add(r)
		}
	}
	for _, rs := range out {
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].Priority > rs[j].Priority })
	}
	return out, nil
}

// AllowTrusted is allow_trusted.
func AllowTrusted(ctx *core.Ctx) int {
	st := stateOf(ctx)
	if st == nil || !ctx.Src.IsValid() {
		return -1
	}
	var ab [46]byte
	rs := st.trusted[string(ctx.Src.Addr().Unmap().AppendTo(ab[:0]))]
	if len(rs) == 0 {
		return -1
	}
	m := ctx.Msg
	var from, ruri []byte
	if m.IsRequest() {
		ruri = m.OriginalRequestURI()
		if na, err := m.From(); err == nil {
			from = na.URI
		}
	}
	n := 0
	for i := range rs {
		r := &rs[i]
		if !r.AnyProto && r.Proto != ctx.Proto {
			continue
		}
		if m.IsRequest() {
			if r.From != nil && !r.From.Match(from) || r.RURI != nil && !r.RURI.Match(ruri) {
				continue
			}
		}
		if r.Tag != "" && st.tagSet != nil {
			if err := st.tagSet(ctx, st.tagArg, core.Str(r.Tag)); err != nil {
				ctx.Log(core.LErr, "permissions: peer_tag_avp: "+core.LogValue(err.Error())+"\n")
			}
		}
		if !st.tagAll {
			return 1
		}
		n++
	}
	if n == 0 {
		return -1
	}
	return n
}
