package server_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	mrand "math/rand"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"kemi/core/loader"
	"kemi/server"
)

const streamScript = `
function ksr_request_route()
	KSR.sl.sl_send_reply(200, "OK " .. KSR.pv.get("$proto") .. " conid " .. tostring(KSR.pv.get("$conid")) .. " Rp " .. tostring(KSR.pv.get("$Rp")))
end
`

func streamCfg(globals, modules string) string {
	return "#!KAMAILIO\ndebug=2\nlog_stderror=yes\n" + globals +
		"loadmodule \"sl.so\"\nloadmodule \"app_lua.so\"\n" + modules +
		"modparam(\"app_lua\", \"load\", \"s.lua\")\ncfgengine \"lua\"\n"
}

func freeTCP(t *testing.T, network, addr string) int {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("%s %s: %v", network, addr, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// deadTCP is a 127.0.0.1 TCP port nothing listens on, for a Contact or
// Via that must refuse connections. It is picked below the kernel's
// ephemeral range (32768 up), where no other test's ":0" listener and no
// outgoing connection's source port lands while the test runs (a port
// from freeTCP goes back to that pool at once).
func deadTCP(t *testing.T) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		p := 10000 + mrand.Intn(22000)
		if l, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
			l.Close()
			return p
		}
	}
	return freeTCP(t, "tcp4", "127.0.0.1:0")
}

func streamOptions(proto, callID string) []byte {
	return []byte("OPTIONS sip:kemi@127.0.0.1 SIP/2.0\r\n" +
		"Via: SIP/2.0/" + proto + " 127.0.0.1:5999;rport;branch=z9hG4bK-" + callID + "\r\n" +
		"From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:t@127.0.0.1>\r\n" +
		"Call-ID: " + callID + "\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
}

// readReply reads one reply (headers, Content-Length 0) from r.
func readReply(t *testing.T, c net.Conn, r *bufio.Reader) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading a reply on %s: %v (so far %q)", c.LocalAddr(), err, b.String())
		}
		b.WriteString(line)
		if line == "\r\n" {
			return b.String()
		}
	}
}

func startServer(t *testing.T, opt server.Options) *server.Server {
	t.Helper()
	s, err := server.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		s.Close()
	})
	return s
}

// TestServer_TCPListen_RepliesOnRequestConnection (issue 13, server and
// router): -l tcp:ADDR:PORT (IPv4 and [::1]) beside udp, one Streams; a
// request over TCP runs the script with $proto tcp, $conid and $Rp of
// its connection, and its reply comes back on that connection; two
// connections get two ids.
func TestServer_TCPListen_RepliesOnRequestConnection(t *testing.T) {
	port := freeTCP(t, "tcp4", "127.0.0.1:0")
	listens := []string{"udp:127.0.0.1:" + strconv.Itoa(port), "tcp:127.0.0.1:" + strconv.Itoa(port)}
	port6 := 0
	if l, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		port6 = l.Addr().(*net.TCPAddr).Port
		l.Close()
		listens = append(listens, "tcp:[::1]:"+strconv.Itoa(port6))
	}
	var log syncBuf
	s := startServer(t, server.Options{Version: "test", Options: loader.Options{
		Path: "kamailio.cfg", LogOut: &log, Listens: listens,
		FS: fstest.MapFS{"kamailio.cfg": {Data: []byte(streamCfg("tcp_connection_lifetime=30\n", ""))}, "s.lua": {Data: []byte(streamScript)}},
	}})
	if got := s.StreamAddrs(); len(got) != len(listens)-1 {
		t.Fatalf("StreamAddrs() = %v", got)
	}
	if got := s.Streams().Config().IdleTimeout; got != 30*time.Second {
		t.Errorf("tcp_connection_lifetime=30 gave IdleTimeout %v", got)
	}
	addrs := []string{"127.0.0.1:" + strconv.Itoa(port), "127.0.0.1:" + strconv.Itoa(port)}
	if port6 != 0 {
		addrs = append(addrs, "[::1]:"+strconv.Itoa(port6))
	}
	ids := map[string]bool{}
	for i, a := range addrs {
		c, err := net.Dial("tcp", a)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for j := 0; j < 2; j++ {
			c.Write(streamOptions("TCP", "tcp-"+strconv.Itoa(i)+"-"+strconv.Itoa(j)))
			rep := readReply(t, c, r)
			line, _, _ := strings.Cut(rep, "\r\n")
			_, p, _ := net.SplitHostPort(a)
			if !strings.HasPrefix(line, "SIP/2.0 200 OK tcp conid ") || !strings.HasSuffix(line, " Rp "+p) {
				t.Fatalf("%s: reply %q, want 200 with $proto tcp, a $conid and $Rp %s", a, line, p)
			}
			ids[strings.Fields(line)[5]] = true
		}
	}
	if len(ids) != len(addrs) {
		t.Errorf("$conid values %v: want one per connection (%d)", ids, len(addrs))
	}
	// UDP on the same port still answers, with $conid null.
	u, _ := net.Dial("udp", addrs[0])
	defer u.Close()
	u.Write(streamOptions("UDP", "udp-1"))
	u.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 4096)
	n, err := u.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200 OK udp conid ") {
		t.Fatalf("udp reply %q, %v", buf[:n], err)
	}
	if !strings.Contains(log.String(), "listening on tcp:127.0.0.1:"+strconv.Itoa(port)) {
		t.Errorf("log lacks the tcp listening line:\n%s", log.String())
	}
}

