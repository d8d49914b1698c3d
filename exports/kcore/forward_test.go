package kcore

import (
	"bytes"
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

func fwdRequest(method, via string) []byte {
	return ksrtest.Request(
		method+" sip:bob@192.0.2.20:5070 SIP/2.0",
		"Via: "+via,
		"From: <sip:alice@example.org>;tag=1",
		"To: <sip:bob@192.0.2.1>",
		"Call-ID: fwd@y",
		"CSeq: 1 "+method,
		"Max-Forwards: 9",
		"Content-Length: 0",
	)
}

// Issue 11: KSR.forward sends to $du, else the Request-URI, with our Via
// on top and Max-Forwards as it came; the branch is the same for a
// retransmission and for the CANCEL of the INVITE (RFC 3261 16.11).
func TestIssue11_ForwardStateless(t *testing.T) {
	via := "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport"
	send := func(method, du string, fn func(*core.Ctx) int) ksrtest.Sent {
		t.Helper()
		rec := ksrtest.NewRecorder()
		ctx := ksrtest.Ctx(t, fwdRequest(method, via), rec)
		ctx.DstURI = du
		if rc := fn(ctx); rc != 1 {
			t.Fatalf("%s: rc %d, want 1", method, rc)
		}
		if len(rec.Sent) != 1 {
			t.Fatalf("%s: sent %d messages, want 1", method, len(rec.Sent))
		}
		return rec.Sent[0]
	}
	inv := send("INVITE", "", Forward)
	if inv.To.String() != "192.0.2.20:5070" {
		t.Errorf("forward went to %s, want the Request-URI 192.0.2.20:5070", inv.To)
	}
	s := string(inv.B)
	if !strings.HasPrefix(s, "INVITE sip:bob@192.0.2.20:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKsl") {
		t.Errorf("no Via of ours on top:\n%s", s)
	}
	if !strings.Contains(s, "branch=z9hG4bK776asdhds;received=192.0.2.10;rport=5062\r\n") || !strings.Contains(s, "Max-Forwards: 9\r\n") {
		t.Errorf("want rport filled and Max-Forwards 9 as it came:\n%s", s)
	}
	branch := func(b []byte) string {
		_, rest, _ := bytes.Cut(b, []byte("branch="))
		v, _, _ := bytes.Cut(rest, []byte("\r\n"))
		return string(v)
	}
	if again := send("INVITE", "", Forward); branch(again.B) != branch(inv.B) {
		t.Errorf("retransmission branch %s, want %s", branch(again.B), branch(inv.B))
	}
	if c := send("CANCEL", "", Forward); branch(c.B) != branch(inv.B) {
		t.Errorf("CANCEL branch %s, want the INVITE's %s", branch(c.B), branch(inv.B))
	}
	if d := send("INVITE", "sip:192.0.2.30:5080", Forward); d.To.String() != "192.0.2.30:5080" {
		t.Errorf("with $du: sent to %s, want 192.0.2.30:5080", d.To)
	}
	u := send("INVITE", "sip:192.0.2.30:5080", func(ctx *core.Ctx) int { return ForwardURI(ctx, "sip:192.0.2.40") })
	if u.To.String() != "192.0.2.40:5060" || !bytes.HasPrefix(u.B, []byte("INVITE sip:bob@192.0.2.20:5070 ")) {
		t.Errorf("forward_uri: sent to %s, want 192.0.2.40:5060 with the Request-URI unchanged:\n%s", u.To, u.B)
	}
}

func TestIssue11_ForwardRefuses(t *testing.T) {
	via := "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds"
	for _, tc := range []struct{ name, du string }{
		{"a name that does not resolve", "sip:proxy.invalid"},
		{"tcp", "sip:192.0.2.30;transport=tcp"},
		{"ourselves", "sip:192.0.2.1:5060"},
		{"not sip", "tel:+123"},
	} {
		rec := ksrtest.NewRecorder()
		ctx := ksrtest.Ctx(t, fwdRequest("INVITE", via), rec)
		ctx.DstURI = tc.du
		if rc := Forward(ctx); rc != -1 || len(rec.Sent) != 0 {
			t.Errorf("%s: rc %d, sent %d; want -1 and nothing sent", tc.name, rc, len(rec.Sent))
		}
	}
	rec := ksrtest.NewRecorder()
	ctx := ksrtest.Ctx(t, reply("INVITE"), rec)
	if rc := Forward(ctx); rc != -1 || len(rec.Sent) != 0 {
		t.Errorf("a reply: rc %d, want -1", rc)
	}
	if rc := ForwardURI(ksrtest.Ctx(t, fwdRequest("INVITE", via), rec), ""); rc != -1 {
		t.Errorf("forward_uri(\"\"): rc %d, want -1", rc)
	}
}

func TestIssue11_ForwardAllocs(t *testing.T) {
	raw := fwdRequest("INVITE", "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds")
	ctx := ksrtest.Ctx(t, raw, ksrtest.Discard)
	ctx.Scratch = make([]byte, 0, 4096)
	n := testing.AllocsPerRun(200, func() {
		if err := ctx.Msg.Parse(raw); err != nil {
			t.Fatal(err)
		}
		ctx.DstURI = "sip:192.0.2.30:5080"
		if Forward(ctx) != 1 {
			t.Fatal("forward failed")
		}
	})
	if n > 0 {
		t.Errorf("forward allocates %.1f times per message, want 0", n)
	}
}
