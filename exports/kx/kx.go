// Package kx implements module kx (loaded as "kemix"): quick getters for
// message attributes. get_* return null when the attribute is missing,
// gete_* return "" and getw_* return "<null>", as Kamailio's kemix does.
// Every string result is one allocation (the Go string for the script).
package kx

import (
	"net/netip"
	"os"
	"strconv"
	"time"

	"kemi/core"
	"kemi/exports/corex"
	"kemi/sip"
)

// mode says what a missing value becomes.
type mode uint8

const (
	nullNone  mode = iota // null
	nullEmpty             // ""
	nullPrint             // "<null>"
)

func missing(m mode) core.Value {
	switch m {
	case nullEmpty:
		return core.Str("")
	case nullPrint:
		return core.Str("<null>")
	}
	return core.Null()
}

func xv(b []byte, ok bool, m mode) core.Value {
	if !ok || b == nil {
		return missing(m)
	}
	return core.Str(string(b))
}

func isReq(ctx *core.Ctx) bool { return ctx.Msg != nil && ctx.Msg.IsRequest() }

// uriAttr returns the user (user true) or host of uri.
func uriAttr(uri []byte, user bool) ([]byte, bool) {
	u, err := sip.ParseURI(uri)
	if err != nil {
		return nil, false
	}
	if user {
		return u.User, len(u.User) > 0
	}
	return u.Host, len(u.Host) > 0
}

func ruriAttr(ctx *core.Ctx, user bool, m mode) core.Value {
	if !isReq(ctx) {
		return missing(m)
	}
	b, ok := uriAttr(ctx.Msg.RequestURI(), user)
	return xv(b, ok, m)
}

func nameAddrURI(ctx *core.Ctx, to bool) ([]byte, bool) {
	if ctx.Msg == nil {
		return nil, false
	}
	var n sip.NameAddr
	var err error
	if to {
		n, err = ctx.Msg.To()
	} else {
		n, err = ctx.Msg.From()
	}
	if err != nil {
		return nil, false
	}
	return n.URI, true
}

func naAttr(ctx *core.Ctx, to, user bool, m mode) core.Value {
	u, ok := nameAddrURI(ctx, to)
	if !ok {
		return missing(m)
	}
	b, ok := uriAttr(u, user)
	return xv(b, ok, m)
}

// GetRuri is the Request-URI, with any change made by the script.
func GetRuri(ctx *core.Ctx) core.Value {
	if !isReq(ctx) {
		return core.Null()
	}
	return xv(ctx.Msg.RequestURI(), true, nullNone)
}

// GetOuri is the Request-URI as received.
func GetOuri(ctx *core.Ctx) core.Value {
	if !isReq(ctx) {
		return core.Null()
	}
	raw := ctx.Msg.Raw()
	s := indexByte(raw, ' ') + 1
	e := s + indexByte(raw[s:], ' ')
	return xv(raw[s:e], e > s, nullNone)
}

func indexByte(b []byte, c byte) int {
	for i := range b {
		if b[i] == c {
			return i
		}
	}
	return -1
}

func GetRuser(ctx *core.Ctx) core.Value  { return ruriAttr(ctx, true, nullNone) }
func GeteRuser(ctx *core.Ctx) core.Value { return ruriAttr(ctx, true, nullEmpty) }
func GetwRuser(ctx *core.Ctx) core.Value { return ruriAttr(ctx, true, nullPrint) }
func GetRhost(ctx *core.Ctx) core.Value  { return ruriAttr(ctx, false, nullNone) }
func GeteRhost(ctx *core.Ctx) core.Value { return ruriAttr(ctx, false, nullEmpty) }
func GetwRhost(ctx *core.Ctx) core.Value { return ruriAttr(ctx, false, nullPrint) }

// GetFuri is the From URI.
func GetFuri(ctx *core.Ctx) core.Value {
	b, ok := nameAddrURI(ctx, false)
	return xv(b, ok, nullNone)
}