// TestServer_TLSListenNeedsEnableTLS (issue 13): a tls: listen without
// enable_tls=yes, or without the tls module, fails New saying what is
// missing.
func TestServer_TLSListenNeedsEnableTLS(t *testing.T) {
	port := freeTCP(t, "tcp4", "127.0.0.1:0")
	for _, tc := range []struct{ globals, modules, want string }{
		{"", "", "enable_tls=yes"},
		{"enable_tls=yes\n", "", "loadmodule \"tls.so\""},
	} {
		_, err := server.New(server.Options{Options: loader.Options{
			Path: "kamailio.cfg", LogOut: &syncBuf{}, Listens: []string{"tls:127.0.0.1:" + strconv.Itoa(port)},
			FS: fstest.MapFS{"kamailio.cfg": {Data: []byte(streamCfg(tc.globals, tc.modules))}, "s.lua": {Data: []byte(streamScript)}},
		}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: New: %v, want an error naming %s", tc.globals, err, tc.want)
		}
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir, name string) (certPath, keyPath string, cert tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{name},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:        true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	certPath, keyPath = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	os.WriteFile(certPath, certPEM, 0o600)
	os.WriteFile(keyPath, keyPEM, 0o600)
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath, cert
}

// TestServer_TLSListen_SelfSigned (issue 13, TLS): enable_tls=yes,
// loadmodule "tls.so" and modparam("tls", "config", "tls.cfg") with a
// self-signed certificate; a Go SIP-over-TLS client sends OPTIONS and
// REGISTER-like requests and gets each reply on its connection, $proto
// tls. With require_certificate on, a client without a certificate is
// refused and one with the CA-signed (here: the listed) certificate is
// served.
func TestServer_TLSListen_SelfSigned(t *testing.T) {
	dir := t.TempDir()
	srvCert, srvKey, _ := selfSigned(t, dir, "kemi.test")
	cliCert, _, cliPair := selfSigned(t, dir, "client.test")
	for _, require := range []bool{false, true} {
		verify := "no"
		if require {
			verify = "yes"
		}
		os.WriteFile(filepath.Join(dir, "tls.cfg"), []byte("[server:default]\nmethod = TLSv1.2+\ncertificate = "+filepath.Base(srvCert)+
			"\nprivate_key = "+filepath.Base(srvKey)+"\nca_list = "+filepath.Base(cliCert)+
			"\nverify_certificate = "+verify+"\nrequire_certificate = "+verify+"\n\n[client:default]\nverify_certificate = no\n"), 0o600)
		os.WriteFile(filepath.Join(dir, "kamailio.cfg"), []byte(streamCfg("enable_tls=yes\n", "loadmodule \"tls.so\"\nmodparam(\"tls\", \"config\", \"tls.cfg\")\n")), 0o600)
		os.WriteFile(filepath.Join(dir, "s.lua"), []byte(streamScript), 0o600)
		port := freeTCP(t, "tcp4", "127.0.0.1:0")
		addr := "127.0.0.1:" + strconv.Itoa(port)
		var log syncBuf
		s, err := server.New(server.Options{Version: "test", Options: loader.Options{
			Path: filepath.Join(dir, "kamailio.cfg"), LogOut: &log, Listens: []string{"tls:" + addr},
		}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Serve(ctx) }()

		pool := x509.NewCertPool()
		pem, _ := os.ReadFile(srvCert)
		pool.AppendCertsFromPEM(pem)
		dial := func(withCert bool) (*tls.Conn, error) {
			cfg := &tls.Config{RootCAs: pool, ServerName: "kemi.test"}
			if withCert {
				cfg.Certificates = []tls.Certificate{cliPair}
			}
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", addr, cfg)
			if err != nil {
				return nil, err
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			return c, c.Handshake()
		}
		c, err := dial(true)
		if err != nil {
			t.Fatalf("require=%v: TLS client with a certificate: %v; log:\n%s", require, err, log.String())
		}
		r := bufio.NewReader(c)
		for i := 0; i < 2; i++ {
			c.Write(streamOptions("TLS", "tls-"+strconv.Itoa(i)))
			line, _, _ := strings.Cut(readReply(t, c, r), "\r\n")
			if !strings.HasPrefix(line, "SIP/2.0 200 OK tls conid ") {
				t.Fatalf("require=%v: reply %q, want 200 with $proto tls", require, line)
			}
		}
		c.Close()
		// Without a client certificate.
		nc, err := dial(false)
		if err == nil {
			nc.Write(streamOptions("TLS", "tls-nocert"))
			_, err = io.ReadAll(io.LimitReader(nc, 1))
			var b [1]byte
			if err == nil {
				_, err = nc.Read(b[:])
			}
			nc.Close()
		}
		if require && err == nil {
			t.Errorf("require_certificate=yes: a client without a certificate was served")
		}
		if !require && err != nil {
			t.Errorf("require_certificate=no: a client without a certificate failed: %v", err)
		}
		cancel()
		<-done
		s.Close()
		_ = netip.AddrPort{}
	}
}

// TestServer_SetReplyClose_ClosesConnection (issue 13, connection
// controls): KSR.set_reply_close() closes the request's TCP connection
// once the reply is written; without it the connection stays open.
func TestServer_SetReplyClose_ClosesConnection(t *testing.T) {
	script := `
function ksr_request_route()
	if KSR.hdr.is_present("X-Close") > 0 then KSR.set_reply_close() end
	KSR.sl.sl_send_reply(200, "OK")
end
`
	port := freeTCP(t, "tcp4", "127.0.0.1:0")
	addr := "127.0.0.1:" + strconv.Itoa(port)
	startServer(t, server.Options{Version: "test", Options: loader.Options{
		Path: "kamailio.cfg", LogOut: &syncBuf{}, Listens: []string{"tcp:" + addr},
		FS: fstest.MapFS{"kamailio.cfg": {Data: []byte(streamCfg("", "loadmodule \"hdr.so\"\n"))}, "s.lua": {Data: []byte(script)}},
	}})
	for _, close := range []bool{false, true} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		msg := string(streamOptions("TCP", "close-"+strconv.FormatBool(close)))
		if close {
			msg = strings.Replace(msg, "Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nX-Close: 1\r\n", 1)
		}
		c.Write([]byte(msg))
		r := bufio.NewReader(c)
		if line, _, _ := strings.Cut(readReply(t, c, r), "\r\n"); line != "SIP/2.0 200 OK" {
			t.Fatalf("reply %q", line)
		}
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		_, err = r.ReadByte()
		ne, timeout := err.(net.Error)
		switch {
		case close && err != io.EOF:
			t.Errorf("set_reply_close: after the reply, read gave %v, want EOF", err)
		case !close && !(timeout && ne.Timeout()):
			t.Errorf("without set_reply_close: after the reply, read gave %v, want a timeout (still open)", err)
		}
		c.Close()
	}
}

// TestServer_LookupSendsOnRegisteredConnection (issue 13, usrloc): a UA
// registers over TCP with a Contact whose port nobody listens on (as a
// phone behind NAT does); a call from a UDP caller found by lookup
// reaches the UA on the connection it registered over, and the UA's 200
// gets back to the caller over UDP.
func TestServer_LookupSendsOnRegisteredConnection(t *testing.T) {
	script := `
function ksr_request_route()
	if KSR.is_REGISTER() then
		KSR.registrar.save("location", 0)
		return
	end
	if KSR.is_ACK() then return end
	if KSR.registrar.lookup("location") < 0 then
		KSR.sl.sl_send_reply(404, "Not Found")
		return
	end
	if KSR.tm.t_relay() < 0 then KSR.sl.sl_reply_error() end
end
`
	port := freeTCP(t, "tcp4", "127.0.0.1:0")
	addr := "127.0.0.1:" + strconv.Itoa(port)
	dead := deadTCP(t) // the Contact's port: nothing listens there
	srv := startServer(t, server.Options{Version: "test", Options: loader.Options{
		Path: "kamailio.cfg", LogOut: &syncBuf{}, Listens: []string{"udp:" + addr, "tcp:" + addr},
		FS: fstest.MapFS{"kamailio.cfg": {Data: []byte(streamCfg("", "loadmodule \"tm.so\"\nloadmodule \"usrloc.so\"\nloadmodule \"registrar.so\"\n"))}, "s.lua": {Data: []byte(script)}},
	}})
	ua, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	uaR := bufio.NewReader(ua)
	contact := "<sip:bob@127.0.0.1:" + strconv.Itoa(dead) + ";transport=tcp>"
	ua.Write([]byte("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:" + strconv.Itoa(dead) + ";branch=z9hG4bK-reg1\r\n" +
		"From: <sip:bob@127.0.0.1>;tag=r1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: reg-1\r\nCSeq: 1 REGISTER\r\n" +
		"Contact: " + contact + ";expires=600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"))
	if line, _, _ := strings.Cut(readReply(t, ua, uaR), "\r\n"); line != "SIP/2.0 200 OK" {
		t.Fatalf("REGISTER over TCP: %q", line)
	}
	caller, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	cl := caller.LocalAddr().String()
	to, _ := net.ResolveUDPAddr("udp", addr)
	caller.WriteTo([]byte("INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP "+cl+";branch=z9hG4bK-inv1;rport\r\n"+
		"From: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: call-1\r\nCSeq: 1 INVITE\r\n"+
		"Contact: <sip:alice@"+cl+">\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"), to)
	// The INVITE arrives on the registered connection, with kemi's TCP Via on top.
	inv := readReply(t, ua, uaR)
	if !strings.HasPrefix(inv, "INVITE sip:bob@127.0.0.1:"+strconv.Itoa(dead)+";transport=tcp SIP/2.0\r\n") ||
		!strings.Contains(inv, "Via: SIP/2.0/TCP "+addr+";branch=") {
		t.Fatalf("on the registered connection: %q, want the INVITE with kemi's TCP Via", inv)
	}
	// Answer 200 with the Vias as received.
	var vias []string
	for _, l := range strings.Split(inv, "\r\n") {
		if strings.HasPrefix(l, "Via:") || strings.HasPrefix(l, "From:") || strings.HasPrefix(l, "To:") ||
			strings.HasPrefix(l, "Call-ID:") || strings.HasPrefix(l, "CSeq:") {
			if strings.HasPrefix(l, "To:") {
				l += ";tag=b1"
			}
			vias = append(vias, l)
		}
	}
	ua.Write([]byte("SIP/2.0 200 OK\r\n" + strings.Join(vias, "\r\n") + "\r\nContact: " + contact + "\r\nContent-Length: 0\r\n\r\n"))
	buf := make([]byte, 8192)
	caller.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, _, err := caller.ReadFrom(buf)
		if err != nil {
			t.Fatalf("the caller got no 200 over UDP: %v", err)
		}
		if strings.HasPrefix(string(buf[:n]), "SIP/2.0 200 OK\r\n") {
			break
		}
	}

	// The UA's connection closes: the next call cannot reach it (its
	// Contact's port has no listener) and the caller gets an error
	// reply at once, not after fr_inv_timer.
	ua.Close()
	// Until kemi has read the close, a send on the connection still
	// succeeds (as in Kamailio); on a loaded machine that takes more
	// than a fixed 100 ms, so wait for it.
	for end := time.Now().Add(5 * time.Second); srv.Streams().Stats.Open.Load() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("kemi still has %d connections open 5 s after the UA closed its own", srv.Streams().Stats.Open.Load())
		}
	}
	start := time.Now()
	caller.WriteTo([]byte("INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP "+cl+";branch=z9hG4bK-inv2;rport\r\n"+
		"From: <sip:alice@127.0.0.1>;tag=a2\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: call-2\r\nCSeq: 1 INVITE\r\n"+
		"Contact: <sip:alice@"+cl+">\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"), to)
	caller.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, _, err := caller.ReadFrom(buf)
		if err != nil {
			t.Fatalf("after the UA's connection closed, the caller got no final reply within 5 s: %v", err)
		}
		line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
		if strings.HasPrefix(line, "SIP/2.0 1") {
			continue
		}
		// sl_reply_error after a send that failed: Kamailio's E_SEND, 477.
		if !strings.HasPrefix(line, "SIP/2.0 477 ") || !strings.Contains(string(buf[:n]), "Call-ID: call-2") {
			t.Fatalf("after the UA's connection closed: %q, want 477 for call-2", line)
		}
		t.Logf("closed connection: %s after %v", line, time.Since(start))
		break
	}
}

