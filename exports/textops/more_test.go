package textops

import (
	"strconv"
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/exports/pv"
)

func TestStringsIntoPVs(t *testing.T) {
	ctx := ctxFor(t)
	if SearchStr(ctx, "Linphone/4.2", "^Lin") != 1 || SearchStr(ctx, "x", "^Lin") != -1 {
		t.Error("search_str")
	}
	if SubstV(ctx, "0049301", "/^00/+/", "$var(num)") != 1 || pv.Get(ctx, "$var(num)").S != "+49301" {
		t.Errorf("subst_v: %v", pv.Get(ctx, "$var(num)"))
	}
	if SubstV(ctx, "49301", "/^00/+/", "$var(none)") != -1 || !pv.IsNull(ctx, "$var(none)") {
		t.Error("subst_v without a match")
	}
	if SubstV(ctx, "0049", "/^00/+/", "$ci") != -1 {
		t.Error("subst_v into a read-only pv")
	}
	if RegexSubstring(ctx, "phone/4.21", `([0-9]+)\.([0-9]+)`, 2, 3, "$var(minor)") != 1 || pv.Get(ctx, "$var(minor)").S != "21" {
		t.Errorf("regex_substring: %v", pv.Get(ctx, "$var(minor)"))
	}
	if RegexSubstring(ctx, "phone", `([0-9]+)`, 1, 2, "$var(x)") != -2 || RegexSubstring(ctx, "phone", `x`, 2, 2, "$var(x)") != -1 {
		t.Error("regex_substring misses")
	}
}

func TestStringReplacements(t *testing.T) {
	ctx := ctxFor(t)
	if ReplaceStr(ctx, "192.0.2.10", "h", "a") != 1 {
		t.Fatal("replace_str")
	}
	out := ksrtest.Serialize(ctx)
	if strings.Contains(out, "192.0.2.10") {
		t.Errorf("replace_str a left a match:\n%s", out)
	}
	ctx = ctxFor(t)
	if ReplaceHdrsStr(ctx, "192.0.2.10", "h", "f") != 1 {
		t.Fatal("replace_hdrs_str")
	}
	out = ksrtest.Serialize(ctx)
	if !strings.Contains(out, "UDP h:5062") || !strings.Contains(out, "Call-ID: x@192.0.2.10") {
		t.Errorf("replace_hdrs_str f:\n%s", out)
	}
	ctx = ctxFor(t)
	if ReplaceBodyStr(ctx, "192.0.2.10", "h", "a") != 1 || ReplaceBodyStr(ctx, "nothing", "h", "a") != -1 {
		t.Fatal("replace_body_str")
	}
	if out := ksrtest.Serialize(ctx); !strings.Contains(out, "c=IN IP4 h\r\n") || !strings.Contains(out, "UDP 192.0.2.10") {
		t.Errorf("replace_body_str:\n%s", out)
	}
	ctx = ctxFor(t)
	if ReplaceBodyAtonce(ctx, "A=SENDRECV", "a=sendonly") != 1 || IsAudioOnHold(reparse(t, ctx)) != 2 {
		t.Error("replace_body_atonce / is_audio_on_hold")
	}
}

func TestRemoveHFMatch(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite("X-Info: internal one", "X-Info: public"), nil)
	if RemoveHFMatch(ctx, "X-Info", "in", "internal") != 1 || RemoveHFMatch(ctx, "X-Info", "eq", "nothing") != -2 || RemoveHFMatch(ctx, "X-Info", "zz", "x") != -1 {
		t.Error("remove_hf_match")
	}
	out := ksrtest.Serialize(ctx)
	if strings.Contains(out, "internal") || !strings.Contains(out, "X-Info: public") {
		t.Errorf("remove_hf_match result:\n%s", out)
	}
}

func TestHoldAndPrivacy(t *testing.T) {
	withSDP := func(sdp string, extra ...string) *core.Ctx {
		lines := append([]string{
			"INVITE sip:bob@example.com SIP/2.0",
			"Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1",
			"From: <sip:a@b>;tag=1", "To: <sip:c@d>", "Call-ID: h", "CSeq: 1 INVITE",
			"Content-Type: application/sdp",
		}, extra...)
		raw := strings.Join(lines, "\r\n") + "\r\nContent-Length: " + strconv.Itoa(len(sdp)) + "\r\n\r\n" + sdp
		return ksrtest.Ctx(t, []byte(raw), nil)
	}
	for sdp, want := range map[string]int{
		"v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n":                    -1,
		"v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\n":                      1,
		"v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\na=inactive\r\n":      2,
		"v=0\r\na=sendonly\r\nm=audio 4000 RTP/AVP 0\r\n":                            2,
		"v=0\r\nm=video 4002 RTP/AVP 31\r\na=sendonly\r\nm=audio 4000 RTP/AVP 0\r\n": -1,
	} {
		if got := IsAudioOnHold(withSDP(sdp)); got != want {
			t.Errorf("is_audio_on_hold(%q) = %d, want %d", sdp, got, want)
		}
	}
	ctx := withSDP("v=0\r\n", "Privacy: id; header")
	if IsPrivacy(ctx, "ID") != 1 || IsPrivacy(ctx, "header") != 1 || IsPrivacy(ctx, "user") != -1 {
		t.Error("is_privacy")
	}
	if SetBodyHex(ctx, "68656c6c6f", "text/plain") != 1 || SetBodyHex(ctx, "zz", "") != -1 {
		t.Error("set_body_hex")
	}
	if out := ksrtest.Serialize(ctx); !strings.HasSuffix(out, "\r\n\r\nhello") {
		t.Errorf("set_body_hex result %q", out)
	}
}

func TestReplyBody(t *testing.T) {
	ctx := ctxFor(t)
	if _, _, ok := ctx.ReplyBody(); ok {
		t.Error("reply body before any call")
	}
	if SetReplyBody(ctx, "x", "") != -1 || SetReplyBodyHex(ctx, "zz", "text/plain") != -1 {
		t.Error("bad set_reply_body accepted")
	}
	if SetReplyBodyHex(ctx, "6869", "text/plain") != 1 {
		t.Fatal("set_reply_body_hex")
	}
	if b, ct, ok := ctx.ReplyBody(); !ok || string(b) != "hi" || ct != "text/plain" {
		t.Errorf("reply body %q %q %v", b, ct, ok)
	}
	ctx.Reset(ctx.Msg, ksrtest.Src, ksrtest.Local, core.UDP)
	if _, _, ok := ctx.ReplyBody(); ok {
		t.Error("reply body leaked into the next message")
	}
}
