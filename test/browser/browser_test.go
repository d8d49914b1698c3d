// Package browser drives real browser softphones against the SIP server:
// headless Chromium (Debian's chromium, through chromedp) opens two pages
// with JsSIP from npm (test/browser/package.json, installed by
// scripts/deps.sh), served by the test on 127.0.0.1. Both register over
// WebSocket (RFC 7118), one sends the other a MESSAGE and calls it, the
// other answers. The server runs testdata/websocket/ws.lua, in kemi and,
// for comparison, in Kamailio with its websocket and tls modules.
//
// With CI=true a missing chromium, npm package or Kamailio fails the test
// instead of skipping it.
package browser

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/evanw/esbuild/pkg/api"
)

var kemiBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kemi-browser")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	kemiBin = filepath.Join(dir, "kemi")
	build := exec.Command("go", "build", "-o", kemiBin, "kemi/cmd/kemi")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "browser: building kemi:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repo returns a path relative to the repository root.
func repo(p string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", p)
}

// missing fails the test under CI=true and skips it otherwise.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; make test installs it (scripts/deps.sh)")
	}
	t.Skip(msg + " (make deps installs it)")
}

// needChromium returns Chromium's path.
func needChromium(t *testing.T) string {
	t.Helper()
	for _, n := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	missing(t, "chromium is not installed (package chromium)")
	return ""
}

// jssipBundle bundles JsSIP from test/browser/node_modules (CommonJS, as
// npm ships it) into one script that sets the global JsSIP, with esbuild's
// Go API, so no bundler runs at install time.
func jssipBundle(t *testing.T) []byte {
	t.Helper()
	entry := repo("test/browser/node_modules/jssip/lib/JsSIP.js")
	if _, err := os.Stat(entry); err != nil {
		missing(t, "JsSIP is not installed in test/browser/node_modules (cd test/browser && npm ci)")
	}
	res := api.Build(api.BuildOptions{
		EntryPoints: []string{entry},
		Bundle:      true,
		Format:      api.FormatIIFE,
		GlobalName:  "JsSIP",
		Platform:    api.PlatformBrowser,
		Target:      api.ES2020,
		LogLevel:    api.LogLevelSilent,
	})
	if len(res.Errors) > 0 {
		t.Fatalf("bundling %s: %v", entry, res.Errors[0].Text)
	}
	if len(res.OutputFiles) != 1 {
		t.Fatalf("bundling %s: %d output files, want 1", entry, len(res.OutputFiles))
	}
	return res.OutputFiles[0].Contents
}

// cert is a self-signed certificate for 127.0.0.1 and its SPKI hash, the
// form Chromium's --ignore-certificate-errors-spki-list takes.
type cert struct {
	certFile, keyFile string
	spki              string
}

func newCert(t *testing.T, dir string) cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	out := cert{certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem")}
	if err := os.WriteFile(out.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out.keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	out.spki = base64.StdEncoding.EncodeToString(sum[:])
	return out
}

// freeTCPPorts finds two distinct TCP ports on 127.0.0.1 that are free
// right now (both are held until both are found, so they differ).
func freeTCPPorts(t *testing.T) (int, int) {
	t.Helper()
	var ports [2]int
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1]
}

// server is a SIP server process with a ws and a wss listener.
type server struct {
	name           string
	wsPort, wss    int
	cmd            *exec.Cmd
	mu             sync.Mutex
	log            bytes.Buffer
	logw           *io.PipeWriter
	logDone        chan struct{}
	wsURL, wssURL  string
	domain         string
	configFile     string
	configContents string
}