// TestServer_RelayToProtoAddr_TCPAndUDP (issue 13, tm): t_relay_to_proto_addr
// with tcp sends a UDP caller's INVITE over TCP (Via TCP from the tcp
// listen), and with udp sends a TCP caller's over UDP (Via UDP from the
// udp listen); with record_route the transport change doubles the
// Record-Route (r2=on); the callee's 200 reaches each caller over the
// transport, and for TCP the connection, it called on.
func TestServer_RelayToProtoAddr_TCPAndUDP(t *testing.T) {
	script := `
function ksr_request_route()
	if KSR.is_ACK() then return end
	KSR.rr.record_route()
	KSR.tm.t_relay_to_proto_addr(KSR.pv.get("$hdr(X-Proto)"), "127.0.0.1", tonumber(KSR.pv.get("$hdr(X-Port)")))
end
`
	port := freeTCP(t, "tcp4", "127.0.0.1:0")
	addr := "127.0.0.1:" + strconv.Itoa(port)
	startServer(t, server.Options{Version: "test", Options: loader.Options{
		Path: "kamailio.cfg", LogOut: &syncBuf{}, Listens: []string{"udp:" + addr, "tcp:" + addr},
		FS: fstest.MapFS{"kamailio.cfg": {Data: []byte(streamCfg("", "loadmodule \"tm.so\"\nloadmodule \"rr.so\"\nloadmodule \"pv.so\"\n"))}, "s.lua": {Data: []byte(script)}},
	}})
	invite := func(via, proto string, calleePort int) string {
		return "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: " + via + "\r\n" +
			"From: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: rtpa-" + proto + "\r\nCSeq: 1 INVITE\r\n" +
			"Contact: <sip:alice@127.0.0.1>\r\nX-Proto: " + proto + "\r\nX-Port: " + strconv.Itoa(calleePort) + "\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	}
	answer := func(req string) string {
		var hs []string
		for _, l := range strings.Split(req, "\r\n") {
			for _, p := range []string{"Via:", "From:", "To:", "Call-ID:", "CSeq:", "Record-Route:"} {
				if strings.HasPrefix(l, p) {
					if p == "To:" {
						l += ";tag=b1"
					}
					hs = append(hs, l)
				}
			}
		}
		return "SIP/2.0 200 OK\r\n" + strings.Join(hs, "\r\n") + "\r\nContact: <sip:bob@127.0.0.1>\r\nContent-Length: 0\r\n\r\n"
	}
	rrRe := func(outTransport, inTransport string) string {
		return "Record-Route: <sip:" + addr + outTransport + ";r2=on;lr;ftag=a1>\r\nRecord-Route: <sip:" + addr + inTransport + ";r2=on;lr;ftag=a1>\r\n"
	}

	t.Run("udp-to-tcp", func(t *testing.T) {
		callee, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer callee.Close()
		caller, _ := net.ListenPacket("udp", "127.0.0.1:0")
		defer caller.Close()
		to, _ := net.ResolveUDPAddr("udp", addr)
		caller.WriteTo([]byte(invite("SIP/2.0/UDP "+caller.LocalAddr().String()+";branch=z9hG4bK-u2t;rport", "tcp", callee.Addr().(*net.TCPAddr).Port)), to)
		callee.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
		c, err := callee.Accept()
		if err != nil {
			t.Fatalf("no TCP connection to the callee: %v", err)
		}
		defer c.Close()
		req := readReply(t, c, bufio.NewReader(c))
		if !strings.Contains(req, "Via: SIP/2.0/TCP "+addr+";branch=") || !strings.Contains(req, rrRe(";transport=tcp", "")) {
			t.Fatalf("INVITE over TCP: %q", req)
		}
		c.Write([]byte(answer(req)))
		buf := make([]byte, 8192)
		caller.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			n, _, err := caller.ReadFrom(buf)
			if err != nil {
				t.Fatalf("no 200 over UDP: %v", err)
			}
			if strings.HasPrefix(string(buf[:n]), "SIP/2.0 200 OK") {
				break
			}
		}
	})
	t.Run("tcp-to-udp", func(t *testing.T) {
		callee, _ := net.ListenPacket("udp", "127.0.0.1:0")
		defer callee.Close()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		r := bufio.NewReader(c)
		c.Write([]byte(invite("SIP/2.0/TCP "+c.LocalAddr().String()+";branch=z9hG4bK-t2u", "udp", callee.LocalAddr().(*net.UDPAddr).Port)))
		buf := make([]byte, 8192)
		callee.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := callee.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no INVITE over UDP: %v", err)
		}
		req := string(buf[:n])
		if !strings.Contains(req, "Via: SIP/2.0/UDP "+addr+";branch=") || !strings.Contains(req, rrRe("", ";transport=tcp")) {
			t.Fatalf("INVITE over UDP: %q", req)
		}
		callee.WriteTo([]byte(answer(req)), from)
		for {
			rep := readReply(t, c, r)
			if strings.HasPrefix(rep, "SIP/2.0 200 OK") {
				break
			}
		}
	})
}

