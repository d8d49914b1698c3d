package textops

import (
	"strconv"
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/exports/pv"
)

func withBody(t *testing.T, ctype, body string) *core.Ctx {
	raw := "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1\r\n" +
		"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: mp\r\nCSeq: 1 INVITE\r\n"
	if ctype != "" {
		raw += "Content-Type: " + ctype + "\r\n"
	}
	raw += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	return ksrtest.Ctx(t, []byte(raw), nil)
}

const mpBody = "--b1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\nm=audio 4000 RTP/AVP 0\r\n\r\n" +
	"--b1\r\nContent-Type: application/isup;version=itu-t92+\r\nContent-Disposition: signal;handling=optional\r\n\r\n\x01\x02\r\n--b1--\r\n"

func TestMultipart(t *testing.T) {
	ctx := withBody(t, `multipart/mixed;boundary="b1"`, mpBody)
	if GetBodyPart(ctx, "application/sdp", "$var(sdp)") != 1 || pv.Get(ctx, "$var(sdp)").S != "v=0\r\nm=audio 4000 RTP/AVP 0\r\n\r\n" {
		t.Errorf("get_body_part sdp = %q", pv.Get(ctx, "$var(sdp)").S)
	}
	if GetBodyPartRaw(ctx, "application/isup", "$var(isup)") != 1 || !strings.HasPrefix(pv.Get(ctx, "$var(isup)").S, "Content-Type: application/isup;version=itu-t92+\r\nContent-Disposition") {
		t.Errorf("get_body_part_raw isup = %q", pv.Get(ctx, "$var(isup)").S)
	}
	if GetBodyPart(ctx, "text/plain", "$var(x)") != -1 {
		t.Error("get_body_part of a missing type")
	}
	if FilterBody(ctx, "application/sdp") != 1 {
		t.Fatal("filter_body")
	}
	out := ksrtest.Serialize(ctx)
	if !strings.Contains(out, "Content-Type: application/sdp\r\n") || !strings.HasSuffix(out, "\r\n\r\nv=0\r\nm=audio 4000 RTP/AVP 0\r\n") {
		t.Errorf("filter_body:\n%q", out)
	}

	ctx = withBody(t, `multipart/mixed;boundary="b1"`, mpBody)
	if RemoveBodyPart(ctx, "application/isup") != 1 || RemoveBodyPart(ctx, "text/plain") != -1 {
		t.Fatal("remove_body_part")
	}
	out = ksrtest.Serialize(ctx)
	if strings.Contains(out, "isup") || !strings.HasSuffix(out, "--b1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\nm=audio 4000 RTP/AVP 0\r\n\r\n--b1--\r\n") {
		t.Errorf("remove_body_part:\n%q", out)
	}
	re := ksrtest.Ctx(t, []byte(out), nil)
	if _, err := re.Msg.Validate(); err != nil || re.Msg.ContentLength() != len(re.Msg.Body()) {
		t.Errorf("result does not parse back: %v", err)
	}
}

func TestAppendBodyPart(t *testing.T) {
	sdp := "v=0\r\nm=audio 4000 RTP/AVP 0\r\n"
	ctx := withBody(t, "application/sdp", sdp)
	if AppendBodyPartHexCd(ctx, "0102", "application/isup", "signal;handling=optional") != 1 {
		t.Fatal("append_body_part_hex_cd")
	}
	out := ksrtest.Serialize(ctx)
	for _, want := range []string{
		"Content-Type: multipart/mixed;boundary=\"unique-boundary-1\"\r\n",
		"Mime-Version: 1.0\r\n",
		"\r\n\r\n--unique-boundary-1\r\nContent-Type: application/sdp\r\n\r\n" + sdp + "\r\n--unique-boundary-1\r\nContent-Type: application/isup\r\nContent-Disposition: signal;handling=optional\r\n\r\n\x01\x02\r\n--unique-boundary-1--\r\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("append_body_part result lacks %q:\n%q", want, out)
		}
	}
	// A second part goes into the multipart body made above.
	ctx2 := ksrtest.Ctx(t, []byte(out), nil)
	if AppendBodyPart(ctx2, "hi", "text/plain") != 1 {
		t.Fatal("append to multipart")
	}
	out2 := ksrtest.Serialize(ctx2)
	if strings.Count(out2, "--unique-boundary-1\r\n") != 3 || strings.Count(out2, "Mime-Version") != 1 {
		t.Errorf("second append:\n%q", out2)
	}
	if GetBodyPart(ksrtest.Ctx(t, []byte(out2), nil), "text/plain", "$var(t)") != 1 {
		t.Error("appended part not found")
	}
	// No body at all: a multipart body with the one part.
	ctx3 := withBody(t, "", "")
	if AppendBodyPart(ctx3, "hi", "text/plain") != 1 || !strings.HasSuffix(ksrtest.Serialize(ctx3), "\r\n\r\n--unique-boundary-1\r\nContent-Type: text/plain\r\n\r\nhi\r\n--unique-boundary-1--\r\n") {
		t.Errorf("append to no body:\n%q", ksrtest.Serialize(ctx3))
	}
	if AppendBodyPart(ctx3, "x", "") != -1 || AppendBodyPartHex(ctx3, "zz", "text/plain") != -1 {
		t.Error("bad append accepted")
	}
}

func TestNotMultipart(t *testing.T) {
	ctx := withBody(t, "text/plain", "hello")
	if GetBodyPart(ctx, "application/sdp", "$var(b)") != 1 || pv.Get(ctx, "$var(b)").S != "hello" {
		t.Error("get_body_part on a plain body gives the body")
	}
	if FilterBody(ctx, "text/plain") != -1 || RemoveBodyPart(ctx, "text/plain") != -1 {
		t.Error("filter/remove on a plain body")
	}
}

func TestSetBodyMultipart(t *testing.T) {
	ctx := withBody(t, "application/sdp", "v=0\r\n")
	if SetBodyMultipartMode(ctx) != 1 {
		t.Fatal("set_body_multipart_mode")
	}
	out := ksrtest.Serialize(ctx)
	if !strings.Contains(out, "Content-Type: multipart/mixed;boundary=\"unique-boundary-1\"\r\n") ||
		!strings.HasSuffix(out, "\r\n\r\n--unique-boundary-1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n\r\n--unique-boundary-1--\r\n") {
		t.Errorf("set_body_multipart_mode:\n%q", out)
	}
	ctx = withBody(t, "application/sdp", "v=0\r\n")
	if SetBodyMultipart(ctx, "hi", "", "b9") != 1 || !strings.HasSuffix(ksrtest.Serialize(ctx), "--b9\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b9--\r\n") {
		t.Errorf("set_body_multipart:\n%q", ksrtest.Serialize(ctx))
	}
	ctx = withBody(t, `multipart/mixed;boundary="b1"`, mpBody)
	if SetBodyMultipartBoundary(ctx, "x") != 1 || ctx.Msg.PendingEdits() {
		t.Error("a multipart body is left alone")
	}
	if SetBodyMultipartMode(withBody(t, "", "")) != -1 || SetBodyMultipartContent(withBody(t, "", ""), "hi", "text/plain") != 1 {
		t.Error("without a body")
	}
}
