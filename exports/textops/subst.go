package textops

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"kemi/core"
	"kemi/internal/recache"
)

// part is one piece of a replacement: literal text, a match group, or a
// pseudo-variable.
type part struct {
	lit   string
	group int // -1 when not a group
	pv    core.PVGetter
	arg   string
}

// substExpr is a parsed "/re/replacement/flags".
type substExpr struct {
	re     *regexp.Regexp
	repl   []part
	global bool
}

var (
	cacheMu    sync.RWMutex
	substCache = map[string]*substExpr{}
	// Kamailio compiles with REG_EXTENDED and REG_NEWLINE (and REG_ICASE
	// for search): '.' stops at line ends and ^ $ match at them, which is
	// (?m) in Go.
	caseRegexps = recache.New("(?m)")
	foldRegexps = recache.New("(?mi)")
)

const maxCache = recache.MaxEntries

// compile returns a cached regexp, matched without case when icase.
func compile(expr string, icase bool) (*regexp.Regexp, error) {
	if icase {
		return foldRegexps.Compile(expr)
	}
	return caseRegexps.Compile(expr)
}

// parseSubst parses sed-style "/re/repl/flags" (any delimiter, the first
// byte); flags are i (ignore case), g (all matches), s (let '.' match a
// line end).
func parseSubst(s string) (*substExpr, error) {
	cacheMu.RLock()
	se := substCache[s]
	cacheMu.RUnlock()
	if se != nil {
		return se, nil
	}
	se, err := parseSubstNoCache(s)
	if err != nil {
		return nil, err
	}
	cacheMu.Lock()
	if len(substCache) < maxCache {
		substCache[s] = se
	}
	cacheMu.Unlock()
	return se, nil
}

func parseSubstNoCache(s string) (*substExpr, error) {
	if len(s) < 4 {
		return nil, errors.New("expected /re/replacement/flags, got " + strconv.Quote(s))
	}
	d := s[0]
	// The expression runs to the next unescaped delimiter.
	i := 1
	var re strings.Builder
	for ; i < len(s) && s[i] != d; i++ {
		if s[i] == '\\' && i+1 < len(s) && s[i+1] == d {
			i++
		}
		re.WriteByte(s[i])
	}
	if i >= len(s) {
		return nil, errors.New("missing the second " + strconv.QuoteRune(rune(d)) + " in " + strconv.Quote(s))
	}
	se := &substExpr{}
	i++
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			se.repl = append(se.repl, part{lit: lit.String(), group: -1})
			lit.Reset()
		}
	}
	for ; i < len(s) && s[i] != d; i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			switch e := s[i]; {
			case e >= '0' && e <= '9':
				flush()
				se.repl = append(se.repl, part{group: int(e - '0')})
			case e == 'n':
				lit.WriteByte('\n')
			case e == 'r':
				lit.WriteByte('\r')
			case e == 't':
				lit.WriteByte('\t')
			default:
				lit.WriteByte(e)
			}
		case c == '$':
			name, arg, n := scanPV(s[i+1:])
			get := core.LookupPV(name)
			if name == "" || get == nil {
				return nil, errors.New("unknown pseudo-variable in the replacement " + strconv.Quote(s[i:]))
			}
			flush()
			se.repl = append(se.repl, part{group: -1, pv: get, arg: arg})
			i += n
		default:
			lit.WriteByte(c)
		}
	}
	if i >= len(s) {
		return nil, errors.New("missing the third " + strconv.QuoteRune(rune(d)) + " in " + strconv.Quote(s))
	}
	flush()
	flags := "(?m)"
	for _, f := range s[i+1:] {
		switch f {
		case 'i':
			flags += "(?i)"
		case 'g':
			se.global = true
		case 's':
			flags += "(?s)"
		default:
			return nil, errors.New("unknown flag " + strconv.QuoteRune(f) + " in " + strconv.Quote(s))
		}
	}
	var err error
	if se.re, err = regexp.Compile(flags + re.String()); err != nil {
		return nil, err
	}
	for _, p := range se.repl {
		if p.group > se.re.NumSubexp() {
			return nil, errors.New("\\" + strconv.Itoa(p.group) + " refers to a group the expression does not have, in " + strconv.Quote(s))
		}
	}
	return se, nil
}

// scanPV reads "name", "name(arg)" or "{name}"/"(name)" after a '$' and
// returns the name, its argument and how many bytes it took.
func scanPV(s string) (name, arg string, n int) {
	if len(s) > 0 && (s[0] == '{' || s[0] == '(') {
		closer := byte('}')
		if s[0] == '(' {
			closer = ')'
		}
		depth := 0
		for j := 0; j < len(s); j++ {
			switch s[j] {
			case s[0]:
				depth++
			case closer:
				depth--
				if depth == 0 {
					name, arg, _ := core.SplitPV(s[1:j])
					return name, arg, j + 1
				}
			}
		}
		return "", "", 0
	}
	for n < len(s) && (s[n] == '_' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || s[n] >= '0' && s[n] <= '9') {
		n++
	}
	name = s[:n]
	if n < len(s) && s[n] == '(' {
		if end := strings.IndexByte(s[n:], ')'); end > 0 {
			return name, s[n+1 : n+end], n + end + 1
		}
	}
	return name, "", n
}

// expand appends the replacement for one match (m holds submatch offsets
// into src) to dst.
func (se *substExpr) expand(ctx *core.Ctx, dst, src []byte, m []int) []byte {
	for _, p := range se.repl {
		switch {
		case p.pv != nil:
			dst, _ = p.pv(ctx, p.arg, dst)
		case p.group >= 0:
			if s := m[2*p.group]; s >= 0 {
				dst = append(dst, src[s:m[2*p.group+1]]...)
			}
		default:
			dst = append(dst, p.lit...)
		}
	}
	return dst
}

// replace appends src with its matches (the first, or all when global)
// replaced to dst. n is the number of replacements.
func (se *substExpr) replace(ctx *core.Ctx, dst, src []byte, global bool) (out []byte, n int) {
	max := 1
	if global {
		max = -1
	}
	last := 0
	for _, m := range se.re.FindAllSubmatchIndex(src, max) {
		dst = append(dst, src[last:m[0]]...)
		dst = se.expand(ctx, dst, src, m)
		last = m[1]
		n++
	}
	return append(dst, src[last:]...), n
}

// literal builds a substExpr that replaces with fixed text.
func literal(re *regexp.Regexp, with string) *substExpr {
	return &substExpr{re: re, repl: []part{{lit: with, group: -1}}}
}

// appending builds a substExpr that keeps the match and adds text after it.
func appending(re *regexp.Regexp, with string) *substExpr {
	return &substExpr{re: re, repl: []part{{group: 0}, {lit: with, group: -1}}}
}
