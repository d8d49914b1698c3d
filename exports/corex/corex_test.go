package corex

import (
	"net/netip"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
)

func TestChecks(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite("User-Agent: phone"), nil)
	if HasRuriUser(ctx) != 1 || HasUserAgent(ctx) != 1 || IsFakedMsg(ctx) != -1 {
		t.Error("INVITE sip:bob@example.com with a User-Agent")
	}
	ctx = ksrtest.Ctx(t, ksrtest.Request("OPTIONS sip:example.com SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1",
		"From: <sip:a@b>;tag=1", "To: <sip:c@d>", "Call-ID: x", "CSeq: 1 OPTIONS", "User-Agent:"), nil)
	if HasRuriUser(ctx) != -1 || HasUserAgent(ctx) != -1 {
		t.Error("no user, empty User-Agent")
	}
}

func TestAppendBranch(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), nil)
	ctx.DstURI = "sip:192.0.2.50"
	ctx.BranchFlags = 4
	if SetSendSocket(ctx, "udp:192.0.2.1:5060") != 1 {
		t.Fatal("set_send_socket on the receiving socket")
	}
	if AppendBranchURIQ(ctx, "sip:carol@192.0.2.21", "0.5") != 1 || AppendBranchURI(ctx, "sip:dave@192.0.2.22") != 1 {
		t.Fatal("append_branch_uri")
	}
	if AppendBranch(ctx) != 1 {
		t.Fatal("append_branch")
	}
	want := []core.Branch{
		{URI: "sip:carol@192.0.2.21", DstURI: "sip:192.0.2.50", Q: 500, Flags: 4, Socket: "udp:192.0.2.1:5060"},
		{URI: "sip:dave@192.0.2.22", DstURI: "sip:192.0.2.50", Q: -1, Flags: 4, Socket: "udp:192.0.2.1:5060"},
		{URI: "sip:bob@example.com", DstURI: "sip:192.0.2.50", Q: -1, Flags: 4, Socket: "udp:192.0.2.1:5060"},
	}
	if len(ctx.Branches) != len(want) {
		t.Fatalf("branches %+v", ctx.Branches)
	}
	for i := range want {
		if ctx.Branches[i] != want[i] {
			t.Errorf("branch %d = %+v, want %+v", i, ctx.Branches[i], want[i])
		}
	}
	if ctx.DstURI != "" || ctx.BranchFlags != 0 {
		t.Error("append_branch() must clear $du and the branch flags")
	}
	if _, _, _, ok := SendSocket(ctx); ok {
		t.Error("append_branch() must clear the send socket")
	}
	for _, bad := range []string{"sip:", "nonsense"} {
		if AppendBranchURI(ctx, bad) != -1 {
			t.Errorf("append_branch_uri(%q) accepted", bad)
		}
	}
	for _, q := range []string{"2", "0.5x", "-1", "0.12345"} {
		if AppendBranchURIQ(ctx, "sip:x@y", q) != -1 {
			t.Errorf("q %q accepted", q)
		}
	}
	for q, want := range map[string]int{"1": 1000, "1.0": 1000, "0": 0, "0.1": 100, "0.25": 250, "0.125": 125} {
		if got, ok := parseQ(q); !ok || got != want {
			t.Errorf("parseQ(%q) = %d %v", q, got, ok)
		}
	}
}

func TestSendSocket(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), nil)
	for _, bad := range []string{"192.0.2.1:5060", "tcp:192.0.2.1:5060", "udp:192.0.2.9:5060", "udp:192.0.2.1", "sctp:192.0.2.1:5060"} {
		if SetSendSocket(ctx, bad) != -1 {
			t.Errorf("set_send_socket(%q) accepted", bad)
		}
	}
	ctx.RT.Myself = func(host []byte, port int) bool { return string(host) == "198.51.100.1" && port == 5080 }
	if SetSendSocket(ctx, "udp:198.51.100.1:5080") != 1 {
		t.Fatal("a listen address of the runtime")
	}
	p, ap, name, ok := SendSocket(ctx)
	if !ok || p != core.UDP || ap != netip.MustParseAddrPort("198.51.100.1:5080") || name != "udp:198.51.100.1:5080" {
		t.Errorf("SendSocket = %v %v %q %v", p, ap, name, ok)
	}
	ctx.Reset(ctx.Msg, ksrtest.Src, ksrtest.Local, core.UDP)
	if _, _, _, ok := SendSocket(ctx); ok {
		t.Error("the socket leaked into the next message")
	}
}

