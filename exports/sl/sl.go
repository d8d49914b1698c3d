// Package sl implements module sl: stateless replies. The reply is built
// into the worker's ctx.Scratch buffer and sent to the address RFC 3261
// 18.2.2 and RFC 3581 give (sip.ReplyAddr), so a reply allocates nothing.
package sl

import (
	"strconv"

	"kemi/core"
	"kemi/sip"
)

// Kamailio's sl statistics.
var (
	statSent    = core.NewCounter("sl", "sl", "sent_replies")
	statByClass = [6]core.Counter{
		core.NewCounter("sl", "sl", "1xx_replies"), core.NewCounter("sl", "sl", "2xx_replies"),
		core.NewCounter("sl", "sl", "3xx_replies"), core.NewCounter("sl", "sl", "4xx_replies"),
		core.NewCounter("sl", "sl", "5xx_replies"), core.NewCounter("sl", "sl", "6xx_replies"),
	}
)

// SendReply sends a stateless reply: 1 when sent, -1 when not.
func SendReply(ctx *core.Ctx, code int, reason string) int {
	return Reply(ctx, code, reason)
}

// SendReplyAny is send_reply: through the transaction when the message
// has one (tm set the Ctx's TxReply), else stateless, as Kamailio's sl
// does.
func SendReplyAny(ctx *core.Ctx, code int, reason string) int {
	if ret, ok := ctx.TxReply(code, reason); ok {
		return ret
	}
	return Reply(ctx, code, reason)
}

// ReplyError is sl_reply_error: 477 when the last relay could not send
// the request (Kamailio's E_SEND, with its reason phrase), else a 500 for
// an internal failure.
func ReplyError(ctx *core.Ctx) int {
	code, reason := errorReply(ctx)
	return Reply(ctx, code, reason)
}

// SendReplyError is send_reply_error: sl_reply_error through the
// transaction when there is one.
func SendReplyError(ctx *core.Ctx) int {
	code, reason := errorReply(ctx)
	return SendReplyAny(ctx, code, reason)
}

func errorReply(ctx *core.Ctx) (int, string) {
	if ctx.SerError == core.ESend {
		return 477, "Unfortunately error on sending to next hop occurred (477/SL)"
	}
	return 500, "Server Internal Error"
}

// Reply builds and sends a stateless reply to ctx.Msg. Requests only, and
// never to an ACK (RFC 3261 17.1.1.3: an ACK gets no response).
func Reply(ctx *core.Ctx, code int, reason string) int {
	m := ctx.Msg
	if m == nil || !m.IsRequest() {
		ctx.Log(core.LErr, "sl: reply: the message is not a request\n")
		return -1
	}
	if code < 100 || code > 699 {
		ctx.Log(core.LErr, "sl: reply: status code "+strconv.Itoa(code)+" is out of range 100-699\n")
		return -1
	}
	if m.MethodID() == sip.MethodACK {
		ctx.Log(core.LDbg, "sl: reply: ACKs are not replied\n")
		return -1
	}
	if ctx.Out == nil {
		ctx.Log(core.LErr, "sl: reply: no sender for this message\n")
		return -1
	}
	// The top Via of the reply gets received/rport (RFC 3261 18.2.1,
	// RFC 3581); opt stays on the stack.
	// Lines from hdr.append_to_reply (kept in the Ctx) go in too.
	opt := sip.ReplyOptions{ServerHeader: ctx.ServerHeader(), Src: ctx.Src, ForceRport: ctx.ForceRport, ExtraHeaders: ctx.ReplyHeaders()}
	b := sip.AppendReply(ctx.Scratch[:0], m, code, reason, &opt)
	ctx.Scratch = b
	if err := ctx.Out.SendTo(b, ctx.Proto, sip.ReplyAddr(m, ctx.Src, ctx.ForceRport)); err != nil {
		ctx.Log(core.LErr, "sl: reply: "+core.LogValue(err.Error())+"\n")
		return -1
	}
	ctx.Count(statSent)
	ctx.Count(statByClass[code/100-1])
	return 1
}
