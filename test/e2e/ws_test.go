package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// startWS runs testdata/ws (the WebSocket registrar and proxy) with the
// UDP callee at uas1, listening on udp and tcp on one port; defines are
// more -A NAME=VALUE ("-l", LISTEN adds a listen).
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
	for i := 0; i < len(defines); i++ {
		if defines[i] == "-l" && i+1 < len(defines) {
			args = append(args, "-l", defines[i+1])
			i++
			continue
		}
		args = append(args, "-A", defines[i])
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
	// xhttp_prom's /metrics (the server's registry) counts the two
	// WebSocket connections under ws, not tcp; the scrape's own HTTP
	// connection is the one tcp.
	if res, err := http.Get("http://" + s.addr + "/metrics"); err != nil {
		t.Fatal(err)
	} else {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for _, want := range []string{`kemi_connections{transport="ws"} 2`, `kemi_connections{transport="tcp"} 1`, `kemi_connections{transport="wss"} 0`} {
			if !strings.Contains(string(body), want+"\n") {
				t.Errorf("GET /metrics with two WebSocket UAs: no %s in\n%s", want, grepLines(string(body), "kemi_connections"))
			}
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

	// The operator's view: the bindings name the ws transport, ws.dump
	// lists both connections, ws.close ends bob's, which runs the
	// websocket:closed event.
	rpc := func(args ...string) string {
		out, err := exec.Command(kemiBin, append([]string{"rpc", "-u", "http://" + s.addr + "/RPC"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kemi rpc %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if ul := rpc("ul.dump"); !strings.Contains(ul, ";transport=ws") || !strings.Contains(ul, "alice-ws.invalid") {
		t.Errorf("ul.dump does not show the ws bindings:\n%s", ul)
	}
	var dump struct {
		Connections []struct {
			ID    uint64
			Proto string
			Src   string
		}
	}
	if err := json.Unmarshal([]byte(rpc("ws.dump")), &dump); err != nil || len(dump.Connections) != 2 || dump.Connections[0].Proto != "ws" {
		t.Fatalf("ws.dump: %v %+v", err, dump)
	}
	bobID := dump.Connections[1].ID
	rpc("ws.close", strconv.FormatUint(bobID, 10))
	bob.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := wsutil.ReadServerData(bob.rw); err == nil {
		t.Errorf("bob's connection is still open after ws.close")
	}
	want := fmt.Sprintf("event websocket:closed conid %d from 127.0.0.1", bobID)
	deadline := time.Now().Add(3 * time.Second)
	for !strings.Contains(s.Log(), want) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(s.Log(), want) {
		t.Errorf("no %q in the log", want)
	}
}

// httpRaw sends req on a new TCP connection to addr and returns what
// comes back until the server closes it (or 5 s pass).
func httpRaw(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, req)
	b, _ := io.ReadAll(c)
	return string(b)
}

// TestXHTTP_StatusNotFoundMalformedTenMegabytes (issue 14, xhttp): on
// the port that serves SIP over UDP and TCP, the script answers GET
// /status with JSON and an unknown path with its own 404; a malformed
// request gets 400, a chunked one 411 and a 10 MB body 413, each closing
// its connection; SIP over TCP and UDP on the same port is answered
// before, during and after.
func TestXHTTP_StatusNotFoundMalformedTenMegabytes(t *testing.T) {
	needSipp(t)
	s := startWS(t, freePort(t))
	sippTCP := func() { s.sipp(t, optionsScenario(t, 70, 404, "Not Found"), 5, 1, tcpArgs(t, "t1")...) }
	sippTCP()

	hc := &http.Client{Timeout: 5 * time.Second}
	res, err := hc.Get("http://" + s.addr + "/status")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var st struct{ Status, Event string }
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &st) != nil || st.Status != "up" || st.Event != "xhttp:request" {
		t.Fatalf("GET /status: %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	// set_reply_close: the answer says Connection: close.
	if !res.Close {
		t.Errorf("GET /status: the script's set_reply_close did not close the connection")
	}
	res, err = hc.Get("http://" + s.addr + "/no/such/page")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 404 || string(body) != "no such page\n" {
		t.Fatalf("GET /no/such/page: %d %q, want the script's 404", res.StatusCode, body)
	}

	for _, tc := range []struct{ name, req, want string }{
		{"header without colon", "GET /status HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n", "HTTP/1.1 400 "},
		{"bad content-length", "POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 12x\r\n\r\n", "HTTP/1.1 400 "},
		{"chunked", "POST /status HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "HTTP/1.1 411 "},
	} {
		if got := httpRaw(t, s.addr, tc.req); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: got %q, want %q and the connection closed", tc.name, got, tc.want)
		}
	}

	// 10 MB body: refused from its headers, while SIP goes on.
	big, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	go func() {
		big.SetWriteDeadline(time.Now().Add(20 * time.Second))
		io.WriteString(big, "POST /status HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 10485760\r\n\r\n")
		chunk := make([]byte, 64<<10)
		for i := 0; i < 160; i++ {
			if _, err := big.Write(chunk); err != nil {
				return
			}
		}
	}()
	s.sipp(t, optionsScenario(t, 70, 404, "Not Found"), 5, 1)
	sippTCP()
	big.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(big)
	if len(got) > 0 && !strings.HasPrefix(string(got), "HTTP/1.1 413 ") {
		t.Errorf("10 MB body: got %q, want 413 (or a reset) and the connection closed", got)
	}
	sippTCP()
	if res, err := hc.Get("http://" + s.addr + "/status"); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /status after the hostile requests: %v %v", res, err)
	}

	// Operations over the same port: kemi rpc -u through the script's
	// jsonrpcs.dispatch, and xhttp_prom's /metrics with the script's own
	// counter and histogram.
	out, err := exec.Command(kemiBin, "rpc", "-u", "http://"+s.addr+"/RPC", "core.version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "kemi") {
		t.Errorf("kemi rpc -u .../RPC core.version: %v\n%s", err, out)
	}
	out, err = exec.Command(kemiBin, "rpc", "-u", "http://"+s.addr+"/RPC", "no.such.method").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "-32601") {
		t.Errorf("kemi rpc -u for an unknown method: %v\n%s", err, out)
	}
	res, err = hc.Get("http://" + s.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain; version=0.0.4") ||
		!strings.Contains(string(body), "kamailio_core_rcv_requests_total ") || !strings.Contains(string(body), "go_goroutines ") ||
		!strings.Contains(string(body), `kamailio_scrapes{path="/metrics"} 1`) || !strings.Contains(string(body), `kamailio_scrape_gap_bucket{le="10"} 1`) {
		t.Errorf("GET /metrics: %d %q\n%.2000s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	s.stop()
	// Bad Content-Length, chunked and 10 MB, refused by the transport
	// (the header without a colon is the parser's).
	if !strings.Contains(s.Log(), "http refused 3;") {
		t.Errorf("the stop line does not count 3 HTTP requests refused; log:\n%s", s.Log())
	}
}

// TestWS_BadInputRealServer (issue 14, websocket bad input against the
// binary): a handshake without the sip sub-protocol gets 400; an
// unmasked frame closes its connection with 1002, a 10 MB frame with
// 1009 (tcp_max_message_size); a client that never
// answers pings (keepalive_timeout 1) is closed within a few seconds;
// SIP over UDP is answered meanwhile.
func TestWS_BadInputRealServer(t *testing.T) {
	needSipp(t)
	s := startWS(t, freePort(t), "KATIMEOUT=1")
	got := httpRaw(t, s.addr, "GET / HTTP/1.1\r\nHost: "+s.addr+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 400 ") {
		t.Errorf("handshake without sip: got %q, want 400", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dial := func() (net.Conn, io.Reader) {
		c, br, _, err := ws.Dialer{Protocols: []string{"sip"}}.Dial(ctx, "ws://"+s.addr+"/")
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = c
		if br != nil {
			r = br
		}
		return c, r
	}
	c, r := dial()
	defer c.Close()
	ws.WriteFrame(c, ws.NewTextFrame([]byte("OPTIONS sip:x SIP/2.0\r\n\r\n")))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := ws.ReadFrame(r)
	if code, _ := ws.ParseCloseFrameData(f.Payload); err != nil || f.Header.OpCode != ws.OpClose || code != ws.StatusProtocolError {
		t.Errorf("unmasked frame: got opcode %v %q (%v), want close 1002", f.Header.OpCode, f.Payload, err)
	}

	big, br := dial()
	defer big.Close()
	ws.WriteHeader(big, ws.Header{Fin: true, OpCode: ws.OpText, Masked: true, Mask: ws.NewMask(), Length: 10 << 20})
	big.Write(make([]byte, 64<<10))
	big.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err = ws.ReadFrame(br)
	if code, _ := ws.ParseCloseFrameData(f.Payload); err != nil || f.Header.OpCode != ws.OpClose || code != ws.StatusMessageTooBig {
		t.Errorf("10 MB frame: got opcode %v %q (%v), want close 1009", f.Header.OpCode, f.Payload, err)
	}

	silent, sr := dial()
	defer silent.Close()
	silent.SetReadDeadline(time.Now().Add(6 * time.Second))
	start := time.Now()
	pings := 0
	for {
		f, err := ws.ReadFrame(sr)
		if err != nil {
			break
		}
		if f.Header.OpCode == ws.OpPing {
			pings++
		}
	}
	if d := time.Since(start); pings != 1 || d > 4*time.Second {
		t.Errorf("silent client: %d pings, closed after %v; want one ping and the connection closed about 2 s in", pings, d)
	}
	s.sipp(t, optionsScenario(t, 70, 404, "Not Found"), 3, 1)
	s.stop()
	if !strings.Contains(s.Log(), "websocket upgrades 3, bad frames 1, unanswered pings 1") {
		t.Errorf("the stop line's websocket counters are not 3 upgrades, 1 bad frame, 1 unanswered ping; log:\n%s", s.Log())
	}
}

// TestWS_WSSRegisterMessage (issue 14, websocket over TLS): a client
// over wss:// (the self-signed certificate trusted by the test) and one
// over ws:// register and send each other a MESSAGE; what reaches each
// names its own transport in the Via kemi adds (WSS, WS), and the
// registered Contacts say so.
func TestWS_WSSRegisterMessage(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	dir := t.TempDir()
	key, cert := filepath.Join(dir, "k.key"), filepath.Join(dir, "k.pem")
	if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		"-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert).CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	tlsCfg := filepath.Join(dir, "tls.cfg")
	os.WriteFile(tlsCfg, []byte("[server:default]\nmethod = TLSv1.2+\ncertificate = "+cert+"\nprivate_key = "+key+"\n"), 0o644)
	tport := freeTCPPort(t)
	s := startWS(t, freePort(t), `TLSCFG="`+tlsCfg+`"`, "-l", "tls:127.0.0.1:"+strconv.Itoa(tport))
	pem, _ := os.ReadFile(cert)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := ws.Dialer{Protocols: []string{"sip"}, TLSConfig: &tls.Config{RootCAs: pool}}
	conn, br, _, err := d.Dial(ctx, "wss://127.0.0.1:"+strconv.Itoa(tport)+"/")
	if err != nil {
		t.Fatalf("wss handshake: %v; log:\n%s", err, s.Log())
	}
	var r io.Reader = conn
	if br != nil {
		r = br
	}
	alice := &wsUA{t: t, user: "alice", host: "alice-wss.invalid", server: s.addr, conn: conn, rw: readWriter{r, conn}}
	t.Cleanup(func() { conn.Close() })
	bob := dialWS(t, s.addr, "bob")
	for _, u := range []*wsUA{alice, bob} {
		u.register("200")
	}
	// /metrics counts alice's connection under wss, bob's under ws, the
	// scrape's own under tcp.
	if res, err := http.Get("http://" + s.addr + "/metrics"); err != nil {
		t.Fatal(err)
	} else {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for _, want := range []string{`kemi_connections{transport="wss"} 1`, `kemi_connections{transport="ws"} 1`,
			`kemi_connections{transport="tcp"} 1`, `kemi_connections{transport="tls"} 0`} {
			if !strings.Contains(string(body), want+"\n") {
				t.Errorf("GET /metrics with a WSS and a WS UA: no %s in\n%s", want, grepLines(string(body), "kemi_connections"))
			}
		}
	}
	for _, p := range []struct {
		from, to *wsUA
		via      string
	}{{alice, bob, "SIP/2.0/WS "}, {bob, alice, "SIP/2.0/WSS "}} {
		p.from.send(fmt.Sprintf(`
MESSAGE sip:%[4]s@%[1]s SIP/2.0
Via: SIP/2.0/WS %[2]s;branch=%[3]s
Max-Forwards: 70
From: <sip:%[5]s@%[1]s>;tag=m-%[5]s
To: <sip:%[4]s@%[1]s>
Call-ID: wss-msg-%[5]s
CSeq: 1 MESSAGE
Content-Type: text/plain
Content-Length: 2

hi`, s.addr, p.from.host, p.from.branch(), p.to.user, p.from.user))
		msg := p.to.expect("MESSAGE sip:"+p.to.user+"@", false)
		if v := hdr(msg, "Via"); !strings.HasPrefix(v, p.via) {
			t.Errorf("MESSAGE to %s came with top Via %q, want %q", p.to.user, v, p.via)
		}
		p.to.answer(msg, "200 OK", "t-"+p.to.user, "")
		p.from.expect("SIP/2.0 200", true)
	}
}

// grepLines is the lines of s containing sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
