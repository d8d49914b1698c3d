package tlscfg_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kemi/sip/transport"
	"kemi/sip/transport/tlscfg"
)

var _ transport.TLSConfigs = (*tlscfg.Store)(nil)

// pki makes certificates in a directory: a CA, and leaves it signs.
type pki struct {
	t      testing.TB
	dir    string
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	serial int64
}

func newPKI(t testing.TB, dir, name string) *pki {
	p := &pki{t: t, dir: dir, serial: 1}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p.caCert, _ = x509.ParseCertificate(der)
	p.caKey = key
	p.write(name+".pem", "CERTIFICATE", der)
	return p
}

func (p *pki) write(name, typ string, der []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// leaf writes name.pem and name.key: a certificate for the DNS names (and
// 127.0.0.1), signed by the CA.
func (p *pki) leaf(name string, dns ...string) {
	p.serial++
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: dns, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		p.t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	p.write(name+".pem", "CERTIFICATE", der)
	p.write(name+".key", "EC PRIVATE KEY", kder)
}

func writeCfg(t testing.TB, dir, text string) string {
	path := filepath.Join(dir, "tls.cfg")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func sipMsg(body string) string {
	return fmt.Sprintf("OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// tlsServer runs a Streams with a TLS listener whose handler echoes.
func tlsServer(t testing.TB, store *tlscfg.Store, addr string) (*transport.Streams, netip.AddrPort) {
	t.Helper()
	s, err := transport.NewStreams(transport.StreamConfig{TLS: store, MessageTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Listen(transport.TLS, addr)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(func(int) transport.StreamHandler {
		return transport.StreamHandlerFunc(func(d []byte, c *transport.Conn) { c.Write(d) })
	})
	t.Cleanup(func() { s.Close() })
	return s, l.LocalAddr()
}

// tlsClient is a Streams used as a TLS client; replies arrive on got.
func tlsClient(t testing.TB, store *tlscfg.Store) (*transport.Streams, chan string) {
	t.Helper()
	got := make(chan string, 16)
	s, err := transport.NewStreams(transport.StreamConfig{TLS: store, ConnectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(func(int) transport.StreamHandler {
		return transport.StreamHandlerFunc(func(d []byte, c *transport.Conn) { got <- string(d) })
	})
	t.Cleanup(func() { s.Close() })
	return s, got
}

func recv(t testing.TB, ch chan string) string {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(3 * time.Second):
		t.Fatal("no message")
	}
	return ""
}

// TestTLS_RequireCertificate: with verify_certificate and
// require_certificate on, a client with a certificate from the CA in
// ca_list gets through; one without a certificate, or with one from
// another CA, is refused at the handshake, and counted.
func TestTLS_RequireCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := newPKI(t, dir, "ca")
	ca.leaf("server", "sip.example.test")
	ca.leaf("client")
	rogue := newPKI(t, dir, "rogue")
	rogue.leaf("intruder")
	srv, err := tlscfg.Load(writeCfg(t, dir, `
[server:default]
method = TLSv1.2+
certificate = server.pem
private_key = server.key
ca_list = ca.pem
verify_certificate = yes
require_certificate = yes
`), tlscfg.Params{})
	if err != nil {
		t.Fatal(err)
	}
	s, addr := tlsServer(t, srv, "127.0.0.1:0")

	cdir := t.TempDir()
	os.Link(filepath.Join(dir, "client.pem"), filepath.Join(cdir, "client.pem"))
	os.Link(filepath.Join(dir, "client.key"), filepath.Join(cdir, "client.key"))
	os.Link(filepath.Join(dir, "ca.pem"), filepath.Join(cdir, "ca.pem"))
	cli, err := tlscfg.Load(writeCfg(t, cdir, `
[client:default]
verify_certificate = yes
certificate = client.pem
private_key = client.key
ca_list = ca.pem
`), tlscfg.Params{})
	if err != nil {
		t.Fatal(err)
	}
	c, got := tlsClient(t, cli)
	conn, err := c.Send(transport.TLS, addr, []byte(sipMsg("hello")), transport.SendOptions{ServerName: "sip.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if m := recv(t, got); !strings.HasSuffix(m, "hello") {
		t.Fatalf("echo %q", m)
	}
	st, ok := conn.TLSState()
	if !ok || st.ServerName != "sip.example.test" || st.PeerCertificates[0].Subject.CommonName != "server" {
		t.Fatalf("client side state %+v", st)
	}
	// The server sees the client's verified certificate ($tls_peer_subject).
	var sc *transport.Conn
	sc = s.ConnTo(transport.TLS, conn.LocalAddr())
	if sc == nil {
		t.Fatal("server connection not found")
	}
	if st, _ := sc.TLSState(); len(st.VerifiedChains) == 0 || st.PeerCertificates[0].Subject.CommonName != "client" {
		t.Fatalf("server side state %+v", st)
	}

	// No certificate: refused.
	refusals := s.Stats.ClosedHandshake.Load()
	if err := rawTLS(addr, &tls.Config{InsecureSkipVerify: true}); err == nil {
		t.Fatal("a client without a certificate got through")
	}
	// A certificate from another CA: refused.
	bad, err := tls.LoadX509KeyPair(filepath.Join(dir, "intruder.pem"), filepath.Join(dir, "intruder.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := rawTLS(addr, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{bad}}); err == nil {
		t.Fatal("a client with a certificate from another CA got through")
	}
	deadline := time.Now().Add(2 * time.Second)
	for s.Stats.ClosedHandshake.Load() < refusals+2 {
		if time.Now().After(deadline) {
			t.Fatalf("handshake failures counted: %d", s.Stats.ClosedHandshake.Load()-refusals)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The good client is still served.
	if _, err := c.Send(transport.TLS, addr, []byte(sipMsg("again")), transport.SendOptions{NoConnect: true}); err != nil {
		t.Fatal(err)
	}
	recv(t, got)
}

// rawTLS handshakes, sends a message and waits for its echo.
func rawTLS(addr netip.AddrPort, cfg *tls.Config) error {
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr.String(), cfg)
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(2 * time.Second))
	m := sipMsg("x")
	if _, err := io.WriteString(nc, m); err != nil {
		return err
	}
	b := make([]byte, len(m))
	_, err = io.ReadFull(nc, b)
	return err
}

// TestTLS_ClientVerifiesServer: a client with verify_certificate checks
// the server's chain against its ca_list, and the host name against the
// SNI it sends.
func TestTLS_ClientVerifiesServer(t *testing.T) {
	dir := t.TempDir()
	ca := newPKI(t, dir, "ca")
	ca.leaf("server", "sip.example.test")
	other := newPKI(t, dir, "other")
	_ = other
	srv, err := tlscfg.Load(writeCfg(t, dir, "[server:default]\ncertificate = server.pem\nprivate_key = server.key\n"), tlscfg.Params{})
	if err != nil {
		t.Fatal(err)
	}
	_, addr := tlsServer(t, srv, "127.0.0.1:0")
	client := func(caFile string) *transport.Streams {
		f, err := tlscfg.Parse("c.cfg", []byte("[client:default]\nverify_certificate = yes\nca_list = "+caFile+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		cs, err := tlscfg.Build(f, tlscfg.Params{}, dir)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := tlsClient(t, tlscfg.NewStore(cs))
		return c
	}
	good := client("ca.pem")
	if _, err := good.Send(transport.TLS, addr, []byte(sipMsg("")), transport.SendOptions{}); err != nil {
		t.Fatalf("no SNI, chain only: %v", err)
	}
	if _, err := good.Dial(transport.TLS, addr, "sip.example.test"); err != nil {
		t.Fatalf("right SNI: %v", err)
	}
	if _, err := good.Dial(transport.TLS, addr, "wrong.example.test"); err == nil {
		t.Fatal("a certificate for another name accepted")
	}
	wrongCA := client("other.pem")
	if _, err := wrongCA.Send(transport.TLS, addr, []byte(sipMsg("")), transport.SendOptions{}); err == nil {
		t.Fatal("a server certificate from an unknown CA accepted")
	}
	if wrongCA.Stats.ConnectFail.Load() != 1 {
		t.Fatalf("connect failures %d", wrongCA.Stats.ConnectFail.Load())
	}
}

// TestTLS_ReloadCertificates: after the certificate files change and
// Reload runs, new handshakes get the new certificate; an established
// connection goes on. A broken file leaves the current configuration.
func TestTLS_ReloadCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := newPKI(t, dir, "ca")
	ca.leaf("server")
	cfgPath := writeCfg(t, dir, "[server:default]\ncertificate = server.pem\nprivate_key = server.key\n")
	store, err := tlscfg.Load(cfgPath, tlscfg.Params{})
	if err != nil {
		t.Fatal(err)
	}
	_, addr := tlsServer(t, store, "[::1]:0")
	serial := func() *big.Int {
		nc, err := tls.Dial("tcp", addr.String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		return nc.ConnectionState().PeerCertificates[0].SerialNumber
	}
	old := serial()
	keep, err := tls.Dial("tcp", addr.String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	ca.leaf("server") // new serial, same files
	if s := serial(); s.Cmp(old) != 0 {
		t.Fatal("certificate changed before Reload")
	}
	if err := store.Reload(); err != nil {
		t.Fatal(err)
	}
	if s := serial(); s.Cmp(old) == 0 {
		t.Fatal("Reload did not change the certificate")
	}
	// The connection made before goes on.
	keep.SetDeadline(time.Now().Add(2 * time.Second))
	io.WriteString(keep, sipMsg("old"))
	b := make([]byte, len(sipMsg("old")))
	if _, err := io.ReadFull(keep, b); err != nil {
		t.Fatalf("old connection after reload: %v", err)
	}
	// A broken file: the error names the place; the configuration stays.
	writeCfg(t, dir, "[server:default]\ncertificate = missing.pem\nprivate_key = server.key\n")
	if err := store.Reload(); err == nil || !strings.Contains(err.Error(), "tls.cfg:2: [server:default] certificate") {
		t.Fatalf("reload of a broken file: %v", err)
	}
	serial()
}

// TestTLS_KeepalivePingPong: RFC 5626 keepalives work inside TLS too.
func TestTLS_KeepalivePingPong(t *testing.T) {
	dir := t.TempDir()
	ca := newPKI(t, dir, "ca")
	ca.leaf("server")
	store, err := tlscfg.Load(writeCfg(t, dir, "[server:default]\ncertificate = server.pem\nprivate_key = server.key\n"), tlscfg.Params{})
	if err != nil {
		t.Fatal(err)
	}
	_, addr := tlsServer(t, store, "127.0.0.1:0")
	nc, err := tls.Dial("tcp", addr.String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(2 * time.Second))
	io.WriteString(nc, "\r\n\r\n")
	b := make([]byte, 2)
	if _, err := io.ReadFull(nc, b); err != nil || string(b) != "\r\n" {
		t.Fatalf("pong %q %v", b, err)
	}
}

// TestTLS_HandshakeTimeout: a peer that connects and never says hello is
// closed after MessageTimeout.
func TestTLS_HandshakeTimeout(t *testing.T) {
	dir := t.TempDir()
	ca := newPKI(t, dir, "ca")
	ca.leaf("server")
	store, err := tlscfg.Load(writeCfg(t, dir, "[server:default]\ncertificate = server.pem\nprivate_key = server.key\n"), tlscfg.Params{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := transport.NewStreams(transport.StreamConfig{TLS: store, MessageTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := s.Listen(transport.TLS, "127.0.0.1:0")
	go s.Serve(func(int) transport.StreamHandler {
		return transport.StreamHandlerFunc(func([]byte, *transport.Conn) {})
	})
	defer s.Close()
	nc, err := net.Dial("tcp", l.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := nc.Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("silent peer not closed: %v", err)
	}
	for end := time.Now().Add(time.Second); s.Stats.ClosedSlow.Load() != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("closed slow %d", s.Stats.ClosedSlow.Load())
		}
	}
}
