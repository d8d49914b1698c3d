// Package path implements module path: Path headers (RFC 3327) that an
// edge proxy puts in REGISTERs, and the received address it finds again
// in the Route of later requests (see module.yaml).
package path

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"kemi/core"
	"kemi/exports/rr"
	"kemi/sip"
)

// config is the module's params, read once per runtime.
type config struct {
	useReceived bool
	format      int
	name        string
}

var configs = core.NewRuntimeState[config](nil)

func start(rt *core.Runtime) error {
	c := &config{name: "received"}
	if v := rt.Param("path", "use_received"); v.Kind == core.KInt {
		c.useReceived = v.I != 0
	}
	if v := rt.Param("path", "received_format"); v.Kind == core.KInt {
		if v.I != 0 && v.I != 1 {
			return errf("modparam path received_format: expected 0 or 1, got %d", v.I)
		}
		c.format = int(v.I)
	}
	if v := rt.Param("path", "received_name"); v.Kind == core.KStr && v.S != "" {
		if !token(v.S) {
			return errf("modparam path received_name: expected a URI parameter name, got %q", v.S)
		}
		c.name = v.S
	}
	configs.Set(rt, c)
	if c.useReceived {
		rr.OnLoose(rt, c.routeReceived)
	}
	return nil
}

// routeReceived is loose_route's hook for use_received: this proxy's
// Route entry had the received parameter, so the request goes there.
func (c *config) routeReceived(ctx *core.Ctx, params sip.Params) {
	v, ok := params.Get(c.name)
	if !ok || len(v) == 0 {
		return
	}
	if c.format == 1 {
		// ip~port~proto
		f := strings.Split(string(v), "~")
		if len(f) != 3 {
			return
		}
		a, err := netip.ParseAddr(f[0])
		port, perr := strconv.Atoi(f[1])
		if err != nil || perr != nil || port <= 0 || port > 65535 {
			return
		}
		u := "sip:" + string(sip.AppendHostPort(nil, netip.AddrPortFrom(a.Unmap(), uint16(port))))
		switch f[2] {
		case "2":
			u += ";transport=tcp"
		case "3":
			u += ";transport=tls"
		}
		ctx.DstURI = u
		return
	}
	u := unescape(string(v))
	if _, err := sip.ParseURI([]byte(u)); err != nil || strings.ContainsAny(u, "\r\n\x00 ") {
		ctx.Log(core.LWarn, "path: use_received: ignoring an unusable received value "+core.LogQuote(u)+"\n")
		return
	}
	ctx.DstURI = u
}

func errf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// token reports whether s is a URI parameter name.
func token(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || strings.IndexByte("-_.!~*'", b) >= 0) {
			return false
		}
	}
	return s != ""
}

// userOK reports whether s may be the user part of a SIP URI.
func userOK(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || strings.IndexByte("-_.!~*'()%&=+$,;?/", b) >= 0) {
			return false
		}
	}
	return true
}

// paramsOK reports whether s may follow ;lr as URI parameters.
func paramsOK(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b <= ' ' || b >= 0x7f || strings.IndexByte("<>\",", b) >= 0 {
			return false
		}
	}
	return true
}

// escape writes s as a URI parameter value: ; = and % escaped as Kamailio
// does for the received URI.
func escape(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ';':
			b = append(b, "%3B"...)
		case '=':
			b = append(b, "%3D"...)
		case '%':
			b = append(b, "%25"...)
		default:
			b = append(b, c)
		}
	}
	return b
}

func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func protoID(p core.Proto) string {
	switch p {
	case core.TCP:
		return "2"
	case core.TLS:
		return "3"
	}
	return "1"
}

