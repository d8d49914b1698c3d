package textops

import (
	"encoding/hex"
	"strings"

	"kemi/core"
)

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
	// The Ctx keeps it: sl and tm read it there (core.Ctx.ReplyBody).
	ctx.SetReplyBody(body, ctype)
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
