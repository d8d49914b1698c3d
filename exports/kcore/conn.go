package kcore

import "kemi/core"

// The connection controls matter for TCP, TLS and WebSocket, which kemi
// does not serve yet. Kamailio's shipped scripts call them on every
// request, so they are accepted as the no-ops they are over UDP rather than
// missing.

// SetReplyNoConnect is KSR.set_reply_no_connect.
func SetReplyNoConnect(ctx *core.Ctx) bool { return true }

// SetReplyClose is KSR.set_reply_close.
func SetReplyClose(ctx *core.Ctx) bool { return true }

// SetForwardNoConnect is KSR.set_forward_no_connect.
func SetForwardNoConnect(ctx *core.Ctx) bool { return true }

// SetForwardClose is KSR.set_forward_close.
func SetForwardClose(ctx *core.Ctx) bool { return true }