// TestServer_TLSPeerPVs (issue 13, tls module): over TLS with a verified
// client certificate, $tls_version, $tls_peer_subject_cn,
// $tls_peer_subject and KSR.tls.is_peer_verified() describe the peer;
// over TCP they are null and is_peer_verified is -1.
func TestServer_TLSPeerPVs(t *testing.T) {
	dir := t.TempDir()
	srvCert, srvKey, _ := selfSigned(t, dir, "kemi.test")
	cliCert, _, cliPair := selfSigned(t, dir, "client.test")
	os.WriteFile(filepath.Join(dir, "tls.cfg"), []byte("[server:default]\ncertificate = "+filepath.Base(srvCert)+
		"\nprivate_key = "+filepath.Base(srvKey)+"\nca_list = "+filepath.Base(cliCert)+
		"\nverify_certificate = yes\nrequire_certificate = no\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "kamailio.cfg"), []byte(streamCfg("enable_tls=yes\n",
		"loadmodule \"tls.so\"\nloadmodule \"pv.so\"\nmodparam(\"tls\", \"config\", \"tls.cfg\")\n")), 0o600)
	os.WriteFile(filepath.Join(dir, "s.lua"), []byte(`
function ksr_request_route()
	KSR.sl.sl_send_reply(200, "v " .. tostring(KSR.pv.get("$tls_version")) .. " cn " .. tostring(KSR.pv.get("$tls_peer_subject_cn")) ..
		" subj " .. tostring(KSR.pv.get("$tls_peer_subject")) .. " verified " .. KSR.tls.is_peer_verified())
end
`), 0o600)
	tport := freeTCP(t, "tcp4", "127.0.0.1:0")
	cport := freeTCP(t, "tcp4", "127.0.0.1:0")
	startServer(t, server.Options{Version: "test", Options: loader.Options{
		Path: filepath.Join(dir, "kamailio.cfg"), LogOut: &syncBuf{},
		Listens: []string{"tls:127.0.0.1:" + strconv.Itoa(tport), "tcp:127.0.0.1:" + strconv.Itoa(cport)},
	}})
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(srvCert)
	pool.AppendCertsFromPEM(pem)
	ask := func(c net.Conn, proto string) string {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(streamOptions(proto, "pv-"+proto))
		line, _, _ := strings.Cut(readReply(t, c, bufio.NewReader(c)), "\r\n")
		return line
	}
	tc, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(tport), &tls.Config{RootCAs: pool, ServerName: "kemi.test", Certificates: []tls.Certificate{cliPair}})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if got, want := ask(tc, "TLS"), "SIP/2.0 200 v TLSv1.3 cn client.test subj /CN=client.test verified 1"; got != want {
		t.Errorf("over TLS: %q, want %q", got, want)
	}
	pc, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(cport))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if got, want := ask(pc, "TCP"), "SIP/2.0 200 v nil cn nil subj nil verified -1"; got != want {
		t.Errorf("over TCP: %q, want %q", got, want)
	}
}

