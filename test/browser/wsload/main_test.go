package main

import (
	"strings"
	"testing"
)

// TestWSLoad_DigestRFC2617 checks the load client's digest answer against
// RFC 2617's example (section 3.5), and the form without qop.
func TestWSLoad_DigestRFC2617(t *testing.T) {
	www := `Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`
	got, err := digest(www, "GET", "Mufasa", "Circle Of Life", "/dir/index.html", "0a4f113b")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`response="6629fae49393a05397450978507c4ef1"`, `qop=auth, nc=00000001, cnonce="0a4f113b"`, `opaque="5ccc069c403ebaf9f0171e9517f40e41"`} {
		if !strings.Contains(got, want) {
			t.Errorf("digest: %q lacks %s", got, want)
		}
	}
	// Without qop (RFC 2069): response = MD5(HA1:nonce:HA2).
	got, err = digest(`Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"`, "GET", "Mufasa", "Circle Of Life", "/dir/index.html", "x")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, `response="670fd8c2df070c60b045671b8b24ff02"`) || strings.Contains(got, "qop=") {
		t.Errorf("digest without qop: %q", got)
	}
	if _, err := digest(`Digest realm="r", nonce="n", algorithm=SHA-256`, "REGISTER", "u", "p", "sip:x", "c"); err == nil {
		t.Error("digest with algorithm SHA-256: no error, want one (MD5 only)")
	}
	if _, err := digest(`Basic realm="r"`, "REGISTER", "u", "p", "sip:x", "c"); err == nil {
		t.Error("Basic challenge: no error, want one")
	}
}
