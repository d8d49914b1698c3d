package main

import (
	"net/http/httptest"
	"strings"
	"testing"
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