// TestServer_StatelessForwardOverTCP (issue 13, core forward): KSR.forward
// to a $du with transport=tcp sends a UDP caller's request over TCP with a
// TCP Via from the tcp listen; the callee's reply on that connection is
// forwarded statelessly by its next Via, over UDP, to the caller.
func TestServer_StatelessForwardOverTCP(t *testing.T) {
	callee, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Close()
	script := `
function ksr_request_route()
	KSR.setdsturi("sip:127.0.0.1:` + strconv.Itoa(callee.Addr().(*net.TCPAddr).Port) + `;transport=tcp")
	KSR.forward()
end
`
	port := freeTCP(t, "tcp4", "127.0.0.1:0")
	addr := "127.0.0.1:" + strconv.Itoa(port)
	startServer(t, server.Options{Version: "test", Options: loader.Options{
		Path: "kamailio.cfg", LogOut: &syncBuf{}, Listens: []string{"udp:" + addr, "tcp:" + addr},
		FS: fstest.MapFS{"kamailio.cfg": {Data: []byte(streamCfg("", ""))}, "s.lua": {Data: []byte(script)}},
	}})
	caller, _ := net.ListenPacket("udp", "127.0.0.1:0")
	defer caller.Close()
	to, _ := net.ResolveUDPAddr("udp", addr)
	caller.WriteTo([]byte("OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP "+caller.LocalAddr().String()+";branch=z9hG4bK-fwd;rport\r\n"+
		"From: <sip:alice@127.0.0.1>;tag=f1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: fwd-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"), to)
	callee.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	c, err := callee.Accept()
	if err != nil {
		t.Fatalf("no TCP connection from forward: %v", err)
	}
	defer c.Close()
	req := readReply(t, c, bufio.NewReader(c))
	if !strings.Contains(req, "Via: SIP/2.0/TCP "+addr+";branch=z9hG4bKsl") {
		t.Fatalf("forwarded over TCP: %q", req)
	}
	var hs []string
	for _, l := range strings.Split(req, "\r\n") {
		for _, p := range []string{"Via:", "From:", "To:", "Call-ID:", "CSeq:"} {
			if strings.HasPrefix(l, p) {
				hs = append(hs, l)
			}
		}
	}
	c.Write([]byte("SIP/2.0 200 OK\r\n" + strings.Join(hs, "\r\n") + "\r\nContent-Length: 0\r\n\r\n"))
	buf := make([]byte, 8192)
	caller.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := caller.ReadFrom(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200 OK\r\n") || strings.Contains(string(buf[:n]), "SIP/2.0/TCP") {
		t.Fatalf("the reply over UDP: %q, %v", buf[:n], err)
	}
}

