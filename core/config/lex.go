package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
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

// define is one #!define (or -D) entry.
type define struct {
	value   string
	pos     Pos
	cmdline bool
}

// subst is one #!subst or #!substdef rule, applied to later string literals.
type subst struct {
	re     *regexp.Regexp
	repl   string
	global bool
}

// cond is one open #!ifdef / #!ifndef.
type cond struct {
	pos      Pos
	what     string // "#!ifdef" or "#!ifndef"
	parentOn bool   // were we reading text when it opened
	taking   bool   // is its current branch the taken one
	sawElse  bool
}

func (c *cond) on() bool { return c.parentOn && c.taking }

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

// expand lexes a define's value in place of ref, appending the tokens to
// out. Every token gets ref's position, so errors point at the name the
// user wrote.
func (lx *lexer) expand(out []token, ref token, root string, d *define, active map[string]bool, depth int) []token {
	if lx.work.exhausted {
		return out
	}
	if depth > maxExpansionDepth {
		lx.errorf(ref.pos, "define %s: expansion nested deeper than %d", root, maxExpansionDepth)
		lx.work.exhausted = true
		return out
	}
	sub := &lexer{opt: lx.opt, p: lx.p, defs: lx.defs, substs: lx.substs, work: lx.work}
	sub.srcs = []*source{{name: ref.pos.File, b: []byte(d.value), line: ref.pos.Line, col: ref.pos.Col, expansion: true}}
	first := true
	for !lx.work.exhausted {
		t := sub.raw()
		if t.kind == tEOF {
			break
		}
		t.pos, t.site = ref.pos, ref.site
		t.exp = true
		t.nl = false
		if first {
			t.sp, t.nl = ref.sp, ref.nl
			first = false
		}
		if t.kind == tID && !active[t.text] {
			if d2, ok := lx.defs[t.text]; ok {
				active[t.text] = true
				out = lx.expand(out, t, root, d2, active, depth+1)
				delete(active, t.text)
				continue
			}
		}
		lx.work.expanded++
		lx.work.total++
		if lx.work.expanded > maxExpandedTokens || lx.work.total > maxTotalExpanded {
			lx.work.exhausted = true
			if lx.work.expanded > maxExpandedTokens {
				lx.errorf(ref.pos, "define %s: expands to more than %d tokens", root, maxExpandedTokens)
			} else {
				lx.errorf(ref.pos, "define %s: defines expand to more than %d tokens in all", root, maxTotalExpanded)
			}
			break
		}
		out = append(out, t)
	}
	return out
}

var directiveNames = []string{
	"define", "def", "trydefine", "trydef", "redefine", "redef",
	"undefine", "undef", "tryundefine", "tryundef",
	"ifdef", "ifndef", "ifexp", "else", "endif",
	"subst", "substdef", "substdefs",
	"include_file", "import_file",
	"defenv", "defenvs", "trydefenv", "trydefenvs", "defexp", "defexps",
}

// markers are the "#!KAMAILIO" style first lines; they change nothing.
var markers = map[string]bool{"KAMAILIO": true, "OPENSER": true, "SER": true, "MAXCOMPAT": true, "ALL": true, "KEMI": true}

