// Package corex implements module corex: branches (append_branch), the
// send socket (set_send_socket), extended flags and small checks
// (has_ruri_user, has_user_agent).
package corex

import (
	"net/netip"
	"strconv"
	"strings"

	"kemi/core"
	"kemi/sip"
)

// state is the per-message state: the forced send socket and xflags.
type state struct {
	sock   string // as the script gave it, "udp:192.0.2.1:5060"; "" for none
	addr   netip.AddrPort
	proto  core.Proto
	xflags uint64
}

var msgStates = core.NewMsgState[state](nil)

func get(ctx *core.Ctx) *state { return msgStates.Get(ctx) }

// SendSocket returns the socket set_send_socket chose for the current
// message (tm and forwarding send from it), and false when none was set.
func SendSocket(ctx *core.Ctx) (proto core.Proto, addr netip.AddrPort, name string, ok bool) {
	st := get(ctx)
	if st.sock == "" {
		return 0, netip.AddrPort{}, "", false
	}
	return st.proto, st.addr, st.sock, true
}

func b2i(ok bool) int {
	if ok {
		return 1
	}
	return -1
}

// HasRuriUser is 1 when the Request-URI has a user part.
func HasRuriUser(ctx *core.Ctx) int {
	if ctx.Msg == nil || !ctx.Msg.IsRequest() {
		return -1
	}
	u, err := sip.ParseURI(ctx.Msg.RequestURI())
	if err != nil {
		ctx.Log(core.LErr, "corex: has_ruri_user: cannot parse the Request-URI: "+core.LogValue(err.Error())+"\n")
		return -1
	}
	return b2i(len(u.User) > 0)
}

// HasUserAgent is 1 when the message has a non-empty User-Agent header.
func HasUserAgent(ctx *core.Ctx) int {
	return b2i(ctx.Msg != nil && len(ctx.Msg.UserAgent()) > 0)
}

// IsFakedMsg is 1 for messages kemi makes up itself; it makes none, so -1.
func IsFakedMsg(ctx *core.Ctx) int { return -1 }

// AppendBranch adds the current Request-URI (with $du, branch flags and
// send socket) as a new branch, and then clears $du, the branch flags and
// the send socket of branch 0, as Kamailio does.
func AppendBranch(ctx *core.Ctx) int {
	if ctx.Msg == nil || !ctx.Msg.IsRequest() {
		return -1
	}
	st := get(ctx)
	ctx.Branches = append(ctx.Branches, core.Branch{
		URI:    string(ctx.Msg.RequestURI()),
		DstURI: ctx.DstURI,
		Q:      -1,
		Flags:  ctx.BranchFlags,
		Socket: st.sock,
	})
	ctx.DstURI = ""
	ctx.BranchFlags = 0
	st.sock = ""
	return 1
}

// AppendBranchURI adds a branch to uri (keeping $du and the send socket).
func AppendBranchURI(ctx *core.Ctx, uri string) int { return appendURI(ctx, uri, -1) }

// AppendBranchURIQ adds a branch to uri with a q-value ("0.5").
func AppendBranchURIQ(ctx *core.Ctx, uri, q string) int {
	qv := -1
	if q != "" {
		var ok bool
		if qv, ok = parseQ(q); !ok {
			ctx.Log(core.LErr, "corex: append_branch_uri_q: expected a q-value 0-1 with up to 3 decimals, got "+core.LogQuote(q)+"\n")
			return -1
		}
	}
	return appendURI(ctx, uri, qv)
}

func appendURI(ctx *core.Ctx, uri string, q int) int {
	if ctx.Msg == nil || !ctx.Msg.IsRequest() {
		return -1
	}
	if uri == "" {
		return AppendBranch(ctx)
	}
	if _, err := sip.ParseURI([]byte(uri)); err != nil {
		ctx.Log(core.LErr, "corex: append_branch: bad URI "+core.LogQuote(uri)+": "+core.LogValue(err.Error())+"\n")
		return -1
	}
	ctx.Branches = append(ctx.Branches, core.Branch{
		URI:    uri,
		DstURI: ctx.DstURI,
		Q:      q,
		Flags:  ctx.BranchFlags,
		Socket: get(ctx).sock,
	})
	return 1
}