// TestServer_AddTCPAliasVia (issue 13, connection reuse): after
// add_tcp_alias_via() on a request over TCP whose Via names a port nobody
// listens on, a request forwarded to that IP:port over TCP goes on the
// aliased connection, and KSR.kx.get_conid gives the connection's id.
func TestServer_AddTCPAliasVia(t *testing.T) {
	dead := deadTCP(t)
	script := `
function ksr_request_route()
	if KSR.is_OPTIONS() then
		KSR.sl.sl_send_reply(200, "alias " .. KSR.add_tcp_alias_via() .. " conid " .. KSR.kx.get_conid())
		return
	end
	KSR.setdsturi("sip:127.0.0.1:` + strconv.Itoa(dead) + `;transport=tcp")
	KSR.forward()
end
`
	port := freeTCP(t, "tcp4", "127.0.0.1:0")
	addr := "127.0.0.1:" + strconv.Itoa(port)
	startServer(t, server.Options{Version: "test", Options: loader.Options{
		Path: "kamailio.cfg", LogOut: &syncBuf{}, Listens: []string{"udp:" + addr, "tcp:" + addr},
		FS: fstest.MapFS{"kamailio.cfg": {Data: []byte(streamCfg("", "loadmodule \"kemix.so\"\n"))}, "s.lua": {Data: []byte(script)}},
	}})
	ua, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	r := bufio.NewReader(ua)
	ua.Write([]byte(strings.Replace(string(streamOptions("TCP", "alias-1")), "127.0.0.1:5999", "127.0.0.1:"+strconv.Itoa(dead), 1)))
	line, _, _ := strings.Cut(readReply(t, ua, r), "\r\n")
	if !strings.HasPrefix(line, "SIP/2.0 200 alias 1 conid ") || strings.HasSuffix(line, "conid -1") {
		t.Fatalf("OPTIONS: %q", line)
	}
	caller, _ := net.ListenPacket("udp", "127.0.0.1:0")
	defer caller.Close()
	to, _ := net.ResolveUDPAddr("udp", addr)
	caller.WriteTo([]byte("MESSAGE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP "+caller.LocalAddr().String()+";branch=z9hG4bK-al;rport\r\n"+
		"From: <sip:alice@127.0.0.1>;tag=m1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: alias-2\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"), to)
	req := readReply(t, ua, r)
	if !strings.HasPrefix(req, "MESSAGE sip:bob@127.0.0.1 SIP/2.0\r\n") {
		t.Fatalf("on the aliased connection: %q", req)
	}
}

