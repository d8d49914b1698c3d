package kcore

import (
	"net/netip"
	"strconv"

	"kemi/core"
	"kemi/sip"
)

// Transport checks. core.Proto has no SCTP: kemi does not listen on it,
// so that check is false.

func IsUDP(ctx *core.Ctx) bool  { return ctx.Proto == core.UDP }
func IsTCP(ctx *core.Ctx) bool  { return ctx.Proto == core.TCP }
func IsTLS(ctx *core.Ctx) bool  { return ctx.Proto == core.TLS }
func IsWS(ctx *core.Ctx) bool   { return ctx.Proto == core.WS }
func IsWSS(ctx *core.Ctx) bool  { return ctx.Proto == core.WSS }
func IsSCTP(ctx *core.Ctx) bool { return false }
func IsWSX(ctx *core.Ctx) bool  { return ctx.Proto == core.WS || ctx.Proto == core.WSS }

// IsTCPX is true for every stream transport.
func IsTCPX(ctx *core.Ctx) bool {
	return ctx.Proto.IsStream()
}

// IsIPv4 and IsIPv6 look at the receiving socket, as Kamailio does.
func IsIPv4(ctx *core.Ctx) bool { return ctx.Local.Addr().Unmap().Is4() }
func IsIPv6(ctx *core.Ctx) bool {
	a := ctx.Local.Addr()
	return a.Is6() && !a.Is4In6()
}

// IsProto is KSR.is_proto: U UDP, T TCP, E TLS, S SCTP, V WS, W WSS.
func IsProto(ctx *core.Ctx, letters string) bool {
	for i := 0; i < len(letters); i++ {
		var p core.Proto
		switch letters[i] {
		case 'u', 'U':
			p = core.UDP
		case 't', 'T':
			p = core.TCP
		case 'e', 'E':
			p = core.TLS
		case 'v', 'V':
			p = core.WS
		case 'w', 'W':
			p = core.WSS
		default:
			continue
		}
		if ctx.Proto == p {
			return true
		}
	}
	return false
}

// IsSrcPort compares the source port.
func IsSrcPort(ctx *core.Ctx, port int) bool { return int(ctx.Src.Port()) == port }

// IsDstPort compares the local port the message arrived on.
func IsDstPort(ctx *core.Ctx, port int) bool { return int(ctx.Local.Port()) == port }

// AddTCPAlias is KSR.add_tcp_alias(port): requests to the message's
// source IP and port are sent on its TCP/TLS connection (a UA behind NAT
// that listens on port). -1 over UDP or when the connection is gone.
func AddTCPAlias(ctx *core.Ctx, port int) int {
	if port <= 0 || port > 65535 {
		ctx.Log(core.LErr, "add_tcp_alias: expected a port 1-65535, got "+strconv.Itoa(port)+"\n")
		return -1
	}
	return addAlias(ctx, port)
}

// AddTCPAliasVia is KSR.add_tcp_alias_via(): add_tcp_alias with the port
// of the top Via's sent-by (5060 when it has none).
func AddTCPAliasVia(ctx *core.Ctx) int {
	if ctx.Msg == nil {
		return -1
	}
	v, err := ctx.Msg.TopVia()
	if err != nil {
		return -1
	}
	port := v.Port
	if port == 0 {
		port = 5060
		if sip.EqualFold(v.Transport, "tls") {
			port = 5061
		}
	}
	return addAlias(ctx, port)
}

func addAlias(ctx *core.Ctx, port int) int {
	if ctx.ConnID == 0 || ctx.RT == nil || ctx.RT.AddConnAlias == nil {
		return -1
	}
	if !ctx.RT.AddConnAlias(ctx.ConnID, netip.AddrPortFrom(ctx.Src.Addr(), uint16(port))) {
		return -1
	}
	return 1
}
