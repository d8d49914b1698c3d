package rtpengine

import (
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/exports/rtpengine/rtptest"
)

// runtimeFor builds a started runtime with rtpengine params.
func runtimeFor(t testing.TB, params map[string][]core.Value) *core.Runtime {
	t.Helper()
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("rtpengine"))
	rt := ctx.RT
	rt.Params = map[string]map[string][]core.Value{"rtpengine": params}
	rt.Log = &core.Logger{Level: 3, Out: testLog{t}}
	if err := start(rt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Stop)
	return rt
}

func sockParams(socks ...string) map[string][]core.Value {
	p := map[string][]core.Value{
		"rtpengine_tout_ms":      {core.Int(150)},
		"rtpengine_retr":         {core.Int(2)},
		"rtpengine_disable_tout": {core.Int(1)},
	}
	for _, s := range socks {
		p["rtpengine_sock"] = append(p["rtpengine_sock"], core.Str(s))
	}
	return p
}

func sdpBody(port int, sess string) string {
	return "v=0\r\no=- " + sess + " 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio " + strconv.Itoa(port) + " RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
}

func withBody(lines []string, body string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\nContent-Type: application/sdp\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

func invite(callID string, body string) []byte {
	return withBody([]string{
		"INVITE sip:bob@127.0.0.1 SIP/2.0",
		"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-" + callID,
		"From: <sip:alice@127.0.0.1>;tag=a-" + callID,
		"To: <sip:bob@127.0.0.1>",
		"Call-ID: " + callID,
		"CSeq: 1 INVITE",
		"Contact: <sip:alice@127.0.0.1:5062>",
		"Max-Forwards: 70",
	}, body)
}

func ok200(callID string, body string) []byte {
	return withBody([]string{
		"SIP/2.0 200 OK",
		"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-" + callID,
		"From: <sip:alice@127.0.0.1>;tag=a-" + callID,
		"To: <sip:bob@127.0.0.1>;tag=b-" + callID,
		"Call-ID: " + callID,
		"CSeq: 1 INVITE",
		"Contact: <sip:bob@127.0.0.1:5064>",
	}, body)
}

func bye(callID string) []byte {
	return ksrtest.Request(
		"BYE sip:bob@127.0.0.1:5064 SIP/2.0",
		"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-bye-"+callID,
		"From: <sip:alice@127.0.0.1>;tag=a-"+callID,
		"To: <sip:bob@127.0.0.1>;tag=b-"+callID,
		"Call-ID: "+callID,
		"CSeq: 2 BYE",
		"Max-Forwards: 70",
		"Content-Length: 0",
	)
}

// msgCtx parses raw into a context over rt, from 127.0.0.1.
func msgCtx(t testing.TB, rt *core.Runtime, raw []byte) *core.Ctx {
	t.Helper()
	ctx := ksrtest.Ctx(t, raw, ksrtest.Discard, core.Known("rtpengine"))
	ctx.RT = rt
	ctx.Src = netipLoop
	return ctx
}

var mediaRE = regexp.MustCompile(`m=audio (\d+) `)

func mediaPort(t testing.TB, ctx *core.Ctx) int {
	t.Helper()
	body := string(ctx.Msg.Body())
	m := mediaRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no m=audio in\n%s", body)
	}
	p, _ := strconv.Atoi(m[1])
	return p
}

func udpPeer(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func rtpPacket(seq int) []byte {
	p := make([]byte, 12+160)
	p[0], p[1] = 0x80, 0
	p[2], p[3] = byte(seq>>8), byte(seq)
	p[8], p[9], p[10], p[11] = 1, 2, 3, 4
	return p
}

// relay sends RTP from `from` to rtpengine's port `to` until `at` gets one.
func relay(t testing.TB, from, at *net.UDPConn, to int) {
	t.Helper()
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: to}
	buf := make([]byte, 2048)
	for i := 0; i < 20; i++ {
		from.WriteToUDP(rtpPacket(i), dst)
		at.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, _, err := at.ReadFromUDP(buf); err == nil && n >= 12 {
			return
		}
	}
	t.Fatalf("no RTP from %v reached %v through rtpengine port %d", from.LocalAddr(), at.LocalAddr(), to)
}

// call runs offer, answer and RTP both ways for one call on rt.
func call(t *testing.T, rt *core.Runtime, callID string) (offerPort, answerPort int) {
	t.Helper()
	a, b := udpPeer(t), udpPeer(t)
	pa, pb := a.LocalAddr().(*net.UDPAddr).Port, b.LocalAddr().(*net.UDPAddr).Port
	inv := msgCtx(t, rt, invite(callID, sdpBody(pa, "1")))
	if r := Manage(inv, "replace-origin replace-session-connection ICE=remove RTP/AVP trust-address"); r != 1 {
		t.Fatalf("manage(INVITE) = %d", r)
	}
	offerPort = mediaPort(t, inv)
	if offerPort == pa {
		t.Fatalf("offer SDP still has the caller's port %d", pa)
	}
	out := ksrtest.Serialize(inv)
	if !strings.Contains(out, "Content-Length: "+strconv.Itoa(len(inv.Msg.Body()))) {
		t.Fatalf("Content-Length does not follow the new body:\n%s", out)
	}
	rep := msgCtx(t, rt, ok200(callID, sdpBody(pb, "2")))
	rep.Route = core.OnReplyRoute
	if r := Manage(rep, "replace-origin replace-session-connection trust-address"); r != 1 {
		t.Fatalf("manage(200) = %d", r)
	}
	answerPort = mediaPort(t, rep)
	if answerPort == pb || answerPort == offerPort {
		t.Fatalf("answer port %d (callee %d, offer %d)", answerPort, pb, offerPort)
	}
	relay(t, b, a, offerPort)  // callee → the port the callee was offered → caller
	relay(t, a, b, answerPort) // caller → the port in the answer → callee
	return offerPort, answerPort
}

