package kcore

import (
	"bytes"
	"kemi/sip"

	"kemi/core"
)

// Seturi replaces the Request-URI.
func Seturi(ctx *core.Ctx, uri string) bool {
	if uri == "" || ctx.Msg == nil || !ctx.Msg.IsRequest() {
		return false
	}
	// SetRequestURI copies, so the worker's scratch buffer carries it.
	ctx.Scratch = append(ctx.Scratch[:0], uri...)
	ctx.Msg.SetRequestURI(ctx.Scratch)
	return true
}

// Setuser replaces the user part of the Request-URI, keeping a password;
// an empty user removes the userinfo and its '@'.
func Setuser(ctx *core.Ctx, user string) bool {
	if ctx.Msg == nil || !ctx.Msg.IsRequest() {
		return false
	}
	u := ctx.Msg.RequestURI()
	p, ok := splitURI(u)
	if !ok {
		ctx.Log(core.LErr, "setuser: cannot parse the Request-URI\n")
		return false
	}
	b := ctx.Scratch[:0]
	switch {
	case user == "" && p.at >= 0:
		b = append(append(b, u[:p.user]...), u[p.at+1:]...)
	case user == "":
		b = append(b, u...)
	case p.at < 0:
		b = append(append(append(append(b, u[:p.host]...), user...), '@'), u[p.host:]...)
	default:
		b = append(append(append(b, u[:p.user]...), user...), u[p.userEnd:]...)
	}
	ctx.Scratch = b
	ctx.Msg.SetRequestURI(b)
	return true
}

// Sethost replaces the host of the Request-URI, keeping the rest.
func Sethost(ctx *core.Ctx, host string) bool {
	if host == "" || ctx.Msg == nil || !ctx.Msg.IsRequest() {
		return false
	}
	u := ctx.Msg.RequestURI()
	p, ok := splitURI(u)
	if !ok {
		ctx.Log(core.LErr, "sethost: cannot parse the Request-URI\n")
		return false
	}
	b := append(append(append(ctx.Scratch[:0], u[:p.host]...), host...), u[p.hostEnd:]...)
	ctx.Scratch = b
	ctx.Msg.SetRequestURI(b)
	return true
}

// Setdsturi sets the next hop.
func Setdsturi(ctx *core.Ctx, uri string) bool {
	if uri == "" {
		return false
	}
	ctx.DstURI = uri
	return true
}

// Resetdsturi clears the next hop.
func Resetdsturi(ctx *core.Ctx) bool {
	ctx.DstURI = ""
	return true
}

// Isdsturiset reports whether a next hop is set.
func Isdsturiset(ctx *core.Ctx) bool { return ctx.DstURI != "" }

// uriParts are offsets into a sip: or sips: URI.
type uriParts struct {
	user, userEnd int // the user, without a password; equal when absent
	at            int // the '@', or -1
	host, hostEnd int // the host, IPv6 brackets included
}

// splitURI finds the user and host of a SIP URI by position only, so an
// edit keeps everything else byte for byte. A user may hold ';' (user
// params), so the '@' is looked for before any '?' rather than any ';'.
func splitURI(u []byte) (uriParts, bool) {
	var p uriParts
	c := bytes.IndexByte(u, ':')
	if c < 0 || !(sip.EqualFold(u[:c], "sip") || sip.EqualFold(u[:c], "sips")) {
		return p, false
	}
	rest := u[c+1:]
	if q := bytes.IndexByte(rest, '?'); q >= 0 {
		rest = rest[:q]
	}
	p.user, p.userEnd, p.at = c+1, c+1, -1
	if at := bytes.LastIndexByte(rest, '@'); at >= 0 {
		p.at = c + 1 + at
		p.userEnd = p.at
		if pw := bytes.IndexByte(rest[:at], ':'); pw >= 0 {
			p.userEnd = c + 1 + pw
		}
	}
	p.host = c + 1
	if p.at >= 0 {
		p.host = p.at + 1
	}
	i := p.host
	if i < len(u) && u[i] == '[' {
		end := bytes.IndexByte(u[i:], ']')
		if end < 0 {
			return p, false
		}
		i += end + 1
	} else {
		for i < len(u) && u[i] != ':' && u[i] != ';' && u[i] != '?' && u[i] != '>' {
			i++
		}
	}
	p.hostEnd = i
	return p, p.hostEnd > p.host
}
