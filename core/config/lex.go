package config

import (
	"strconv"
	"strings"
)

type tokKind uint8

const (
	tEOF   tokKind = iota
	tID            // [A-Za-z_][A-Za-z0-9_]*
	tNum           // [0-9][A-Za-z0-9_]*: decimal, 0x.., 0.. octal
	tStr           // a string literal, unescaped, joined and substituted
	tPVar          // $name, $name(...), $(...): kept verbatim
	tPunct         // any other single byte
)

// token is one lexical item after preprocessing.
type token struct {
	kind  tokKind
	text  string // the value for tStr, the source text otherwise
	pos   Pos
	sp    bool // blank or comment before it
	nl    bool // first token on its line
	quote byte // '"' or '\'' for tStr
	exp   bool // produced by a define expansion (pos is the reference)
	site  Pos  // for a token of an included file: the outermost include_file
}

func (t token) is(kind tokKind, text string) bool { return t.kind == kind && t.text == text }

// describe names a token for "got ..." in error messages.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tStr:
		return "string " + strconv.Quote(t.text)
	}
	return strconv.Quote(t.text)
}

// source is one file (or define value) being read.
type source struct {
	name      string
	b         []byte
	i         int
	line, col int
	conds     []*cond
	// expansion sources have no directives, includes or conditionals.
	expansion bool
	site      Pos // see token.site
}

func (s *source) eof() bool { return s.i >= len(s.b) }

func (s *source) peekAt(k int) byte {
	if s.i+k < len(s.b) {
		return s.b[s.i+k]
	}
	return 0
}

func (s *source) hasPrefix(p string) bool {
	return len(s.b)-s.i >= len(p) && string(s.b[s.i:s.i+len(p)]) == p
}

func (s *source) advance() {
	if s.b[s.i] == '\n' {
		s.line++
		s.col = 1
	} else {
		s.col++
	}
	s.i++
}

func (s *source) pos() Pos { return Pos{File: s.name, Line: s.line, Col: s.col} }

func (s *source) active() bool {
	return len(s.conds) == 0 || s.conds[len(s.conds)-1].on()
}

// maxIncludeDepth matches Kamailio's limit; it also stops include loops.
const maxIncludeDepth = 10

// maxExpandedTokens and maxIncludes bound the work one config can cause:
// defines whose values name other defines several times, or a file that
// includes itself more than once, grow exponentially before any depth
// limit is reached.
const (
	maxExpandedTokens = 1 << 16 // from one use of a define
	maxTotalExpanded  = 1 << 22 // from all uses in one parse
	maxIncludes       = 1000
)

// maxExpansionDepth stops a define whose value names another define in a
// long chain; self reference is stopped earlier, as cpp does.
const maxExpansionDepth = 32

// lexer reads tokens across includes and expands defines.
type lexer struct {
	opt     *Options
	p       *parser // for errors and notices
	srcs    []*source
	defs    map[string]*define
	substs  []*subst
	pending []token // expanded tokens not yet handed out
	work    *budget // shared with expansion sub-lexers
}

// budget counts work across a whole parse.
type budget struct {
	expanded  int // tokens from the current top-level use
	total     int
	includes  int
	exhausted bool
}

func newLexer(p *parser, opt *Options, name string, src []byte) *lexer {
	lx := &lexer{opt: opt, p: p, defs: map[string]*define{}, work: &budget{}}
	for k, v := range opt.Defines {
		lx.defs[k] = &define{value: v, cmdline: true}
	}
	lx.srcs = []*source{{name: name, b: trimBOM(src), line: 1, col: 1}}
	return lx
}

func (lx *lexer) errorf(pos Pos, format string, args ...any) {
	lx.p.errorf(pos, format, args...)
}

