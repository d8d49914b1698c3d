package core

// Reply extras and stateful replies: what every module that answers a
// request (sl, tm, sanity, auth, registrar, siputils) puts into its reply,
// kept in the Ctx of the message, so that modules setting them (hdr's
// append_to_reply, textops' set_reply_body, tm's transaction) and
// modules replying need not import each other. Reset clears them.

// TxReplyFunc answers the message through its transaction; ok is false
// when the message has none (then the caller replies statelessly).
type TxReplyFunc func(ctx *Ctx, code int, reason string) (ret int, ok bool)

func (c *Ctx) resetReply() {
	c.replyHdrs = c.replyHdrs[:0]
	c.replyBody, c.replyCType = c.replyBody[:0], c.replyCType[:0]
	c.hasReplyBody = false
	c.txReply = nil
}

// AddReplyHeader adds "name: value" to the headers of the replies kemi
// sends to the current message (append_to_reply). name and value are
// copied; they must hold no line break (callers check).
func (c *Ctx) AddReplyHeader(name, value []byte) {
	c.replyHdrs = append(c.replyHdrs, name...)
	c.replyHdrs = append(c.replyHdrs, ": "...)
	c.replyHdrs = append(c.replyHdrs, value...)
	c.replyHdrs = append(c.replyHdrs, "\r\n"...)
}

// ReplyHeaders returns the header lines AddReplyHeader collected for the
// current message, each ending in CRLF, or nil. Replies put them in
// (sip.ReplyOptions.ExtraHeaders). The slice is valid until the next
// message.
func (c *Ctx) ReplyHeaders() []byte {
	if len(c.replyHdrs) == 0 {
		return nil
	}
	return c.replyHdrs
}

// SetReplyBody sets the body and Content-Type of the reply kemi sends to
// the current request (set_reply_body); both are copied.
func (c *Ctx) SetReplyBody(body, ctype string) {
	c.replyBody = append(c.replyBody[:0], body...)
	c.replyCType = append(c.replyCType[:0], ctype...)
	c.hasReplyBody = true
}

// ReplyBody returns what SetReplyBody set for the current message; ok is
// false when nothing was. The slice is valid until the next message.
func (c *Ctx) ReplyBody() (body []byte, ctype string, ok bool) {
	if !c.hasReplyBody {
		return nil, "", false
	}
	// ctype is converted per call; replies with a body are rare.
	return c.replyBody, string(c.replyCType), true
}

// SetTxReply makes f the way replies to the current message go through
// its transaction (tm sets it when the message gets one).
func (c *Ctx) SetTxReply(f TxReplyFunc) { c.txReply = f }

// TxReply answers through the message's transaction when it has one;
// ok is false otherwise, and the caller replies statelessly, as
// Kamailio's send_reply does.
func (c *Ctx) TxReply(code int, reason string) (ret int, ok bool) {
	if c.txReply == nil {
		return 0, false
	}
	return c.txReply(c, code, reason)
}