// GetTuri is the To URI.
func GetTuri(ctx *core.Ctx) core.Value {
	b, ok := nameAddrURI(ctx, true)
	return xv(b, ok, nullNone)
}

func GetFuser(ctx *core.Ctx) core.Value  { return naAttr(ctx, false, true, nullNone) }
func GeteFuser(ctx *core.Ctx) core.Value { return naAttr(ctx, false, true, nullEmpty) }
func GetwFuser(ctx *core.Ctx) core.Value { return naAttr(ctx, false, true, nullPrint) }
func GetFhost(ctx *core.Ctx) core.Value  { return naAttr(ctx, false, false, nullNone) }
func GeteFhost(ctx *core.Ctx) core.Value { return naAttr(ctx, false, false, nullEmpty) }
func GetwFhost(ctx *core.Ctx) core.Value { return naAttr(ctx, false, false, nullPrint) }
func GetTuser(ctx *core.Ctx) core.Value  { return naAttr(ctx, true, true, nullNone) }
func GeteTuser(ctx *core.Ctx) core.Value { return naAttr(ctx, true, true, nullEmpty) }
func GetwTuser(ctx *core.Ctx) core.Value { return naAttr(ctx, true, true, nullPrint) }
func GetThost(ctx *core.Ctx) core.Value  { return naAttr(ctx, true, false, nullNone) }
func GeteThost(ctx *core.Ctx) core.Value { return naAttr(ctx, true, false, nullEmpty) }
func GetwThost(ctx *core.Ctx) core.Value { return naAttr(ctx, true, false, nullPrint) }

func ua(ctx *core.Ctx, m mode) core.Value {
	if ctx.Msg == nil {
		return missing(m)
	}
	b := ctx.Msg.UserAgent()
	return xv(b, b != nil, m)
}

func GetUa(ctx *core.Ctx) core.Value  { return ua(ctx, nullNone) }
func GeteUa(ctx *core.Ctx) core.Value { return ua(ctx, nullEmpty) }
func GetwUa(ctx *core.Ctx) core.Value { return ua(ctx, nullPrint) }

// au is the username of the Proxy-Authorization (else Authorization)
// credentials, without a @domain part, as Kamailio's $au.
func au(ctx *core.Ctx, m mode) core.Value {
	if ctx.Msg == nil {
		return missing(m)
	}
	switch ctx.Msg.MethodID() {
	case sip.MethodACK, sip.MethodCANCEL:
		return missing(m)
	}
	c, ok, err := ctx.Msg.Credentials(sip.HdrProxyAuthorization)
	if !ok {
		c, ok, err = ctx.Msg.Credentials(sip.HdrAuthorization)
	}
	if !ok || err != nil {
		return missing(m)
	}
	u := c.Username
	if at := indexByte(u, '@'); at >= 0 {
		u = u[:at]
	}
	return xv(u, true, m)
}

func GetAu(ctx *core.Ctx) core.Value  { return au(ctx, nullNone) }
func GeteAu(ctx *core.Ctx) core.Value { return au(ctx, nullEmpty) }
func GetwAu(ctx *core.Ctx) core.Value { return au(ctx, nullPrint) }

func body(ctx *core.Ctx, m mode) core.Value {
	if ctx.Msg == nil {
		return missing(m)
	}
	b := ctx.Msg.Body()
	return xv(b, len(b) > 0, m)
}

func GetBody(ctx *core.Ctx) core.Value  { return body(ctx, nullNone) }
func GeteBody(ctx *core.Ctx) core.Value { return body(ctx, nullEmpty) }
func GetwBody(ctx *core.Ctx) core.Value { return body(ctx, nullPrint) }

// GetBodylen is the body length.
func GetBodylen(ctx *core.Ctx) int {
	if ctx.Msg == nil {
		return 0
	}
	return len(ctx.Msg.Body())
}

func duri(ctx *core.Ctx, m mode) core.Value {
	if ctx.DstURI == "" {
		return missing(m)
	}
	return core.Str(ctx.DstURI)
}

