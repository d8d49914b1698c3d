package e2e

import (
	"bufio"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tcpModes are sipp's TCP modes: one connection for every call (t1) and
// a new connection per call (tn).
var tcpModes = []string{"t1", "tn"}

// tcpArgs are sipp's arguments for a TCP mode: a local port free for TCP
// too (the last -p wins over the helper's UDP-free one), and a socket
// limit, as tn's default (50000) is above this machine's open-files
// limit, which sipp refuses.
func tcpArgs(t *testing.T, mode string, more ...string) []string {
	return append([]string{"-t", mode, "-max_socket", "200", "-p", strconv.Itoa(freeTCPPort(t))}, more...)
}

// TestIssue13_TCPSeedOptions (issue 13, server + router): the seed
// OPTIONS over TCP with sipp -t t1 and -t tn in every engine, kemi
// listening on udp and tcp on the same port; replies come back on each
// request's connection, and UDP keeps answering.
func TestIssue13_TCPSeedOptions(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			s := startKemi(t, e.cfg, "-l", "tcp:127.0.0.1:{PORT}")
			for _, mode := range tcpModes {
				t.Run(mode, func(t *testing.T) {
					s.sipp(t, optionsScenario(t, 70, 200, e.reason), 20, 5, tcpArgs(t, mode)...)
					s.sipp(t, optionsScenario(t, 0, 483, "Too Many Hops"), 5, 1, tcpArgs(t, mode)...)
				})
			}
			s.sipp(t, optionsScenario(t, 70, 200, e.reason), 5, 1)
			if !strings.Contains(s.Log(), "listening on tcp:127.0.0.1:"+strconv.Itoa(s.port)) {
				t.Errorf("no tcp listening line; log:\n%s", s.Log())
			}
		})
	}
}

// TestIssue13_TCPRegistrarRegister (issue 13): the registrar's REGISTER
// (challenge, then credentials) over TCP, t1 and tn, with Kamailio's Lua
// script and kemi's in every language.
func TestIssue13_TCPRegistrarRegister(t *testing.T) {
	needSipp(t)
	for _, rs := range registrarScripts {
		t.Run(rs.name, func(t *testing.T) {
			if rs.name == "kamailio-lua" {
				needKamailioScript(t, kamailioLua)
			}
			db := t.TempDir() + "/kemi.db"
			addUser(t, db, "alice@127.0.0.1", "alice-secret")
			s := startKemi(t, repo(rs.cfg), "-A", `AUTHDB="`+db+`"`, "-l", "tcp:127.0.0.1:{PORT}")
			for _, mode := range tcpModes {
				t.Run(mode, func(t *testing.T) {
					sc := scenario(t, "request.xml", "METHOD", "REGISTER", "RURI", "sip:"+s.addr, "MAXFWD", "70",
						"UA", "kemi-e2e", "CODE", "401", "CHECK", xmlSafe(`WWW-Authenticate: Digest .*realm="127\.0\.0\.1"`))
					s.sipp(t, sc, 1, 1, tcpArgs(t, mode)...)
					cport := freePort(t)
					contact := "<sip:alice@127.0.0.1:" + strconv.Itoa(cport) + ";transport=tcp>"
					sc = scenario(t, "register.xml", "USER", "alice", "CONTACT", contact, "EXPIRES", "600", "CODE", "200",
						"CHECK", xmlSafe(`Contact: *<sip:alice@127\.0\.0\.1:`+strconv.Itoa(cport)+`;transport=tcp>;expires=(600|599)`))
					s.sipp(t, sc, 1, 1, tcpArgs(t, mode, "-au", "alice", "-ap", "alice-secret")...)
				})
			}
		})
	}
}