// next returns the next token with defines expanded.
func (lx *lexer) next() token {
	if len(lx.pending) > 0 {
		t := lx.pending[0]
		lx.pending = lx.pending[1:]
		return t
	}
	t := lx.raw()
	if t.kind == tID {
		if d, ok := lx.defs[t.text]; ok {
			lx.work.expanded = 0
			toks := lx.expand(nil, t, t.text, d, map[string]bool{t.text: true}, 0)
			if len(toks) == 0 {
				return lx.next()
			}
			lx.pending = append(lx.pending, toks[1:]...)
			return toks[0]
		}
	}
	return t
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool  { return isLetter(c) || isDigit(c) }

// wordAt returns the [A-Za-z_][A-Za-z0-9_]* word at offset k.
func (s *source) wordAt(k int) string {
	j := s.i + k
	if j >= len(s.b) || !isLetter(s.b[j]) {
		return ""
	}
	e := j
	for e < len(s.b) && isAlnum(s.b[e]) {
		e++
	}
	return string(s.b[j:e])
}

// raw returns the next token of the current source stack, handling
// comments, directives, conditionals and includes, without define
// expansion.
func (lx *lexer) raw() token {
	sp, nl := false, false
	for {
		s := lx.srcs[len(lx.srcs)-1]
		if s.line == 1 && s.col == 1 && s.i == 0 {
			nl = true
		}
		if s.eof() {
			if !lx.endSource(s) {
				return token{kind: tEOF, pos: s.pos(), sp: true, nl: true}
			}
			sp, nl = true, true
			continue
		}
		if !s.active() {
			lx.skipInactive(s)
			sp = true
			continue
		}
		c := s.b[s.i]
		switch {
		case c == '\n':
			s.advance()
			sp, nl = true, true
			continue
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			s.advance()
			sp = true
			continue
		case !s.expansion && (c == '#' && s.peekAt(1) == '!' || c == '!' && s.peekAt(1) == '!' && isDirective(s.wordAt(2))):
			lx.directive(s)
			sp, nl = true, true
			continue
		case c == '#' || c == '/' && s.peekAt(1) == '/':
			lx.skipLine(s)
			sp = true
			continue
		case c == '/' && s.peekAt(1) == '*':
			lx.blockComment(s)
			sp = true
			continue
		}
		pos := s.pos()
		var t token
		switch {
		case c == '"' || c == '\'':
			t = lx.stringLit(s)
		case c == '$':
			t = token{kind: tPVar, text: lx.pvar(s)}
		case isLetter(c):
			w := s.wordAt(0)
			for range w {
				s.advance()
			}
			t = token{kind: tID, text: w}
			if !s.expansion && (w == "include_file" || w == "import_file") {
				lx.include(s, pos, w)
				sp = true
				continue
			}
		case isDigit(c):
			st := s.i
			for !s.eof() && isAlnum(s.b[s.i]) {
				s.advance()
			}
			t = token{kind: tNum, text: string(s.b[st:s.i])}
		default:
			s.advance()
			t = token{kind: tPunct, text: string(c)}
		}
		t.pos, t.sp, t.nl, t.site = pos, sp, nl, s.site
		return t
	}
}

// endSource closes the current source at its end, reporting conditionals
// left open, and says whether another source continues.
func (lx *lexer) endSource(s *source) bool {
	for _, c := range s.conds {
		lx.errorf(c.pos, "%s at %s has no #!endif", c.what, c.pos)
	}
	s.conds = nil
	if len(lx.srcs) == 1 {
		return false
	}
	lx.srcs = lx.srcs[:len(lx.srcs)-1]
	return true
}

func (lx *lexer) skipLine(s *source) {
	for !s.eof() && s.b[s.i] != '\n' {
		s.advance()
	}
}

// blockComment skips a /* */ comment; like Kamailio's, they nest.
func (lx *lexer) blockComment(s *source) {
	pos := s.pos()
	depth := 0
	for !s.eof() {
		switch {
		case s.hasPrefix("/*"):
			depth++
			s.advance()
			s.advance()
		case s.hasPrefix("*/"):
			depth--
			s.advance()
			s.advance()
			if depth == 0 {
				return
			}
		default:
			s.advance()
		}
	}
	lx.errorf(pos, "comment /* is not closed")
}

// restOfLine returns the text up to the end of the line and moves past
// it. A backslash before the newline joins the next line, as in #!define.
func (lx *lexer) restOfLine(s *source, continuation bool) string {
	var b strings.Builder
	for !s.eof() && s.b[s.i] != '\n' {
		if continuation && s.b[s.i] == '\\' && (s.peekAt(1) == '\n' || s.peekAt(1) == '\r' && s.peekAt(2) == '\n') {
			s.advance()
			if s.b[s.i] == '\r' {
				s.advance()
			}
			s.advance()
			continue
		}
		b.WriteByte(s.b[s.i])
		s.advance()
	}
	if !s.eof() {
		s.advance()
	}
	return b.String()
}

// stringLit reads a string literal. Double quoted ones take Kamailio's
// escapes and join with a double quoted string that follows after only
// blanks; single quoted ones are taken verbatim.
func (lx *lexer) stringLit(s *source) token {
	pos := s.pos()
	q := s.b[s.i]
	var b strings.Builder
	for {
		s.advance() // the opening quote
		closed := false
		for !s.eof() {
			c := s.b[s.i]
			if c == q {
				s.advance()
				closed = true
				break
			}
			if q == '"' && c == '\\' && s.i+1 < len(s.b) {
				s.advance()
				e := s.b[s.i]
				switch e {
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				case 'a':
					b.WriteByte('\a')
				case 't':
					b.WriteByte('\t')
				case '"':
					b.WriteByte('"')
				case '\\':
					b.WriteByte('\\')
				case '\n':
					// an escaped newline is eaten
				case 'x':
					n, k := 0, 0
					for k < 2 && s.i+1+k < len(s.b) && isHex(s.b[s.i+1+k]) {
						n = n*16 + hexVal(s.b[s.i+1+k])
						k++
					}
					if k == 0 {
						b.WriteString("\\x")
						break
					}
					for range k {
						s.advance()
					}
					b.WriteByte(byte(n))
				default:
					// \ooo with 2 or 3 octal digits; a single digit stays
					// as written so regexp back references survive.
					k := 0
					for k < 3 && s.i+k < len(s.b) && s.b[s.i+k] >= '0' && s.b[s.i+k] <= '7' {
						k++
					}
					if k >= 2 {
						n := 0
						for j := range k {
							n = n*8 + int(s.b[s.i+j]-'0')
						}
						for range k - 1 {
							s.advance()
						}
						b.WriteByte(byte(n))
						break
					}
					b.WriteByte('\\')
					b.WriteByte(e)
				}
				s.advance()
				continue
			}
			b.WriteByte(c)
			s.advance()
		}
		if !closed {
			lx.errorf(pos, "string is not closed (missing %c)", q)
			break
		}
		if q != '"' {
			break
		}
		// Join "a" "b": look past blanks and newlines for another quote.
		j := s.i
		for j < len(s.b) && (s.b[j] == ' ' || s.b[j] == '\t' || s.b[j] == '\r' || s.b[j] == '\n') {
			j++
		}
		if j >= len(s.b) || s.b[j] != '"' {
			break
		}
		for s.i < j {
			s.advance()
		}
	}
	return token{kind: tStr, text: lx.applySubst(b.String()), quote: q}
}

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func hexVal(c byte) int {
	switch {
	case isDigit(c):
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return int(c-'A') + 10
}

// pvar reads a pseudo-variable verbatim: $name, $name(...), $(...),
// ${...}, with balanced brackets, so that defines are not expanded inside
// it and its braces do not count in route block nesting.
func (lx *lexer) pvar(s *source) string {
	st := s.i
	s.advance() // $
	for !s.eof() && (isAlnum(s.b[s.i]) || s.b[s.i] == '.') {
		s.advance()
	}
	if !s.eof() && (s.b[s.i] == '(' || s.b[s.i] == '{') {
		open := s.b[s.i]
		closeC := byte(')')
		if open == '{' {
			closeC = '}'
		}
		depth := 0
		for !s.eof() {
			c := s.b[s.i]
			if c == '\n' {
				break // an unbalanced $x( stops at the line end
			}
			s.advance()
			if c == open {
				depth++
			} else if c == closeC {
				depth--
				if depth == 0 {
					break
				}
			}
		}
	}
	return string(s.b[st:s.i])
}
