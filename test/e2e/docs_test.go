package e2e

// `kemi docs` and the reference's search (issue 12, "The reference's
// examples run"): the binary serves the reference it embeds, from any
// folder; hostile requests are refused; and the search box, driven in
// headless Chromium, puts the function typed first and its link leads to
// the function.

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// startDocs runs `kemi docs` with args in an empty folder (so nothing is
// read from a checkout) and returns the base URL it prints.
func startDocs(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(kemiBin, append([]string{"docs"}, args...)...)
	cmd.Dir = t.TempDir()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			t.Errorf("kemi docs did not stop on SIGINT")
		}
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		io.Copy(io.Discard, out)
	}()
	select {
	case l, ok := <-line:
		_, url, found := strings.Cut(l, "http://")
		if !ok || !found {
			t.Fatalf("kemi docs printed %q; stderr: %s", l, stderr.String())
		}
		return "http://" + strings.TrimSuffix(url, "/")
	case <-time.After(10 * time.Second):
		t.Fatalf("kemi docs did not start; stderr: %s", stderr.String())
	}
	return ""
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestDocs_ServesEmbeddedReference(t *testing.T) {
	base := startDocs(t, "-l", "127.0.0.1:0")
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Errorf("serving on %s, want 127.0.0.1", base)
	}
	code, body := get(t, base+"/")
	if code != 200 || !strings.Contains(body, "KSR reference") || !strings.Contains(body, `href="sl.html"`) {
		t.Fatalf("GET /: %d\n%.300s", code, body)
	}
	code, body = get(t, base+"/sl.html")
	if code != 200 || !strings.Contains(body, `id="fn-sl_send_reply"`) || !strings.Contains(body, "KSR.sl.sl_send_reply") {
		t.Errorf("GET /sl.html: %d\n%.300s", code, body)
	}
	if code, body = get(t, base+"/search.js"); code != 200 || !strings.Contains(body, "KSR.tm.t_relay") {
		t.Errorf("GET /search.js: %d", code)
	}
	if code, _ = get(t, base+"/no-such-module.html"); code != 404 {
		t.Errorf("GET /no-such-module.html: %d, want 404", code)
	}
}

// TestDocs_DefaultBindsLoopback: without -l it binds 127.0.0.1:8080 (or
// says that it could not, when something else has the port).
func TestDocs_DefaultBindsLoopback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kemiBin, "docs")
	cmd.Dir = t.TempDir()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		t.Fatal("kemi docs printed nothing")
	}
	if l := sc.Text(); !strings.Contains(l, "127.0.0.1:8080") {
		t.Errorf("kemi docs without -l: %q, want 127.0.0.1:8080", l)
	}
}

// docsRawRequest sends one request line as it is (a client would clean the
// path) and returns the status line of the answer.
func docsRawRequest(t *testing.T, addr, method, target string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, method+" "+target+" HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("%s %.80s: %v", method, target, err)
	}
	return strings.TrimSpace(line)
}

func TestDocs_RefusesHostileRequests(t *testing.T) {
	base := startDocs(t, "-l", "127.0.0.1:0")
	addr := strings.TrimPrefix(base, "http://")
	for _, c := range []struct {
		method, target, want string
	}{
		{"GET", "/../../../../etc/passwd", "400"},
		{"GET", "/..%2f..%2fetc%2fpasswd", "400"},
		{"GET", "/%2e%2e/go.mod", "400"},
		{"GET", "/./index.html", "400"},
		{"GET", "/sl.html/../../embed.go", "400"},
		{"GET", `/..\..\embed.go`, "400"},
		{"GET", "/.luacheckrc", "400"},
		{"GET", "/" + strings.Repeat("a", 2000), "414"},
		{"GET", "/" + strings.Repeat("a", 64<<10), "431"},
		{"POST", "/", "405"},
		{"PUT", "/index.html", "405"},
		{"GET", "/index.html", "200"},
	} {
		got := docsRawRequest(t, addr, c.method, c.target)
		if !strings.HasPrefix(got, "HTTP/1.1 "+c.want) {
			t.Errorf("%s %.60s: %q, want %s", c.method, c.target, got, c.want)
		}
	}
	// Still serving.
	if code, _ := get(t, base+"/"); code != 200 {
		t.Errorf("GET / after the hostile requests: %d", code)
	}
}

// needChromium returns Chromium's path; it skips without it, but fails
// under CI (make test installs Debian's chromium through scripts/deps.sh).
func needChromium(t *testing.T) string {
	t.Helper()
	for _, n := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; make test installs it (scripts/deps.sh)")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium)")
	return ""
}

// TestDocs_SearchInChromium types function names into the search box of
// the reference `kemi docs` serves, in headless Chromium: the function
// typed is the first hit, a long list says it is cut, and following the
// first hit opens the function's section of its module page.
func TestDocs_SearchInChromium(t *testing.T) {
	chromium := needChromium(t)
	base := startDocs(t, "-l", "127.0.0.1:0")

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // root in containers
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancelC := chromedp.NewContext(actx)
	defer cancelC()
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	defer cancelT()

	for _, c := range []struct{ query, first, page string }{
		{"t_relay", "KSR.tm.t_relay", "/tm.html#fn-t_relay"},
		{"send_reply", "KSR.sl.send_reply", "/sl.html#fn-send_reply"},
		{"info", "KSR.info", "/core.html#fn-info"},
	} {
		err := chromedp.Do(ctx,
			chromedp.Navigate(base+"/index.html"),
			chromedp.WaitVisible(chromedp.ID("q")),
			chromedp.SendKeys(chromedp.ID("q"), c.query),
			chromedp.WaitVisible(chromedp.CSS("#hits a")),
		)
		if err != nil {
			t.Fatalf("search %q: %v", c.query, err)
		}
		first, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#hits a")))
		if err != nil {
			t.Fatal(err)
		}
		if first != c.first {
			t.Errorf("search %q: first hit %q, want %q", c.query, first, c.first)
		}
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS("#hits a")),
			chromedp.WaitVisible(chromedp.CSS("h3:target")),
		); err != nil {
			t.Fatalf("search %q: following the first hit: %v", c.query, err)
		}
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		heading, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h3:target")))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("typed %q: first hit %q, followed to %s (section %q)", c.query, first, loc, heading)
		if loc != base+c.page || heading != c.first {
			t.Errorf("search %q: the first hit led to %s (section %q), want %s%s (section %q)", c.query, loc, heading, base, c.page, c.first)
		}
	}

	// A query that matches more than the list shows says so.
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/index.html"),
		chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SendKeys(chromedp.ID("q"), "get"),
		chromedp.WaitVisible(chromedp.CSS("#hits .more")),
	)
	if err != nil {
		t.Fatalf("search get: %v", err)
	}
	more, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#hits .more")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(more, "showing 50 of ") {
		t.Errorf("search get: %q, want a note that the list is cut", more)
	}
}
