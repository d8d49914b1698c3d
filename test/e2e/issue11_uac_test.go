package e2e

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// writeLuaProxy writes a config loading mods and app_lua with script, and
// returns the config's path.
func writeLuaProxy(t *testing.T, mods []string, params, script string) string {
	t.Helper()
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("#!KAMAILIO\ndebug=3\nlog_stderror=yes\nchildren=1\n")
	for _, m := range mods {
		cfg.WriteString("loadmodule \"" + m + ".so\"\n")
	}
	cfg.WriteString("loadmodule \"app_lua.so\"\n")
	cfg.WriteString(params)
	cfg.WriteString("modparam(\"app_lua\", \"load\", \"" + filepath.Join(dir, "s.lua") + "\")\ncfgengine \"lua\"\n")
	if err := os.WriteFile(filepath.Join(dir, "s.lua"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "kemi.cfg")
	if err := os.WriteFile(p, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// peerReply answers a request the way a UAS does: Via, From, To (with a
// tag), Call-ID and CSeq copied, extra header lines added.
func peerReply(req []byte, status, extra string) []byte {
	var b strings.Builder
	b.WriteString("SIP/2.0 " + status + "\r\n")
	for _, line := range strings.Split(string(req), "\r\n") {
		name, _, _ := strings.Cut(line, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "via", "from", "call-id", "cseq":
			b.WriteString(line + "\r\n")
		case "to":
			b.WriteString(line + ";tag=peer\r\n")
		}
	}
	b.WriteString(extra)
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}

func inviteTo(to, callID string) []byte {
	return []byte("INVITE " + to + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bK-" + callID + "\r\n" +
		"From: <sip:alice@127.0.0.1>;tag=a1\r\n" +
		"To: <" + to + ">\r\n" +
		"Call-ID: " + callID + "\r\n" +
		"CSeq: 1 INVITE\r\n" +
		"Max-Forwards: 7\r\n" +
		"Contact: <sip:alice@127.0.0.1:5999>\r\n" +
		"Content-Length: 0\r\n\r\n")
}

// finalFrom reads replies on c until a final one, within wait.
func finalFrom(t *testing.T, c net.PacketConn, wait time.Duration) string {
	t.Helper()
	buf := make([]byte, 65536)
	deadline := time.Now().Add(wait)
	for {
		c.SetReadDeadline(deadline)
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no final reply: %v", err)
		}
		if sl := statusLine(buf[:n]); !strings.HasPrefix(sl, "SIP/2.0 1") {
			return sl
		}
	}
}

func listenUDP(t *testing.T) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Issue 11: a next hop answers 407 with a Digest challenge (MD5,
// qop=auth); the failure route's uac_auth adds Proxy-Authorization and
// t_relay sends the INVITE again; the next hop checks the response with
// its own MD5 (not kemi's code) and answers 200, which reaches the caller.
func TestIssue11_UacAuthAgainstPeer(t *testing.T) {
	peer := listenUDP(t)
	caller := listenUDP(t)
	cfg := writeLuaProxy(t, []string{"tm", "sl", "uac"},
		`modparam("uac", "credential", "alice:peer.test:s3cret")`+"\n"+`modparam("uac", "restore_mode", "none")`+"\n",
		`function ksr_request_route()
	KSR.tm.t_on_failure("ksr_failure")
	KSR.tm.t_relay()
end
function ksr_failure()
	if KSR.tm.t_check_status("407") > 0 and KSR.uac.uac_auth() > 0 then KSR.tm.t_relay() end
end
`)
	s := startKemi(t, cfg)
	ruri := "sip:bob@" + peer.LocalAddr().String()
	verdict := make(chan string, 1)
	go func() {
		buf := make([]byte, 65536)
		for round := 0; ; {
			peer.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, from, err := peer.ReadFrom(buf)
			if err != nil {
				verdict <- "peer: " + err.Error()
				return
			}
			req := append([]byte(nil), buf[:n]...)
			if !bytes.HasPrefix(req, []byte("INVITE ")) {
				continue // the ACK of the 407
			}
			round++
			if round == 1 {
				peer.WriteTo(peerReply(req, "407 Proxy Authentication Required",
					`Proxy-Authenticate: Digest realm="peer.test", nonce="abc123", qop="auth", algorithm=MD5`+"\r\n"), from)
				continue
			}
			verdict <- checkDigest(string(req), ruri)
			peer.WriteTo(peerReply(req, "200 OK", "Contact: <"+ruri+">\r\n"), from)
			return
		}
	}()
	if _, err := caller.WriteTo(inviteTo(ruri, "uac-auth-e2e"), mustAddr(t, s.addr)); err != nil {
		t.Fatal(err)
	}
	if got := finalFrom(t, caller, 5*time.Second); got != "SIP/2.0 200 OK" {
		t.Errorf("caller got %q, want 200 OK", got)
	}
	select {
	case v := <-verdict:
		if v != "" {
			t.Error(v)
		}
	case <-time.After(5 * time.Second):
		t.Error("the peer saw no second INVITE")
	}
}

// checkDigest verifies the Proxy-Authorization of req as a UAS would.
func checkDigest(req, ruri string) string {
	m := regexp.MustCompile(`(?m)^Proxy-Authorization: Digest (.*)\r$`).FindStringSubmatch(req)
	if m == nil {
		return "second INVITE has no Proxy-Authorization:\n" + req
	}
	p := map[string]string{}
	for _, kv := range regexp.MustCompile(`(\w+)=("[^"]*"|[^, ]+)`).FindAllStringSubmatch(m[1], -1) {
		p[kv[1]] = strings.Trim(kv[2], `"`)
	}
	h := func(s string) string { x := md5.Sum([]byte(s)); return hex.EncodeToString(x[:]) }
	ha1 := h("alice:peer.test:s3cret")
	ha2 := h("INVITE:" + p["uri"])
	want := h(ha1 + ":abc123:" + p["nc"] + ":" + p["cnonce"] + ":auth:" + ha2)
	switch {
	case p["username"] != "alice" || p["realm"] != "peer.test" || p["nonce"] != "abc123" || p["uri"] != ruri:
		return fmt.Sprintf("credentials name the wrong user, realm, nonce or uri: %v", p)
	case p["qop"] != "auth" || p["nc"] != "00000001" || len(p["cnonce"]) == 0 || p["algorithm"] != "MD5":
		return fmt.Sprintf("want qop=auth, nc=00000001, a cnonce, algorithm=MD5: %v", p)
	case p["response"] != want:
		return fmt.Sprintf("response %s, want %s", p["response"], want)
	}
	return ""
}

func mustAddr(t *testing.T, a string) net.Addr {
	t.Helper()
	u, err := net.ResolveUDPAddr("udp", a)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Issue 11: KSR.forward sends the INVITE to the Request-URI statelessly
// (Max-Forwards as it came, our Via on top), and the peer's reply comes
// back to the caller by Via, with no transaction.
func TestIssue11_ForwardStatelessAgainstPeer(t *testing.T) {
	peer := listenUDP(t)
	caller := listenUDP(t)
	cfg := writeLuaProxy(t, []string{"sl"}, "", `function ksr_request_route()
	if KSR.forward() < 0 then KSR.sl.sl_send_reply(500, "Not Forwarded") end
end
`)
	s := startKemi(t, cfg)
	ruri := "sip:bob@" + peer.LocalAddr().String()
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 65536)
		peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := peer.ReadFrom(buf)
		if err != nil {
			got <- "peer: " + err.Error()
			return
		}
		req := append([]byte(nil), buf[:n]...)
		got <- string(req)
		peer.WriteTo(peerReply(req, "486 Busy Here", ""), from)
	}()
	if _, err := caller.WriteTo(inviteTo(ruri, "fwd-e2e"), mustAddr(t, s.addr)); err != nil {
		t.Fatal(err)
	}
	if sl := finalFrom(t, caller, 5*time.Second); sl != "SIP/2.0 486 Busy Here" {
		t.Errorf("caller got %q, want the peer's 486", sl)
	}
	req := <-got
	if !strings.HasPrefix(req, "INVITE "+ruri+" SIP/2.0\r\nVia: SIP/2.0/UDP "+s.addr+";branch=z9hG4bKsl") ||
		!strings.Contains(req, "\r\nMax-Forwards: 7\r\n") {
		t.Errorf("forwarded request lacks our Via on top or changed Max-Forwards:\n%s", req)
	}
}

// Issue 11: uac_replace_from hides the caller from the next hop, and the
// replies (tm's 100, the peer's 180 and 200) reach the caller with the
// From it sent, tags kept, as Kamailio restores them.
// In the request route, and in a branch route (where the vsf goes into the
// Record-Route the request route added).
func TestIssue11_UacReplaceRestoresReplies(t *testing.T) {
	for name, script := range map[string]string{
		"request route": `function ksr_request_route()
	KSR.rr.record_route()
	KSR.uac.uac_replace_from("\"Anonymous\"", "sip:anonymous@anonymous.invalid")
	KSR.tm.t_relay()
end
`,
		"branch route": `function ksr_request_route()
	KSR.rr.record_route()
	KSR.tm.t_on_branch("ksr_branch")
	KSR.tm.t_relay()
end
function ksr_branch()
	KSR.uac.uac_replace_from("\"Anonymous\"", "sip:anonymous@anonymous.invalid")
end
`,
	} {
		t.Run(name, func(t *testing.T) { uacReplaceReplies(t, script) })
	}
}

func uacReplaceReplies(t *testing.T, script string) {
	peer := listenUDP(t)
	caller := listenUDP(t)
	cfg := writeLuaProxy(t, []string{"tm", "sl", "rr", "uac"}, "", script)
	s := startKemi(t, cfg)
	ruri := "sip:bob@" + peer.LocalAddr().String()
	seen := make(chan string, 1)
	go func() {
		buf := make([]byte, 65536)
		peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := peer.ReadFrom(buf)
		if err != nil {
			seen <- "peer: " + err.Error()
			return
		}
		req := append([]byte(nil), buf[:n]...)
		seen <- string(req)
		peer.WriteTo(peerReply(req, "180 Ringing", ""), from)
		peer.WriteTo(peerReply(req, "200 OK", "Contact: <"+ruri+">\r\n"), from)
	}()
	if _, err := caller.WriteTo(inviteTo(ruri, "uac-repl-e2e"), mustAddr(t, s.addr)); err != nil {
		t.Fatal(err)
	}
	req := <-seen
	if !strings.Contains(req, "\r\nFrom: \"Anonymous\" <sip:anonymous@anonymous.invalid>;tag=a1\r\n") ||
		!strings.Contains(req, ";vsf=") {
		t.Errorf("the peer did not get the replaced From and a vsf Record-Route:\n%s", req)
	}
	buf := make([]byte, 65536)
	for _, want := range []string{"SIP/2.0 100 Trying", "SIP/2.0 180 Ringing", "SIP/2.0 200 OK"} {
		caller.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := caller.ReadFrom(buf)
		if err != nil {
			t.Fatalf("waiting for %s: %v", want, err)
		}
		r := string(buf[:n])
		if statusLine(buf[:n]) != want || !strings.Contains(r, "\r\nFrom: <sip:alice@127.0.0.1>;tag=a1\r\n") {
			t.Errorf("want %s with the caller's own From:\n%s", want, r)
		}
	}
}
