package httpq

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestHTTPClient_SlowLorisRefused: a server that trickles its body one
// byte every 100 ms cannot hold the caller past the client's deadline.
func TestHTTPClient_SlowLorisRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		for i := 0; i < 100; i++ {
			if _, err := w.Write([]byte("x")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-time.After(100 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	}))
	defer srv.Close()
	c, err := New(Options{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Do(context.Background(), Request{URL: srv.URL})
	if err == nil {
		t.Fatal("a trickling answer past the deadline succeeded")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("the trickling server held the caller %v, want about 300 ms", took)
	}
	// A server that accepts and never answers the headers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	start = time.Now()
	if _, err := c.Do(context.Background(), Request{URL: "http://" + ln.Addr().String() + "/"}); err == nil {
		t.Fatal("a server that never answers gave a response")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("a silent server held the caller %v", took)
	}
}

// TestHTTPClient_HugeResponseRefused: a body over the cap fails, with or
// without Content-Length, after reading no more than the cap.
func TestHTTPClient_HugeResponseRefused(t *testing.T) {
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cl" {
			w.Header().Set("Content-Length", "10000000")
		}
		chunk := []byte(strings.Repeat("a", 4096))
		for i := 0; i < 2500; i++ { // 10 MB
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c, err := New(Options{Timeout: 5 * time.Second, MaxBody: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/chunked", "/cl"} {
		_, err := c.Do(context.Background(), Request{URL: srv.URL + p})
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: got %v, want ErrTooLarge", p, err)
		}
	}
	// The default cap holds when none is configured.
	d, _ := New(Options{})
	if d.opt.MaxBody != DefaultMaxBody {
		t.Errorf("default body cap %d, want %d", d.opt.MaxBody, DefaultMaxBody)
	}
}

// TestHTTPClient_HeaderInjectionRefused: a URL or header line with CR/LF
// (what a script may build from a SIP header) never reaches the server,
// and redirects to other schemes are refused.
func TestHTTPClient_HeaderInjectionRefused(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/gopher":
			http.Redirect(w, r, "gopher://127.0.0.1/", http.StatusFound)
		default:
			w.Write([]byte(r.Header.Get("X-Token")))
		}
	}))
	defer srv.Close()
	c, _ := New(Options{Timeout: 2 * time.Second, Redirects: true})
	for _, u := range []string{
		srv.URL + "/?a=b\r\nX-Injected: yes",
		srv.URL + "/ HTTP/1.1\r\nHost: evil",
		srv.URL + "/\x00",
		"file:///etc/passwd",
		"ftp://127.0.0.1/",
		"http:///nohost",
	} {
		if _, err := c.Do(context.Background(), Request{URL: u}); err == nil {
			t.Errorf("URL %q was sent", u)
		}
	}
	for _, h := range []string{"X-Token abc", "Bad Name: x", "X-A: b\x00c"} {
		if _, err := c.Do(context.Background(), Request{URL: srv.URL, Hdrs: h}); err == nil {
			t.Errorf("header %q was sent", h)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server got %d requests from refused input", n)
	}
	for _, p := range []string{"/file", "/gopher"} {
		if _, err := c.Do(context.Background(), Request{URL: srv.URL + p}); err == nil || !strings.Contains(err.Error(), "only http and https") {
			t.Errorf("redirect %s: got %v, want it refused", p, err)
		}
	}
	r, err := c.Do(context.Background(), Request{URL: srv.URL, Hdrs: "X-Token: abc\r\nX-Other: 1"})
	if err != nil || string(r.Body) != "abc" {
		t.Errorf("good header lines: got %v %v", r, err)
	}
}

// TestHTTPClient_KeepConnectionsPools: with keep_connections the client
// reuses one connection; without it each request opens its own.
func TestHTTPClient_KeepConnectionsPools(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	for _, keep := range []bool{true, false} {
		conns.Store(0)
		c, _ := New(Options{KeepConns: keep})
		for i := 0; i < 5; i++ {
			if _, err := c.Do(context.Background(), Request{URL: srv.URL}); err != nil {
				t.Fatal(err)
			}
		}
		c.Close()
		want := int32(5)
		if keep {
			want = 1
		}
		if got := conns.Load(); got != want {
			t.Errorf("keep=%v: %d connections for 5 requests, want %d", keep, got, want)
		}
	}
}

// TestHTTPClient_CAPath: a directory of CA files (tls_ca_path) trusts
// the servers they sign; one without any PEM certificate is an error.
func TestHTTPClient_CAPath(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "README"), []byte("not a certificate"), 0o600)
	if _, err := TLSConfig(TLSOptions{CAPath: dir, VerifyPeer: true, VerifyHost: true}); err == nil {
		t.Error("a CA path without certificates was taken")
	}
	os.WriteFile(filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	tc, err := TLSConfig(TLSOptions{CAPath: dir, VerifyPeer: true, VerifyHost: true})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := New(Options{TLS: tc})
	if r, err := c.Do(context.Background(), Request{URL: srv.URL}); err != nil || string(r.Body) != "ok" {
		t.Errorf("https with the CA path: %v", err)
	}
	d, _ := New(Options{})
	if _, err := d.Do(context.Background(), Request{URL: srv.URL}); err == nil {
		t.Error("an unknown CA was trusted")
	}
}
