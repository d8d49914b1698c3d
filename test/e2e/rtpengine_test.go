package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"kemi/exports/rtpengine/rtptest"
)

// startMediaProxy runs kemi with test/e2e/testdata/rtpengine/media.<ext>
// and rtpengine_sock pointing at port ng.
func startMediaProxy(t *testing.T, ext, engine, app string, ng int) *server {
	t.Helper()
	dir := t.TempDir()
	script, err := os.ReadFile(repo("test/e2e/testdata/rtpengine/media." + ext))
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`#!KAMAILIO
debug=2
log_stderror=yes
children=2
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "rtpengine.so"
loadmodule "%s.so"
modparam("rtpengine", "rtpengine_sock", "udp:127.0.0.1:%d")
modparam("rtpengine", "rtpengine_tout_ms", 500)
modparam("rtpengine", "rtpengine_retr", 2)
modparam("%s", "load", "media.%s")
cfgengine "%s"
`, app, ng, app, ext, engine)
	for name, b := range map[string][]byte{"kemi.cfg": []byte(cfg), "media." + ext: script} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return startKemi(t, filepath.Join(dir, "kemi.cfg"))
}

// sipPeer is a Go UDP endpoint speaking just enough SIP for one call.
type sipPeer struct {
	c    *net.UDPConn
	port int
}

func newPeer(t *testing.T) *sipPeer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &sipPeer{c: c, port: c.LocalAddr().(*net.UDPAddr).Port}
}

func (p *sipPeer) send(t *testing.T, to string, msg string) {
	t.Helper()
	a, _ := net.ResolveUDPAddr("udp", to)
	if _, err := p.c.WriteToUDP([]byte(msg), a); err != nil {
		t.Fatal(err)
	}
}

// await reads until a message whose first line starts with first.
func (p *sipPeer) await(t *testing.T, first string) string {
	t.Helper()
	buf := make([]byte, 65536)
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.c.SetReadDeadline(deadline)
		n, _, err := p.c.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("peer %d: no %q: %v", p.port, first, err)
		}
		if m := string(buf[:n]); strings.HasPrefix(m, first) {
			return m
		}
	}
}

func sipBody(msg string) string {
	_, b, _ := strings.Cut(msg, "\r\n\r\n")
	return b
}

func withSDP(head []string, sdp string) string {
	return strings.Join(head, "\r\n") + "\r\nContent-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(sdp)) + "\r\n\r\n" + sdp
}

func mediaSDP(port int, sess string) string {
	return "v=0\r\no=- " + sess + " 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio " +
		strconv.Itoa(port) + " RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
}

var mPort = regexp.MustCompile(`m=audio (\d+) `)

func sdpPort(t *testing.T, who, msg string) int {
	t.Helper()
	m := mPort.FindStringSubmatch(sipBody(msg))
	if m == nil {
		t.Fatalf("%s: no m=audio in\n%s", who, msg)
	}
	p, _ := strconv.Atoi(m[1])
	return p
}

// headers copies the named headers of msg, in order, every value.
func headers(msg string, names ...string) []string {
	var out []string
	head, _, _ := strings.Cut(msg, "\r\n\r\n")
	for _, l := range strings.Split(head, "\r\n")[1:] {
		n, _, _ := strings.Cut(l, ":")
		for _, want := range names {
			if strings.EqualFold(strings.TrimSpace(n), want) {
				out = append(out, l)
			}
		}
	}
	return out
}

// rtpThrough sends RTP from `from` to rtpengine's port until `to` gets some.
func rtpThrough(t *testing.T, from, to *sipPeer, port int) {
	t.Helper()
	pkt := make([]byte, 172)
	pkt[0] = 0x80
	buf := make([]byte, 2048)
	for i := 0; i < 30; i++ {
		pkt[3] = byte(i)
		from.c.WriteToUDP(pkt, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		to.c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, _, err := to.c.ReadFromUDP(buf); err == nil && n == len(pkt) {
			return
		}
	}
	t.Fatalf("RTP from %d did not reach %d through rtpengine port %d", from.port, to.port, port)
}

var ngSeq int

// ngQuery asks the daemon about a call directly; it returns the raw reply.
func ngQuery(t *testing.T, port int, callID string) string {
	t.Helper()
	c, err := net.Dial("udp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ngSeq++
	fmt.Fprintf(c, "e2e%d_%d d7:call-id%d:%s7:command5:querye", os.Getpid(), ngSeq, len(callID), callID)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	b := make([]byte, 65536)
	n, err := c.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:n])
}

