package kcore

import "kemi/core"

// The connection controls act on TCP and TLS connections (Ctx.ConnFlags):
// the reply to the message in hand, and the requests tm forwards for it.
// Over UDP they change nothing. Kamailio's shipped scripts call them on
// every request.

// SetReplyNoConnect is KSR.set_reply_no_connect.
func SetReplyNoConnect(ctx *core.Ctx) bool { ctx.ConnFlags |= core.ConnReplyNoConnect; return true }

// SetReplyClose is KSR.set_reply_close.
func SetReplyClose(ctx *core.Ctx) bool { ctx.ConnFlags |= core.ConnReplyClose; return true }

// SetForwardNoConnect is KSR.set_forward_no_connect.
func SetForwardNoConnect(ctx *core.Ctx) bool { ctx.ConnFlags |= core.ConnForwardNoConnect; return true }

// SetForwardClose is KSR.set_forward_close.
func SetForwardClose(ctx *core.Ctx) bool { ctx.ConnFlags |= core.ConnForwardClose; return true }
