package sip

import (
	"bytes"
	"strconv"
)

// MessageLen frames a message at the start of a stream (TCP, TLS): it
// returns the length of the first complete message in b, or 0 when b does
// not hold all of it yet. The body length comes from Content-Length (or
// l); a stream message without one has no body (RFC 3261 §18.3 makes the
// header mandatory on streams). Leading CRLFs (keep-alives, RFC 5626) are
// not part of a message: skip them with SkipKeepAlive first. A message that
// would exceed MaxMessageSize, or a bad Content-Length, is an error: the
// stream cannot be resynchronised and should be closed.
func MessageLen(b []byte) (int, error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) > MaxMessageSize {
			return 0, perr(MaxMessageSize, "no end of headers within "+strconv.Itoa(MaxMessageSize)+" bytes")
		}
		return 0, nil
	}
	hdrs := b[:end+2]
	body := end + 4
	cl := -1
	for i := 0; i < len(hdrs); {
		nl := bytes.IndexByte(hdrs[i:], '\n')
		if nl < 0 {
			break
		}
		line := hdrs[i : i+nl]
		off := i
		i += nl + 1
		if len(line) == 0 || isWS(line[0]) {
			continue
		}
		c := indexByte(line, ':')
		if c < 0 {
			continue
		}
		if LookupHdr(trimLWS(line[:c])) != HdrContentLength {
			continue
		}
		v := trimLWS(line[c+1:])
		n, ok := parseUint(v, MaxMessageSize)
		if !ok {
			return 0, perr(off+c+1, "Content-Length: expected a number up to "+strconv.Itoa(MaxMessageSize)+", got "+strconv.Quote(string(v)))
		}
		if cl >= 0 && n != cl {
			return 0, perr(off, "Content-Length given twice with different values")
		}
		cl = n
	}
	if cl < 0 {
		cl = 0
	}
	total := body + cl
	if total > MaxMessageSize {
		return 0, perr(MaxMessageSize, "message of "+strconv.Itoa(total)+" bytes larger than "+strconv.Itoa(MaxMessageSize))
	}
	if total > len(b) {
		return 0, nil
	}
	return total, nil
}

// SkipKeepAlive returns how many leading CR and LF bytes b has: the
// keep-alive pings (CRLF, or CRLFCRLF) that may come between messages on a
// stream.
func SkipKeepAlive(b []byte) int {
	i := 0
	for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// IsKeepAlive reports whether a datagram or stream chunk is only a
// keep-alive ping (CRLFs, RFC 5626 §3.5.1), which Parse rejects as no
// message.
func IsKeepAlive(b []byte) bool {
	return len(b) > 0 && SkipKeepAlive(b) == len(b)
}
