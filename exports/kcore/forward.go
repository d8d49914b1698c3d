package kcore

import (
	"net/netip"
	"strconv"

	"kemi/core"
	"kemi/internal/resolve"
	"kemi/sip"
)

// Forward is KSR.forward(): the request is sent on statelessly to $du
// when set, else to the Request-URI, with received/rport on the top Via
// when needed and our Via on top. Max-Forwards is as the script left it.
// Replies come back to the router, which sends them on by Via as no
// transaction claims them.
func Forward(ctx *core.Ctx) int { return forward(ctx, "", "forward") }

// ForwardURI is KSR.forward_uri(uri): as Forward, to uri instead of $du
// or the Request-URI (which stays as it is).
func ForwardURI(ctx *core.Ctx, uri string) int {
	if uri == "" {
		ctx.Log(core.LErr, "forward_uri: expected a SIP URI, got an empty string\n")
		return -1
	}
	return forward(ctx, uri, "forward_uri")
}

func forward(ctx *core.Ctx, uri, fn string) int {
	m := ctx.Msg
	if m == nil || !m.IsRequest() {
		ctx.Log(core.LErr, fn+": the message is not a request\n")
		return -1
	}
	// ctx.Scratch holds the target and then our address while they are
	// looked at (a conversion would be allocated per message); the
	// message is written into it last.
	target := m.RequestURI()
	switch {
	case uri != "":
		ctx.Scratch = append(ctx.Scratch[:0], uri...)
		target = ctx.Scratch
	case ctx.DstURI != "":
		ctx.Scratch = append(ctx.Scratch[:0], ctx.DstURI...)
		target = ctx.Scratch
	}
	dst, name, tr, why := sip.URINextHop(target)
	proto := core.ProtoOfTransport(tr)
	sni := ""
	if name {
		// A host name: RFC 3263's first target (stateless forwarding has
		// no failover; tm's does).
		ts, err := resolve.Default().AppendURITargets(nil, target)
		if err != nil {
			why = err.Error()
		} else {
			dst, why = ts[0].Addr, ""
			proto, sni = ts[0].Proto.CoreProto(), ts[0].Host
		}
	}
	if why != "" {
		ctx.Log(core.LErr, fn+": "+core.LogValue(m.Method())+" for Call-ID "+core.LogQuote(m.CallID())+": destination: "+why+"\n")
		return -1
	}
	// Another transport than the request's leaves from that transport's
	// listen, which the Via names.
	local := ctx.Local
	if proto.IsStream() || ctx.Proto.IsStream() {
		var ok bool
		if ctx.RT != nil && ctx.RT.StreamLocal != nil {
			local, ok = ctx.RT.StreamLocal(proto)
		}
		if !ok || ctx.RT.SendStream == nil {
			ctx.Log(core.LErr, fn+": destination "+proto.String()+":"+dst.String()+": no "+proto.String()+" listen\n")
			return -1
		}
		if proto == ctx.Proto {
			local = ctx.Local
		}
	}
	ctx.Scratch = sip.AppendIP(ctx.Scratch[:0], dst.Addr())
	if dst == ctx.Local || ctx.IsMyself(ctx.Scratch, int(dst.Port())) {
		// Kamailio would send it and receive it again, until Max-Forwards
		// runs out; a request forwarded to ourselves is a loop.
		ctx.Log(core.LErr, fn+": "+core.LogValue(m.Method())+" for Call-ID "+core.LogQuote(m.CallID())+": destination "+dst.String()+" is this server (a loop)\n")
		return -1
	}
	v, err := m.TopVia()
	if err != nil {
		ctx.Log(core.LErr, fn+": the request has no usable Via: "+core.LogValue(err.Error())+"\n")
		return -1
	}
	if v.RportSet || ctx.ForceRport || sip.NeedsReceived(&v, ctx.Src.Addr()) {
		if err := m.AddViaReceived(ctx.Src, ctx.ForceRport); err != nil {
			ctx.Log(core.LErr, fn+": "+core.LogValue(err.Error())+"\n")
			return -1
		}
	}
	if ctx.Path != "" && uri == "" {
		// lookup's route set (RFC 3327) goes into the message once.
		if err := m.AddHeaderBefore("Route", "Route", []byte(ctx.Path)); err != nil {
			ctx.Log(core.LErr, fn+": Route from Path: "+core.LogValue(err.Error())+"\n")
			return -1
		}
		ctx.Path = ""
	}
	var vb [112]byte
	if err := m.PrependVia(appendSLVia(vb[:0], proto, local, m, &v)); err != nil {
		ctx.Log(core.LErr, fn+": "+core.LogValue(err.Error())+"\n")
		return -1
	}
	b := m.AppendTo(ctx.Scratch[:0])
	ctx.Scratch = b[:0]
	if ctx.Out == nil {
		ctx.Log(core.LErr, fn+": no sender for this message\n")
		return -1
	}
	var serr error
	if proto.IsStream() {
		serr = ctx.RT.SendStream(b, proto, dst, core.ForwardOpts(ctx.ConnFlags, sni))
	} else {
		serr = ctx.Out.SendTo(b, core.UDP, dst)
	}
	if serr != nil {
		ctx.Log(core.LErr, fn+": to "+proto.String()+":"+dst.String()+": "+core.LogValue(serr.Error())+"\n")
		return -1
	}
	ctx.Count(core.StatFwdRequests)
	return 1
}

// appendSLVia writes our Via for a request forwarded statelessly. Its
// branch depends only on the request as the previous hop sent it (its top
// Via branch and sent-by, or for an RFC 2543 request Call-ID, CSeq number,
// From tag and the Via), so a retransmission, and the CANCEL or the ACK of
// a non-2xx of an INVITE, get the same one (RFC 3261 16.11). It is not in
// tm's form, so tm never takes the replies for one of its transactions.
func appendSLVia(dst []byte, proto core.Proto, local netip.AddrPort, m *sip.Msg, v *sip.Via) []byte {
	h := uint64(14695981039346656037)
	if len(v.Branch) > 7 && string(v.Branch[:7]) == "z9hG4bK" {
		h = fnv(h, v.Branch)
		h = fnv(h, v.Host)
		var pb [8]byte
		h = fnv(h, strconv.AppendInt(pb[:0], int64(v.Port), 10))
	} else {
		h = fnv(h, m.CallID())
		n, _, _ := m.CSeq()
		var nb [12]byte
		h = fnv(h, strconv.AppendUint(nb[:0], uint64(n), 10))
		h = fnv(h, m.FromTag())
		h = fnv(h, v.Raw)
	}
	dst = core.AppendViaStart(dst, proto)
	dst = sip.AppendHostPort(dst, local)
	dst = append(dst, ";branch=z9hG4bKsl"...)
	const hexd = "0123456789abcdef"
	for s := 60; s >= 0; s -= 4 {
		dst = append(dst, hexd[(h>>uint(s))&15])
	}
	return dst
}

// fnv is FNV-1a over b, then a separator.
func fnv(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	h ^= 0xff
	return h * 1099511628211
}
