package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// startWS runs testdata/ws (the WebSocket registrar and proxy) with the
// UDP callee at uas1, listening on udp and tcp on one port; defines are
// more -A NAME=VALUE.
func startWS(t *testing.T, uas1 int, defines ...string) *server {
	t.Helper()
	dir := t.TempDir()
	src := repo("test/e2e/testdata/ws")
	cfg, err := os.ReadFile(filepath.Join(src, "kemi.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(src, "ws.lua"))
	if err != nil {
		t.Fatal(err)
	}
	script = append([]byte(fmt.Sprintf("UAS1 = %d\n", uas1)), script...)
	for name, b := range map[string][]byte{"kemi.cfg": cfg, "ws.lua": script} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"-l", "tcp:127.0.0.1:{PORT}"}
	for _, d := range defines {
		args = append(args, "-A", d)
	}
	return startKemi(t, filepath.Join(dir, "kemi.cfg"), args...)
}

// TestWS_RegisterMessageCall (issue 14, websocket): two WebSocket
// clients register through the registrar script (Kamailio's WebSocket NAT
// handling: fix_nated_register, add_contact_alias, handle_ruri_alias);
// one sends the other a MESSAGE; it calls a UDP sipp callee through the
// record-routing proxy, which double-record-routes (ws in, udp out), and
// hangs up; then a UDP sipp caller calls the other client, reached over
// its WebSocket connection, and hangs up from the UDP side.
func TestWS_RegisterMessageCall(t *testing.T) {
	needSipp(t)
	uas1 := freePort(t)
	s := startWS(t, uas1)
	alice := dialWS(t, s.addr, "alice")
	bob := dialWS(t, s.addr, "bob")
	for _, u := range []*wsUA{alice, bob} {
		ok := u.register("200")
		if c := hdr(ok, "Contact"); !strings.Contains(c, u.user+"@"+u.host) {
			t.Fatalf("%s: 200 for REGISTER has Contact %q", u.user, c)
		}
	}

	// MESSAGE alice -> bob, both over WebSocket.
	alice.send(fmt.Sprintf(`
MESSAGE sip:bob@%[1]s SIP/2.0
Via: SIP/2.0/WS %[2]s;branch=%[3]s
Max-Forwards: 70
From: <sip:alice@%[1]s>;tag=a-msg
To: <sip:bob@%[1]s>
Call-ID: msg-1@%[2]s
CSeq: 1 MESSAGE
Content-Type: text/plain
Content-Length: 5

hello`, s.addr, alice.host, alice.branch()))
	msg := bob.expect("MESSAGE sip:bob@", false)
	if !strings.HasSuffix(msg, "hello") || !strings.HasPrefix(hdr(msg, "Via"), "SIP/2.0/WS 127.0.0.1:") {
		t.Fatalf("bob got MESSAGE with top Via %q and body end %q", hdr(msg, "Via"), msg[len(msg)-5:])
	}
	bob.answer(msg, "200 OK", "b-msg", "")
	alice.expect("SIP/2.0 200", true)

	// alice calls the UDP callee; BYE from alice.
	u := startUAS(t, "uas-call.xml", uas1)
	callID := "call-1@" + alice.host
	alice.send(fmt.Sprintf(`
INVITE sip:uas@%[1]s SIP/2.0
Via: SIP/2.0/WS %[2]s;branch=%[3]s
Max-Forwards: 70
From: <sip:alice@%[1]s>;tag=a-call
To: <sip:uas@%[1]s>
Call-ID: %[4]s
CSeq: 1 INVITE
Contact: %[5]s
Content-Type: application/sdp
Content-Length: %[6]d

%[7]s`, s.addr, alice.host, alice.branch(), callID, alice.contact(), len(strings.ReplaceAll(wsSDP, "\n", "\r\n")), wsSDP))
	ok := alice.expect("SIP/2.0 200", true)
	rr := splitRR(ok)
	if len(rr) != 2 || !strings.Contains(rr[0], "r2=on") || !strings.Contains(rr[1], "transport=ws") || strings.Contains(rr[0], "transport=") {
		t.Fatalf("200 for INVITE: Record-Route %q, want the udp entry above the ws one, both with r2=on", rr)
	}
	route := "Route: " + strings.Join(routeSet(ok), ", ")
	target := uriInAngle.FindStringSubmatch(hdr(ok, "Contact"))[1]
	totag := hdr(ok, "To")
	for i, m := range []string{"ACK", "BYE"} {
		alice.send(fmt.Sprintf(`
%[1]s %[2]s SIP/2.0
Via: SIP/2.0/WS %[3]s;branch=%[4]s
%[5]s
Max-Forwards: 70
From: <sip:alice@%[6]s>;tag=a-call
To: %[7]s
Call-ID: %[8]s
CSeq: %[9]d %[1]s
Content-Length: 0

`, m, target, alice.host, alice.branch(), route, s.addr, totag, callID, i+1))
	}
	alice.expect("SIP/2.0 200", true)
	u.wait(t, "ws to udp call")

	// A UDP caller calls bob over his WebSocket; BYE from the UDP side.
	done := make(chan string, 1)
	go func() {
		defer close(done)
		inv := bob.expect("INVITE sip:bob@", false)
		if v := hdr(inv, "Via"); !strings.HasPrefix(v, "SIP/2.0/WS ") {
			done <- "INVITE reached bob with top Via " + v
			return
		}
		if rr := splitRR(inv); len(rr) != 2 || !strings.Contains(rr[0], "transport=ws") {
			done <- fmt.Sprintf("INVITE reached bob with Record-Route %q, want the ws entry on top", rr)
			return
		}
		bob.answer(inv, "180 Ringing", "b-call", "")
		bob.answer(inv, "200 OK", "b-call", wsSDP)
		bob.expect("ACK ", false)
		bye := bob.expect("BYE ", false)
		bob.answer(bye, "200 OK", "", "")
		done <- ""
	}()
	s.sipp(t, repo("test/e2e/testdata/proxy/uac-call.xml"), 1, 1, "-s", "bob")
	if why := <-done; why != "" {
		t.Fatal(why)
	}
}
