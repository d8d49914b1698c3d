package transport

import (
	"io"
	"strings"
	"testing"
	"time"
)

// TestXHTTP_TransportFramesAndRefuses (issue 14, xhttp): on a stream
// listen without tcp_accept_no_cl, an HTTP request without
// Content-Length is one message with no body (a SIP one would close the
// connection); a chunked request gets 411, a body over the size limit
// 413 and a bad Content-Length 400, each closing its connection, while
// another client is served.
func TestXHTTP_TransportFramesAndRefuses(t *testing.T) {
	s, addr := echoStreams(t, StreamConfig{MaxMessage: 4096}, TCP, "127.0.0.1:0")
	stop := keepServing(t, addr)
	get := "GET /status HTTP/1.1\r\nHost: x\r\n\r\n"
	if err := dialClient(t, addr).roundTrip(get + get); err != nil {
		t.Fatalf("two GETs without Content-Length: %v", err)
	}
	for _, tc := range []struct{ name, req, want string }{
		{"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "HTTP/1.1 411 "},
		{"10 MB", "POST / HTTP/1.1\r\nContent-Length: 10485760\r\n\r\n" + strings.Repeat("x", 8192), "HTTP/1.1 413 "},
		{"bad content-length", "POST / HTTP/1.1\r\nContent-Length: ten\r\n\r\n", "HTTP/1.1 400 "},
	} {
		c := dialClient(t, addr)
		c.nc.SetDeadline(time.Now().Add(3 * time.Second))
		io.WriteString(c.nc, tc.req)
		got, _ := io.ReadAll(c.br)
		if !strings.HasPrefix(string(got), tc.want) || !strings.Contains(string(got), "Connection: close\r\n") {
			t.Errorf("%s: got %q, want %q and the connection closed", tc.name, got, tc.want)
		}
	}
	stop()
	waitFor(t, "three HTTP refusals", 5*time.Second, func() bool { return s.Stats.ClosedHTTP.Load() == 3 })
}

// TestXHTTP_SlowHeadersClosed (issue 14, xhttp): an HTTP request whose
// headers never end is cut off by the stream's message timeout
// (tcp_msg_read_timeout), as a SIP one is.
func TestXHTTP_SlowHeadersClosed(t *testing.T) {
	s, addr := echoStreams(t, StreamConfig{MessageTimeout: 300 * time.Millisecond}, TCP, "127.0.0.1:0")
	c := dialClient(t, addr)
	start := time.Now()
	go func() {
		io.WriteString(c.nc, "GET /status HTTP/1.1\r\nHost: x\r\n")
		for i := 0; i < 30; i++ {
			time.Sleep(100 * time.Millisecond)
			if _, err := io.WriteString(c.nc, "X: y\r\n"); err != nil {
				return
			}
		}
	}()
	if err := c.waitClosed(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("closed after %v", d)
	}
	waitFor(t, "a slow close", 5*time.Second, func() bool { return s.Stats.ClosedSlow.Load() == 1 })
}