func GetDuri(ctx *core.Ctx) core.Value  { return duri(ctx, nullNone) }
func GeteDuri(ctx *core.Ctx) core.Value { return duri(ctx, nullEmpty) }
func GetwDuri(ctx *core.Ctx) core.Value { return duri(ctx, nullPrint) }

// GetNhuri is the next hop: the destination URI, else the Request-URI.
func GetNhuri(ctx *core.Ctx) core.Value {
	if ctx.DstURI != "" {
		return core.Str(ctx.DstURI)
	}
	return GetRuri(ctx)
}

func cturi(ctx *core.Ctx, m mode) core.Value {
	if ctx.Msg == nil {
		return missing(m)
	}
	it := ctx.Msg.Contacts()
	if !it.Next() || it.Contact().Star {
		return missing(m)
	}
	return xv(it.Contact().URI, true, m)
}

func GetCturi(ctx *core.Ctx) core.Value  { return cturi(ctx, nullNone) }
func GeteCturi(ctx *core.Ctx) core.Value { return cturi(ctx, nullEmpty) }
func GetwCturi(ctx *core.Ctx) core.Value { return cturi(ctx, nullPrint) }

// GetMethod is the request method, or the CSeq method of a reply.
func GetMethod(ctx *core.Ctx) core.Value {
	if ctx.Msg == nil {
		return core.Null()
	}
	b := ctx.Msg.Method()
	return xv(b, b != nil, nullNone)
}

// GetStatus is the status code of a reply, -1 for a request.
func GetStatus(ctx *core.Ctx) int {
	if ctx.Msg == nil || ctx.Msg.IsRequest() {
		return -1
	}
	return ctx.Msg.StatusCode()
}

// GetsStatus is the status code of a reply as a string, null for a request.
func GetsStatus(ctx *core.Ctx) core.Value {
	if ctx.Msg == nil || ctx.Msg.IsRequest() {
		return core.Null()
	}
	var b [4]byte
	return core.Str(string(strconv.AppendInt(b[:0], int64(ctx.Msg.StatusCode()), 10)))
}

// GetCallid is the Call-ID ("" when missing).
func GetCallid(ctx *core.Ctx) core.Value {
	if ctx.Msg == nil {
		return core.Str("")
	}
	b := ctx.Msg.CallID()
	return xv(b, b != nil, nullEmpty)
}

// GetSrcip is the source IP address.
func GetSrcip(ctx *core.Ctx) core.Value {
	if !ctx.Src.IsValid() {
		return core.Null()
	}
	return core.Str(ctx.Src.Addr().Unmap().String())
}

// GetSrcport is the source port.
func GetSrcport(ctx *core.Ctx) core.Value { return core.Int(int64(ctx.Src.Port())) }

// GetRcvip is the IP of the socket the message arrived on.
func GetRcvip(ctx *core.Ctx) core.Value {
	if !ctx.Local.IsValid() {
		return core.Null()
	}
	return core.Str(ctx.Local.Addr().Unmap().String())
}

// GetRcvport is the port of the socket the message arrived on.
func GetRcvport(ctx *core.Ctx) core.Value { return core.Int(int64(ctx.Local.Port())) }

// GetRcvadvip is the advertised address of the receiving socket; kemi
// does not pass advertise settings to modules yet, so it is the socket IP.
func GetRcvadvip(ctx *core.Ctx) core.Value { return GetRcvip(ctx) }

// GetRcvadvport is the advertised port of the receiving socket (see
// GetRcvadvip).
func GetRcvadvport(ctx *core.Ctx) core.Value { return GetRcvport(ctx) }

func sockStr(proto core.Proto, ap netip.AddrPort) core.Value {
	if !ap.IsValid() {
		return core.Str("")
	}
	b := make([]byte, 0, 64)
	b = append(b, proto.String()...)
	b = append(b, ':')
	a := ap.Addr().Unmap()
	if a.Is6() {
		b = append(b, '[')
		b = a.AppendTo(b)
		b = append(b, ']')
	} else {
		b = a.AppendTo(b)
	}
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(ap.Port()), 10)
	return core.Str(string(b))
}

