package textopsx

import "kemi/sip"

// Match reports whether s matches the shell pattern pat, as C's
// fnmatch(pat, s, 0) in the C locale (Kamailio's fnmatch without flags),
// or with FNM_CASEFOLD when fold is set. A '*' matches any run of bytes,
// '/' and a leading '.' included; '?' any one byte; "[...]" one byte of a
// set, with ranges (a-z), classes ([:digit:]), negation by '!' or '^', a
// literal ']' first, and an unclosed '[' matching itself; a backslash
// makes the next character literal.
//
// The match backtracks only to the last '*', so it takes at most
// len(pat)*len(s) steps whatever the input.
func Match(pat, s string, fold bool) bool {
	px, sx := 0, 0
	starP, starS := -1, -1
	for px < len(pat) || sx < len(s) {
		if px < len(pat) {
			switch c := pat[px]; c {
			case '*':
				starP, starS = px, sx+1
				px++
				continue
			case '?':
				if sx < len(s) {
					px++
					sx++
					continue
				}
			case '[':
				if sx < len(s) {
					ok, n := bracket(pat[px:], s[sx], fold)
					if n == 0 { // no closing ']': a literal '['
						ok, n = s[sx] == '[', 1
					}
					if ok {
						px += n
						sx++
						continue
					}
				}
			case '\\':
				if px+1 < len(pat) {
					c = pat[px+1]
					px++
				}
				if sx < len(s) && eq(c, s[sx], fold) {
					px++
					sx++
					continue
				}
			default:
				if sx < len(s) && eq(c, s[sx], fold) {
					px++
					sx++
					continue
				}
			}
		}
		if starP >= 0 && starS <= len(s) {
			px, sx = starP, starS
			continue
		}
		return false
	}
	return true
}

func eq(a, b byte, fold bool) bool { return a == b || fold && sip.LowerASCII(a) == sip.LowerASCII(b) }

// bracket matches c against the bracket expression at the start of p
// ("[...]"). n is the length of the expression, 0 when it is not closed.
func bracket(p string, c byte, fold bool) (ok bool, n int) {
	i := 1
	neg := false
	if i < len(p) && (p[i] == '!' || p[i] == '^') {
		neg = true
		i++
	}
	first := true
	for i < len(p) {
		if p[i] == ']' && !first {
			return ok != neg, i + 1
		}
		first = false
		if p[i] == '[' && i+1 < len(p) && p[i+1] == ':' {
			if end := classEnd(p, i+2); end > 0 {
				if inClass(p[i+2:end], c) || fold && (inClass(p[i+2:end], sip.LowerASCII(c)) || inClass(p[i+2:end], upper(c))) {
					ok = true
				}
				i = end + 2
				continue
			}
		}
		lo := p[i]
		if lo == '\\' && i+1 < len(p) {
			i++
			lo = p[i]
		}
		i++
		hi := lo
		if i+1 < len(p) && p[i] == '-' && p[i+1] != ']' {
			hi = p[i+1]
			i += 2
			if hi == '\\' && i < len(p) {
				hi = p[i]
				i++
			}
		}
		if inRange(c, lo, hi) || fold && (inRange(sip.LowerASCII(c), lo, hi) || inRange(upper(c), lo, hi)) {
			ok = true
		}
	}
	return false, 0
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

func inRange(c, lo, hi byte) bool { return lo <= c && c <= hi }

// classEnd returns the index of ":]" closing a class name started at i.
func classEnd(p string, i int) int {
	for j := i; j+1 < len(p); j++ {
		if p[j] == ':' && p[j+1] == ']' {
			return j
		}
		if !(p[j] >= 'a' && p[j] <= 'z') {
			return -1
		}
	}
	return -1
}

func inClass(name string, c byte) bool {
	switch name {
	case "alpha":
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	case "digit":
		return c >= '0' && c <= '9'
	case "alnum":
		return inClass("alpha", c) || inClass("digit", c)
	case "upper":
		return c >= 'A' && c <= 'Z'
	case "lower":
		return c >= 'a' && c <= 'z'
	case "space":
		return c == ' ' || c >= '\t' && c <= '\r'
	case "blank":
		return c == ' ' || c == '\t'
	case "punct":
		return c > ' ' && c < 0x7f && !inClass("alnum", c)
	case "xdigit":
		return inClass("digit", c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
	case "cntrl":
		return c < ' ' || c == 0x7f
	case "print":
		return c >= ' ' && c < 0x7f
	case "graph":
		return c > ' ' && c < 0x7f
	}
	return false
}
