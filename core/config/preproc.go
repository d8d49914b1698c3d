package config

import (
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
)

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
