package transport

import (
	"bytes"
	"errors"
)

// Frame is what StreamFramer.Next found at the start of the unread bytes.
type Frame uint8

const (
	// FrameMore: the bytes are the start of something; read more.
	FrameMore Frame = iota
	// FrameMessage: the first n bytes are one SIP message.
	FrameMessage
	// FramePing: the first 4 bytes are an RFC 5626 keepalive (CRLFCRLF),
	// to be answered with one CRLF.
	FramePing
	// FrameCRLF: the first 2 bytes are a lone CRLF (an RFC 5626 pong, or
	// padding between messages), ignored.
	FrameCRLF
)

// Framing errors. The connection they happen on is closed: there is no way
// to find the next message in the stream after them.
var (
	ErrMessageTooBig    = errors.New("message larger than the size limit")
	ErrNoContentLength  = errors.New("message without Content-Length on a stream")
	ErrBadContentLength = errors.New("invalid Content-Length")
)

// StreamFramer cuts a byte stream into SIP messages (RFC 3261 §18.3): a
// message is its header block up to the first empty line, then
// Content-Length bytes of body. It keeps what it learned about the message
// in progress, so bytes arriving one at a time are scanned once, not once
// per read. The zero value, with Max set, is ready; it allocates nothing.
type StreamFramer struct {
	// Max is the largest message, headers and body, in bytes.
	Max int
	// AcceptNoCL takes a message without Content-Length as having no
	// body (Kamailio's tcp_accept_no_cl); otherwise it is an error.
	AcceptNoCL bool

	scanned int // bytes of the message in progress searched for CRLFCRLF
	total   int // the message's length once its headers are complete, else 0
}

// Reset forgets the message in progress (for a new connection).
func (f *StreamFramer) Reset() { f.scanned, f.total = 0, 0 }

// Next looks at buf, the bytes received and not yet consumed, which must
// start where the previous item ended and extend the buf of the previous
// call when that call returned FrameMore. It returns what starts buf and
// its length n (for FrameMore: the whole message's length when the headers
// are complete, so the caller can size its buffer, else 0).
func (f *StreamFramer) Next(buf []byte) (kind Frame, n int, err error) {
	if f.total == 0 && f.scanned == 0 {
		// Between messages: keepalives (RFC 5626 §3.5.1, §4.4.1).
		if len(buf) > 0 && buf[0] == '\r' {
			switch {
			case len(buf) >= 4 && buf[1] == '\n' && buf[2] == '\r' && buf[3] == '\n':
				return FramePing, 4, nil
			case len(buf) >= 3 && buf[1] == '\n' && buf[2] != '\r':
				return FrameCRLF, 2, nil
			case len(buf) >= 4 && buf[1] == '\n':
				// "\r\n\r" then something else: a lone CRLF first.
				return FrameCRLF, 2, nil
			case len(buf) < 4 && isCRLFPrefix(buf):
				return FrameMore, 0, nil
			}
		}
	}
	if f.total == 0 {
		start := f.scanned - 3
		if start < 0 {
			start = 0
		}
		limit := len(buf)
		if limit > f.Max {
			limit = f.Max
		}
		if start >= limit {
			if len(buf) >= f.Max {
				return FrameMore, 0, ErrMessageTooBig
			}
			return FrameMore, 0, nil
		}
		i := bytes.Index(buf[start:limit], crlfcrlf)
		if i < 0 {
			f.scanned = limit
			if len(buf) >= f.Max {
				return FrameMore, 0, ErrMessageTooBig
			}
			return FrameMore, 0, nil
		}
		hdrEnd := start + i + 4
		cl, ok, err := contentLength(buf[:hdrEnd])
		if err != nil {
			return FrameMore, 0, err
		}
		http := IsHTTPRequest(buf[:hdrEnd])
		if !ok && !f.AcceptNoCL && !http {
			// An HTTP request without Content-Length has no body
			// (RFC 9112 §6.3); Kamailio needs tcp_accept_no_cl for it.
			return FrameMore, 0, ErrNoContentLength
		}
		if http && hasTransferEncoding(buf[:hdrEnd]) {
			return FrameMore, 0, ErrChunked
		}
		if cl > f.Max-hdrEnd {
			return FrameMore, 0, ErrMessageTooBig
		}
		f.total = hdrEnd + cl
	}
	if len(buf) < f.total {
		return FrameMore, f.total, nil
	}
	n = f.total
	f.total, f.scanned = 0, 0
	return FrameMessage, n, nil
}

// Pending reports whether a message has started (some of it is buffered).
func (f *StreamFramer) Pending() bool { return f.total != 0 || f.scanned != 0 }

var crlfcrlf = []byte("\r\n\r\n")

func isCRLFPrefix(b []byte) bool {
	return bytes.HasPrefix(crlfcrlf, b)
}

// contentLength finds the Content-Length (or compact "l") header in a
// complete header block. Several with different values are an error, as is
// a value that is not a decimal number.
func contentLength(h []byte) (n int, found bool, err error) {
	// Skip the start line.
	i := bytes.IndexByte(h, '\n')
	if i < 0 {
		return 0, false, nil
	}
	n = -1
	for p := i + 1; p < len(h); {
		e := bytes.IndexByte(h[p:], '\n')
		if e < 0 {
			break
		}
		line := h[p : p+e]
		p += e + 1
		v, ok := clValue(line)
		if !ok {
			continue
		}
		x, err := parseCL(v)
		if err != nil {
			return 0, false, err
		}
		if n >= 0 && x != n {
			return 0, false, ErrBadContentLength
		}
		n = x
	}
	if n < 0 {
		return 0, false, nil
	}
	return n, true, nil
}

// clValue returns the value of a Content-Length header line.
func clValue(line []byte) ([]byte, bool) {
	var rest []byte
	switch {
	case len(line) >= 14 && (line[0]|0x20) == 'c' && asciiEqualFold(line[:14], "content-length"):
		rest = line[14:]
	case len(line) >= 1 && (line[0]|0x20) == 'l':
		rest = line[1:]
	default:
		return nil, false
	}
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		rest = rest[1:]
	}
	if len(rest) == 0 || rest[0] != ':' {
		return nil, false
	}
	return rest[1:], true
}

func asciiEqualFold(b []byte, lower string) bool {
	for i := 0; i < len(lower); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// parseCL parses a Content-Length value with surrounding white space.
func parseCL(v []byte) (int, error) {
	v = bytes.Trim(v, " \t\r")
	if len(v) == 0 || len(v) > 9 {
		return 0, ErrBadContentLength
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, ErrBadContentLength
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}