func TestXflags(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), nil)
	if Isxflagset(ctx, 63) != -1 || Setxflag(ctx, 63) != 1 || Isxflagset(ctx, 63) != 1 || Resetxflag(ctx, 63) != 1 || Isxflagset(ctx, 63) != -1 {
		t.Error("xflag 63")
	}
	if Setxflag(ctx, 64) != -1 || Setxflag(ctx, -1) != -1 {
		t.Error("out of range")
	}
}

func TestSendData(t *testing.T) {
	rec := ksrtest.NewRecorder()
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), rec)
	if SendData(ctx, "sip:192.0.2.30", "ping") != 1 {
		t.Fatal("send_data")
	}
	if len(rec.Sent) != 1 || string(rec.Sent[0].B) != "ping" || rec.Sent[0].To != netip.MustParseAddrPort("192.0.2.30:5060") {
		t.Errorf("sent %+v", rec.Sent)
	}
	if SendData(ctx, "sip:host.example.com", "x") != -1 || SendData(ctx, "sip:192.0.2.30;transport=tcp", "x") != -1 {
		t.Error("send_data to a name or over tcp")
	}
}

func TestFsPV(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), nil)
	get, set := core.LookupPV("fs"), core.LookupPVSetter("fs")
	if _, ok := get(ctx, "", nil); ok {
		t.Error("$fs without a socket")
	}
	if err := set(ctx, "", core.Str("udp:192.0.2.1:5060")); err != nil {
		t.Fatal(err)
	}
	if b, ok := get(ctx, "", nil); !ok || string(b) != "udp:192.0.2.1:5060" {
		t.Errorf("$fs = %q", b)
	}
	if err := set(ctx, "", core.Str("udp:192.0.2.99:5060")); err == nil {
		t.Error("$fs accepted a socket we do not listen on")
	}
	if err := set(ctx, "", core.Null()); err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := SendSocket(ctx); ok {
		t.Error("$fs = null must clear the socket")
	}
}

func TestRecvSocketSourceSendx(t *testing.T) {
	rec := ksrtest.NewRecorder()
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), rec)
	ctx.RT.Myself = func(host []byte, port int) bool { return string(host) == "198.51.100.1" && port == 5080 }
	if SetRecvSocket(ctx, "tcp:198.51.100.1:5080") != 1 || ctx.Local != netip.MustParseAddrPort("198.51.100.1:5080") || ctx.Proto != core.TCP {
		t.Errorf("set_recv_socket: %v %v", ctx.Local, ctx.Proto)
	}
	if SetRecvSocket(ctx, "udp:203.0.113.9:5060") != -1 || SetRecvSocketName(ctx, "x") != -1 {
		t.Error("unknown receive socket accepted")
	}
	if SetSourceAddress(ctx, "udp:192.0.2.50:5070") != 1 || ctx.Src != netip.MustParseAddrPort("192.0.2.50:5070") {
		t.Errorf("set_source_address: %v", ctx.Src)
	}
	if SetSourceAddress(ctx, "192.0.2.51:5071") != 1 || ctx.Src.Port() != 5071 || SetSourceAddress(ctx, "host:5060") != -1 {
		t.Error("set_source_address without proto / with a name")
	}
	if Sendx(ctx, "sip:192.0.2.30", "", "a") != 1 || Sendx(ctx, "sip:192.0.2.30", "tcp:198.51.100.1:5080", "b") != 1 || Sendx(ctx, "sip:192.0.2.30", "udp:192.0.2.1:5060", "c") != -1 {
		t.Error("sendx")
	}
	if len(rec.Sent) != 2 {
		t.Errorf("sent %d", len(rec.Sent))
	}
	SetSendSocket(ctx, "tcp:198.51.100.1:5080")
	if SetSendSocket(ctx, "") != 1 {
		t.Error("set_send_socket(\"\")")
	}
}
