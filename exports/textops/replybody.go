package textops

import (
	"encoding/hex"
	"strings"

	"kemi/core"
)

// replyBody is the body set_reply_body keeps for the current message.
type replyBody struct {
	seq   uint64
	set   bool
	body  []byte
	ctype []byte
}

// replyState shares the module's slot with the rewrite scratch space.
func replyState(ctx *core.Ctx) *replyBody {
	st := &scratch(ctx).reply
	if st.seq != ctx.Seq {
		st.seq, st.set = ctx.Seq, false
	}
	return st
}

// ReplyBody returns the body and Content-Type set_reply_body chose for the
// reply kemi sends to the current request; ok is false when none was set.
// sl and tm put them in their replies (sip.ReplyOptions Body and
// ContentType). The slices are valid until the next message.
func ReplyBody(ctx *core.Ctx) (body []byte, ctype string, ok bool) {
	st := replyState(ctx)
	if !st.set {
		return nil, "", false
	}
	// ctype is converted per call; replies with a body are rare.
	return st.body, string(st.ctype), true
}

// SetReplyBody sets the body (and Content-Type) of the reply kemi sends
// to this request.
func SetReplyBody(ctx *core.Ctx, body, ctype string) int {
	if ctx.Msg == nil || !ctx.Msg.IsRequest() {
		ctx.Log(core.LErr, "textops: set_reply_body: the message is not a request\n")
		return -1
	}
	if ctype == "" {
		ctx.Log(core.LErr, "textops: set_reply_body: a Content-Type is needed\n")
		return -1
	}
	st := replyState(ctx)
	st.body = append(st.body[:0], body...)
	st.ctype = append(st.ctype[:0], ctype...)
	st.set = true
	return 1
}

// SetReplyBodyHex is SetReplyBody with the body given in hex.
func SetReplyBodyHex(ctx *core.Ctx, htxt, ctype string) int {
	b, err := hex.DecodeString(strings.ReplaceAll(htxt, " ", ""))
	if err != nil {
		return logErr(ctx, "set_reply_body_hex", err)
	}
	return SetReplyBody(ctx, string(b), ctype)
}
