package sl

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/hdr"
	"kemi/exports/internal/ksrtest"
)

func TestSendReply(t *testing.T) {
	rec := ksrtest.NewRecorder()
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), rec)
	if got := SendReply(ctx, 404, "Not Found"); got != 1 {
		t.Fatalf("SendReply = %d, want 1", got)
	}
	if len(rec.Sent) != 1 {
		t.Fatalf("%d messages sent, want 1", len(rec.Sent))
	}
	s := rec.Sent[0]
	reply := string(s.B)
	for _, want := range []string{
		"SIP/2.0 404 Not Found\r\n",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;received=192.0.2.10;rport=5062\r\n",
		"Call-ID: a84b4c76e66710@pc33.example.org\r\n",
		"CSeq: 314159 INVITE\r\n",
		core.DefaultServerHeader + "\r\n",
		"To: Bob <sip:bob@example.com>;tag=",
	} {
		if !strings.Contains(reply, want) {
			t.Errorf("reply lacks %q:\n%s", want, reply)
		}
	}
	if !strings.HasPrefix(reply, "SIP/2.0 404 Not Found\r\n") {
		t.Errorf("reply does not start with the status line:\n%s", reply)
	}
	if s.To != ksrtest.Src || s.Proto != core.UDP {
		t.Errorf("sent to %v over %v, want %v over udp (rport)", s.To, s.Proto, ksrtest.Src)
	}
}

func TestReplyAddressWithoutRport(t *testing.T) {
	// No rport: the reply goes to the Via sent-by port, unless force_rport.
	raw := strings.Replace(string(ksrtest.Invite()), ";rport", "", 1)
	for _, force := range []bool{false, true} {
		rec := ksrtest.NewRecorder()
		ctx := ksrtest.Ctx(t, []byte(raw), rec)
		ctx.Src = netip.MustParseAddrPort("192.0.2.10:40000") // a NAT changed the port
		ctx.ForceRport = force
		if SendReply(ctx, 200, "OK") != 1 {
			t.Fatal("not sent")
		}
		want := "192.0.2.10:5062"
		if force {
			want = "192.0.2.10:40000"
		}
		if got := rec.Sent[0].To.String(); got != want {
			t.Errorf("force_rport=%v: sent to %s, want %s", force, got, want)
		}
	}
}

func TestReplyFailures(t *testing.T) {
	ack := strings.Replace(strings.Replace(string(ksrtest.Invite()), "INVITE sip:", "ACK sip:", 1), "314159 INVITE", "314159 ACK", 1)
	reply := string(ksrtest.Request(
		"SIP/2.0 180 Ringing",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds",
		"From: <sip:alice@example.org>;tag=1",
		"To: <sip:bob@example.com>;tag=2",
		"Call-ID: x@y",
		"CSeq: 1 INVITE",
		"Content-Length: 0",
	))
	for _, c := range []struct {
		name string
		raw  string
		code int
		err  error
	}{
		{"code too low", string(ksrtest.Invite()), 99, nil},
		{"code too high", string(ksrtest.Invite()), 700, nil},
		{"ACK is not replied", ack, 200, nil},
		{"not a request", reply, 200, nil},
		{"send fails", string(ksrtest.Invite()), 200, errors.New("network down")},
	} {
		rec := ksrtest.NewRecorder()
		rec.Err = c.err
		ctx := ksrtest.Ctx(t, []byte(c.raw), rec)
		if got := SendReply(ctx, c.code, "X"); got != -1 {
			t.Errorf("%s: SendReply = %d, want -1", c.name, got)
		}
		if c.err == nil && len(rec.Sent) != 0 {
			t.Errorf("%s: sent %q", c.name, rec.Sent[0].B)
		}
	}
}

func TestReplyErrorAndAliases(t *testing.T) {
	rec := ksrtest.NewRecorder()
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), rec)
	if ReplyError(ctx) != 1 || !strings.HasPrefix(string(rec.Sent[0].B), "SIP/2.0 500 Server Internal Error\r\n") {
		t.Errorf("ReplyError sent %q", rec.Sent)
	}
	// The seed's names resolve to the same exports through the registry.
	reg, err := core.NewRegistry(core.Known("sl"))
	if err != nil {
		t.Fatal(err)
	}
	for alias, name := range map[string]string{"sreply": "sl_send_reply", "freply": "send_reply"} {
		if e := reg.Lookup("sl", alias); e == nil || e.Name != name {
			t.Errorf("KSR.sl.%s does not resolve to %s", alias, name)
		}
	}
}