// TestRtpengine_CallThroughKemiInEveryEngine: a call with SDP through
// kemi and the real rtpengine. The callee sees rtpengine's ports (offer
// in the branch route), the caller too (answer in the onreply route),
// RTP gets through both ways, the BYE logs $rtpstat with packets counted
// and deletes the session in rtpengine.
func TestRtpengine_CallThroughKemiInEveryEngine(t *testing.T) {
	d := rtptest.Start(t)
	for _, e := range []struct{ ext, engine, app string }{
		{"lua", "lua", "app_lua"}, {"js", "jsdt", "app_jsdt"}, {"star", "starlark", "app_starlark"},
	} {
		t.Run(e.engine, func(t *testing.T) {
			s := startMediaProxy(t, e.ext, e.engine, e.app, d.NG)
			uac, uas := newPeer(t), newPeer(t)
			rtpA, rtpB := newPeer(t), newPeer(t)
			callID := "media-" + e.engine
			inv := withSDP([]string{
				"INVITE sip:bob@127.0.0.1:" + strconv.Itoa(uas.port) + " SIP/2.0",
				"Via: SIP/2.0/UDP 127.0.0.1:" + strconv.Itoa(uac.port) + ";branch=z9hG4bK-" + callID + ";rport",
				"From: <sip:alice@127.0.0.1>;tag=alice1",
				"To: <sip:bob@127.0.0.1>",
				"Call-ID: " + callID,
				"CSeq: 1 INVITE",
				"Contact: <sip:alice@127.0.0.1:" + strconv.Itoa(uac.port) + ">",
				"Max-Forwards: 70",
			}, mediaSDP(rtpA.port, "1"))
			uac.send(t, s.addr, inv)
			got := uas.await(t, "INVITE ")
			offerPort := sdpPort(t, "callee", got)
			if offerPort == rtpA.port || !strings.Contains(sipBody(got), "c=IN IP4 127.0.0.1") {
				t.Fatalf("the callee sees the caller's SDP, not rtpengine's:\n%s", got)
			}
			if !strings.Contains(got, "Content-Length: "+strconv.Itoa(len(sipBody(got)))+"\r\n") {
				t.Fatalf("Content-Length does not match the new body:\n%s", got)
			}
			ok := withSDP(append(append([]string{"SIP/2.0 200 OK"}, headers(got, "Via", "From", "Call-ID", "CSeq")...),
				"To: <sip:bob@127.0.0.1>;tag=bob1", "Contact: <sip:bob@127.0.0.1:"+strconv.Itoa(uas.port)+">"),
				mediaSDP(rtpB.port, "2"))
			uas.send(t, s.addr, ok)
			got200 := uac.await(t, "SIP/2.0 200")
			answerPort := sdpPort(t, "caller", got200)
			if answerPort == rtpB.port || answerPort == offerPort {
				t.Fatalf("the caller sees port %d (callee %d, offer %d):\n%s", answerPort, rtpB.port, offerPort, got200)
			}
			rtpThrough(t, rtpB, rtpA, offerPort)
			rtpThrough(t, rtpA, rtpB, answerPort)
			if q := ngQuery(t, d.NG, callID); !strings.Contains(q, "6:result2:ok") {
				t.Fatalf("rtpengine has no session for the call: %s", q)
			}
			uac.send(t, s.addr, strings.Join([]string{
				"BYE sip:bob@127.0.0.1:" + strconv.Itoa(uas.port) + " SIP/2.0",
				"Via: SIP/2.0/UDP 127.0.0.1:" + strconv.Itoa(uac.port) + ";branch=z9hG4bK-bye-" + callID + ";rport",
				"From: <sip:alice@127.0.0.1>;tag=alice1",
				"To: <sip:bob@127.0.0.1>;tag=bob1",
				"Call-ID: " + callID,
				"CSeq: 2 BYE",
				"Max-Forwards: 70",
				"Content-Length: 0",
			}, "\r\n")+"\r\n\r\n")
			bye := uas.await(t, "BYE ")
			uas.send(t, s.addr, strings.Join(append(append([]string{"SIP/2.0 200 OK"}, headers(bye, "Via", "From", "To", "Call-ID", "CSeq")...), "Content-Length: 0"), "\r\n")+"\r\n\r\n")
			uac.await(t, "SIP/2.0 200")
			if q := ngQuery(t, d.NG, callID); strings.Contains(q, "6:result2:ok") {
				t.Fatalf("rtpengine still has the session after BYE: %s", q)
			}
			log := s.Log()
			if !regexp.MustCompile(`rtpstat: RTP: [1-9]\d* bytes, [1-9]\d* packets, 0 errors; RTCP: `).MatchString(log) {
				t.Fatalf("no $rtpstat with packets in the log:\n%s", log)
			}
			for _, want := range []string{"reply media rewritten", "media deleted"} {
				if !strings.Contains(log, want) {
					t.Fatalf("log lacks %q:\n%s", want, log)
				}
			}
		})
	}
}