func (s *server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// fill writes testdata/websocket/NAME with the placeholders filled in.
func fill(t *testing.T, name, dst string, repl ...string) string {
	t.Helper()
	b, err := os.ReadFile(repo("testdata/websocket/" + name))
	if err != nil {
		t.Fatal(err)
	}
	out := strings.NewReplacer(repl...).Replace(string(b))
	if err := os.WriteFile(dst, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// start runs the command and waits until both ports accept connections.
func start(t *testing.T, s *server, name string, args ...string) {
	t.Helper()
	s.cmd = exec.Command(name, args...)
	pr, pw := io.Pipe()
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	s.logw, s.logDone = pw, make(chan struct{})
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(s.logDone)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
	}()
	exited := make(chan struct{})
	go func() { s.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			s.cmd.Process.Kill()
			<-exited
		}
		pw.Close()
		<-s.logDone
		if t.Failed() {
			t.Logf("%s config:\n%s\n%s log:\n%s", s.name, s.configContents, s.name, s.Log())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range []int{s.wsPort, s.wss} {
		for {
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p), time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-exited:
				t.Fatalf("%s exited before listening on %d:\n%s", s.name, p, s.Log())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not listen on 127.0.0.1:%d after 10 s:\n%s", s.name, p, s.Log())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	s.wsURL = "ws://127.0.0.1:" + strconv.Itoa(s.wsPort)
	s.wssURL = "wss://127.0.0.1:" + strconv.Itoa(s.wss)
	s.domain = "127.0.0.1"
}

// users are the subscribers the pages register as (digest authentication
// with password "pw-" + name): an alice and a bob per scenario.
var users = []string{"alice-wss", "bob-wss", "alice-ws", "bob-ws", "alice-mix", "bob-mix"}

// startKemi runs kemi with testdata/websocket/kemi.cfg and the script of
// the engine (lua, js, star).
func startKemi(t *testing.T, c cert, engine string) *server {
	t.Helper()
	dir := t.TempDir()
	mod, eng, script := "app_lua", "lua", "ws.lua"
	switch engine {
	case "js":
		mod, eng, script = "app_jsdt", "jsdt", "ws.js"
	case "star":
		mod, eng, script = "app_starlark", "starlark", "ws.star"
	}
	s := &server{name: "kemi-" + engine}
	s.wsPort, s.wss = freeTCPPorts(t)
	s.configFile = filepath.Join(dir, "kemi.cfg")
	s.configContents = fill(t, "kemi.cfg", s.configFile,
		"WSSPORT", strconv.Itoa(s.wss), "WSPORT", strconv.Itoa(s.wsPort),
		"CERT", c.certFile, "KEY", c.keyFile, "CHILDREN", "2",
		"SCRIPT", repo("testdata/websocket/"+script),
		"ENGINEMOD", mod, `cfgengine "ENGINE"`, `cfgengine "`+eng+`"`)
	db := filepath.Join(dir, "kemi.db")
	for _, u := range users {
		out, err := exec.Command(kemiBin, "user", "add", "-db", db, u+"@127.0.0.1", "pw-"+u).CombinedOutput()
		if err != nil {
			t.Fatalf("kemi user add %s: %v\n%s", u, err, out)
		}
	}
	start(t, s, kemiBin, "serve", "-f", s.configFile, "-A", "WITH_AUTH", "-A", `AUTHDB="`+db+`"`)
	return s
}

// startKamailio runs Kamailio with testdata/websocket/kamailio.cfg.
func startKamailio(t *testing.T, c cert) *server {
	t.Helper()
	bin := "/usr/sbin/kamailio"
	if _, err := os.Stat(bin); err != nil {
		missing(t, "Kamailio is not installed (package kamailio)")
	}
	for _, m := range []string{"websocket.so", "tls.so", "xhttp.so", "app_lua.so"} {
		if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/kamailio/modules/" + m); err != nil {
			missing(t, "Kamailio's %s is not installed (packages kamailio-websocket-modules, kamailio-tls-modules, kamailio-lua-modules)", m)
		}
	}
	dir := t.TempDir()
	s := &server{name: "kamailio"}
	s.wsPort, s.wss = freeTCPPorts(t)
	s.configFile = filepath.Join(dir, "kamailio.cfg")
	s.configContents = fill(t, "kamailio.cfg", s.configFile,
		"WSSPORT", strconv.Itoa(s.wss), "WSPORT", strconv.Itoa(s.wsPort),
		"CERT", c.certFile, "KEY", c.keyFile, "CHILDREN", "2",
		"SCRIPT", repo("testdata/websocket/ws.lua"), "DBDIR", dir)
	// The subscribers in a db_text directory, as auth_db reads them.
	sub := "id(int,auto) username(string) domain(string) password(string) ha1(string) ha1b(string) \n"
	for i, u := range users {
		sub += fmt.Sprintf("%d:%s:127.0.0.1:pw-%s:x:x\n", i+1, u, u)
	}
	if err := os.WriteFile(filepath.Join(dir, "subscriber"), []byte(sub), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "version"), []byte("id(int,auto) table_name(string) table_version(int) \n0:subscriber:7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	start(t, s, bin, "-f", s.configFile, "-DD", "-E", "-m", "64", "-M", "16", "-A", "WITH_AUTH", "-P", filepath.Join(dir, "pid"))
	return s
}

// browser is headless Chromium with the phone page served on 127.0.0.1.
type browser struct {
	ctx  context.Context
	page string
}

func newBrowser(t *testing.T, c cert) *browser {
	t.Helper()
	chromium := needChromium(t)
	js := jssipBundle(t)
	html, err := os.ReadFile(repo("test/browser/testdata/phone.html"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/phone.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(html)
	})
	mux.HandleFunc("/jssip.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write(js)
	})
	web := httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(web.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // root in containers
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		// Trust the test's certificate, and only it (by its public key).
		chromedp.Flag("ignore-certificate-errors-spki-list", c.spki),
		// getUserMedia gets a fake microphone without asking.
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		// Nothing leaves the machine: no name is resolved but 127.0.0.1,
		// WebRTC gathers no UDP candidates (no mDNS, no STUN), so the call
		// is signalling and SDP only.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("force-webrtc-ip-handling-policy", "disable_non_proxied_udp"),
		chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns"),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(cancelC)
	if err := chromedp.Do(ctx); err != nil { // starts Chromium
		t.Fatalf("starting %s: %v", chromium, err)
	}
	return &browser{ctx: ctx, page: web.URL + "/phone.html"}
}

// phone is one tab with the phone page.
type phone struct {
	t    *testing.T
	name string
	ctx  context.Context
}

func (b *browser) open(t *testing.T, name string) *phone {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx) // a new tab
	t.Cleanup(func() {
		chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.stop && window.stop()`))
		cancel()
	})
	if err := chromedp.Do(ctx, chromedp.Navigate(b.page+"?"+name)); err != nil {
		t.Fatalf("%s: opening %s: %v", name, b.page, err)
	}
	return &phone{t: t, name: name, ctx: ctx}
}

// eval runs a JS expression in the page, awaiting a promise, within 10 s.
func (p *phone) eval(expr string) (string, error) {
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	res, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr, chromedp.EvalAwaitPromise))
	return fmt.Sprint(res), err
}

func (p *phone) must(expr string) string {
	p.t.Helper()
	res, err := p.eval(expr)
	if err != nil {
		p.t.Fatalf("%s: %s: %v\n%s events: %v", p.name, expr, err, p.name, p.events())
	}
	return res
}

func (p *phone) events() []string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	ev, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.events`))
	return ev
}

// waitEvent waits up to 10 s until the page logged an event starting with
// prefix, and returns it.
func (p *phone) waitEvent(prefix string) string {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ev := p.events()
		for _, e := range ev {
			if strings.HasPrefix(e, prefix) {
				return e
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: no event %q after 10 s; events: %q", p.name, prefix, ev)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scenario registers alice and bob over their URLs, alice sends bob a
// MESSAGE, calls him, bob answers, alice hangs up.
func scenario(t *testing.T, b *browser, s *server, an, bn, aliceURL, bobURL string) {
	t.Helper()
	alice, bob := b.open(t, an), b.open(t, bn)
	alice.must(fmt.Sprintf(`start(%q, %q, %q, %q)`, an, s.domain, aliceURL, "pw-"+an))
	bob.must(fmt.Sprintf(`start(%q, %q, %q, %q)`, bn, s.domain, bobURL, "pw-"+bn))

	target := fmt.Sprintf("sip:%s@%s", bn, s.domain)
	if code := alice.must(fmt.Sprintf(`message(%q, "hello over websocket")`, target)); code != "200" {
		t.Fatalf("MESSAGE to bob: final status %s, want 200", code)
	}
	if got, want := bob.waitEvent("message from"), "message from "+an+": hello over websocket"; got != want {
		t.Fatalf("bob got %q, want %q", got, want)
	}

	alice.must(fmt.Sprintf(`call(%q)`, target))
	bob.waitEvent("incoming call from " + an)
	rr := bob.waitEvent("record-route ")
	t.Logf("bob's INVITE: %s", rr)
	if aliceURL != bobURL {
		// From the WSS socket to the WS one: rr's double Record-Route, one
		// for each socket, so that in-dialog requests cross back.
		ws, wss := "127.0.0.1:"+strconv.Itoa(s.wsPort)+";", "127.0.0.1:"+strconv.Itoa(s.wss)+";"
		if strings.Count(rr, "r2=on") != 2 || !strings.Contains(rr, ws) || !strings.Contains(rr, wss) {
			t.Errorf("bob's INVITE: %s; want a double Record-Route (r2=on) naming %s and %s", rr, ws, wss)
		}
	}
	bob.waitEvent("call confirmed")
	alice.must(`hangup()`)
	if ended := bob.waitEvent("call ended"); ended != "call ended remote Terminated" {
		t.Fatalf("bob's call: %q, want it ended by alice's BYE (call ended remote Terminated)", ended)
	}
}

// runTarget runs the scenario over WSS, over WS, and with alice on WSS and
// bob on WS (the proxy record-routes twice between the two sockets).
func runTarget(t *testing.T, b *browser, s *server) {
	t.Run("wss", func(t *testing.T) { scenario(t, b, s, "alice-wss", "bob-wss", s.wssURL, s.wssURL) })
	t.Run("ws", func(t *testing.T) { scenario(t, b, s, "alice-ws", "bob-ws", s.wsURL, s.wsURL) })
	t.Run("wss-to-ws", func(t *testing.T) { scenario(t, b, s, "alice-mix", "bob-mix", s.wssURL, s.wsURL) })
	// The registrations above passed the digest check: a wrong password
	// does not.
	t.Run("wrong-password", func(t *testing.T) {
		p := b.open(t, "alice-wss")
		res, err := p.eval(fmt.Sprintf(`start("alice-wss", %q, %q, "not-the-password")`, s.domain, s.wssURL))
		if err == nil || !strings.Contains(err.Error(), "registration failed") {
			t.Fatalf("registering with a wrong password: %q, %v; want the registration refused; events %q", res, err, p.events())
		}
		t.Logf("wrong password: %v", err)
	})
}

// TestBrowser_JsSIPRegisterMessageCall is issue 14's browser test: JsSIP in
// headless Chromium registers over WSS and WS (with digest authentication;
// a wrong password is refused), sends a MESSAGE and places a call the
// other page answers, through kemi running ws.lua (and ws.js, ws.star),
// and through Kamailio running the same ws.lua.
func TestBrowser_JsSIPRegisterMessageCall(t *testing.T) {
	dir := t.TempDir()
	c := newCert(t, dir)
	b := newBrowser(t, c)
	for _, eng := range []string{"lua", "js", "star"} {
		t.Run("kemi-"+eng, func(t *testing.T) { runTarget(t, b, startKemi(t, c, eng)) })
	}
	t.Run("kamailio", func(t *testing.T) { runTarget(t, b, startKamailio(t, c)) })
}