// parseQ reads a q-value (RFC 3261 §20.10) into thousandths.
func parseQ(s string) (int, bool) {
	if s == "1" || strings.HasPrefix(s, "1.") && strings.Trim(s[2:], "0") == "" && len(s) <= 5 {
		return 1000, true
	}
	if s == "0" {
		return 0, true
	}
	if !strings.HasPrefix(s, "0.") || len(s) > 5 || len(s) < 3 {
		return 0, false
	}
	n := 0
	for i, m := 2, 100; i < len(s); i, m = i+1, m/10 {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n += int(s[i]-'0') * m
	}
	return n, true
}

// parseSocket reads "proto:host:port" (IPv6 host in brackets).
func parseSocket(s string) (core.Proto, netip.AddrPort, bool) {
	colon := strings.IndexByte(s, ':')
	if colon < 0 {
		return 0, netip.AddrPort{}, false
	}
	var proto core.Proto
	switch strings.ToLower(s[:colon]) {
	case "udp":
		proto = core.UDP
	case "tcp":
		proto = core.TCP
	case "tls":
		proto = core.TLS
	case "ws":
		proto = core.WS
	default:
		return 0, netip.AddrPort{}, false
	}
	ap, err := netip.ParseAddrPort(s[colon+1:])
	if err != nil {
		return 0, netip.AddrPort{}, false
	}
	return proto, ap, true
}

// SetSendSocket forces the socket the request is sent from, given as
// "udp:IP:PORT". Only UDP sockets this server listens on are accepted.
func SetSendSocket(ctx *core.Ctx, sock string) int {
	if sock == "" {
		// An empty socket takes the forced one back, as in Kamailio.
		get(ctx).sock = ""
		return 1
	}
	proto, ap, ok := parseSocket(sock)
	if !ok {
		ctx.Log(core.LErr, "corex: set_send_socket: expected proto:IP:port, got "+core.LogQuote(sock)+"\n")
		return -1
	}
	if proto != core.UDP {
		ctx.Log(core.LErr, "corex: set_send_socket: only udp sockets can be forced, got "+core.LogQuote(sock)+"\n")
		return -1
	}
	if !listening(ctx, ap) {
		ctx.Log(core.LErr, "corex: set_send_socket: "+core.LogQuote(sock)+" is not a socket this server listens on\n")
		return -1
	}
	st := get(ctx)
	st.sock, st.addr, st.proto = sock, ap, proto
	return 1
}

// listening tells whether ap is one of this server's addresses.
func listening(ctx *core.Ctx, ap netip.AddrPort) bool {
	if ap.Addr().Unmap() == ctx.Local.Addr().Unmap() && ap.Port() == ctx.Local.Port() {
		return true
	}
	if ctx.RT == nil || ctx.RT.Myself == nil {
		return false
	}
	var buf [64]byte
	h := ap.Addr().Unmap().AppendTo(buf[:0])
	return ctx.RT.Myself(h, int(ap.Port()))
}

// SetSendSocketName would force a socket by its name; kemi's listen lines
// have no names yet, so it always fails.
func SetSendSocketName(ctx *core.Ctx, name string) int {
	ctx.Log(core.LErr, "corex: set_send_socket_name: kemi sockets have no names; use set_send_socket\n")
	return -1
}

// IsSocketName tells whether a socket has that name: none has.
func IsSocketName(ctx *core.Ctx, name string) int { return -1 }

func xflag(ctx *core.Ctx, fn string, f int) (*state, bool) {
	if f < 0 || f > 63 {
		ctx.Log(core.LErr, "corex: "+fn+": flag "+strconv.Itoa(f)+" is out of range 0-63\n")
		return nil, false
	}
	return get(ctx), true
}

// Setxflag sets extended message flag f (0-63).
func Setxflag(ctx *core.Ctx, f int) int {
	st, ok := xflag(ctx, "setxflag", f)
	if !ok {
		return -1
	}
	st.xflags |= 1 << uint(f)
	return 1
}

// Resetxflag clears extended message flag f.
func Resetxflag(ctx *core.Ctx, f int) int {
	st, ok := xflag(ctx, "resetxflag", f)
	if !ok {
		return -1
	}
	st.xflags &^= 1 << uint(f)
	return 1
}

// Isxflagset is 1 when extended message flag f is set.
func Isxflagset(ctx *core.Ctx, f int) int {
	st, ok := xflag(ctx, "isxflagset", f)
	if !ok {
		return -1
	}
	return b2i(st.xflags&(1<<uint(f)) != 0)
}