// TestServer_RelayToTLSNextHop (issue 13, client TLS): a UDP INVITE relayed
// by tm to a $du with transport=tls opens a TLS connection (tls.cfg's
// [client:default], verifying the next hop against ca_list) with a TLS Via
// from the tls listen; the 200 on it reaches the caller over UDP.
func TestServer_RelayToTLSNextHop(t *testing.T) {
	dir := t.TempDir()
	srvCert, srvKey, _ := selfSigned(t, dir, "kemi.test")
	hopCert, _, hopPair := selfSigned(t, dir, "hop.test")
	os.WriteFile(filepath.Join(dir, "tls.cfg"), []byte("[server:default]\ncertificate = "+filepath.Base(srvCert)+
		"\nprivate_key = "+filepath.Base(srvKey)+"\n\n[client:default]\nverify_certificate = yes\nca_list = "+filepath.Base(hopCert)+"\n"), 0o600)
	hop, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{hopPair}})
	if err != nil {
		t.Fatal(err)
	}
	defer hop.Close()
	os.WriteFile(filepath.Join(dir, "kamailio.cfg"), []byte(streamCfg("enable_tls=yes\n",
		"loadmodule \"tls.so\"\nloadmodule \"tm.so\"\nmodparam(\"tls\", \"config\", \"tls.cfg\")\n")), 0o600)
	os.WriteFile(filepath.Join(dir, "s.lua"), []byte(`
function ksr_request_route()
	if KSR.is_ACK() then return end
	KSR.setdsturi("sip:127.0.0.1:`+strconv.Itoa(hop.Addr().(*net.TCPAddr).Port)+`;transport=tls")
	if KSR.tm.t_relay() < 0 then KSR.sl.sl_reply_error() end
end
`), 0o600)
	port := freeTCP(t, "tcp4", "127.0.0.1:0")
	addr := "127.0.0.1:" + strconv.Itoa(port)
	startServer(t, server.Options{Version: "test", Options: loader.Options{
		Path: filepath.Join(dir, "kamailio.cfg"), LogOut: &syncBuf{}, Listens: []string{"udp:" + addr, "tls:" + addr},
	}})
	caller, _ := net.ListenPacket("udp", "127.0.0.1:0")
	defer caller.Close()
	to, _ := net.ResolveUDPAddr("udp", addr)
	caller.WriteTo([]byte("INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP "+caller.LocalAddr().String()+";branch=z9hG4bK-tlshop;rport\r\n"+
		"From: <sip:alice@127.0.0.1>;tag=t1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: tlshop-1\r\nCSeq: 1 INVITE\r\n"+
		"Contact: <sip:alice@127.0.0.1>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"), to)
	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() { c, err := hop.Accept(); ch <- accepted{c, err} }()
	var c net.Conn
	select {
	case a := <-ch:
		if a.err != nil {
			t.Fatal(a.err)
		}
		c = a.c
	case <-time.After(5 * time.Second):
		t.Fatal("no TLS connection to the next hop")
	}
	defer c.Close()
	r := bufio.NewReader(c)
	req := readReply(t, c, r)
	if !strings.Contains(req, "Via: SIP/2.0/TLS "+addr+";branch=") {
		t.Fatalf("INVITE over TLS: %q", req)
	}
	var hs []string
	for _, l := range strings.Split(req, "\r\n") {
		for _, p := range []string{"Via:", "From:", "To:", "Call-ID:", "CSeq:"} {
			if strings.HasPrefix(l, p) {
				if p == "To:" {
					l += ";tag=h1"
				}
				hs = append(hs, l)
			}
		}
	}
	c.Write([]byte("SIP/2.0 200 OK\r\n" + strings.Join(hs, "\r\n") + "\r\nContact: <sip:bob@127.0.0.1;transport=tls>\r\nContent-Length: 0\r\n\r\n"))
	buf := make([]byte, 8192)
	caller.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, _, err := caller.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no 200 over UDP: %v", err)
		}
		if strings.HasPrefix(string(buf[:n]), "SIP/2.0 200 OK") {
			break
		}
	}
}

