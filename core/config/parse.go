package config

import (
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"kemi/core"
	"kemi/internal/resolve"
)

// Options adjust how a config is read. The zero value reads files from
// disk and resolves modules and engines from what is linked into kemi.
type Options struct {
	// Defines are set before the file is read, as -D NAME[=value] on the
	// command line does. A #!define of the same name is an error, as in
	// Kamailio; #!trydef keeps the command line value.
	Defines map[string]string
	// ReadFile reads included files (and the main file for Load).
	ReadFile func(path string) ([]byte, error)
	// Module resolves a loadmodule name ("tm", "tm.so", a full path).
	Module func(name string) *core.ModuleSpec
	// ModuleNames lists module names for did-you-mean; default
	// core.KnownNames.
	ModuleNames func() []string
	// Engine resolves a cfgengine name.
	Engine func(name string) *core.EngineInfo
	// EngineNames lists the cfgengine names linked in (with Engine, for
	// the error naming an unknown one); default core.EngineNames.
	EngineNames func() []string
}

func (o *Options) fill() {
	if o.ReadFile == nil {
		o.ReadFile = os.ReadFile
	}
	if o.Module == nil {
		o.Module = core.Known
	}
	if o.ModuleNames == nil {
		o.ModuleNames = core.KnownNames
	}
	if o.Engine == nil {
		o.Engine = core.LookupEngine
	}
	if o.EngineNames == nil {
		o.EngineNames = core.EngineNames
	}
}

// Global is one core parameter assignment.
type Global struct {
	Name  string
	Value core.Value
	Pos   Pos
}

// LoadModule is one loadmodule of a module kemi has.
type LoadModule struct {
	Name string // kemi module name
	File string // as written: "tm.so", "/usr/lib/kamailio/modules/tm.so"
	Spec *core.ModuleSpec
	Pos  Pos
}

// ModParam is one modparam value for one module; modparam("a|b", ...)
// gives one per module.
type ModParam struct {
	Module string
	Name   string
	Value  core.Value
	Pos    Pos
}

// Route is a route block, kept for the native engine. Body is the text
// between the braces after preprocessing: conditionals resolved, defines
// expanded, comments dropped, strings joined. Its line k (from 1) is file
// line BodyPos.Line+k-1 and, as far as expansions allow, columns match the
// file, so the native engine's errors can point at the user's text.
type Route struct {
	Kind    string // request_route, route, reply_route, onreply_route, failure_route, branch_route, onsend_route, event_route
	Name    string // "" for request_route, reply_route and onsend_route
	Body    string
	Pos     Pos // the keyword
	BodyPos Pos // just after the {
}

// Config is a parsed config file.
type Config struct {
	Globals   []Global // in file order; later ones win (see Global)
	Listens   []Listen
	Aliases   []Alias
	Modules   []LoadModule // modules kemi has, in load order; ignored ones are not here
	ModParams []ModParam
	Engine    string // cfgengine name ("lua", "jsdt", "starlark"); "" for native
	EnginePos Pos
	Routes    []Route
	// Notices has one "file:line:col: text" line per ignored parameter or
	// module name and per skipped import_file.
	Notices []string
	// Defines are the names defined when the file ended (#!define and
	// -A), for KSR.kx.get_def and ifdef.
	Defines map[string]string
}

// Global returns the last value given for a global parameter.
func (c *Config) Global(name string) (core.Value, bool) {
	for i := len(c.Globals) - 1; i >= 0; i-- {
		if c.Globals[i].Name == name {
			return c.Globals[i].Value, true
		}
	}
	return core.Value{}, false
}

// Load reads and parses the config file at path.
func Load(path string, opt Options) (*Config, error) {
	opt.fill()
	src, err := opt.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, src, opt)
}

