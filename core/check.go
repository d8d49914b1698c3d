package core

import (
	"fmt"
	"strconv"
)

// Value checks a module.yaml function param may ask for with `check:`.
// kemigen turns each into a test in the generated thunk, so a value a
// script hands to a reply, a header or a URI cannot carry a line break
// that would split a header or start a body (header injection).
const (
	// CheckLine: no CR, LF or NUL anywhere (reason phrases, URIs, header
	// names and values, parameters).
	CheckLine = "line"
	// CheckHdrLine: whole header lines as Kamailio's append_hf takes them,
	// at most one: no NUL, and no CR or LF except one CRLF at the end.
	CheckHdrLine = "hdrline"
)

// LineOK reports whether s holds no CR, LF or NUL.
func LineOK(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}

// HdrLineOK reports whether s is at most one header line: LineOK, or
// LineOK followed by a single CRLF.
func HdrLineOK(s string) bool {
	if n := len(s); n >= 2 && s[n-2] == '\r' && s[n-1] == '\n' {
		s = s[:n-2]
	}
	return LineOK(s)
}

// CheckError is the script error for a value that fails check: it names
// the function and the param, says what was expected and quotes (the
// start of) what was got.
func CheckError(fn, param, check, got string) error {
	want := "a value without CR, LF or NUL"
	if check == CheckHdrLine {
		want = "one header line (no CR, LF or NUL but one CRLF at the end)"
	}
	const max = 120
	q := got
	more := ""
	if len(q) > max {
		q, more = q[:max], fmt.Sprintf("... (%d bytes more)", len(got)-max)
	}
	return fmt.Errorf("%s: %s: expected %s, got %s%s", fn, param, want, strconv.Quote(q), more)
}
