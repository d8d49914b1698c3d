package kcore

import (
	"net/netip"

	"kemi/core"
	"kemi/sip"
)

// IsMyself is KSR.is_myself: a sip:/sips: URI is parsed for its host and
// port; anything else is taken as a bare host.
func IsMyself(ctx *core.Ctx, uri string) bool {
	return myselfURI(ctx, []byte(uri))
}

func myselfURI(ctx *core.Ctx, uri []byte) bool {
	if len(uri) > 4 && (sip.EqualFold(uri[:4], "sip:") || len(uri) > 5 && sip.EqualFold(uri[:5], "sips:")) {
		u, err := sip.ParseURI(uri)
		if err != nil {
			ctx.Log(core.LErr, "is_myself: cannot parse URI "+core.LogQuote(uri)+": "+core.LogValue(err.Error())+"\n")
			return false
		}
		return myself(ctx, u.Host, u.Port)
	}
	return myself(ctx, uri, 0)
}

// myself asks the runtime's hook, or without one compares with the socket
// the message arrived on (core.Ctx.IsMyself).
func myself(ctx *core.Ctx, host []byte, port int) bool { return ctx.IsMyself(host, port) }

// IsMyselfRuri checks the Request-URI (false for replies).
func IsMyselfRuri(ctx *core.Ctx) bool {
	if ctx.Msg == nil || !ctx.Msg.IsRequest() {
		return false
	}
	return myselfURI(ctx, ctx.Msg.RequestURI())
}

// IsMyselfDuri checks the destination URI; false when unset.
func IsMyselfDuri(ctx *core.Ctx) bool {
	return ctx.DstURI != "" && myselfURI(ctx, []byte(ctx.DstURI))
}

// IsMyselfNhuri checks the next hop: the destination URI, else the
// Request-URI.
func IsMyselfNhuri(ctx *core.Ctx) bool {
	if ctx.DstURI != "" {
		return IsMyselfDuri(ctx)
	}
	return IsMyselfRuri(ctx)
}

// IsMyselfFuri checks the From URI.
func IsMyselfFuri(ctx *core.Ctx) bool {
	if ctx.Msg == nil {
		return false
	}
	f, err := ctx.Msg.From()
	return err == nil && myselfURI(ctx, f.URI)
}

// IsMyselfTuri checks the To URI.
func IsMyselfTuri(ctx *core.Ctx) bool {
	if ctx.Msg == nil {
		return false
	}
	t, err := ctx.Msg.To()
	return err == nil && myselfURI(ctx, t.URI)
}

// IsMyselfSuri checks the source address with its port, as the URI
// sip:srcip:srcport.
func IsMyselfSuri(ctx *core.Ctx) bool {
	return myselfAddr(ctx, ctx.Src.Addr(), int(ctx.Src.Port()))
}

// IsMyselfSrcip checks the source IP, any port.
func IsMyselfSrcip(ctx *core.Ctx) bool {
	return myselfAddr(ctx, ctx.Src.Addr(), 0)
}

func myselfAddr(ctx *core.Ctx, a netip.Addr, port int) bool {
	if !a.IsValid() {
		return false
	}
	var buf [64]byte
	b := buf[:0]
	a = a.Unmap()
	if a.Is6() {
		b = append(a.AppendTo(append(b, '[')), ']')
	} else {
		b = a.AppendTo(b)
	}
	return myself(ctx, b, port)
}
