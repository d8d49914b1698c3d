package rtpengine

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/exports/pv"
)

// TestRtpengineCompat_SDPPVsExtraIDInstPV (issue 17 item 3): read_sdp_pv
// gives the SDP sent instead of the body, write_sdp_pv takes the SDP back
// instead of the body, extra_id_pv is the via-branch of via-branch=extra,
// rtp_inst_pvar names the node that answered.
func TestRtpengineCompat_SDPPVsExtraIDInstPV(t *testing.T) {
	p, got := recordingNG(t)
	params := sockParams("udp:127.0.0.1:" + strconv.Itoa(p))
	params["read_sdp_pv"] = []core.Value{core.Str("$var(insdp)")}
	params["write_sdp_pv"] = []core.Value{core.Str("$avp(outsdp)")}
	params["extra_id_pv"] = []core.Value{core.Str("$var(extra)")}
	params["rtp_inst_pvar"] = []core.Value{core.Str("$var(node)")}
	rt := runtimeFor(t, params)
	ctx := msgCtx(t, rt, invite("compat-1", sdpBody(4000, "1")))
	body := string(ctx.Msg.Body())
	pv.Sets(ctx, "$var(insdp)", "v=0\r\nm=audio 1234 RTP/AVP 0\r\n")
	pv.Sets(ctx, "$var(extra)", "leg-7")
	if Offer(ctx, "via-branch=extra") != 1 {
		t.Fatal("offer")
	}
	d := <-got
	if d.Str("sdp") != "v=0\r\nm=audio 1234 RTP/AVP 0\r\n" {
		t.Fatalf("sdp sent %q, want read_sdp_pv's", d.Str("sdp"))
	}
	if d.Str("via-branch") != "leg-7" {
		t.Fatalf("via-branch %q, want extra_id_pv's leg-7", d.Str("via-branch"))
	}
	if string(ctx.Msg.Body()) != body {
		t.Fatal("write_sdp_pv set: the body must stay")
	}
	if v := pv.Get(ctx, "$avp(outsdp)"); v.S != "v=0\r\nm=audio 9\r\n" {
		t.Fatalf("write_sdp_pv got %v", v)
	}
	if v := pv.Get(ctx, "$var(node)"); v.S != "udp:127.0.0.1:"+strconv.Itoa(p) {
		t.Fatalf("rtp_inst_pvar got %v", v)
	}
	// read_sdp_pv without a value: the body goes.
	ctx = msgCtx(t, rt, invite("compat-2", sdpBody(4000, "1")))
	if Answer2(ctx, "", "br-2") != 1 {
		t.Fatal("answer2")
	}
	d = <-got
	if d.Str("sdp") != sdpBody(4000, "1") || d.Str("via-branch") != "br-2" || d.Str("command") != "answer" {
		t.Fatalf("answer2 sent %v", d)
	}
}

// TestRtpengineCompat_ParamsAccepted (issue 17 item 3): every modparam of
// Kamailio's README.rtpengine is accepted; a PV param that is not a PV,
// a write param that is read-only and db_url fail at start, saying why.
func TestRtpengineCompat_ParamsAccepted(t *testing.T) {
	params := sockParams("udp:127.0.0.1:9")
	for k, v := range map[string]core.Value{
		"aggressive_redetection": core.Int(0), "hash_algo": core.Int(1), "rtpengine_allow_op": core.Int(1),
		"control_cmd_tos": core.Int(184), "force_send_interface": core.Str("127.0.0.1"), "wsapi": core.Str(""),
		"mos_min_pv": core.Str("$avp(mos_min)"), "mos_average_samples_B_pv": core.Str("$avp(x)"),
		"mos_A_label_pv": core.Str("$avp(a)"), "media_duration": core.Str("$avp(dur)"), "table_name": core.Str("rtpengine"),
	} {
		params[k] = []core.Value{v}
	}
	runtimeFor(t, params)
	for _, c := range []struct{ param, value, want string }{
		{"read_sdp_pv", "sdp", "expected a pseudo-variable"},
		{"write_sdp_pv", "$si", "cannot be written"},
		{"db_url", "mysql://kamailio@localhost/kamailio", "rtpengine_sock only"},
	} {
		ps := sockParams("udp:127.0.0.1:9")
		ps[c.param] = []core.Value{core.Str(c.value)}
		err := startErr(t, ps)
		if err == nil || !strings.Contains(err.Error(), c.param) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%q: start error %v, want %q", c.param, c.value, err, c.want)
		}
	}
}