// TestRtpengine_KamailioExampleNATCalleeThroughRtpproxy: Kamailio's basic
// KEMI Lua example, unmodified, with rtpproxy loaded and pointed at
// rtpengine's legacy listener. Bob registers from behind a NAT (his
// Contact and SDP say 192.168.1.20, he sends from 127.0.0.1); Alice's
// call to him gets her SDP rewritten in the branch route (the NAT branch
// flag from lookup) and his answer in the onreply route: each side sees
// rtpengine's address and ports, never the private address, and RTP
// flows both ways through rtpengine.
func TestRtpengine_KamailioExampleNATCalleeThroughRtpproxy(t *testing.T) {
	needKamailioScript(t, kamailioLua)
	d := rtptest.Start(t)
	s := startKemi(t, repo("testdata/registrar/kamailio-lua.cfg"), "-A", "NOAUTH",
		"-A", `RTPPROXY_SOCK="udp:127.0.0.1:`+strconv.Itoa(d.UDP)+`"`)
	alice, bob := newPeer(t), newPeer(t)
	rtpA, rtpB := newPeer(t), newPeer(t)
	bob.send(t, s.addr, strings.Join([]string{
		"REGISTER sip:127.0.0.1 SIP/2.0",
		"Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK-natreg;rport",
		"From: <sip:bob@127.0.0.1>;tag=natreg",
		"To: <sip:bob@127.0.0.1>",
		"Call-ID: natreg-bob",
		"CSeq: 1 REGISTER",
		"Contact: <sip:bob@192.168.1.20:5060>;expires=600",
		"Max-Forwards: 70",
		"Content-Length: 0",
	}, "\r\n")+"\r\n\r\n")
	bob.await(t, "SIP/2.0 200")
	alice.send(t, s.addr, withSDP([]string{
		"INVITE sip:bob@127.0.0.1 SIP/2.0",
		"Via: SIP/2.0/UDP 127.0.0.1:" + strconv.Itoa(alice.port) + ";branch=z9hG4bK-natcall;rport",
		"From: <sip:alice@127.0.0.1>;tag=alice2",
		"To: <sip:bob@127.0.0.1>",
		"Call-ID: natcall-1",
		"CSeq: 1 INVITE",
		"Contact: <sip:alice@127.0.0.1:" + strconv.Itoa(alice.port) + ">",
		"Max-Forwards: 70",
	}, mediaSDP(rtpA.port, "1")))
	inv := bob.await(t, "INVITE ")
	offerPort := sdpPort(t, "bob", inv)
	if offerPort == rtpA.port {
		t.Fatalf("bob sees alice's own port; the branch route did not relay media:\n%s", inv)
	}
	bobSDP := strings.ReplaceAll(mediaSDP(rtpB.port, "2"), "127.0.0.1", "192.168.1.20")
	bob.send(t, s.addr, withSDP(append(append([]string{"SIP/2.0 200 OK"}, headers(inv, "Via", "Record-Route", "From", "Call-ID", "CSeq")...),
		"To: <sip:bob@127.0.0.1>;tag=bob2", "Contact: <sip:bob@192.168.1.20:5060>"), bobSDP))
	ok := alice.await(t, "SIP/2.0 200")
	answerPort := sdpPort(t, "alice", ok)
	if strings.Contains(sipBody(ok), "192.168.1.20") || answerPort == rtpB.port || !strings.Contains(sipBody(ok), "c=IN IP4 127.0.0.1") {
		t.Fatalf("alice sees bob's private SDP; the onreply route did not rewrite it:\n%s", ok)
	}
	rtpThrough(t, rtpB, rtpA, offerPort)
	rtpThrough(t, rtpA, rtpB, answerPort)
}
