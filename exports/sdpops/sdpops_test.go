package sdpops

import (
	"strconv"
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/exports/pv"
)

const offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n" +
	"m=audio 4000 RTP/AVP 0 8 9 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=candidate:1 1 UDP 1 192.0.2.10 4000 typ host\r\na=sendrecv\r\n" +
	"m=video 0 RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\n"

func sdpCtx(t *testing.T, body string) *core.Ctx {
	t.Helper()
	raw := strings.Replace(string(ksrtest.Invite("Content-Type: application/sdp")), "Content-Length: 0\r\n", "", 1)
	raw = strings.TrimSuffix(raw, "\r\n") + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	return ksrtest.Ctx(t, []byte(raw), ksrtest.Discard, core.Known("sdpops"), core.Known("pv"))
}

func TestSdpops_TestsAndEdits(t *testing.T) {
	ctx := sdpCtx(t, offer)
	for name, got := range map[string]int{
		"sdp_content": SDPContent(ctx), "sdp_with_ice": SDPWithICE(ctx), "with video": SDPWithMedia(ctx, "video"),
		"active audio": SDPWithActiveMedia(ctx, "audio"), "G722 by static name": SDPWithCodecsByName(ctx, "g722"),
		"by id": SDPWithCodecsByID(ctx, "101"), "SAVP like": SDPWithTransportLike(ctx, "savp"),
	} {
		if got != 1 {
			t.Errorf("%s = %d, want 1", name, got)
		}
	}
	for name, got := range map[string]int{
		"active video": SDPWithActiveMedia(ctx, "video"), "no image": SDPWithMedia(ctx, "image"),
		"no G729": SDPWithCodecsByName(ctx, "G729"), "mixed transport": SDPTransport(ctx, "$avp(t)"),
	} {
		if got >= 0 && name != "mixed transport" || name == "mixed transport" && got != -2 {
			t.Errorf("%s = %d", name, got)
		}
	}
	if SDPGetAddressFamily(ctx) != 4 {
		t.Error("address family")
	}
	if RemoveCodecsByName(ctx, "PCMA,telephone-event", "audio") != 1 || RemoveMedia(ctx, "video") != 1 ||
		RemoveLineByPrefix(ctx, "a=candidate", "") != 1 {
		t.Fatal("edits failed")
	}
	if SDPGetLineStartswith(ctx, "$avp(m)", "m=") != 1 {
		t.Fatal("get line")
	}
	if v, _ := pv.AVP(ctx, "m"); v.S != "m=audio 4000 RTP/AVP 0 9" {
		t.Fatalf("m line %q", v.S)
	}
	out := ksrtest.Serialize(ctx)
	for _, gone := range []string{"PCMA", "telephone-event", "fmtp:101", "m=video", "candidate"} {
		if strings.Contains(out, gone) {
			t.Fatalf("%s still in\n%s", gone, out)
		}
	}
	body := out[strings.Index(out, "\r\n\r\n")+4:]
	if !strings.Contains(out, "Content-Length: "+strconv.Itoa(len(body))+"\r\n") {
		t.Fatalf("Content-Length does not follow:\n%s", out)
	}
	if KeepCodecsByID(ctx, "0", "") != 1 || SDPWithCodecsByName(ctx, "G722") != -1 {
		t.Fatal("keep")
	}
	if SDPTransport(ctx, "$avp(t)") != 1 {
		t.Fatal("transport")
	}
	if v, _ := pv.AVP(ctx, "t"); v.S != "RTP/AVP" {
		t.Fatalf("transport %q", v.S)
	}
}

func TestSdpops_NoSDPAndHostileBody(t *testing.T) {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("sdpops"))
	if SDPContent(ctx) != -1 || RemoveCodecsByName(ctx, "PCMA", "") != -1 || SDPGet(ctx, "$avp(x)") != -2 {
		t.Fatal("no SDP")
	}
	for _, b := range []string{"m=\r\n", "m=audio\r\n\r\n\r\nm=", "v=0\nm=audio 1 RTP/AVP 0\na=rtpmap:\n", strings.Repeat("m=audio 1 x 1\r\n", 1000)} {
		c := sdpCtx(t, b)
		RemoveCodecsByName(c, "PCMU", "")
		KeepCodecsByID(c, "1", "audio")
		SDPTransport(c, "$avp(t)")
		SDPGetAddressFamily(c)
	}
}
