package main

import (
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestDocs_HandlerServesAndRefuses: the embedded reference is served, and
// paths a browser following its links never sends are refused.
func TestDocs_HandlerServesAndRefuses(t *testing.T) {
	h, err := docsHandler()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method, target string
		code           int
	}{
		{"GET", "/", 200},
		{"GET", "/index.html", 200},
		{"HEAD", "/sl.html", 200},
		{"GET", "/search.js", 200},
		{"GET", "/missing.html", 404},
		{"GET", "/../go.mod", 400},
		{"GET", "/a/../index.html", 400},
		{"GET", "/%2e%2e/go.mod", 400},
		{"GET", "/.hidden", 400},
		{"GET", "/" + strings.Repeat("x", 2000), 414},
		{"POST", "/", 405},
		{"DELETE", "/index.html", 405},
	} {
		r := httptest.NewRequest(c.method, "http://127.0.0.1"+c.target, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.code {
			t.Errorf("%s %.40s: %d, want %d", c.method, c.target, w.Code, c.code)
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %.40s: no nosniff header", c.method, c.target)
		}
	}
	r := httptest.NewRequest("GET", "/sl.html", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if !strings.Contains(w.Body.String(), "KSR.sl.sl_send_reply") || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Errorf("GET /sl.html: %s\n%.200s", w.Header().Get("Content-Type"), w.Body.String())
	}
}

// TestDocs_ConnectionLimit: past the limit, Accept waits until a held
// connection is closed.
func TestDocs_ConnectionLimit(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	ln := &limitListener{Listener: inner, sem: make(chan struct{}, 2)}
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ln.Accept(); err != nil {
		t.Fatal(err)
	}
	third := make(chan net.Conn)
	go func() {
		c, _ := ln.Accept()
		third <- c
	}()
	select {
	case <-third:
		t.Fatal("a third connection was accepted while two were held")
	case <-time.After(100 * time.Millisecond):
	}
	a.Close()
	a.Close() // a second Close releases nothing more
	select {
	case c := <-third:
		if c == nil {
			t.Fatal("Accept failed")
		}
		c.Close()
	case <-time.After(2 * time.Second):
		t.Fatal("closing a held connection did not let the third in")
	}
	if n := len(ln.sem); n != 1 {
		t.Errorf("%d slots held, want 1", n)
	}
}