// SendData sends data as it is to the address of a SIP URI
// ("sip:IP:PORT"), over UDP from the socket the message came in on.
func SendData(ctx *core.Ctx, uri, data string) int {
	u, err := sip.ParseURI([]byte(uri))
	if err != nil {
		ctx.Log(core.LErr, "corex: send_data: bad URI "+core.LogQuote(uri)+": "+core.LogValue(err.Error())+"\n")
		return -1
	}
	a, ok := u.HostAddr()
	if !ok {
		ctx.Log(core.LErr, "corex: send_data: the URI host must be an IP address, got "+core.LogQuote(u.Host)+"\n")
		return -1
	}
	if tr, ok := u.Param("transport"); ok && !strings.EqualFold(string(tr), "udp") {
		ctx.Log(core.LErr, "corex: send_data: only udp is supported, got transport="+core.LogValue(tr)+"\n")
		return -1
	}
	port := u.Port
	if port == 0 {
		port = 5060
	}
	if ctx.Out == nil {
		ctx.Log(core.LErr, "corex: send_data: no sender for this message\n")
		return -1
	}
	ctx.Scratch = append(ctx.Scratch[:0], data...)
	if err := ctx.Out.SendTo(ctx.Scratch, core.UDP, netip.AddrPortFrom(a, uint16(port))); err != nil {
		ctx.Log(core.LErr, "corex: send_data: "+core.LogValue(err.Error())+"\n")
		return -1
	}
	return 1
}

// getFS is $fs, the forced send socket, as set_send_socket sets it.
func getFS(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	if _, _, name, ok := SendSocket(ctx); ok {
		return append(dst, name...), true
	}
	return dst, false
}

// setFS assigns $fs.
func setFS(ctx *core.Ctx, _ string, v core.Value) error {
	if v.IsNull() || v.Kind == core.KStr && v.S == "" {
		get(ctx).sock = ""
		return nil
	}
	if v.Kind != core.KStr || SetSendSocket(ctx, v.S) < 0 {
		return errString("$fs: expected udp:IP:PORT of a socket this server listens on, got " + v.String())
	}
	return nil
}

type errString string

func (e errString) Error() string { return string(e) }

// SetRecvSocket makes the message look as if it came in on another
// socket of this server (record_route and replies then use it).
func SetRecvSocket(ctx *core.Ctx, sock string) int {
	proto, ap, ok := parseSocket(sock)
	if !ok {
		ctx.Log(core.LErr, "corex: set_recv_socket: expected proto:IP:port, got "+core.LogQuote(sock)+"\n")
		return -1
	}
	if !listening(ctx, ap) {
		ctx.Log(core.LErr, "corex: set_recv_socket: "+core.LogQuote(sock)+" is not a socket this server listens on\n")
		return -1
	}
	ctx.Local, ctx.Proto = ap, proto
	return 1
}

// SetRecvSocketName would pick the receiving socket by name; kemi sockets
// have no names yet.
func SetRecvSocketName(ctx *core.Ctx, name string) int {
	ctx.Log(core.LErr, "corex: set_recv_socket_name: kemi sockets have no names; use set_recv_socket\n")
	return -1
}

// SetSourceAddress replaces the source address of the message
// ("udp:IP:PORT" or "IP:PORT"); replies then go there.
func SetSourceAddress(ctx *core.Ctx, addr string) int {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		_, ap2, ok := parseSocket(addr)
		if !ok {
			ctx.Log(core.LErr, "corex: set_source_address: expected [proto:]IP:port, got "+core.LogQuote(addr)+"\n")
			return -1
		}
		ap = ap2
	}
	ctx.Src = ap
	return 1
}

// Sendx is send_data from a given socket; kemi sends from the socket the
// message came in on, so sock must be that one (or empty).
func Sendx(ctx *core.Ctx, uri, sock, data string) int {
	if sock != "" {
		_, ap, ok := parseSocket(sock)
		if !ok || ap.Addr().Unmap() != ctx.Local.Addr().Unmap() || ap.Port() != ctx.Local.Port() {
			ctx.Log(core.LErr, "corex: sendx: kemi can send only from the receiving socket "+ctx.Local.String()+", got "+core.LogQuote(sock)+"\n")
			return -1
		}
	}
	return SendData(ctx, uri, data)
}
