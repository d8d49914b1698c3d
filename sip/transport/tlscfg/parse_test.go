package tlscfg

import (
	"crypto/tls"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestParse_KamailioExample: Kamailio's example tls.cfg, as shipped, reads
// unchanged.
func TestParse_KamailioExample(t *testing.T) {
	data, err := os.ReadFile("testdata/kamailio-example.cfg")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("kamailio-example.cfg", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Domains) != 2 {
		t.Fatalf("%d domains, want 2", len(f.Domains))
	}
	s, c := f.Domains[0], f.Domains[1]
	if s.Name() != "server:default" || s.MinVersion != tls.VersionTLS10 || s.MaxVersion != tls.VersionTLS10 ||
		s.VerifyCertificate || s.RequireCertificate ||
		s.Certificate != "/usr/local/etc/kamailio/kamailio-selfsigned.pem" ||
		s.PrivateKey != "/usr/local/etc/kamailio/kamailio-selfsigned.key" || s.CAList != "" {
		t.Fatalf("server domain %+v", s)
	}
	if s.Pos != "kamailio-example.cfg:9" {
		t.Fatalf("position %s", s.Pos)
	}
	if c.Name() != "client:default" || !c.VerifyCertificate || !c.RequireCertificate {
		t.Fatalf("client domain %+v", c)
	}
}

func TestParse_KamailioModern(t *testing.T) {
	data, err := os.ReadFile("testdata/kamailio-modern.cfg")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("modern.cfg", data)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range f.Domains {
		names = append(names, d.Name())
	}
	want := "server:default server:172.31.19.8:5061 server:[2001:db8::5]:5061 client:default client:10.211.160.172:5061 client:any"
	if strings.Join(names, " ") != want {
		t.Fatalf("sections %v", names)
	}
	v6 := f.Domains[2]
	if v6.PrivateKey != "/etc/kamailio/v6 key.pem" || v6.MinVersion != tls.VersionTLS13 || v6.MaxVersion != tls.VersionTLS13 {
		t.Fatalf("v6 section %+v", v6)
	}
	cl := f.Domains[4]
	if cl.VerifyDepth != 9 || cl.ServerID != "btip.example.net" || cl.CipherList != "RSA" || cl.MinVersion != tls.VersionTLS10 || cl.MaxVersion != 0 {
		t.Fatalf("client section %+v", cl)
	}
	if f.Domains[5].ServerNameMode != 1 || !f.Domains[5].Any {
		t.Fatalf("any section %+v", f.Domains[5])
	}
	if p := cl.OptionPos("verify_depth"); p != "modern.cfg:39" {
		t.Fatalf("option position %s", p)
	}
}

func TestParse_ErrorsNamePlace(t *testing.T) {
	tests := []struct{ in, want string }{
		{"method = TLSv1.2", "t.cfg:1: option \"method\" before any section"},
		{"[server:default]\nmethod = TLSv9", "t.cfg:2: [server:default] method: expected SSLv23, TLSv1"},
		{"[server:default]\nmethod = SSLv3", "t.cfg:2: [server:default] method: SSLv3 is not supported"},
		{"\n[server:nowhere]", "t.cfg:2: section [server:nowhere]: expected default, any or IP:PORT"},
		{"[proxy:default]", "t.cfg:1: section [proxy:default]: expected server or client"},
		{"[server:default", "t.cfg:1: section header \"[server:default\": expected a closing ']'"},
		{"[client:default]\nverify_certificate = perhaps", "t.cfg:2: [client:default] verify_certificate: expected yes or no, got \"perhaps\""},
		{"[client:default]\nfoo = bar", "t.cfg:2: [client:default] foo: unknown option"},
		{"[client:default]\njust words", "t.cfg:2: expected \"option = value\""},
		{"[client:default]\n[client:default]", "t.cfg:2: section [client:default] again (first at t.cfg:1)"},
		{"[client:default]\nserver_name = \"abc", "t.cfg:2: unterminated quoted string"},
		{"[client:default]\nverify_depth = -2", "t.cfg:2: [client:default] verify_depth: expected a number"},
	}
	for _, tt := range tests {
		_, err := Parse("t.cfg", []byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestParseMethod(t *testing.T) {
	tests := []struct {
		m        string
		min, max uint16
	}{
		{"TLSv1", tls.VersionTLS10, tls.VersionTLS10},
		{"TLSv1+", tls.VersionTLS10, 0},
		{"TLSv1.1", tls.VersionTLS11, tls.VersionTLS11},
		{"tlsv1.2+", tls.VersionTLS12, 0},
		{"TLSv1.2", tls.VersionTLS12, tls.VersionTLS12},
		{"TLSv1.3+", tls.VersionTLS13, 0},
		{"SSLv23", tls.VersionTLS10, 0},
	}
	for _, tt := range tests {
		min, max, err := ParseMethod(tt.m)
		if err != nil || min != tt.min || max != tt.max {
			t.Errorf("%s: %x %x %v", tt.m, min, max, err)
		}
	}
}

func TestPick_SectionOrder(t *testing.T) {
	f, err := Parse("p.cfg", []byte(`
[client:default]
server_name = def.example
[client:10.0.0.1:5061]
server_name = addr.example
[client:any]
server_name = trunk.example
`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Build(f, Params{}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		addr, sni, want string
	}{
		{"10.0.0.1:5061", "", "client:10.0.0.1:5061"},
		{"10.0.0.2:5061", "", "client:default"},
		{"10.0.0.2:5061", "trunk.example", "client:any"},
		{"10.0.0.1:5061", "trunk.example", "client:10.0.0.1:5061"},
		{"[::ffff:10.0.0.1]:5061", "", "client:10.0.0.1:5061"},
	} {
		if got := c.client(netip.MustParseAddrPort(tt.addr), tt.sni).d.Name(); got != tt.want {
			t.Errorf("%s %s: %s, want %s", tt.addr, tt.sni, got, tt.want)
		}
	}
	cfg, _ := c.ClientConfig(netip.MustParseAddrPort("10.0.0.9:5061"), "")
	if cfg.ServerName != "def.example" {
		t.Fatalf("default SNI %q", cfg.ServerName)
	}
	cfg, _ = c.ClientConfig(netip.MustParseAddrPort("10.0.0.9:5061"), "next.example")
	if cfg.ServerName != "next.example" {
		t.Fatalf("asked SNI %q", cfg.ServerName)
	}
}

func TestBuild_MissingFilesNamePlace(t *testing.T) {
	f, err := Parse("b.cfg", []byte("[server:127.0.0.1:5061]\ncertificate = /nonexistent/c.pem\nprivate_key = /nonexistent/k.pem\n[server:127.0.0.1:5062]\nmethod = TLSv1.2\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(f, Params{}, "")
	if err == nil || !strings.Contains(err.Error(), "b.cfg:2: [server:127.0.0.1:5061] certificate:") ||
		!strings.Contains(err.Error(), "b.cfg:4: [server:127.0.0.1:5062] certificate: a server section needs a certificate") {
		t.Fatalf("error %v", err)
	}
}

func TestCipherList(t *testing.T) {
	if s, ok := cipherSuites("ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_128_GCM_SHA256:ECDHE-ECDSA-AES256-GCM-SHA384"); !ok || len(s) != 2 {
		t.Fatalf("%v %v", s, ok)
	}
	if _, ok := cipherSuites("HIGH:!aNULL"); ok {
		t.Fatal("OpenSSL keywords mapped")
	}
}

func FuzzParseTLSCfg(f *testing.F) {
	for _, p := range []string{"testdata/kamailio-example.cfg", "testdata/kamailio-modern.cfg"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("[server:[::1]:5061]\nserver_name=\"a#b\" # c\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse("fuzz.cfg", b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.cfg:") {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, d := range file.Domains {
			if seen[d.Name()] {
				t.Fatalf("duplicate section %s accepted", d.Name())
			}
			seen[d.Name()] = true
			if d.Kind != Server && d.Kind != Client {
				t.Fatalf("kind %d", d.Kind)
			}
		}
	})
}

// TestReadme_SelfSigned: the README's openssl command and tls.cfg work.
func TestReadme_SelfSigned(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("no openssl")
	}
	dir := t.TempDir()
	cmd := exec.Command("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "365",
		"-subj", "/CN=sip.example.com", "-addext", "subjectAltName=DNS:sip.example.com,IP:127.0.0.1",
		"-keyout", "kemi-selfsigned.key", "-out", "kemi-selfsigned.pem")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	cfg := "[server:default]\nmethod = TLSv1.2+\ncertificate = kemi-selfsigned.pem\nprivate_key = kemi-selfsigned.key\n" +
		"verify_certificate = no\nrequire_certificate = no\n\n[client:default]\nmethod = TLSv1.2+\nverify_certificate = yes\nca_list = kemi-selfsigned.pem\n"
	path := filepath.Join(dir, "tls.cfg")
	os.WriteFile(path, []byte(cfg), 0o600)
	st, err := Load(path, Params{})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := st.ServerConfig(netip.MustParseAddrPort("127.0.0.1:5061"))
	if err != nil || len(sc.Certificates) != 1 || sc.MinVersion != tls.VersionTLS12 {
		t.Fatalf("server config %v", err)
	}
	// The client verifies the server against the same file.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", sc)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	cc, _ := st.ClientConfig(netip.MustParseAddrPort(ln.Addr().String()), "sip.example.com")
	c, err := tls.Dial("tcp", ln.Addr().String(), cc)
	if err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	c.Close()
}

// TestParse_RepeatedSectionsNeedServerName: Kamailio's rule for repeated
// sections, and server_name_mode's matching.
func TestParse_RepeatedSectionsNeedServerName(t *testing.T) {
	ok := `
[server:any]
server_name = mysipserver.org
server_name_mode = 1
certificate = a.pem
[server:any]
server_name = mysipserver.net
server_name_mode = 2
certificate = b.pem
[server:any]
server_name = exact.example
`
	f, err := Parse("r.cfg", []byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		sni  string
		want int // index in f.Domains, -1 none
	}{
		{"mysipserver.org", 0}, {"a.mysipserver.org", 0}, {"xmysipserver.org", -1},
		{"mysipserver.net", -1}, {"b.mysipserver.net", 1},
		{"exact.example", 2}, {"a.exact.example", -1}, {"EXACT.example", 2},
	} {
		got := -1
		for i, d := range f.Domains {
			if d.matchName(tt.sni) {
				got = i
				break
			}
		}
		if got != tt.want {
			t.Errorf("%s: section %d, want %d", tt.sni, got, tt.want)
		}
	}
	for _, bad := range []struct{ in, want string }{
		{"[client:default]\n[client:default]", "r.cfg:2: section [client:default] again (first at r.cfg:1): there can be only one"},
		{"[server:any]\nserver_name=a\n[server:any]\n", "r.cfg:3: section [server:any] again (first at r.cfg:1): repeated sections need server_name"},
		{"[server:1.2.3.4:5061]\nserver_name=a\n[server:1.2.3.4:5061]\nserver_name=A\n", "r.cfg:3: section [server:1.2.3.4:5061] with server_name A again (first at r.cfg:1)"},
	} {
		if _, err := Parse("r.cfg", []byte(bad.in)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want %q", bad.in, err, bad.want)
		}
	}
}

// TestParse_InstalledKamailioTLSCfg: the tls.cfg Debian's
// kamailio-tls-modules installs (/etc/kamailio/tls.cfg, or the file named
// by KEMI_TLS_CFG) reads unchanged.
func TestParse_InstalledKamailioTLSCfg(t *testing.T) {
	path := os.Getenv("KEMI_TLS_CFG")
	if path == "" {
		path = "/etc/kamailio/tls.cfg"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("no Kamailio tls.cfg: %v", err)
	}
	f, err := Parse(path, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Domains) < 2 {
		t.Fatalf("%d sections", len(f.Domains))
	}
	for _, d := range f.Domains {
		t.Logf("%s %s method=%q verify=%v require=%v cert=%q", d.Pos, d.Name(), d.Method, d.VerifyCertificate, d.RequireCertificate, d.Certificate)
	}
}

func TestResolvePaths(t *testing.T) {
	for _, tt := range [][3]string{
		{"/etc/kamailio", "tls/cert.pem", "/etc/kamailio/tls/cert.pem"},
		{"/etc/kamailio", "/abs/cert.pem", "/abs/cert.pem"},
		{"/etc/kamailio", "./rel/cert.pem", "./rel/cert.pem"},
	} {
		if got := resolve(tt[0], tt[1]); got != tt[2] {
			t.Errorf("resolve(%q, %q) = %q, want %q", tt[0], tt[1], got, tt[2])
		}
	}
}
