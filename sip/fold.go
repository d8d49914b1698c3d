package sip

// ASCII case folding for protocol tokens (header names, schemes, params,
// methods): SIP compares these case-insensitively in ASCII only, so no
// Unicode tables are consulted and nothing is copied or allocated. Each
// works on a []byte or a string on either side, without converting.

// LowerASCII folds an ASCII upper-case letter to lower case; other bytes
// are unchanged.
func LowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// EqualFold reports whether a and b are equal ignoring ASCII case.
func EqualFold[A, B ~string | ~[]byte](a A, b B) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if x, y := a[i], b[i]; x != y && LowerASCII(x) != LowerASCII(y) {
			return false
		}
	}
	return true
}

// HasPrefixFold reports whether s begins with prefix, ignoring ASCII case.
func HasPrefixFold[A, B ~string | ~[]byte](s A, prefix B) bool {
	return len(s) >= len(prefix) && EqualFold(s[:len(prefix)], prefix)
}

// HasSuffixFold reports whether s ends with suffix, ignoring ASCII case.
func HasSuffixFold[A, B ~string | ~[]byte](s A, suffix B) bool {
	return len(s) >= len(suffix) && EqualFold(s[len(s)-len(suffix):], suffix)
}

// IndexFold returns the index of the first occurrence of sub in s,
// ignoring ASCII case, or -1. An empty sub is found at 0.
func IndexFold[A, B ~string | ~[]byte](s A, sub B) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// ContainsFold reports whether sub is within s, ignoring ASCII case.
func ContainsFold[A, B ~string | ~[]byte](s A, sub B) bool { return IndexFold(s, sub) >= 0 }

// AppendLower appends s to dst with ASCII upper-case letters folded to
// lower case.
func AppendLower[T ~string | ~[]byte](dst []byte, s T) []byte {
	for i := 0; i < len(s); i++ {
		dst = append(dst, LowerASCII(s[i]))
	}
	return dst
}

// eqFold reports whether b equals s, which must be lower-case ASCII,
// ignoring the case of b: the parser's fast path for known names.
func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if LowerASCII(b[i]) != s[i] {
			return false
		}
	}
	return true
}
