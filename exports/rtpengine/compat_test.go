package rtpengine

import (
	"bytes"
	"encoding/json"
	"net"
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
	if Answer2(ctx, "", "1") != 1 {
		t.Fatal("answer2")
	}
	d = <-got
	if d.Str("sdp") != sdpBody(4000, "1") || d.Str("via-branch") != "z9hG4bK-compat-2" || d.Str("command") != "answer" {
		t.Fatalf("answer2 sent %v", d)
	}
	// The second argument selects, as via-branch= does; a value is refused.
	if Answer2(ctx, "", "br-2") != -1 {
		t.Fatal("answer2 with a via-branch that is not a selector")
	}
	if Answer2(ctx, "", "none") != 1 {
		t.Fatal("answer2 none")
	}
	if d = <-got; d.Str("via-branch") != "" {
		t.Fatalf("via-branch none sent %q", d.Str("via-branch"))
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
		{func() int { return PlayMedia2(ctx, "file=/x.wav", "auto") }, "play media"},
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

// TestRtpengineCompat_Subscribe (issue 17 item 3): the subscribe
// functions send their ng commands and put rtpengine's SDP, to-tag and
// streams where the script asked.
func TestRtpengineCompat_Subscribe(t *testing.T) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	got := make(chan Dict, 8)
	b := func(s string) string { return strconv.Itoa(len(s)) + ":" + s }
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			ck, body, _ := bytes.Cut(buf[:n], []byte(" "))
			v, _ := Decode(body)
			d, _ := v.(Dict)
			got <- d
			out := "d" + b("result") + b("ok")
			if d.Str("command") == "subscribe request" {
				out += b("sdp") + b("v=0\r\nm=audio 7\r\n") + b("tag-medias") +
					"ld" + b("medias") + "ld" + b("index") + "i0e" + b("label") + b("1") + "ee" + b("tag") + b("a-sub-1") + "ee" +
					b("to-tag") + b("subtag")
			}
			c.WriteToUDP(append(append(append([]byte(nil), ck...), ' '), out+"e"...), from)
		}
	}()
	rt := runtimeFor(t, sockParams("udp:127.0.0.1:"+strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)))
	ctx := msgCtx(t, rt, invite("sub-1", sdpBody(4000, "1")))
	if r := SubscribeRequest(ctx, "all", "$var(sdp)", "$var(tt)", "streams"); r != 1 {
		t.Fatalf("subscribe request = %d", r)
	}
	if d := <-got; d.Str("command") != "subscribe request" || d.Str("to-tag") != "" {
		t.Fatalf("sent %v", d)
	}
	if pv.Get(ctx, "$var(sdp)").S != "v=0\r\nm=audio 7\r\n" || pv.Get(ctx, "$var(tt)").S != "subtag" {
		t.Fatalf("sdp %v to-tag %v", pv.Get(ctx, "$var(sdp)"), pv.Get(ctx, "$var(tt)"))
	}
	if v := pv.Get(ctx, "$xavp(streams=>leg)"); v.S != "caller" {
		t.Fatalf("$xavp(streams=>leg) %v", v)
	}
	if v := pv.Get(ctx, "$xavp(streams=>label)"); v.S != "1" {
		t.Fatalf("$xavp(streams=>label) %v", v)
	}
	body := string(ctx.Msg.Body())
	if SubscribeAnswer(ctx, "to-tag=subtag") != 1 {
		t.Fatal("subscribe answer")
	}
	if d := <-got; d.Str("command") != "subscribe answer" || d.Str("to-tag") != "subtag" || d.Str("sdp") != body {
		t.Fatalf("answer sent %v", d)
	}
	if string(ctx.Msg.Body()) != body {
		t.Fatal("subscribe answer changed the body")
	}
	if Unsubscribe(ctx, "to-tag=subtag") != 1 {
		t.Fatal("unsubscribe")
	}
	if d := <-got; d.Str("command") != "unsubscribe" || d.Str("to-tag") != "subtag" {
		t.Fatalf("unsubscribe sent %v", d)
	}
}

// TestRtpengineCompat_MOS (issue 17 item 3): the mos_* params get the
// call's MOS figures from the delete reply, over every SSRC and for the
// side whose label mos_A_label_pv gives, as Kamailio's module prints them.
func TestRtpengineCompat_MOS(t *testing.T) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	b := func(s string) string { return strconv.Itoa(len(s)) + ":" + s }
	mos := func(m, at, pl int) string {
		return "d" + b("MOS") + "i" + strconv.Itoa(m) + "e" + b("packet loss") + "i" + strconv.Itoa(pl) + "e" + b("reported at") + "i" + strconv.Itoa(at) + "ee"
	}
	reply := "d" + b("SSRC") + "d" +
		b("111") + "d" + b("average MOS") + mos(40, 0, 2) + b("highest MOS") + mos(44, 1010, 0) + b("lowest MOS") + mos(35, 1065, 0) + "e" +
		b("222") + "d" + b("average MOS") + mos(30, 0, 4) + b("highest MOS") + mos(41, 1020, 0) + b("lowest MOS") + mos(25, 1100, 0) + "e" +
		"e" + b("created") + "i1000e" + b("result") + b("ok") +
		b("tags") + "d" + b("a-mos-1") + "d" + b("label") + b("caller") + b("medias") + "ld" + b("streams") + "ld" + b("SSRC") + "i111eeeeeeee"
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			ck, _, _ := bytes.Cut(buf[:n], []byte(" "))
			c.WriteToUDP(append(append(append([]byte(nil), ck...), ' '), reply...), from)
		}
	}()
	params := sockParams("udp:127.0.0.1:" + strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port))
	for k, v := range map[string]string{"mos_min_pv": "$avp(mmin)", "mos_min_at_pv": "$avp(mat)", "mos_max_pv": "$avp(mmax)",
		"mos_average_pv": "$avp(mavg)", "mos_average_packetloss_pv": "$avp(mpl)", "mos_A_label_pv": "$var(la)",
		"mos_average_A_pv": "$avp(aavg)", "mos_max_B_pv": "$avp(bmax)", "mos_B_label_pv": "$var(lb)"} {
		params[k] = []core.Value{core.Str(v)}
	}
	rt := runtimeFor(t, params)
	ctx := msgCtx(t, rt, bye("mos-1"))
	pv.Sets(ctx, "$var(la)", "caller")
	pv.Sets(ctx, "$var(lb)", "nobody")
	if Delete0(ctx) != 1 {
		t.Fatal("delete")
	}
	for name, want := range map[string]string{"$avp(mmin)": "2.5", "$avp(mat)": "1:40", "$avp(mmax)": "4.4",
		"$avp(mavg)": "3.5", "$avp(mpl)": "3", "$avp(aavg)": "4.0"} {
		if got := pv.Get(ctx, name); got.String() != want {
			t.Errorf("%s = %v, want %s", name, got, want)
		}
	}
	if got := pv.Get(ctx, "$avp(bmax)"); !got.IsNull() {
		t.Errorf("side B (a label no tag has) got %v", got)
	}
}