// TestIssue13_StreamHostile (issue 13, hostile input against the real
// binary): a 10 MB message and a connection that sends one byte a second
// are cut off by their limits (tcp_max_message_size, tcp_msg_read_timeout
// given as core params), while another client over TCP keeps being served.
func TestIssue13_StreamHostile(t *testing.T) {
	needSipp(t)
	e := engines[0]
	s := startKemi(t, e.cfg, "-l", "tcp:127.0.0.1:{PORT}")
	addr := s.addr

	// 10 MB: a header block with a huge Content-Length, then the bytes.
	big, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	bigDone := make(chan error, 1)
	go func() {
		hdr := "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK-big\r\n" +
			"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: big\r\nCSeq: 1 OPTIONS\r\nContent-Length: 10485760\r\n\r\n"
		big.SetWriteDeadline(time.Now().Add(20 * time.Second))
		if _, err := big.Write([]byte(hdr)); err != nil {
			bigDone <- err
			return
		}
		chunk := make([]byte, 64<<10)
		for i := 0; i < 160; i++ {
			if _, err := big.Write(chunk); err != nil {
				bigDone <- err
				return
			}
		}
		bigDone <- nil
	}()
	// Slow loris: one byte a second of a header block that never ends.
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slowDone := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		msg := "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK-slow\r\nX-Slow: "
		for i := 0; ; i++ {
			b := byte('a')
			if i < len(msg) {
				b = msg[i]
			}
			if _, err := slow.Write([]byte{b}); err != nil {
				slowDone <- time.Since(start)
				return
			}
			if time.Since(start) > 40*time.Second {
				slowDone <- -1
				return
			}
			time.Sleep(time.Second)
		}
	}()
	// Meanwhile a well-behaved client is served, over TCP and UDP.
	time.Sleep(500 * time.Millisecond)
	s.sipp(t, optionsScenario(t, 70, 200, e.reason), 10, 1, tcpArgs(t, "t1")...)
	s.sipp(t, optionsScenario(t, 70, 200, e.reason), 5, 1)

	select {
	case err := <-bigDone:
		if err == nil {
			// Every byte went into socket buffers; the server must still
			// have closed the connection.
			big.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = bufio.NewReader(big).ReadByte()
			if err == nil {
				t.Errorf("10 MB message: the connection is still open and answered")
			}
		}
	case <-time.After(30 * time.Second):
		t.Errorf("10 MB message: the connection was not cut off within 30s")
	}
	select {
	case d := <-slowDone:
		if d < 0 {
			t.Errorf("slow loris: still connected after 40 s")
		}
		t.Logf("slow loris cut off after %v", d)
	case <-time.After(45 * time.Second):
		t.Errorf("slow loris: not cut off")
	}
	// And after both, still served.
	s.sipp(t, optionsScenario(t, 70, 200, e.reason), 5, 1, tcpArgs(t, "tn")...)
	s.stop()
	for _, want := range []string{"slow 1,", "too big 1,"} {
		if !strings.Contains(s.Log(), want) {
			t.Errorf("the stop line's stream counters lack %q; log:\n%s", want, s.Log())
		}
	}
}

// TestIssue13_UDPToTCPCall (issue 13, tm over streams): a call from a UDP
// caller through the record-routing proxy to a callee reached over TCP
// ($du with transport=tcp), in every engine: the INVITE leaves with a TCP
// Via from kemi's tcp listen, the callee's replies come back on that
// connection and go upstream over UDP, and the ACK and the caller's BYE
// reach the callee over TCP (its Contact says transport=tcp).
func TestIssue13_UDPToTCPCall(t *testing.T) {
	for _, e := range proxyEngines {
		t.Run(e.name, func(t *testing.T) {
			uas1 := freeTCPPort(t)
			s := startProxy(t, e.ext, e.define, uas1, freePort(t), "-l", "tcp:127.0.0.1:{PORT}")
			u := startUAS(t, "uas-call-tcp.xml", uas1, "-t", "t1", "-max_socket", "100")
			s.sipp(t, repo("test/e2e/testdata/proxy/uac-call.xml"), 1, 1, "-s", "tcpcall")
			u.wait(t, "udp to tcp call")
		})
	}
}

// freeTCPPort finds a port free for both TCP and UDP on 127.0.0.1.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 20; i++ {
		p := freePort(t)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no free tcp port")
	return 0
}

// readmeBlock returns the indented block that follows the first README
// line containing after, with its indentation removed.
func readmeBlock(t *testing.T, readme, after string) string {
	t.Helper()
	i := strings.Index(readme, after)
	if i < 0 {
		t.Fatalf("README.md has no %q", after)
	}
	lines := strings.Split(readme[i:], "\n")[1:]
	var out []string
	started := false
	for _, l := range lines {
		if strings.HasPrefix(l, "    ") {
			started = true
			out = append(out, strings.TrimPrefix(l, "    "))
			continue
		}
		if started && l != "" {
			break
		}
		if started {
			out = append(out, "")
		}
	}
	return strings.TrimSpace(strings.Join(out, "\n")) + "\n"
}