// GetRcvaddrSock is the receiving socket as "proto:ip:port".
func GetRcvaddrSock(ctx *core.Ctx) core.Value { return sockStr(ctx.Proto, ctx.Local) }

// GetSrcaddrSock is the source address as "proto:ip:port".
func GetSrcaddrSock(ctx *core.Ctx) core.Value { return sockStr(ctx.Proto, ctx.Src) }

// GetSrcuri is the source address as a SIP URI, "sip:ip:port" with
// ;transport= for transports other than UDP.
func GetSrcuri(ctx *core.Ctx) core.Value {
	if !ctx.Src.IsValid() {
		return core.Str("")
	}
	b := make([]byte, 0, 64)
	b = append(b, "sip:"...)
	b = sip.AppendHostPort(b, ctx.Src)
	if ctx.Proto != core.UDP && ctx.Proto != 0 {
		b = append(b, ";transport="...)
		b = append(b, ctx.Proto.String()...)
	}
	return core.Str(string(b))
}

// GetProto is the transport name ("udp", "tcp", ...).
func GetProto(ctx *core.Ctx) core.Value {
	if ctx.Proto == 0 {
		return core.Str("")
	}
	return core.Str(ctx.Proto.String())
}

// GetProtoid is Kamailio's transport number: 1 udp, 2 tcp, 3 tls, 5 ws, 6 wss.
func GetProtoid(ctx *core.Ctx) int {
	switch ctx.Proto {
	case core.UDP:
		return 1
	case core.TCP:
		return 2
	case core.TLS:
		return 3
	case core.WS:
		return 5
	case core.WSS:
		return 6
	}
	return 0
}

// GetMsgbuf is the message as received.
func GetMsgbuf(ctx *core.Ctx) core.Value {
	if ctx.Msg == nil {
		return core.Str("")
	}
	return core.Str(string(ctx.Msg.Raw()))
}

// GetMsglen is the length of the message as received.
func GetMsglen(ctx *core.Ctx) int {
	if ctx.Msg == nil {
		return -1
	}
	return len(ctx.Msg.Raw())
}

// GetMsgtype is 1 for a request, 2 for a reply.
func GetMsgtype(ctx *core.Ctx) int {
	if ctx.Msg == nil {
		return -1
	}
	if ctx.Msg.IsRequest() {
		return 1
	}
	return 2
}

// GetConid is the TCP or TLS connection id of the message ($conid), or
// -1 for UDP, as Kamailio gives for a message without one.
func GetConid(ctx *core.Ctx) int {
	if ctx.ConnID == 0 {
		return -1
	}
	return int(ctx.ConnID)
}

// GetTimestamp is the current Unix time in seconds.
func GetTimestamp(ctx *core.Ctx) int { return int(time.Now().Unix()) }

// GetEnv is an environment variable of the server process, null if unset.
func GetEnv(ctx *core.Ctx, name string) core.Value {
	v, ok := os.LookupEnv(name)
	if !ok {
		return core.Null()
	}
	return core.Str(v)
}

// GetEnvn is an environment variable as a number, 0 if unset or not one.
func GetEnvn(ctx *core.Ctx, name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}

// GetSendSock is the socket set_send_socket (corex) forced, or null.
func GetSendSock(ctx *core.Ctx) core.Value {
	if _, _, name, ok := corex.SendSocket(ctx); ok {
		return core.Str(name)
	}
	return core.Null()
}

// GetSendSockName is the name of the forced send socket; kemi sockets
// have no names, so null.
func GetSendSockName(ctx *core.Ctx) core.Value { return core.Null() }

// GetSendSockPort is the port of the forced send socket, 0 for none.
func GetSendSockPort(ctx *core.Ctx) int {
	if _, ap, _, ok := corex.SendSocket(ctx); ok {
		return int(ap.Port())
	}
	return 0
}

// GetRcvSockName is the name of the receiving socket; kemi sockets have no
// names, so null.
func GetRcvSockName(ctx *core.Ctx) core.Value { return core.Null() }