func TestRtpengine_RealDaemonCallRTPQueryDelete(t *testing.T) {
	d := rtptest.Start(t)
	rt := runtimeFor(t, sockParams("udp:127.0.0.1:"+strconv.Itoa(d.NG)))
	call(t, rt, "real-1")
	q := msgCtx(t, rt, bye("real-1"))
	if r := Query0(q); r != 1 {
		t.Fatalf("query = %d", r)
	}
	stat, ok := getStat(q, "", nil)
	if !ok || !regexp.MustCompile(`^RTP: [1-9]\d* bytes, [1-9]\d* packets, 0 errors; RTCP: `).Match(stat) {
		t.Fatalf("$rtpstat = %q, %v", stat, ok)
	}
	if r := Manage0(q); r != 1 {
		t.Fatalf("manage(BYE) = %d", r)
	}
	if r := Query0(msgCtx(t, rt, bye("real-1"))); r != -1 {
		t.Fatalf("query after delete = %d, want -1 (no session)", r)
	}
}

func TestRtpengine_SecondInstanceTakesOverAndFirstComesBack(t *testing.T) {
	d1, d2 := rtptest.Start(t), rtptest.Start(t)
	rt := runtimeFor(t, sockParams("udp:127.0.0.1:"+strconv.Itoa(d1.NG)+"=100 udp:127.0.0.1:"+strconv.Itoa(d2.NG)+"=1"))
	c := Of(rt)
	n1, n2 := c.Sets[0].Nodes[0], c.Sets[0].Nodes[1]
	// weight 100:1 — calls land on the first
	for i := 0; i < 3; i++ {
		call(t, rt, "w"+strconv.Itoa(i)+"")
		if got := c.calls.get("w"+strconv.Itoa(i)+"", c.Now()); got != n1 {
			t.Fatalf("call %d went to %v, want the first node", i, got.URL)
		}
	}
	d1.Stop()
	call(t, rt, "after-stop")
	if got := c.calls.get("after-stop", c.Now()); got != n2 {
		t.Fatalf("with the first stopped the call went to %s", got.URL)
	}
	if c.Enabled(n1) {
		t.Fatal("the stopped node is still enabled")
	}
	d1.Start()
	time.Sleep(1100 * time.Millisecond) // rtpengine_disable_tout 1
	call(t, rt, "back")
	if got := c.calls.get("back", c.Now()); got != n1 {
		t.Fatalf("after restart the call went to %s, want the first again", got.URL)
	}
}

// The flags reach rtpengine as it expects them: the SDP it returns
// shows each one's effect.
func TestRtpengine_RealDaemonFlagsTakeEffect(t *testing.T) {
	d := rtptest.Start(t)
	rt := runtimeFor(t, sockParams("udp:127.0.0.1:"+strconv.Itoa(d.NG)))
	for i, c := range []struct {
		flags       string
		has, hasNot []string
	}{
		{"codec-strip-PCMA ICE=remove", []string{"PCMU/8000"}, []string{"PCMA", "a=ice-ufrag"}},
		{"codec-strip=PCMU,telephone-event ICE=force", []string{"PCMA/8000", "a=ice-ufrag", "a=candidate"}, []string{"PCMU", "telephone-event"}},
		{"RTP/SAVP SDES-off ICE=remove", []string{"RTP/SAVP", "a=fingerprint"}, []string{"a=crypto"}},
		{"RTP/SAVPF DTLS=off ICE=remove", []string{"RTP/SAVPF", "a=crypto"}, []string{"a=fingerprint"}},
		{"replace-origin replace-session-connection ICE=remove", []string{"o=- 1 1 IN IP4 127.0.0.1"}, []string{"a=ice"}},
	} {
		ctx := msgCtx(t, rt, invite("flags-"+strconv.Itoa(i), sdpBody(4000+2*i, "1")))
		if r := Offer(ctx, c.flags); r != 1 {
			t.Fatalf("offer %q = %d", c.flags, r)
		}
		body := string(ctx.Msg.Body())
		for _, h := range c.has {
			if !strings.Contains(body, h) {
				t.Errorf("flags %q: SDP lacks %q:\n%s", c.flags, h, body)
			}
		}
		for _, h := range c.hasNot {
			if strings.Contains(body, h) {
				t.Errorf("flags %q: SDP has %q:\n%s", c.flags, h, body)
			}
		}
	}
}