// TestIssue13_TLSReadmeExample_Register (issue 13, TLS, README): the
// README's openssl command, tls.cfg and config lines, added to kemi's
// registrar (Lua), run by the real binary on a tls: socket; a Go
// SIP-over-TLS client verifying the self-signed certificate registers
// (401 challenge, then digest credentials, 200) and every reply comes on
// its connection.
func TestIssue13_TLSReadmeExample_Register(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	rb, err := os.ReadFile(repo("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(rb)
	dir := t.TempDir()
	cmd := readmeBlock(t, readme, "A\nself-signed certificate to try it with:")
	if out, err := exec.Command("sh", "-c", "cd "+dir+" && "+cmd).CombinedOutput(); err != nil {
		t.Fatalf("the README's openssl command: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(dir, "tls.cfg"), []byte(readmeBlock(t, readme, "`tls.cfg`, next to the config")), 0o644)
	cfgLines := readmeBlock(t, readme, "and in `kamailio.cfg`:")
	base, _ := os.ReadFile(repo("testdata/registrar/kemi-lua.cfg"))
	script, _ := os.ReadFile(repo("testdata/registrar/kemi.lua"))
	// The README's lines go after the registrar's own loadmodule lines
	// (globals may come anywhere; -l below replaces the listen).
	cfg := strings.Replace(string(base), "loadmodule \"app_lua.so\"\n", "loadmodule \"app_lua.so\"\n"+cfgLines, 1)
	os.WriteFile(filepath.Join(dir, "kemi.cfg"), []byte(cfg), 0o644)
	os.WriteFile(filepath.Join(dir, "kemi.lua"), script, 0o644)
	db := filepath.Join(dir, "kemi.db")
	addUser(t, db, "alice@127.0.0.1", "alice-secret")
	tport := freeTCPPort(t)
	s := startKemi(t, filepath.Join(dir, "kemi.cfg"), "-A", `AUTHDB="`+db+`"`, "-l", "tls:127.0.0.1:"+strconv.Itoa(tport))
	addr := "127.0.0.1:" + strconv.Itoa(tport)

	pem, err := os.ReadFile(filepath.Join(dir, "kemi-selfsigned.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: pool, ServerName: "sip.example.com"})
	if err != nil {
		t.Fatalf("TLS to kemi: %v; log:\n%s", err, s.Log())
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	local := c.LocalAddr().String()
	reg := func(cseq int, auth string) string {
		msg := "REGISTER sip:" + addr + " SIP/2.0\r\n" +
			"Via: SIP/2.0/TLS " + local + ";branch=z9hG4bK-tls" + strconv.Itoa(cseq) + ";rport\r\n" +
			"From: <sip:alice@127.0.0.1>;tag=tls1\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: tls-reg@test\r\n" +
			"CSeq: " + strconv.Itoa(cseq) + " REGISTER\r\nContact: <sip:alice@" + local + ";transport=tls>\r\nExpires: 600\r\n" +
			auth + "Max-Forwards: 70\r\nUser-Agent: kemi-e2e\r\nContent-Length: 0\r\n\r\n"
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("REGISTER %d over TLS: reading the reply: %v (so far %q); log:\n%s", cseq, err, b.String(), s.Log())
			}
			b.WriteString(line)
			if line == "\r\n" {
				return b.String()
			}
		}
	}
	rep := reg(1, "")
	if !strings.HasPrefix(rep, "SIP/2.0 401 ") {
		t.Fatalf("REGISTER without credentials over TLS: %q", rep)
	}
	m := regexp.MustCompile(`WWW-Authenticate: Digest [^\r]*nonce="([^"]+)"`).FindStringSubmatch(rep)
	if m == nil {
		t.Fatalf("no nonce in %q", rep)
	}
	md5hex := func(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
	uri := "sip:" + addr
	// RFC 2617 with qop=auth, as kemi's challenge asks.
	resp := md5hex(md5hex("alice:127.0.0.1:alice-secret") + ":" + m[1] + ":00000001:c0ffee:auth:" + md5hex("REGISTER:"+uri))
	rep = reg(2, `Authorization: Digest username="alice", realm="127.0.0.1", nonce="`+m[1]+`", uri="`+uri+
		`", response="`+resp+`", algorithm=MD5, qop=auth, nc=00000001, cnonce="c0ffee"`+"\r\n")
	if !strings.HasPrefix(rep, "SIP/2.0 200 ") || !strings.Contains(rep, ";transport=tls>") {
		t.Fatalf("REGISTER with credentials over TLS: %q", rep)
	}
}