func TestThunkArgErrors(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.NewRecorder())
	reg, _ := core.NewRegistry(core.Known("sl"))
	e := reg.Lookup("sl", "sl_send_reply")
	v := e.Call(ctx, []core.Value{core.Str("404"), core.Str("Not Found")})
	if v.Kind != core.KError {
		t.Fatalf("bad args returned %v, want an error value", v)
	}
	if got, want := ctx.Err().Error(), "KSR.sl.sl_send_reply: expected (int, str), got (str, str)"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
	if v := e.Call(ctx, []core.Value{core.Int(404), core.Str("Not Found")}); v != core.Int(1) {
		t.Errorf("good args returned %v", v)
	}
}

// Issue 11: server_signature and server_header as in Kamailio: the
// default line is "Server: kemi (VERSION)", server_header replaces the
// whole line, server_signature=no leaves it out; none of it allocates.
func TestServerSignatureAndHeader(t *testing.T) {
	for _, c := range []struct {
		sig       core.Signature
		want, not string
	}{
		{core.Signature{}, "CSeq: 314159 INVITE\r\nServer: kemi (dev)\r\nContent-Length: 0\r\n", ""},
		{core.Signature{Server: "Server: Edge Proxy 1"}, "CSeq: 314159 INVITE\r\nServer: Edge Proxy 1\r\nContent-Length: 0\r\n", "kemi"},
		{core.Signature{Server: "X-Served-By: edge1"}, "\r\nX-Served-By: edge1\r\n", "Server:"},
		{core.Signature{Off: true, Server: "Server: Edge"}, "CSeq: 314159 INVITE\r\nContent-Length: 0\r\n", "Server"},
	} {
		rec := ksrtest.NewRecorder()
		ctx := ksrtest.Ctx(t, ksrtest.Invite(), rec)
		ctx.RT.Signature = c.sig
		if SendReply(ctx, 404, "Not Found") != 1 {
			t.Fatal("not sent")
		}
		reply := string(rec.Sent[0].B)
		if !strings.Contains(reply, c.want) || c.not != "" && strings.Contains(reply, c.not) {
			t.Errorf("%+v: reply\n%s\nwant %q, without %q", c.sig, reply, c.want, c.not)
		}
		ctx.Out = ksrtest.Discard
		if n := testing.AllocsPerRun(50, func() { SendReply(ctx, 404, "Not Found") }); n != 0 {
			t.Errorf("%+v: %v allocs per reply", c.sig, n)
		}
	}
}

func TestReplyAllocs(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard)
	SendReply(ctx, 404, "Not Found") // grows Scratch once, as a worker's first reply does
	if n := testing.AllocsPerRun(200, func() { SendReply(ctx, 404, "Not Found") }); n != 0 {
		t.Errorf("SendReply allocates %v times per call, want 0", n)
	}
}

func BenchmarkSendReply(b *testing.B) {
	ctx := ksrtest.Ctx(b, ksrtest.Invite(), ksrtest.Discard)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		SendReply(ctx, 404, "Not Found")
	}
}

func TestAppendToReply(t *testing.T) {
	rec := ksrtest.NewRecorder()
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), rec)
	if hdr.AppendToReply(ctx, "X-Why: testing\r\n") != 1 {
		t.Fatal("append_to_reply failed")
	}
	SendReply(ctx, 403, "Forbidden")
	if got := string(rec.Sent[0].B); !strings.Contains(got, "\r\nX-Why: testing\r\n") {
		t.Errorf("reply lacks the append_to_reply line:\n%s", got)
	}
}

// TestStatefulHook: send_reply goes through the transaction hook the Ctx
// carries (issue 12: set by tm per message, no package variable), and
// a new message starts without it.
func TestStatefulHook(t *testing.T) {
	var got []int
	rec := ksrtest.NewRecorder()
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), rec)
	ctx.SetTxReply(func(ctx *core.Ctx, code int, reason string) (int, bool) {
		got = append(got, code)
		return 7, code == 486 // pretend only the 486 has a transaction
	})
	if r := SendReplyAny(ctx, 486, "Busy Here"); r != 7 || len(rec.Sent) != 0 {
		t.Errorf("with a transaction: returned %d, sent %d stateless", r, len(rec.Sent))
	}
	if r := SendReplyError(ctx); r != 1 || len(rec.Sent) != 1 {
		t.Errorf("without: returned %d, sent %d stateless", r, len(rec.Sent))
	}
	if r := SendReply(ctx, 486, "Busy Here"); r != 1 || len(got) != 2 {
		t.Errorf("sl_send_reply must stay stateless: hook called %v", got)
	}
	ctx.Reset(ctx.Msg, ksrtest.Src, ksrtest.Local, core.UDP)
	if r := SendReplyAny(ctx, 486, "Busy Here"); r != 1 || len(got) != 2 {
		t.Errorf("the hook outlived its message: returned %d, hook called %v", r, got)
	}
}