// TestServer_ReloadTLS (issue 13, certificates reloadable): after the
// certificate files are replaced, ReloadTLS (tls.reload) makes new
// handshakes present the new certificate; a broken file keeps the
// current one and says where.
func TestServer_ReloadTLS(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath, _ := selfSigned(t, dir, "old.test")
	os.WriteFile(filepath.Join(dir, "tls.cfg"), []byte("[server:default]\ncertificate = "+filepath.Base(certPath)+"\nprivate_key = "+filepath.Base(keyPath)+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "kamailio.cfg"), []byte(streamCfg("enable_tls=yes\n", "loadmodule \"tls.so\"\nmodparam(\"tls\", \"config\", \"tls.cfg\")\n")), 0o600)
	os.WriteFile(filepath.Join(dir, "s.lua"), []byte(streamScript), 0o600)
	port := freeTCP(t, "tcp4", "127.0.0.1:0")
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s := startServer(t, server.Options{Version: "test", Options: loader.Options{
		Path: filepath.Join(dir, "kamailio.cfg"), LogOut: &syncBuf{}, Listens: []string{"tls:" + addr},
	}})
	peerCN := func() string {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if cn := peerCN(); cn != "old.test" {
		t.Fatalf("before reload: %q", cn)
	}
	// New files under the same names.
	sub := t.TempDir()
	newCert, newKey, _ := selfSigned(t, sub, "new.test")
	for from, to := range map[string]string{newCert: certPath, newKey: keyPath} {
		b, _ := os.ReadFile(from)
		os.WriteFile(to, b, 0o600)
	}
	if err := s.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if cn := peerCN(); cn != "new.test" {
		t.Errorf("after reload: %q, want new.test", cn)
	}
	os.WriteFile(certPath, []byte("not a certificate"), 0o600)
	if err := s.ReloadTLS(); err == nil || !strings.Contains(err.Error(), "tls.reload") {
		t.Errorf("reload with a broken certificate: %v, want an error", err)
	}
	if cn := peerCN(); cn != "new.test" {
		t.Errorf("after a failed reload: %q, want new.test kept", cn)
	}
}

// TestServer_CalleeByeOverTCPReachesUDPCaller (issue 13, double
// Record-Route, BYE from either side): through the e2e proxy script, a
// UDP caller's INVITE reaches a TCP callee with two Record-Route entries;
// the callee's BYE, sent on its connection with the Route set in that
// order, loses both entries in loose_route and reaches the caller over
// UDP, with a UDP Via from the udp listen.
func TestServer_CalleeByeOverTCPReachesUDPCaller(t *testing.T) {
	callee, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Close()
	cport := callee.Addr().(*net.TCPAddr).Port
	script, err := os.ReadFile("../test/e2e/testdata/proxy/proxy.lua")
	if err != nil {
		t.Fatal(err)
	}
	script = append(script, []byte("\nUAS1 = "+strconv.Itoa(cport)+"\nUAS2 = 1\n")...)
	port := freeTCP(t, "tcp4", "127.0.0.1:0")
	addr := "127.0.0.1:" + strconv.Itoa(port)
	startServer(t, server.Options{Version: "test", Options: loader.Options{
		Path: "kamailio.cfg", LogOut: &syncBuf{}, Listens: []string{"udp:" + addr, "tcp:" + addr},
		FS: fstest.MapFS{"kamailio.cfg": {Data: []byte(streamCfg("", "loadmodule \"tm.so\"\nloadmodule \"rr.so\"\nloadmodule \"maxfwd.so\"\nloadmodule \"siputils.so\"\nloadmodule \"kemix.so\"\n"))}, "s.lua": {Data: script}},
	}})
	caller, _ := net.ListenPacket("udp", "127.0.0.1:0")
	defer caller.Close()
	cl := caller.LocalAddr().String()
	to, _ := net.ResolveUDPAddr("udp", addr)
	caller.WriteTo([]byte("INVITE sip:tcpcall@"+addr+" SIP/2.0\r\nVia: SIP/2.0/UDP "+cl+";branch=z9hG4bK-cb1;rport\r\n"+
		"From: <sip:caller@127.0.0.1>;tag=a1\r\nTo: <sip:tcpcall@"+addr+">\r\nCall-ID: callee-bye-1\r\nCSeq: 1 INVITE\r\n"+
		"Contact: <sip:caller@"+cl+">\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"), to)
	callee.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	c, err := callee.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	inv := readReply(t, c, bufio.NewReader(c))
	var routes []string
	for _, l := range strings.Split(inv, "\r\n") {
		if strings.HasPrefix(l, "Record-Route:") {
			routes = append(routes, "Route:"+strings.TrimPrefix(l, "Record-Route:"))
		}
	}
	if len(routes) != 2 || !strings.Contains(routes[0], ";transport=tcp;r2=on") || !strings.Contains(routes[1], ";r2=on") {
		t.Fatalf("the INVITE's Record-Route: %q", routes)
	}
	c.Write([]byte("BYE sip:caller@" + cl + " SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:" + strconv.Itoa(cport) + ";branch=z9hG4bK-cb-bye\r\n" +
		"From: <sip:tcpcall@127.0.0.1>;tag=b1\r\nTo: <sip:caller@127.0.0.1>;tag=a1\r\nCall-ID: callee-bye-1\r\nCSeq: 2 BYE\r\n" +
		strings.Join(routes, "\r\n") + "\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"))
	buf := make([]byte, 8192)
	caller.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, _, err := caller.ReadFrom(buf)
		if err != nil {
			t.Fatalf("the caller got no BYE over UDP: %v", err)
		}
		m := string(buf[:n])
		if !strings.HasPrefix(m, "BYE ") {
			continue
		}
		if !strings.Contains(m, "Via: SIP/2.0/UDP "+addr+";branch=") || strings.Contains(m, "Route:") {
			t.Fatalf("BYE to the caller: %q, want kemi's UDP Via and no Route left", m)
		}
		break
	}
}
