package pv

import "testing"

// The three backslash unescapers keep Kamailio's differences: which
// escapes each knows, and whether an unknown one keeps its backslash.
func TestUnescapeBackslash(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		f              func(string) string
	}{
		{"common", `a\'b\"c\\d\0e`, "a'b\"c\\d\x00e", unescapeCommon},
		{"common unknown stays", `a\nb\`, `a\nb\`, unescapeCommon},
		{"crlf", `a\nb\rc`, "a\nb\rc", unescapeCRLF},
		{"crlf leaves tab and quote", `a\tb\'`, `a\tb\'`, unescapeCRLF},
		{"rm", `a\nb\rc\td\\e`, "a\nb\rc\td\\e", unescapeRm},
		{"rm drops unknown backslash", `a\qb\`, `aqb\`, unescapeRm},
		{"rm plain", "abc", "abc", unescapeRm},
	} {
		if got := tc.f(tc.in); got != tc.want {
			t.Errorf("%s: %q gave %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}
