package siputils

import (
	"strconv"
	"time"

	"kemi/core"
	"kemi/sip"
)

// IsGruu tells whether the Request-URI is a GRUU (RFC 5627): 1 with a
// ;gr= value, 2 with a bare ;gr, -1 without.
func IsGruu(ctx *core.Ctx) int {
	u, ok := ruri(ctx)
	if !ok {
		return -1
	}
	v, ok := u.Params.Get("gr")
	switch {
	case !ok:
		return -1
	case len(v) > 0:
		return 1
	}
	return 2
}

// IsSip is 1: kemi only carries SIP messages.
func IsSip(ctx *core.Ctx) int { return b2i(ctx.Msg != nil) }

// IsHTTP is -1: kemi has no HTTP transport.
func IsHTTP(ctx *core.Ctx) int { return -1 }

func strParam(ctx *core.Ctx, name, def string) string {
	if ctx.RT == nil || ctx.RT.Reg == nil {
		return def
	}
	if v := ctx.RT.Param("siputils", name); v.Kind == core.KStr {
		return v.S
	}
	return def
}

// OptionsReply answers an OPTIONS addressed to the server itself (no user
// in the Request-URI) with 200 OK and Accept, Accept-Encoding,
// Accept-Language and Supported from the options_* modparams.
func OptionsReply(ctx *core.Ctx) int {
	m := ctx.Msg
	if m == nil || !m.IsRequest() || m.MethodID() != sip.MethodOPTIONS {
		ctx.Log(core.LErr, "siputils: options_reply: not an OPTIONS request\n")
		return -1
	}
	u, ok := ruri(ctx)
	if !ok || len(u.User) != 0 {
		ctx.Log(core.LErr, "siputils: options_reply: the Request-URI has a user; the OPTIONS is not for this server\n")
		return -1
	}
	if ctx.Out == nil {
		ctx.Log(core.LErr, "siputils: options_reply: no sender for this message\n")
		return -1
	}
	// The headers are built on the stack (a longer set spills to the
	// heap); no module slot is spent on a rarely used function.
	var hb [512]byte
	b := append(hb[:0], ctx.ReplyHeaders()...)
	for _, h := range [...]struct{ name, param, def string }{
		{"Accept: ", "options_accept", "*/*"},
		{"Accept-Encoding: ", "options_accept_encoding", ""},
		{"Accept-Language: ", "options_accept_language", "en"},
		{"Supported: ", "options_support", ""},
	} {
		b = append(b, h.name...)
		b = append(b, strParam(ctx, h.param, h.def)...)
		b = append(b, "\r\n"...)
	}
	opt := sip.ReplyOptions{ServerHeader: ctx.ServerHeader(), Src: ctx.Src, ForceRport: ctx.ForceRport, ExtraHeaders: b}
	out := sip.AppendReply(ctx.Scratch[:0], m, 200, "OK", &opt)
	ctx.Scratch = out
	if err := ctx.Out.SendTo(out, ctx.Proto, sip.ReplyAddr(m, ctx.Src, ctx.ForceRport)); err != nil {
		ctx.Log(core.LErr, "siputils: options_reply: "+core.LogValue(err.Error())+"\n")
		return -1
	}
	return 1
}

// now is the clock hdr_date_check compares with; tests replace it.
var now = time.Now

// HdrDateCheck is 1 when the Date header is at most tdiff seconds old;
// -1 when there is no Date header or it does not parse, -4 when it is
// older.
func HdrDateCheck(ctx *core.Ctx, tdiff int) int {
	if ctx.Msg == nil {
		return -1
	}
	v := ctx.Msg.HeaderID(sip.HdrDate)
	if v == nil {
		ctx.Log(core.LErr, "siputils: hdr_date_check: no Date header\n")
		return -1
	}
	// RFC 3261 §20.17: rfc1123-date, always GMT.
	t, err := time.Parse(time.RFC1123, string(v))
	if err != nil {
		ctx.Log(core.LErr, "siputils: hdr_date_check: bad Date "+core.LogQuote(v)+": expected like \"Sat, 13 Nov 2010 23:29:00 GMT\"\n")
		return -1
	}
	if now().Unix() > t.Unix()+int64(tdiff) {
		ctx.Log(core.LErr, "siputils: hdr_date_check: the Date is older than "+strconv.Itoa(tdiff)+" seconds\n")
		return -4
	}
	return 1
}
