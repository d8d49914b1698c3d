package rtpproxy

import (
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/exports/internal/ksrtest"
	"kemi/exports/rtpengine/rtptest"
)

func withBody(lines []string, body string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\nContent-Type: application/sdp\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

func sdp(port int) string {
	return "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio " + strconv.Itoa(port) + " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
}

func newRT(t *testing.T, sock string) *core.Runtime {
	ctx := ksrtest.Ctx(t, ksrtest.Invite(), ksrtest.Discard, core.Known("rtpproxy"))
	rt := ctx.RT
	rt.Params = map[string]map[string][]core.Value{"rtpproxy": {"rtpproxy_sock": {core.Str(sock)}, "rtpproxy_retr": {core.Int(1)}}}
	if err := start(rt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Stop)
	return rt
}

func ctxFor(t *testing.T, rt *core.Runtime, raw []byte, src string) *core.Ctx {
	ctx := ksrtest.Ctx(t, raw, ksrtest.Discard, core.Known("rtpproxy"))
	ctx.RT = rt
	ctx.Src = netip.MustParseAddrPort(src)
	return ctx
}

var portRE = regexp.MustCompile(`m=audio (\d+) `)

func port(t *testing.T, ctx *core.Ctx) int {
	m := portRE.FindStringSubmatch(string(ctx.Msg.Body()))
	if m == nil {
		t.Fatalf("no m= in %q", ctx.Msg.Body())
	}
	p, _ := strconv.Atoi(m[1])
	return p
}

func peer(t *testing.T) (*net.UDPConn, int) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, c.LocalAddr().(*net.UDPAddr).Port
}

func flow(t *testing.T, from, to *net.UDPConn, port int) {
	t.Helper()
	pkt := make([]byte, 172)
	pkt[0] = 0x80
	buf := make([]byte, 2048)
	for i := 0; i < 20; i++ {
		pkt[3] = byte(i)
		from.WriteToUDP(pkt, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		to.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, _, err := to.ReadFromUDP(buf); err == nil {
			return
		}
	}
	t.Fatalf("RTP did not get through rtpengine port %d", port)
}

// A caller behind NAT advertises 10.0.0.9 in its SDP; without flag r the
// source address (127.0.0.1) goes to rtpengine's legacy listener, the
// SDP gets rtpengine's address and ports, and RTP flows both ways.
func TestRtpproxy_ManageAgainstRtpengineLegacyListener(t *testing.T) {
	d := rtptest.Start(t)
	rt := newRT(t, "udp:127.0.0.1:"+strconv.Itoa(d.UDP))
	a, pa := peer(t)
	b, pb := peer(t)
	inv := ctxFor(t, rt, withBody([]string{"INVITE sip:bob@127.0.0.1 SIP/2.0", "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-p1",
		"From: <sip:alice@x>;tag=fa", "To: <sip:bob@x>", "Call-ID: rp-1", "CSeq: 1 INVITE", "Max-Forwards: 70"}, sdp(pa)), "127.0.0.1:5062")
	if r := Manage(inv, "co"); r != 1 {
		t.Fatalf("manage(INVITE) = %d", r)
	}
	body := string(inv.Msg.Body())
	if strings.Contains(body, "10.0.0.9") || !strings.Contains(body, "c=IN IP4 127.0.0.1") || port(t, inv) == pa {
		t.Fatalf("offer SDP not rewritten:\n%s", body)
	}
	rep := ctxFor(t, rt, withBody([]string{"SIP/2.0 200 OK", "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-p1",
		"From: <sip:alice@x>;tag=fa", "To: <sip:bob@x>;tag=tb", "Call-ID: rp-1", "CSeq: 1 INVITE"}, strings.ReplaceAll(sdp(pb), "10.0.0.9", "127.0.0.1")), "127.0.0.1:5064")
	rep.Route = core.OnReplyRoute
	if r := Manage(rep, "co"); r != 1 {
		t.Fatalf("manage(200) = %d", r)
	}
	if port(t, rep) == pb || port(t, rep) == port(t, inv) {
		t.Fatalf("answer port %d", port(t, rep))
	}
	flow(t, b, a, port(t, inv))
	flow(t, a, b, port(t, rep))
	byeRaw := ksrtest.Request("BYE sip:bob@127.0.0.1 SIP/2.0", "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-p2",
		"From: <sip:alice@x>;tag=fa", "To: <sip:bob@x>;tag=tb", "Call-ID: rp-1", "CSeq: 2 BYE", "Content-Length: 0")
	if r := Manage0(ctxFor(t, rt, byeRaw, "127.0.0.1:5062")); r != 1 {
		t.Fatalf("manage(BYE) = %d", r)
	}
}

func TestRtpproxy_SilentNodeFailsWithinTimeout(t *testing.T) {
	c, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer c.Close()
	rt := newRT(t, "udp:"+c.LocalAddr().String())
	inv := ctxFor(t, rt, withBody([]string{"INVITE sip:bob@127.0.0.1 SIP/2.0", "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-p1",
		"From: <sip:alice@x>;tag=fa", "To: <sip:bob@x>", "Call-ID: rp-2", "CSeq: 1 INVITE"}, sdp(4000)), "127.0.0.1:5062")
	t0 := time.Now()
	if r := Offer(inv, "co"); r != -1 || time.Since(t0) > 1500*time.Millisecond {
		t.Fatalf("offer to a silent node = %d after %v", r, time.Since(t0))
	}
	if r := Offer(inv, "q"); r != -1 {
		t.Fatalf("unknown flag = %d", r)
	}
}