// TestRtpengineCompat_QueryVForwardingConnectSet2 (issue 17 item 3): the
// KSR.rtpengine functions Kamailio's KEMI has beside the ones of issue 17.
func TestRtpengineCompat_QueryVForwardingConnectSet2(t *testing.T) {
	p0, got0 := recordingNG(t)
	p1, got1 := recordingNG(t)
	rt := runtimeFor(t, sockParams("udp:127.0.0.1:"+strconv.Itoa(p0), "1 == udp:127.0.0.1:"+strconv.Itoa(p1)))
	ctx := msgCtx(t, rt, invite("qv-1", sdpBody(4000, "1")))
	if QueryV(ctx, "j", "$var(q)") != 1 {
		t.Fatal("query_v")
	}
	if d := <-got0; d.Str("command") != "query" {
		t.Fatalf("query_v sent %v", d)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(pv.Get(ctx, "$var(q)").S), &out); err != nil || out["result"] != "ok" {
		t.Fatalf("query_v wrote %q (%v)", pv.Get(ctx, "$var(q)").S, err)
	}
	if QueryV(ctx, "x", "$var(q)") != -1 || QueryV(ctx, "j", "$si") != -1 {
		t.Fatal("query_v with a bad format or a read-only PV")
	}
	for _, c := range []struct {
		f    func() int
		want string
	}{
		{func() int { return StartForwarding0(ctx) }, "start forwarding"},
		{func() int { return StopForwarding(ctx, "") }, "stop forwarding"},
		{func() int { return Connect(ctx, "to-call-id=other") }, "connect"},
		{func() int { return PlayMedia2(ctx, "file=/x.wav", "b1") }, "play media"},
	} {
		if c.f() != 1 {
			t.Fatalf("%s failed", c.want)
		}
		if d := <-got0; d.Str("command") != c.want {
			t.Fatalf("sent %v, want %s", d, c.want)
		}
	}
	// set_rtpengine_set2: the offer goes to set 0 then set 1, the SDP of
	// the first reply going on to the second node.
	ctx = msgCtx(t, rt, invite("chain-1", sdpBody(4000, "1")))
	if SetSet2(ctx, 0, 0) != -1 || SetSet2(ctx, 0, 5) != -1 || SetSet2(ctx, 0, 1) != 1 {
		t.Fatal("set_rtpengine_set2 checks")
	}
	if Offer0(ctx) != 1 {
		t.Fatal("chained offer")
	}
	a, b := <-got0, <-got1
	if a.Str("sdp") != sdpBody(4000, "1") || b.Str("sdp") != "v=0\r\nm=audio 9\r\n" {
		t.Fatalf("chain: first got %q, second %q", a.Str("sdp"), b.Str("sdp"))
	}
	// The answer goes the other way: set 1 first.
	ctx = msgCtx(t, rt, invite("chain-1", sdpBody(4000, "1")))
	SetSet2(ctx, 0, 1)
	if Answer0(ctx) != 1 {
		t.Fatal("chained answer")
	}
	b, a = <-got1, <-got0
	if b.Str("sdp") != sdpBody(4000, "1") || a.Str("sdp") != "v=0\r\nm=audio 9\r\n" {
		t.Fatalf("answer chain: set 1 got %q, set 0 %q", b.Str("sdp"), a.Str("sdp"))
	}
}

// startErr is start's error for params (nil when it started).
func startErr(t *testing.T, params map[string][]core.Value) error {
	t.Helper()
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("rtpengine"))
	rt := ctx.RT
	rt.Params = map[string]map[string][]core.Value{"rtpengine": params}
	rt.Log = &core.Logger{Level: 3, Out: testLog{t}}
	err := start(rt)
	t.Cleanup(rt.Stop)
	return err
}