func isDirective(w string) bool {
	for _, d := range directiveNames {
		if d == w {
			return true
		}
	}
	return false
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

// skipInactive skips text inside a false #!ifdef branch up to the next
// conditional directive. Like Kamailio it looks for them anywhere, even in
// what would be comments or strings.
func (lx *lexer) skipInactive(s *source) {
	for !s.eof() {
		if (s.hasPrefix("#!") || s.hasPrefix("!!")) && s.i+2 < len(s.b) {
			switch s.wordAt(2) {
			case "ifdef", "ifndef", "ifexp", "else", "endif":
				lx.directive(s)
				return
			}
		}
		s.advance()
	}
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

// directive handles a "#!word ..." or "!!word ..." line.
func (lx *lexer) directive(s *source) {
	pos := s.pos()
	word := s.wordAt(2)
	if !isDirective(word) {
		// Only "#!" gets here: raw() takes "!!" for a directive only when
		// a directive name follows. Kamailio reads an unknown "#!" line as a comment; a near miss of
		// a directive is far more likely a typo that would silently change
		// which lines are read.
		if !markers[word] {
			if sug := suggest(word, directiveNames); sug != "" {
				lx.errorf(pos, "unknown directive #!%s (did you mean #!%s?)", word, sug)
			}
		}
		lx.skipLine(s)
		return
	}
	for range 2 + len(word) {
		s.advance()
	}
	name := "#!" + word
	if !s.active() {
		// Only the conditionals matter while skipping; keep nesting right.
		switch word {
		case "ifdef", "ifndef", "ifexp":
			s.conds = append(s.conds, &cond{pos: pos, what: name, parentOn: false})
		case "else":
			lx.elseDirective(s, pos)
		case "endif":
			lx.endifDirective(s, pos)
		}
		if s.active() {
			lx.endOfDirective(s, name)
		} else {
			lx.skipLine(s)
		}
		return
	}
	switch word {
	case "ifdef", "ifndef":
		id, ok := lx.directiveID(s, pos, name)
		_, defined := lx.defs[id]
		c := &cond{pos: pos, what: name, parentOn: true, taking: defined == (word == "ifdef")}
		if !ok {
			c.taking = false
		}
		s.conds = append(s.conds, c)
		lx.endOfDirective(s, name)
	case "ifexp":
		lx.errorf(pos, "#!ifexp is not supported by kemi; use #!ifdef / #!ifndef")
		s.conds = append(s.conds, &cond{pos: pos, what: name, parentOn: true})
		lx.skipLine(s)
	case "else":
		lx.elseDirective(s, pos)
		lx.endOfDirective(s, name)
	case "endif":
		lx.endifDirective(s, pos)
		lx.endOfDirective(s, name)
	case "define", "def", "trydefine", "trydef", "redefine", "redef":
		id, ok := lx.directiveID(s, pos, name)
		value := strings.TrimSpace(lx.restOfLine(s, true))
		if !ok {
			return
		}
		old, exists := lx.defs[id]
		switch {
		case exists && (word == "trydef" || word == "trydefine"):
			return
		case exists && (word == "define" || word == "def"):
			where := "at " + old.pos.String()
			if old.cmdline {
				where = "on the command line"
			}
			lx.errorf(pos, "%s %s: already defined %s (use #!redefine to replace it or #!trydef to keep it)", name, id, where)
			return
		}
		lx.defs[id] = &define{value: value, pos: pos}
	case "undefine", "undef", "tryundefine", "tryundef":
		id, ok := lx.directiveID(s, pos, name)
		lx.endOfDirective(s, name)
		if !ok {
			return
		}
		if _, exists := lx.defs[id]; !exists && (word == "undef" || word == "undefine") {
			lx.errorf(pos, "%s %s: not defined (use #!tryundef when that is fine)", name, id)
		}
		delete(lx.defs, id)
	case "defenv", "defenvs", "trydefenv", "trydefenvs":
		lx.defenv(s, pos, word)
	case "defexp", "defexps":
		lx.errorf(pos, "%s is not supported by kemi; use #!define", name)
		lx.skipLine(s)
	case "subst", "substdef", "substdefs":
		lx.substDirective(s, pos, word)
	case "include_file", "import_file":
		lx.include(s, pos, word)
		lx.endOfDirective(s, name)
	}
}

// directiveID reads the name after #!define, #!ifdef and the like.
func (lx *lexer) directiveID(s *source, pos Pos, name string) (string, bool) {
	if s.eof() || (s.b[s.i] != ' ' && s.b[s.i] != '\t') {
		lx.errorf(pos, "%s: expected a blank and a name after it", name)
		lx.skipLine(s)
		return "", false
	}
	for !s.eof() && (s.b[s.i] == ' ' || s.b[s.i] == '\t') {
		s.advance()
	}
	id := s.wordAt(0)
	if id == "" {
		lx.errorf(s.pos(), "%s: expected a name ([A-Za-z_][A-Za-z0-9_]*), got %q", name, strings.TrimSpace(lx.peekLine(s)))
		lx.skipLine(s)
		return "", false
	}
	for range id {
		s.advance()
	}
	if !s.eof() && s.b[s.i] == '-' {
		lx.errorf(pos, "%s %s-...: '-' is not allowed in a name", name, id)
		lx.skipLine(s)
		return "", false
	}
	return id, true
}

func (lx *lexer) peekLine(s *source) string {
	e := s.i
	for e < len(s.b) && s.b[e] != '\n' {
		e++
	}
	return string(s.b[s.i:e])
}

// endOfDirective checks that only blanks or a comment follow a directive.
func (lx *lexer) endOfDirective(s *source, name string) {
	for !s.eof() && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\r') {
		s.advance()
	}
	if !s.eof() && s.b[s.i] != '\n' && !(s.b[s.i] == '#' || s.hasPrefix("//")) {
		if !s.hasPrefix("/*") {
			lx.errorf(s.pos(), "%s: unexpected %q after it", name, strings.TrimSpace(lx.peekLine(s)))
			lx.skipLine(s)
			return
		}
		lx.blockComment(s)
		lx.endOfDirective(s, name)
		return
	}
	lx.skipLine(s)
}

func (lx *lexer) elseDirective(s *source, pos Pos) {
	if len(s.conds) == 0 {
		lx.errorf(pos, "#!else without #!ifdef")
		return
	}
	c := s.conds[len(s.conds)-1]
	if c.sawElse {
		lx.errorf(pos, "#!else after #!else (for %s at %s)", c.what, c.pos)
		return
	}
	c.sawElse = true
	c.taking = !c.taking
}

func (lx *lexer) endifDirective(s *source, pos Pos) {
	if len(s.conds) == 0 {
		lx.errorf(pos, "#!endif without #!ifdef")
		return
	}
	s.conds = s.conds[:len(s.conds)-1]
}

// defenv handles #!defenv ID=VAR (or #!defenv VAR): define ID as the
// value of environment variable VAR; the "s" forms quote it.
func (lx *lexer) defenv(s *source, pos Pos, word string) {
	name := "#!" + word
	line := strings.TrimSpace(lx.restOfLine(s, false))
	id, env, ok := strings.Cut(line, "=")
	if !ok {
		env = id
	}
	id, env = strings.TrimSpace(id), strings.TrimSpace(env)
	if !validID(id) || env == "" {
		lx.errorf(pos, "%s: expected ID=ENVVAR or ENVVAR, got %q", name, line)
		return
	}
	val, set := os.LookupEnv(env)
	if !set {
		// Kamailio defines nothing when the variable is unset.
		return
	}
	if strings.HasSuffix(word, "s") {
		val = strconv.Quote(val)
	}
	if _, exists := lx.defs[id]; exists {
		if strings.HasPrefix(word, "try") {
			return
		}
		lx.errorf(pos, "%s %s: already defined", name, id)
		return
	}
	lx.defs[id] = &define{value: val, pos: pos}
}

func validID(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	return true
}

// substDirective reads #!subst "/re/repl/flags" and #!substdef
// "/ID/value/flags"; substdef also defines ID as value (substdefs as the
// quoted value).
func (lx *lexer) substDirective(s *source, pos Pos, word string) {
	name := "#!" + word
	for !s.eof() && (s.b[s.i] == ' ' || s.b[s.i] == '\t') {
		s.advance()
	}
	if s.eof() || (s.b[s.i] != '"' && s.b[s.i] != '\'') {
		lx.errorf(pos, "%s: expected a quoted \"/regexp/replacement/flags\"", name)
		lx.skipLine(s)
		return
	}
	saved := lx.substs
	lx.substs = nil // the rule itself is taken literally
	t := lx.stringLit(s)
	lx.substs = saved
	lx.endOfDirective(s, name)
	parts, err := splitSubst(t.text)
	if err != nil {
		lx.errorf(pos, "%s %s: %v", name, strconv.Quote(t.text), err)
		return
	}
	pat, repl, flags := parts[0], parts[1], parts[2]
	sb := &subst{}
	prefix := ""
	for _, f := range flags {
		switch f {
		case 'i':
			prefix = "(?i)"
		case 'g':
			sb.global = true
		case 's':
			// Kamailio's "s" flag: stop after this rule matches; order is
			// already sequential here, so nothing to do.
		default:
			lx.errorf(pos, "%s %s: unknown flag %q (want i, g)", name, strconv.Quote(t.text), f)
			return
		}
	}
	re, err := regexp.Compile(prefix + pat)
	if err != nil {
		lx.errorf(pos, "%s %s: bad regexp: %v", name, strconv.Quote(t.text), err)
		return
	}
	sb.re = re
	sb.repl = convertRepl(repl)
	lx.substs = append(lx.substs, sb)
	if word == "subst" {
		return
	}
	if !validID(pat) {
		lx.errorf(pos, "%s: %q is not a valid define name", name, pat)
		return
	}
	value := repl
	if word == "substdefs" {
		value = strconv.Quote(repl)
	}
	if old, exists := lx.defs[pat]; exists {
		where := "at " + old.pos.String()
		if old.cmdline {
			where = "on the command line"
		}
		lx.errorf(pos, "%s %s: already defined %s", name, pat, where)
		return
	}
	lx.defs[pat] = &define{value: value, pos: pos}
}

// splitSubst splits "/re/repl/flags" on its first character, which may be
// escaped with a backslash inside the parts.
func splitSubst(s string) ([3]string, error) {
	var out [3]string
	if len(s) < 3 {
		return out, errors.New("expected /regexp/replacement/flags")
	}
	sep := s[0]
	part := 0
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && s[i+1] == sep {
			b.WriteByte(sep)
			i++
			continue
		}
		if c == sep && part < 2 {
			out[part] = b.String()
			b.Reset()
			part++
			continue
		}
		b.WriteByte(c)
	}
	if part < 2 {
		return out, errors.New("expected /regexp/replacement/flags")
	}
	out[2] = b.String()
	if out[0] == "" {
		return out, errors.New("empty regexp")
	}
	return out, nil
}