// Parse parses src, naming it name in positions. On errors it returns an
// ErrorList with every error found, and the Config as far as it was read
// (kemi check prints its notices too).
func Parse(name string, src []byte, opt Options) (*Config, error) {
	opt.fill()
	p := &parser{
		opt:           opt,
		cfg:           &Config{},
		noticed:       map[string]bool{},
		loaded:        map[string]bool{},
		ignoredLoaded: map[string]bool{},
		failedLoad:    map[string]bool{},
		routes:        map[string]Pos{},
		fileRank:      map[string]int{name: 0},
	}
	p.lx = newLexer(p, &p.opt, name, src)
	p.parse()
	p.fillPorts()
	p.cfg.Defines = make(map[string]string, len(p.lx.defs))
	for k, d := range p.lx.defs {
		p.cfg.Defines[k] = d.value
	}
	p.sortErrors()
	if len(p.errs) > 0 {
		return p.cfg, p.errs
	}
	return p.cfg, nil
}

type parser struct {
	opt           Options
	lx            *lexer
	cfg           *Config
	errs          ErrorList
	noticed       map[string]bool
	ahead         []token
	loaded        map[string]bool // kemi module names loaded so far
	ignoredLoaded map[string]bool
	failedLoad    map[string]bool // unknown modules, already reported
	routes        map[string]Pos
	fileRank      map[string]int // order in which files were opened
}

// fillPorts gives listen entries written without a port the one Kamailio
// would use: the global port parameter (wherever it is set) or 5060, and
// 5061 for tls and wss.
func (p *parser) fillPorts() {
	port := int64(5060)
	if v, ok := p.cfg.Global("port"); ok && v.Kind == core.KInt && v.I > 0 && v.I <= 65535 {
		port = v.I
	}
	for i := range p.cfg.Listens {
		l := &p.cfg.Listens[i]
		if l.Port != 0 {
			continue
		}
		if l.Proto == "tls" || l.Proto == "wss" {
			l.Port = 5061
		} else {
			l.Port = int(port)
		}
	}
}