// add builds and inserts the Path header. adv replaces the socket's
// address when not empty.
func add(ctx *core.Ctx, fn, adv, user, params string, received bool) int {
	fail := func(msg string) int {
		ctx.Log(core.LErr, "path: "+fn+": "+msg+"\n")
		return -1
	}
	if ctx.Msg == nil || !ctx.Msg.IsRequest() {
		return fail("the message is not a request")
	}
	if !userOK(user) {
		return fail("user " + core.LogQuote(user) + " has characters a SIP URI user cannot hold")
	}
	if !paramsOK(params) {
		return fail("params " + core.LogQuote(params) + " have characters a URI cannot hold here")
	}
	c := configs.Peek(ctx.RT)
	if c == nil {
		c = &config{name: "received"}
	}
	b := make([]byte, 0, 128)
	b = append(b, "<sip:"...)
	if user != "" {
		b = append(b, user...)
		b = append(b, '@')
	}
	if adv != "" {
		a := adv
		if len(a) > 4 && strings.EqualFold(a[:4], "sip:") {
			a = a[4:]
		}
		if !paramsOK(a) || strings.ContainsAny(a, ";@") {
			return fail("address " + core.LogQuote(adv) + " is not host[:port]")
		}
		b = append(b, a...)
	} else {
		if a := ctx.Local.Addr(); !a.IsValid() || a.IsUnspecified() {
			return fail("the socket address " + ctx.Local.String() + " cannot go in a Path; listen on a specific address or use add_path_advertised_address")
		}
		b = sip.AppendHostPort(b, ctx.Local)
		if ctx.Proto != core.UDP && ctx.Proto != 0 {
			b = append(b, ";transport="...)
			b = append(b, ctx.Proto.String()...)
		}
	}
	b = append(b, ";lr"...)
	if received {
		b = append(b, ';')
		b = append(b, c.name...)
		b = append(b, '=')
		if c.format == 1 {
			b = append(b, ctx.Src.Addr().Unmap().String()...)
			b = append(b, '~')
			b = strconv.AppendUint(b, uint64(ctx.Src.Port()), 10)
			b = append(b, '~')
			b = append(b, protoID(ctx.Proto)...)
		} else {
			r := "sip:" + string(sip.AppendHostPort(nil, ctx.Src))
			if ctx.Proto != core.UDP && ctx.Proto != 0 {
				r += ";transport=" + ctx.Proto.String()
			}
			b = escape(b, r)
		}
	}
	if params != "" {
		b = append(b, ';')
		b = append(b, params...)
	}
	b = append(b, '>')
	if err := ctx.Msg.AddHeaderBefore("Path", "Path", b); err != nil {
		return fail(core.LogValue(err.Error()))
	}
	return 1
}

// AddPath is add_path.
func AddPath(ctx *core.Ctx) int { return add(ctx, "add_path", "", "", "", false) }

// AddPathUser is add_path_user.
func AddPathUser(ctx *core.Ctx, user string) int {
	return add(ctx, "add_path_user", "", user, "", false)
}

// AddPathUserParams is add_path_user_params.
func AddPathUserParams(ctx *core.Ctx, user, params string) int {
	return add(ctx, "add_path_user_params", "", user, params, false)
}

// AddPathReceived is add_path_received.
func AddPathReceived(ctx *core.Ctx) int { return add(ctx, "add_path_received", "", "", "", true) }

// AddPathReceivedUser is add_path_received_user.
func AddPathReceivedUser(ctx *core.Ctx, user string) int {
	return add(ctx, "add_path_received_user", "", user, "", true)
}

// AddPathReceivedUserParams is add_path_received_user_params.
func AddPathReceivedUserParams(ctx *core.Ctx, user, params string) int {
	return add(ctx, "add_path_received_user_params", "", user, params, true)
}

// AddPathAdv is add_path_advertised_address.
func AddPathAdv(ctx *core.Ctx, addr string) int {
	return add(ctx, "add_path_advertised_address", addr, "", "", false)
}

// AddPathAdvUser is add_path_advertised_address_user.
func AddPathAdvUser(ctx *core.Ctx, addr, user string) int {
	return add(ctx, "add_path_advertised_address_user", addr, user, "", false)
}

// AddPathAdvUserParams is add_path_advertised_address_user_params.
func AddPathAdvUserParams(ctx *core.Ctx, addr, user, params string) int {
	return add(ctx, "add_path_advertised_address_user_params", addr, user, params, false)
}

// AddPathReceivedAdv is add_path_received_advertised_address.
func AddPathReceivedAdv(ctx *core.Ctx, addr string) int {
	return add(ctx, "add_path_received_advertised_address", addr, "", "", true)
}

// AddPathReceivedAdvUser is add_path_received_advertised_address_user.
func AddPathReceivedAdvUser(ctx *core.Ctx, addr, user string) int {
	return add(ctx, "add_path_received_advertised_address_user", addr, user, "", true)
}

// AddPathReceivedAdvUserParams is
// add_path_received_advertised_address_user_params.
func AddPathReceivedAdvUserParams(ctx *core.Ctx, addr, user, params string) int {
	return add(ctx, "add_path_received_advertised_address_user_params", addr, user, params, true)
}