// convertRepl turns a POSIX style replacement (\1 back references) into
// Go's ${1} form.
func convertRepl(r string) string {
	var b strings.Builder
	for i := 0; i < len(r); i++ {
		c := r[i]
		switch {
		case c == '\\' && i+1 < len(r) && isDigit(r[i+1]):
			b.WriteString("${" + string(r[i+1]) + "}")
			i++
		case c == '\\' && i+1 < len(r):
			b.WriteByte(r[i+1])
			i++
		case c == '$':
			b.WriteString("$$")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (lx *lexer) applySubst(v string) string {
	for _, sb := range lx.substs {
		if sb.global {
			v = sb.re.ReplaceAllString(v, sb.repl)
			continue
		}
		if loc := sb.re.FindStringSubmatchIndex(v); loc != nil {
			var dst []byte
			dst = sb.re.ExpandString(dst, sb.repl, v, loc)
			v = v[:loc[0]] + string(dst) + v[loc[1]:]
		}
	}
	return v
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

// include reads `include_file "path"` or `import_file "path"` and pushes
// the file. Relative paths are tried against the including file's folder
// first, then as given. A missing import_file is skipped, as in Kamailio
// (the default kamailio.cfg imports an optional kamailio-local.cfg).
func (lx *lexer) include(s *source, pos Pos, word string) {
	for !s.eof() && (s.b[s.i] == ' ' || s.b[s.i] == '\t') {
		s.advance()
	}
	if s.eof() || (s.b[s.i] != '"' && s.b[s.i] != '\'') {
		lx.errorf(pos, "%s: expected a quoted file name", word)
		return
	}
	t := lx.stringLit(s)
	if t.text == "" {
		lx.errorf(pos, "%s: empty file name", word)
		return
	}
	if len(lx.srcs) >= maxIncludeDepth {
		lx.errorf(pos, "%s %q: includes nested deeper than %d (does a file include itself?)", word, t.text, maxIncludeDepth)
		return
	}
	if lx.work.includes++; lx.work.includes > maxIncludes {
		if lx.work.includes == maxIncludes+1 {
			lx.errorf(pos, "%s %q: more than %d files included in all", word, t.text, maxIncludes)
		}
		return
	}
	var tried []string
	var data []byte
	var err error
	path := t.text
	if !filepath.IsAbs(path) {
		cand := filepath.Join(filepath.Dir(s.name), path)
		tried = append(tried, cand)
		data, err = lx.opt.ReadFile(cand)
		if err == nil {
			path = cand
		}
	}
	if filepath.IsAbs(path) || (err != nil && errors.Is(err, fs.ErrNotExist)) {
		if len(tried) == 0 || tried[0] != path {
			tried = append(tried, path)
			data, err = lx.opt.ReadFile(path)
		}
	}
	if err != nil {
		if word == "import_file" && errors.Is(err, fs.ErrNotExist) {
			lx.p.notice(pos, "", "import_file %q: not found, skipped (tried %s)", t.text, strings.Join(tried, ", "))
			return
		}
		if errors.Is(err, fs.ErrNotExist) {
			lx.errorf(pos, "%s %q: file not found (tried %s); use import_file for an optional file", word, t.text, strings.Join(tried, ", "))
			return
		}
		lx.errorf(pos, "%s %q: %v", word, t.text, err)
		return
	}
	if _, seen := lx.p.fileRank[path]; !seen {
		lx.p.fileRank[path] = len(lx.p.fileRank)
	}
	site := s.site
	if site.File == "" {
		site = pos
	}
	lx.srcs = append(lx.srcs, &source{name: path, b: trimBOM(data), line: 1, col: 1, site: site})
}

// trimBOM drops a UTF-8 byte order mark that some editors write.
func trimBOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return b[3:]
	}
	return b
}
