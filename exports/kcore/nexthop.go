package kcore

import (
	"net/netip"

	"kemi/core"
	"kemi/sip"
)

// nextHop finds where the message goes next, as Kamailio's to_* checks
// see it: for a request the destination URI, else the Request-URI; for a
// reply the second Via. transport is as written, or "tls" for a sips: URI
// without one, or empty: like Kamailio, a sip: URI without a transport
// parameter names no transport.
func nextHop(ctx *core.Ctx) (transport, host []byte, ok bool) {
	m := ctx.Msg
	if m == nil {
		return nil, nil, false
	}
	if !m.IsRequest() {
		it := m.Vias()
		for i := 0; it.Next(); i++ {
			if i == 1 {
				v := it.Via()
				host = v.Host
				if len(v.Received) > 0 {
					host = v.Received
				}
				return v.Transport, host, true
			}
		}
		return nil, nil, false
	}
	raw := m.RequestURI()
	if ctx.DstURI != "" {
		raw = []byte(ctx.DstURI)
	}
	u, err := sip.ParseURI(raw)
	if err != nil {
		return nil, nil, false
	}
	if t, ok := u.Params.Get("transport"); ok {
		transport = t
	} else if sip.EqualFold(u.Scheme, "sips") {
		transport = []byte("tls")
	}
	return transport, u.Host, true
}

func toProto(ctx *core.Ctx, names ...string) bool {
	t, _, ok := nextHop(ctx)
	if !ok {
		return false
	}
	for _, n := range names {
		if sip.EqualFold(t, n) {
			return true
		}
	}
	return false
}

func ToUDP(ctx *core.Ctx) bool  { return toProto(ctx, "udp") }
func ToTCP(ctx *core.Ctx) bool  { return toProto(ctx, "tcp") }
func ToTLS(ctx *core.Ctx) bool  { return toProto(ctx, "tls") }
func ToSCTP(ctx *core.Ctx) bool { return toProto(ctx, "sctp") }
func ToWS(ctx *core.Ctx) bool   { return toProto(ctx, "ws") }
func ToWSS(ctx *core.Ctx) bool  { return toProto(ctx, "wss") }
func ToWSX(ctx *core.Ctx) bool  { return toProto(ctx, "ws", "wss") }

func toAddr(ctx *core.Ctx) netip.Addr {
	_, h, ok := nextHop(ctx)
	if !ok || len(h) == 0 {
		return netip.Addr{}
	}
	if h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	a, err := netip.ParseAddr(string(h))
	if err != nil {
		return netip.Addr{}
	}
	return a
}

// ToIPv4 and ToIPv6 look at the next hop host: true only for an address
// literal of that family (a name is neither until it is resolved).
func ToIPv4(ctx *core.Ctx) bool { return toAddr(ctx).Is4() }
func ToIPv6(ctx *core.Ctx) bool { a := toAddr(ctx); return a.Is6() && !a.Is4In6() }
