package core

import (
	"net/netip"
	"testing"
)

// TestReplyExtras_ClearedPerMessage covers issue 12's reply extras in the
// Ctx: headers, body and the transaction hook last one message and cost
// no allocation once the buffers have grown.
func TestReplyExtras_ClearedPerMessage(t *testing.T) {
	var c Ctx
	reset := func() { c.Reset(nil, netip.AddrPort{}, netip.AddrPort{}, UDP) }
	reset()
	if c.ReplyHeaders() != nil {
		t.Fatal("headers before any")
	}
	if _, _, ok := c.ReplyBody(); ok {
		t.Fatal("body before any")
	}
	if _, ok := c.TxReply(200, "OK"); ok {
		t.Fatal("tx reply without a hook")
	}
	c.AddReplyHeader([]byte("Retry-After"), []byte("60"))
	c.SetReplyBody("hi", "text/plain")
	c.SetTxReply(func(*Ctx, int, string) (int, bool) { return 5, true })
	if got := string(c.ReplyHeaders()); got != "Retry-After: 60\r\n" {
		t.Errorf("headers %q", got)
	}
	if b, ct, ok := c.ReplyBody(); !ok || string(b) != "hi" || ct != "text/plain" {
		t.Errorf("body %q %q %v", b, ct, ok)
	}
	if r, ok := c.TxReply(200, "OK"); !ok || r != 5 {
		t.Errorf("tx reply %d %v", r, ok)
	}
	reset()
	if c.ReplyHeaders() != nil || c.txReply != nil || c.hasReplyBody {
		t.Error("reply extras outlived their message")
	}
	if n := testing.AllocsPerRun(50, func() {
		reset()
		c.AddReplyHeader([]byte("X-A"), []byte("1"))
		c.SetReplyBody("hi", "")
	}); n != 0 {
		t.Errorf("%v allocs per message", n)
	}
}