// sortErrors orders errors by file (in the order files were opened), then
// by line and column. Lookahead can find an error further down (an
// unclosed #!ifdef at the end of a file) before one above it.
func (p *parser) sortErrors() {
	rank := func(f string) int {
		if r, ok := p.fileRank[f]; ok {
			return r
		}
		return len(p.fileRank)
	}
	sort.SliceStable(p.errs, func(i, j int) bool {
		a, b := p.errs[i].Pos, p.errs[j].Pos
		if ra, rb := rank(a.File), rank(b.File); ra != rb {
			return ra < rb
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// maxErrors bounds the list; past it the rest is noise.
const maxErrors = 100

func (p *parser) errorf(pos Pos, format string, args ...any) {
	if len(p.errs) == maxErrors {
		p.errs = append(p.errs, &Error{Pos: pos, Msg: "too many errors"})
	}
	if len(p.errs) > maxErrors {
		return
	}
	p.errs = append(p.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// notice records a notice; a non-empty key makes it once per key.
func (p *parser) notice(pos Pos, key, format string, args ...any) {
	if key != "" {
		if p.noticed[key] {
			return
		}
		p.noticed[key] = true
	}
	p.cfg.Notices = append(p.cfg.Notices, pos.String()+": "+fmt.Sprintf(format, args...))
}

func (p *parser) next() token {
	if len(p.ahead) > 0 {
		t := p.ahead[0]
		p.ahead = p.ahead[1:]
		return t
	}
	return p.lx.next()
}

func (p *parser) peek() token {
	if len(p.ahead) == 0 {
		p.ahead = append(p.ahead, p.lx.next())
	}
	return p.ahead[0]
}

var routeKinds = map[string]bool{
	"request_route": true, "route": true, "reply_route": true, "onreply_route": true,
	"failure_route": true, "branch_route": true, "onsend_route": true, "event_route": true,
}

func (p *parser) parse() {
	for {
		t := p.next()
		switch {
		case t.kind == tEOF:
			return
		case t.is(tPunct, ";"):
		case t.kind == tID && (t.text == "loadmodule" || t.text == "loadmodulex"):
			p.loadModule(t)
		case t.kind == tID && (t.text == "modparam" || t.text == "modparamx"):
			p.modParam(t)
		case t.kind == tID && t.text == "cfgengine":
			p.cfgEngine(t)
		case t.kind == tID && routeKinds[t.text]:
			p.route(t)
		case t.kind == tID:
			p.assign(t)
		default:
			p.errorf(t.pos, "unexpected %s; expected a parameter assignment, loadmodule, modparam, cfgengine or a route block", t.describe())
			p.skipStatement(t)
		}
	}
}

// skipStatement skips the rest of a bad statement: to the end of its
// line, or past a block it opens.
func (p *parser) skipStatement(t token) {
	depth := 0
	if t.is(tPunct, "{") {
		depth = 1
	}
	for {
		n := p.peek()
		if n.kind == tEOF || (depth == 0 && (n.nl || n.is(tPunct, ";"))) {
			return
		}
		p.next()
		if n.is(tPunct, "{") {
			depth++
		} else if n.is(tPunct, "}") && depth > 0 {
			depth--
		}
	}
}

// lineTokens returns the tokens up to the end of the current line or a
// ";". Brackets and braces run across lines (Kamailio's
// socket = { ... } form).
func (p *parser) lineTokens() []token {
	var out []token
	depth := 0
	for {
		n := p.peek()
		if n.kind == tEOF || (depth == 0 && (n.nl || n.is(tPunct, ";")) && (len(out) > 0 || n.nl)) {
			return out
		}
		p.next()
		out = append(out, n)
		if n.is(tPunct, "[") || n.is(tPunct, "{") {
			depth++
		} else if (n.is(tPunct, "]") || n.is(tPunct, "}")) && depth > 0 {
			depth--
		}
	}
}

// rawText joins tokens back into text, with a blank where the source had
// one. Strings come back quoted.
func rawText(toks []token) string {
	var b strings.Builder
	for i, t := range toks {
		if i > 0 && t.sp {
			b.WriteByte(' ')
		}
		b.WriteString(tokenText(t))
	}
	return b.String()
}

func tokenText(t token) string {
	if t.kind != tStr {
		return t.text
	}
	if t.quote == '\'' && !strings.ContainsRune(t.text, '\'') {
		return "'" + t.text + "'"
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(t.text); i++ {
		switch c := t.text[i]; c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func boolWord(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "yes", "true", "on", "enable":
		return true, true
	case "no", "false", "off", "disable":
		return false, true
	}
	return false, false
}

// intValue reads [-]number or a yes/no word (1/0, as Kamailio's lexer
// turns them into numbers).
func intValue(toks []token) (int64, bool) {
	neg := false
	if len(toks) == 2 && toks[0].is(tPunct, "-") && !toks[1].sp {
		neg, toks = true, toks[1:]
	}
	if len(toks) != 1 {
		return 0, false
	}
	t := toks[0]
	switch t.kind {
	case tNum:
		n, err := strconv.ParseInt(t.text, 0, 64)
		if err != nil {
			return 0, false
		}
		if neg {
			n = -n
		}
		return n, true
	case tID:
		if b, ok := boolWord(t.text); ok && !neg {
			if b {
				return 1, true
			}
			return 0, true
		}
	}
	return 0, false
}

// assign reads name = value for a global parameter.
func (p *parser) assign(t token) {
	name := t.text
	for {
		dot := p.peek()
		if !dot.is(tPunct, ".") || dot.sp || dot.nl {
			break
		}
		p.next()
		part := p.peek()
		if (part.kind != tID && part.kind != tNum) || part.sp || part.nl {
			p.errorf(dot.pos, "expected a name after %q.", name)
			p.skipStatement(part)
			return
		}
		p.next()
		name += "." + part.text
	}
	eq := p.peek()
	if !eq.is(tPunct, "=") || eq.nl {
		if !strings.Contains(name, ".") {
			if _, known := knownGlobals[name]; !known && !ignoredGlobals[name] {
				p.errorf(t.pos, "unexpected %q; expected a parameter assignment, loadmodule, modparam, cfgengine or a route block%s", name, didYouMean(name, append(globalNames(), "loadmodule", "modparam", "cfgengine", "request_route", "route", "reply_route", "onreply_route", "failure_route", "branch_route", "onsend_route", "event_route")))
				p.skipStatement(t)
				return
			}
		}
		p.errorf(eq.pos, "%s: expected = after the name, got %s", name, eq.describe())
		p.skipStatement(t)
		return
	}
	p.next()
	vals := p.lineTokens()
	if len(vals) == 0 {
		p.errorf(eq.pos, "%s: missing value after =", name)
		return
	}
	gp, known := knownGlobals[name]
	switch {
	case known:
		p.knownGlobal(t.pos, name, gp, vals)
	case ignoredGlobals[name]:
		p.notice(t.pos, "param:"+name, "%s: Kamailio parameter not used by kemi, ignored", name)
	case strings.Contains(name, ".") && !strings.HasPrefix(name, "kemi."):
		p.customParam(t.pos, name, vals)
	default:
		cands := globalNames()
		p.errorf(t.pos, "unknown global parameter %q%s", name, didYouMean(name, cands))
	}
}

func (p *parser) knownGlobal(pos Pos, name string, gp globalParam, vals []token) {
	store := name
	if gp.canon != "" {
		store = gp.canon
	}
	text := rawText(vals)
	var v core.Value
	switch gp.kind {
	case pInt:
		n, ok := intValue(vals)
		if !ok {
			p.errorf(vals[0].pos, "%s: expected a number, got %s", name, describeValue(vals))
			return
		}
		if n < 0 && strings.HasPrefix(name, "dns_") {
			p.errorf(vals[0].pos, "%s: expected a number 0 or more, got %d", name, n)
			return
		}
		v = core.Int(n)
	case pBool:
		if len(vals) == 1 && vals[0].kind == tID {
			if b, ok := boolWord(vals[0].text); ok {
				v = core.Bool(b)
				break
			}
		}
		n, ok := intValue(vals)
		if !ok {
			p.errorf(vals[0].pos, "%s: expected yes or no, got %s", name, describeValue(vals))
			return
		}
		v = core.Bool(n != 0)
	case pStr:
		s, ok := strValue(vals)
		if !ok {
			p.errorf(vals[0].pos, "%s: expected a string, got %s", name, describeValue(vals))
			return
		}
		if strings.HasPrefix(name, "kemi.") && (len(vals) != 1 || vals[0].kind != tStr) {
			p.errorf(vals[0].pos, "%s: expected a quoted function name, got %s", name, describeValue(vals))
			return
		}
		if name == "dns_servers" {
			if _, err := resolve.ParseServers(s); err != nil {
				p.errorf(vals[0].pos, "%v", err)
				return
			}
		}
		v = core.Str(s)
	case pListen:
		l, err := ParseListen(text)
		if err != nil {
			p.errorf(vals[0].pos, "%v", err)
			return
		}
		l.Pos = pos
		p.cfg.Listens = append(p.cfg.Listens, l)
		return
	case pAlias:
		p.aliases(vals)
		return
	case pSocket:
		p.socket(pos, vals)
		return
	}
	p.cfg.Globals = append(p.cfg.Globals, Global{Name: store, Value: v, Pos: pos})
}

// socket reads Kamailio's block form of listen:
//
//	socket = { bind = udp:10.0.0.1:5060; advertise = 1.2.3.4:5060; name = "s1"; }
func (p *parser) socket(pos Pos, vals []token) {
	n := len(vals)
	if !vals[0].is(tPunct, "{") || !vals[n-1].is(tPunct, "}") {
		p.errorf(vals[0].pos, "socket: expected { bind = proto:addr:port; ... }, got %s", describeValue(vals))
		return
	}
	var l Listen
	bound := false
	for _, attr := range splitTokens(vals[1:n-1], ";") {
		if len(attr) == 0 {
			continue
		}
		key := attr[0]
		if key.kind != tID || len(attr) < 3 || !attr[1].is(tPunct, "=") {
			p.errorf(key.pos, "socket: expected name = value, got %s", describeValue(attr))
			return
		}
		val := attr[2:]
		switch key.text {
		case "bind":
			b, err := ParseListen(rawText(val))
			if err != nil {
				p.errorf(val[0].pos, "socket: bind: %v", err)
				return
			}
			l.Proto, l.Host, l.Port, bound = b.Proto, b.Host, b.Port, true
		case "advertise":
			_, h, port, err := parseSocket(rawText(val), true)
			if err != nil {
				p.errorf(val[0].pos, "socket: advertise %q: %v", rawText(val), err)
				return
			}
			l.AdvHost, l.AdvPort = h, port
		case "name":
			if len(val) != 1 || val[0].kind != tStr {
				p.errorf(val[0].pos, "socket: name: expected a quoted name, got %s", describeValue(val))
				return
			}
			l.Name = val[0].text
		case "agname", "workers", "virtual", "vrf":
			// Kamailio's worker groups and VRF binding; kemi has one pool.
		default:
			p.errorf(key.pos, "socket: unknown attribute %q%s", key.text, didYouMean(key.text, []string{"bind", "advertise", "name", "agname", "workers", "virtual", "vrf"}))
			return
		}
	}
	if !bound {
		p.errorf(vals[0].pos, "socket: missing bind = proto:addr:port")
		return
	}
	l.Pos = pos
	p.cfg.Listens = append(p.cfg.Listens, l)
}

// aliases reads alias = a b c: each blank-separated word is
// [proto:]host[:port], the host quoted or not ("sip.example.com":5060).
func (p *parser) aliases(vals []token) {
	var words [][]token
	for i, t := range vals {
		if i == 0 || t.sp {
			words = append(words, nil)
		}
		words[len(words)-1] = append(words[len(words)-1], t)
	}
	for _, w := range words {
		var b strings.Builder
		for _, t := range w {
			if t.kind == tStr {
				if ip, err := netip.ParseAddr(t.text); err == nil && ip.Is6() {
					b.WriteString("[" + t.text + "]")
					continue
				}
				if t.text == "" || strings.ContainsAny(t.text, ":[] \t\"") {
					p.errorf(t.pos, "alias: %s is not a host name or IP address; want [proto:]host[:port]", t.describe())
					return
				}
				b.WriteString(t.text)
				continue
			}
			b.WriteString(t.text)
		}
		a, err := ParseAlias(b.String())
		if err != nil {
			p.errorf(w[0].pos, "%v", err)
			return
		}
		a.Pos = w[0].pos
		p.cfg.Aliases = append(p.cfg.Aliases, a)
	}
}

// splitTokens splits toks at each punctuation token sep.
func splitTokens(toks []token, sep string) [][]token {
	var out [][]token
	start := 0
	for i, t := range toks {
		if t.is(tPunct, sep) {
			out = append(out, toks[start:i])
			start = i + 1
		}
	}
	return append(out, toks[start:])
}

// strValue is a lone string literal's value, or the raw text of bare
// words (log_facility=LOG_LOCAL0, alias=udp:host:5060).
func strValue(vals []token) (string, bool) {
	if len(vals) == 1 && vals[0].kind == tStr {
		return vals[0].text, true
	}
	for _, t := range vals {
		if t.kind == tStr {
			return "", false
		}
	}
	return rawText(vals), true
}

func describeValue(vals []token) string {
	if len(vals) == 1 {
		return vals[0].describe()
	}
	return strconv.Quote(rawText(vals))
}

// customParam reads Kamailio's custom config variables,
// group.name = value [desc "text"]; kemi keeps them as globals.
func (p *parser) customParam(pos Pos, name string, vals []token) {
	if n := len(vals); n >= 2 && vals[n-2].kind == tID && vals[n-1].kind == tStr {
		switch vals[n-2].text {
		case "desc", "descr", "description":
			vals = vals[:n-2]
		}
	}
	if len(vals) == 1 && vals[0].kind == tStr {
		p.cfg.Globals = append(p.cfg.Globals, Global{Name: name, Value: core.Str(vals[0].text), Pos: pos})
		return
	}
	if n, ok := intValue(vals); ok {
		p.cfg.Globals = append(p.cfg.Globals, Global{Name: name, Value: core.Int(n), Pos: pos})
		return
	}
	if len(vals) == 0 {
		p.errorf(pos, "%s: missing value before desc", name)
		return
	}
	p.errorf(vals[0].pos, "%s: expected a number or a string, got %s", name, describeValue(vals))
}

func moduleBase(file string) string {
	if i := strings.LastIndexByte(file, '/'); i >= 0 {
		file = file[i+1:]
	}
	return strings.TrimSuffix(file, ".so")
}

func (p *parser) moduleCandidates() []string {
	c := append([]string(nil), p.opt.ModuleNames()...)
	for n := range ignoredModules {
		c = append(c, n)
	}
	sort.Strings(c)
	return c
}

func (p *parser) loadModule(t token) {
	s := p.peek()
	if s.kind != tStr || s.nl {
		p.errorf(t.pos, "%s: expected a quoted module name like \"tm.so\", got %s", t.text, s.describe())
		p.skipStatement(t)
		return
	}
	p.next()
	file := s.text
	base := moduleBase(file)
	spec := p.opt.Module(file)
	if spec == nil {
		if why, ok := ignoredModules[base]; ok {
			p.ignoredLoaded[base] = true
			p.notice(t.pos, "module:"+base, "loadmodule %q: not used by kemi (%s), ignored with its modparams", file, why)
			return
		}
		p.errorf(t.pos, "loadmodule %q: unknown module %q%s", file, base, didYouMean(base, p.moduleCandidates()))
		p.failedLoad[base] = true
		return
	}
	if p.loaded[spec.Name] {
		return // Kamailio only warns about a second load
	}
	p.loaded[spec.Name] = true
	p.cfg.Modules = append(p.cfg.Modules, LoadModule{Name: spec.Name, File: file, Spec: spec, Pos: t.pos})
}

func (p *parser) expectPunct(what, want string) (token, bool) {
	n := p.peek()
	if !n.is(tPunct, want) {
		p.errorf(n.pos, "%s: expected %q, got %s", what, want, n.describe())
		return n, false
	}
	return p.next(), true
}

// skipParen skips to the closing ")" of a bad modparam, or the line end.
func (p *parser) skipParen() {
	for {
		n := p.peek()
		if n.kind == tEOF || n.nl {
			return
		}
		p.next()
		if n.is(tPunct, ")") {
			return
		}
	}
}

func (p *parser) modParam(t token) {
	what := t.text
	if _, ok := p.expectPunct(what, "("); !ok {
		p.skipStatement(t)
		return
	}
	mod := p.peek()
	if mod.kind != tStr {
		p.errorf(mod.pos, "%s: expected a quoted module name, got %s", what, mod.describe())
		p.skipParen()
		return
	}
	p.next()
	if _, ok := p.expectPunct(what, ","); !ok {
		p.skipParen()
		return
	}
	name := p.peek()
	if name.kind != tStr {
		p.errorf(name.pos, "%s: expected a quoted parameter name, got %s", what, name.describe())
		p.skipParen()
		return
	}
	p.next()
	what = fmt.Sprintf("%s(%q, %q)", t.text, mod.text, name.text)
	if _, ok := p.expectPunct(what, ","); !ok {
		p.skipParen()
		return
	}
	var vals []token
	for {
		n := p.peek()
		if n.kind == tEOF || n.is(tPunct, ")") || n.is(tPunct, ";") || (len(vals) > 0 && n.nl) {
			break
		}
		vals = append(vals, p.next())
	}
	if _, ok := p.expectPunct(what, ")"); !ok {
		p.skipParen()
		return
	}
	var v core.Value
	if len(vals) == 1 && vals[0].kind == tStr {
		v = core.Str(vals[0].text)
	} else if n, ok := intValue(vals); ok {
		v = core.Int(n)
	} else {
		pos := t.pos
		if len(vals) > 0 {
			pos = vals[0].pos
		}
		p.errorf(pos, "%s: expected a number or a quoted string, got %s", what, describeValue(vals))
		return
	}
	for _, spec := range p.modParamTargets(t.pos, what, mod.text) {
		p.checkModParam(t.pos, what, spec, name.text, v)
	}
}

// modParamTargets resolves modparam's module field: one name, names joined
// with "|", or (as Kamailio allows) a regular expression over loaded
// module names.
func (p *parser) modParamTargets(pos Pos, what, pattern string) []*core.ModuleSpec {
	var out []*core.ModuleSpec
	byName := map[string]*core.ModuleSpec{}
	for _, m := range p.cfg.Modules {
		byName[m.Name] = m.Spec
	}
	for _, part := range strings.Split(pattern, "|") {
		if spec := byName[part]; spec != nil {
			out = append(out, spec)
			continue
		}
		if spec := p.opt.Module(part); spec != nil {
			if byName[spec.Name] != nil {
				out = append(out, byName[spec.Name])
				continue
			}
			p.errorf(pos, "%s: module %q is not loaded; add loadmodule \"%s.so\" before this line", what, part, part)
			continue
		}
		if p.ignoredLoaded[part] || p.failedLoad[part] {
			continue // noticed or reported at its loadmodule
		}
		if _, ok := ignoredModules[part]; ok {
			p.errorf(pos, "%s: module %q is not loaded; add loadmodule \"%s.so\" before this line", what, part, part)
			continue
		}
		if strings.ContainsAny(part, ".*+?[](){}^$\\") {
			re, err := regexp.Compile("^(" + part + ")$")
			if err != nil {
				p.errorf(pos, "%s: bad module regexp %q: %v", what, part, err)
				continue
			}
			matched := false
			for _, m := range p.cfg.Modules {
				if re.MatchString(m.Name) {
					out = append(out, m.Spec)
					matched = true
				}
			}
			for n := range p.ignoredLoaded {
				matched = matched || re.MatchString(n)
			}
			if !matched {
				p.errorf(pos, "%s: %q matches no loaded module", what, part)
			}
			continue
		}
		p.errorf(pos, "%s: unknown module %q%s", what, part, didYouMean(part, p.moduleCandidates()))
	}
	return out
}

func (p *parser) checkModParam(pos Pos, what string, spec *core.ModuleSpec, name string, v core.Value) {
	var ps *core.ParamSpec
	names := make([]string, 0, len(spec.Params))
	for i := range spec.Params {
		names = append(names, spec.Params[i].Name)
		if spec.Params[i].Name == name {
			ps = &spec.Params[i]
		}
	}
	if ps == nil {
		p.errorf(pos, "%s: module %q has no parameter %q%s", what, spec.Name, name, didYouMean(name, names))
		return
	}
	wantStr := ps.Type == core.TStr
	if wantStr && v.Kind != core.KStr {
		p.errorf(pos, "%s: %s.%s expects str, got int %d", what, spec.Name, name, v.I)
		return
	}
	if !wantStr && v.Kind != core.KInt {
		p.errorf(pos, "%s: %s.%s expects int, got str %q", what, spec.Name, name, v.S)
		return
	}
	p.cfg.ModParams = append(p.cfg.ModParams, ModParam{Module: spec.Name, Name: name, Value: v, Pos: pos})
}

// builtinEngines lets a config name its engine even in a build (or test)
// that links no engine: the module order is still checked, and serve
// reports the missing engine when it looks it up.
var builtinEngines = map[string]struct{ name, module string }{
	"lua":      {"lua", "app_lua"},
	"jsdt":     {"jsdt", "app_jsdt"},
	"js":       {"jsdt", "app_jsdt"},
	"starlark": {"starlark", "app_starlark"},
}

func (p *parser) cfgEngine(t token) {
	if n := p.peek(); n.is(tPunct, "=") {
		p.next()
	}
	s := p.peek()
	if s.kind != tStr {
		p.errorf(t.pos, "cfgengine: expected a quoted engine name like \"lua\", got %s", s.describe())
		p.skipStatement(t)
		return
	}
	p.next()
	name := s.text
	what := fmt.Sprintf("cfgengine %q", name)
	if p.cfg.EnginePos.Line != 0 {
		p.errorf(t.pos, "%s: cfgengine already given at %s", what, p.cfg.EnginePos)
		return
	}
	canon, mod := "", ""
	switch name {
	case "native", "default":
	default:
		if info := p.opt.Engine(name); info != nil {
			canon, mod = info.Name, info.Module
		} else if b, ok := builtinEngines[name]; ok {
			canon, mod = b.name, b.module
		} else {
			// Only the engines linked into this kemi: one built without an
			// engine must not offer it.
			names := p.opt.EngineNames()
			cands := append([]string{}, names...)
			sort.Strings(cands)
			p.errorf(t.pos, "%s: unknown engine%s; this kemi has %s", what, didYouMean(name, cands), core.EngineList(names, p.opt.Engine))
			return
		}
	}
	if mod != "" && !p.loaded[mod] {
		p.errorf(t.pos, "%s: load %s before this line (loadmodule \"%s.so\")", what, mod, mod)
	}
	p.cfg.Engine, p.cfg.EnginePos = canon, t.pos
}

func (p *parser) route(t token) {
	kind, name := t.text, ""
	if n := p.peek(); n.is(tPunct, "[") {
		open := p.next()
		var parts []token
		for {
			n := p.peek()
			if n.kind == tEOF || n.is(tPunct, "{") || n.is(tPunct, "]") {
				break
			}
			parts = append(parts, p.next())
		}
		if _, ok := p.expectPunct(kind+"[", "]"); !ok {
			p.skipStatement(open)
			return
		}
		for _, pt := range parts {
			name += pt.text // route["X"] and route[X] are the same
		}
		if name == "" {
			p.errorf(open.pos, "%s[]: empty route name", kind)
		}
	}
	label := kind
	if name != "" {
		label += "[" + name + "]"
	}
	switch {
	case kind == "route" && (name == "" || name == "0"):
		kind, name = "request_route", ""
	case kind == "onreply_route" && (name == "" || name == "0"):
		kind, name = "reply_route", ""
	case name == "" && (kind == "failure_route" || kind == "branch_route" || kind == "event_route"):
		p.errorf(t.pos, "%s: needs a name, as in %s[NAME] { ... }", kind, kind)
	case name != "" && (kind == "request_route" || kind == "reply_route" || kind == "onsend_route"):
		p.errorf(t.pos, "%s: takes no name; write %s { ... }", label, kind)
	}
	brace := p.peek()
	if !brace.is(tPunct, "{") {
		p.errorf(brace.pos, "%s: expected { to open the block, got %s", label, brace.describe())
		p.skipStatement(t)
		return
	}
	p.next()
	bodyPos := Pos{File: brace.pos.File, Line: brace.pos.Line, Col: brace.pos.Col + 1}
	var body []token
	var end Pos
	depth := 1
	for {
		n := p.next()
		if n.kind == tEOF {
			p.errorf(t.pos, "%s at %s: block is not closed (missing })", label, t.pos)
			return
		}
		if n.is(tPunct, "{") {
			depth++
		} else if n.is(tPunct, "}") {
			depth--
			if depth == 0 {
				end = n.pos
				break
			}
		}
		body = append(body, n)
		end = n.pos
	}
	key := kind + "[" + name + "]"
	if first, dup := p.routes[key]; dup {
		p.errorf(t.pos, "%s: defined twice (first at %s)", label, first)
		return
	}
	p.routes[key] = t.pos
	p.cfg.Routes = append(p.cfg.Routes, Route{Kind: kind, Name: name, Body: renderBody(body, bodyPos, end), Pos: t.pos, BodyPos: bodyPos})
}

// renderBody writes tokens back as text laid out at their own lines and
// columns relative to start. Tokens from define expansions start at the
// name's place; tokens of an included file start at the include_file
// line. Both then follow the previous token, separated by a blank where
// the source had one.
func renderBody(toks []token, start, end Pos) string {
	var b strings.Builder
	line, col := start.Line, start.Col
	for _, t := range toks {
		text := tokenText(t)
		at, exact := t.pos, !t.exp
		if at.File != start.File {
			at, exact = t.site, false
		}
		switch {
		case at.File != start.File:
			if t.sp {
				b.WriteByte(' ')
				col++
			}
		case at.Line > line:
			b.WriteString(strings.Repeat("\n", at.Line-line))
			line, col = at.Line, 1
			b.WriteString(strings.Repeat(" ", at.Col-col))
			col = at.Col
		case at.Line == line && (at.Col > col || exact && at.Col == col):
			b.WriteString(strings.Repeat(" ", at.Col-col))
			col = at.Col
		case t.sp:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(text)
		col += len(text)
	}
	// Lay out up to the closing brace too, so the body spans the lines
	// the block does.
	if end.File == start.File && end.Line > line {
		b.WriteString(strings.Repeat("\n", end.Line-line))
		line, col = end.Line, 1
	}
	if end.File == start.File && end.Line == line && end.Col > col {
		b.WriteString(strings.Repeat(" ", end.Col-col))
	}
	return b.String()
}
