package transport

import (
	"bytes"
	"errors"
)

// HTTP shares the TCP and TLS listeners with SIP, as in Kamailio: a
// message whose first line is a request line ending in HTTP/1.x is an
// HTTP request (the xhttp module's), anything else is SIP. The framer
// cuts both the same way, headers then Content-Length bytes of body; an
// HTTP request without Content-Length has no body.

// ErrChunked is an HTTP request with a Transfer-Encoding: kemi reads
// bodies by Content-Length only, so it is answered 411 and the
// connection closed (there is no way to find the next request after it).
var ErrChunked = errors.New("HTTP request with Transfer-Encoding (only Content-Length bodies are read)")

// IsHTTPRequest reports whether msg (at least its first line) starts with
// an HTTP/1.x request line: METHOD SP target SP HTTP/1.x.
func IsHTTPRequest(msg []byte) bool {
	line := msg
	if i := bytes.IndexByte(msg, '\n'); i >= 0 {
		line = msg[:i]
	} else {
		return false
	}
	line = bytes.TrimRight(line, "\r \t")
	// Looked at from the end, so a SIP message costs a few compares.
	n := len(line)
	if n < 11 || string(line[n-8:n-1]) != "HTTP/1." || line[n-1] < '0' || line[n-1] > '9' ||
		(line[n-9] != ' ' && line[n-9] != '\t') {
		return false
	}
	return bytes.IndexByte(line, ' ') > 0 // a method before a space, as the SIP parser wants
}

// hasTransferEncoding reports whether an HTTP request's header block has
// a Transfer-Encoding header.
func hasTransferEncoding(h []byte) bool {
	i := bytes.IndexByte(h, '\n')
	for p := i + 1; p < len(h); {
		e := bytes.IndexByte(h[p:], '\n')
		if e < 0 {
			break
		}
		line := h[p : p+e]
		p += e + 1
		if len(line) >= 18 && (line[0]|0x20) == 't' && asciiEqualFold(line[:17], "transfer-encoding") && (line[17] == ':' || line[17] == ' ' || line[17] == '\t') {
			return true
		}
	}
	return false
}

// httpRefusal is the answer to an HTTP request the transport refuses
// before a handler sees it; the connection closes after it.
func httpRefusal(err error) []byte {
	switch {
	case errors.Is(err, ErrMessageTooBig):
		return []byte("HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
	case errors.Is(err, ErrChunked):
		return []byte("HTTP/1.1 411 Length Required\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
	}
	return HTTPBadRequest
}

// HTTPBadRequest is the answer to a malformed HTTP request; the
// connection closes after it.
var HTTPBadRequest = []byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
