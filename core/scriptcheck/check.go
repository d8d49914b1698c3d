// Package scriptcheck resolves a routing script's KSR calls against the
// registry of the modules a config loads, without running the script. It
// is what `kemi check` adds to compiling: a misspelled function, a call
// with the wrong number or type of literal arguments, a call into a
// module that is not loaded, or a route name (KSR.tm.t_on_failure("x"))
// the script does not define would otherwise show only on the message that
// reaches that line, and that request would get no reply.
//
// Each language has a walker over its engine's own parser: gopher-lua's
// parse/ast (lua.go), goja's parser/ast (js.go) and go.starlark.net/syntax
// (star.go). A walker turns the script into refs (KSR.<module>.<function>
// and KSR.<function> chains, with their literal arguments when called)
// and the names of the functions the script defines; Check resolves them
// here, the same way for every language. What cannot be resolved
// statically (KSR[name], a table built at run time) is left alone, never
// guessed; a plain alias (`local tm = KSR.tm`, assigned once) is followed.
package scriptcheck

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"kemi/core"
	"kemi/core/config"
)

// Lang names a script language.
type Lang int

const (
	Lua Lang = iota
	JS
	Starlark
)

// LangOf maps an engine's module ("app_lua", "app_jsdt", "app_starlark")
// or cfgengine name to its language.
func LangOf(engine string) (Lang, bool) {
	switch engine {
	case "app_lua", "lua":
		return Lua, true
	case "app_jsdt", "jsdt", "js":
		return JS, true
	case "app_starlark", "starlark":
		return Starlark, true
	}
	return 0, false
}

// Severity of a finding.
type Severity int

const (
	Error Severity = iota
	Warning
)

// Diag is one finding, at path:line[:col].
type Diag struct {
	Path     string
	Line     int
	Col      int // 0 when the parser gives none (Lua)
	Severity Severity
	Msg      string
}

// Pos is "path:line:col", or "path:line" without a column.
func (d Diag) Pos() string {
	if d.Line == 0 {
		return d.Path // a config position, already "file:line:col"
	}
	if d.Col > 0 {
		return fmt.Sprintf("%s:%d:%d", d.Path, d.Line, d.Col)
	}
	return fmt.Sprintf("%s:%d", d.Path, d.Line)
}

// String is "path:line:col: msg", with "warning: " before a warning's msg.
func (d Diag) String() string {
	if d.Severity == Warning {
		return d.Pos() + ": warning: " + d.Msg
	}
	return d.Pos() + ": " + d.Msg
}

// Route is a function name the config hands to the script (an
// event_callback modparam, kemi.reply_route_callback, ...), which the
// script must define.
type Route struct {
	Name  string
	Where string // "kamailio.cfg:12:1: modparam(\"xhttp\", \"event_callback\")"
}

// Env is what the script is checked against.
type Env struct {
	Reg *core.Registry // the loaded modules, core ("") included
	// Strict makes a call into a module that is not loaded an error.
	Strict bool
	// Routes must be defined by the script.
	Routes []Route
	// Defined, when set, also answers whether the script defines a
	// function (the compiled program's Has), besides what the walker saw.
	Defined func(name string) bool
	// ReadFile, when set, reads the files the script requires (Lua
	// require, JS require, Starlark load) with a literal name found
	// beside it, and they are checked too. A file it cannot read is left
	// to the engine.
	ReadFile func(path string) ([]byte, error)
}

// maxFiles bounds how many required files one check reads.
const maxFiles = 64

// Check parses src as lang and returns every finding, sorted by position.
// A script that does not parse gives no findings: the engine's compile
// reports that. Check never panics on any input.
func Check(lang Lang, path string, src []byte, env Env) []Diag {
	main := walk(lang, path, src)
	if main == nil {
		return nil
	}
	// The required files, breadth first: their functions count as defined
	// (a route may live in one), their KSR calls are checked.
	files := []*fileScript{{path: path, s: main}}
	seen := map[string]bool{path: true}
	for i := 0; i < len(files) && env.ReadFile != nil; i++ {
		for _, name := range files[i].s.requires {
			p := requirePath(lang, files[i].path, name)
			if p == "" || seen[p] || len(seen) >= maxFiles {
				continue
			}
			seen[p] = true
			b, err := env.ReadFile(p)
			if err != nil {
				continue
			}
			if s := walk(lang, p, b); s != nil {
				files = append(files, &fileScript{path: p, s: s})
			}
		}
	}
	defined := map[string]bool{}
	for _, f := range files {
		for n := range f.s.defined {
			defined[n] = true
		}
	}
	var diags []Diag
	for i, f := range files {
		f.s.defined = defined
		c := &checker{env: env, s: f.s, lang: lang, path: f.path}
		if i > 0 {
			c.env.Routes = nil // the config's names are checked once
		}
		c.run()
		sort.SliceStable(c.diags, func(i, j int) bool {
			a, b := c.diags[i], c.diags[j]
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Col < b.Col
		})
		diags = append(diags, c.diags...)
	}
	return diags
}

type fileScript struct {
	path string
	s    *script
}

// walk parses one file. A parser panic gives nil, as a syntax error does:
// it must not take `kemi check` down, and the engine has its own say.
func walk(lang Lang, path string, src []byte) (s *script) {
	defer func() {
		if r := recover(); r != nil {
			s = nil
		}
	}()
	switch lang {
	case Lua:
		return walkLua(path, src)
	case JS:
		return walkJS(path, src)
	case Starlark:
		return walkStar(path, src)
	}
	return nil
}

// requirePath is where a required name is, beside the file requiring it:
// Lua's require("a.b") is a/b.lua, JS's require("./x") is x.js, Starlark's
// load("x.star") is x.star. "" for a name it cannot place (a package
// search path, an absolute or parent path).
func requirePath(lang Lang, from, name string) string {
	if name == "" || strings.Contains(name, "..") || strings.HasPrefix(name, "/") || strings.ContainsAny(name, "\\\x00") {
		return ""
	}
	dir := filepath.Dir(from)
	switch lang {
	case Lua:
		return filepath.Join(dir, strings.ReplaceAll(name, ".", "/")+".lua")
	case JS:
		name = strings.TrimPrefix(name, "./")
		if !strings.HasSuffix(name, ".js") {
			name += ".js"
		}
		return filepath.Join(dir, name)
	}
	return filepath.Join(dir, strings.TrimPrefix(strings.TrimPrefix(name, "//"), ":"))
}

// Errors counts the errors among ds.
func Errors(ds []Diag) int {
	n := 0
	for _, d := range ds {
		if d.Severity == Error {
			n++
		}
	}
	return n
}

// argKind is what a walker could tell of one argument.
type argKind int

const (
	aOther   argKind = iota // not a literal
	aNum                    // number literal: num
	aStr                    // string literal: str
	aBool                   // true/false: b
	aNil                    // nil, null, undefined, None
	aSpread                 // ...args, f() last in Lua: any number of values
	aKeyword                // name=value (Starlark), which KSR functions refuse
)

type arg struct {
	kind argKind
	num  float64
	str  string
	b    bool
}

// ref is one KSR chain the script mentions: KSR.sl.send_reply is
// path ["sl", "send_reply"].
type ref struct {
	line, col int
	legacy    bool // Lua's sr object
	path      []string
	call      bool
	args      []arg
}

// script is what a walker found.
type script struct {
	refs     []ref
	defined  map[string]bool // functions the top level defines
	requires []string        // literal names of required/loaded files
}

// chain is a walker's view of an identifier chain a.b.c; base is "a".
type chain struct {
	base string
	path []string
}

// aliases resolves names assigned exactly once to KSR.<module> (or to
// KSR or sr themselves); assigned tracks every assignment so a name
// assigned twice, or also a parameter, is left alone.
type aliases struct {
	assigned map[string]int
	target   map[string]chain
}

func newAliases() *aliases {
	return &aliases{assigned: map[string]int{}, target: map[string]chain{}}
}

func (a *aliases) assign(name string, to *chain) {
	a.assigned[name]++
	if to != nil && (to.base == "KSR" || to.base == "sr") && len(to.path) <= 1 {
		a.target[name] = *to
	}
}

// resolve turns a chain into a KSR path: ok is false when its base is
// neither KSR, sr (Lua), nor a plain alias of them.
func (a *aliases) resolve(c chain, lua bool) (path []string, legacy, ok bool) {
	switch {
	case c.base == "KSR" && a.assigned["KSR"] == 0:
		return c.path, false, true
	case c.base == "sr" && lua && a.assigned["sr"] == 0:
		return c.path, true, true
	}
	if a.assigned[c.base] != 1 {
		return nil, false, false
	}
	t, ok := a.target[c.base]
	if !ok {
		return nil, false, false
	}
	p := append(append([]string(nil), t.path...), c.path...)
	return p, t.base == "sr", true
}

type checker struct {
	env   Env
	s     *script
	lang  Lang
	path  string
	diags []Diag
}

func (c *checker) add(r *ref, sev Severity, format string, a ...any) {
	c.diags = append(c.diags, Diag{Path: c.path, Line: r.line, Col: r.col, Severity: sev, Msg: fmt.Sprintf(format, a...)})
}

// routeFuncs are the functions whose first argument names a script
// function to run later.
var routeFuncs = map[string]bool{
	"tm.t_on_failure":        true,
	"tm.t_on_branch":         true,
	"tm.t_on_reply":          true,
	"tm.t_on_branch_failure": true,
}

// srExtras are sr.log's level shorthands and sr.log itself, which the
// Lua engine adds to the legacy sr object.
var srExtras = map[string]bool{"log": true, "alert": true, "crit": true, "err": true, "warn": true, "notice": true, "info": true, "dbg": true}

// srLegacy are the sr.<module>.<name> functions the Lua engine adds.
var srLegacy = map[string]bool{"maxfwd.process_maxfwd": true, "sl.send_reply": true, "sl.sl_send_reply": true}

func (c *checker) run() {
	for i := range c.s.refs {
		c.ref(&c.s.refs[i])
	}
	for _, r := range c.env.Routes {
		if r.Name == "" || r.Name == "none" || c.defined(r.Name) {
			continue
		}
		pos, what, _ := strings.Cut(r.Where, ": ")
		d := Diag{Path: pos, Severity: Error,
			Msg: fmt.Sprintf("%s names %q, but %s defines no such function%s", what, r.Name, c.path, config.DidYouMean(r.Name, c.definedNames()))}
		c.diags = append(c.diags, d)
	}
}

func (c *checker) defined(name string) bool {
	return c.s.defined[name] || (c.env.Defined != nil && c.env.Defined(name))
}

func (c *checker) definedNames() []string {
	out := make([]string, 0, len(c.s.defined))
	for n := range c.s.defined {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (c *checker) lookup(module, name string) *core.Export {
	for _, e := range c.env.Reg.ModuleExports(module) {
		if e.Name == name {
			return e
		}
		for _, a := range e.Aliases {
			if a == name {
				return e
			}
		}
	}
	return nil
}

func (c *checker) names(module string) []string {
	var out []string
	for _, e := range c.env.Reg.ModuleExports(module) {
		out = append(out, e.Name)
		out = append(out, e.Aliases...)
	}
	return out
}

func (c *checker) loaded(module string) bool {
	return module != "" && c.env.Reg.Module(module) != nil
}

func (c *checker) ref(r *ref) {
	if len(r.path) == 0 {
		return
	}
	obj := "KSR"
	if r.legacy {
		obj = "sr"
	}
	head := r.path[0]
	if e := c.lookup("", head); e != nil {
		if len(r.path) == 1 && r.call {
			c.args(r, obj+"."+head, e)
		}
		return
	}
	if r.legacy && srExtras[head] {
		return
	}
	if c.loaded(head) {
		if len(r.path) < 2 {
			return
		}
		fn := r.path[1]
		name := obj + "." + head + "." + fn
		e := c.lookup(head, fn)
		if e == nil {
			if r.legacy && srLegacy[head+"."+fn] {
				return
			}
			c.add(r, Error, "%s: module %s has no function %s%s", name, head, fn, c.didYouMean(head, fn))
			return
		}
		if len(r.path) == 2 && r.call {
			c.args(r, name, e)
		}
		return
	}
	if len(r.path) == 1 {
		if r.call {
			cands := append(c.names(""), loadedNames(c.env.Reg)...)
			c.add(r, Error, "%s.%s: no core function %s%s", obj, head, head, config.DidYouMean(head, cands))
		}
		return // KSR.rtpproxy alone: a test whether the module is loaded
	}
	sev := Warning
	if c.env.Strict {
		sev = Error
	}
	name := obj + "." + head + "." + r.path[1]
	if m := core.Known(head); m != nil {
		file := m.Name
		if len(m.Files) > 0 {
			file = m.Files[0] // kx is kemix.so
		}
		c.add(r, sev, "%s: module %s is not loaded: add loadmodule \"%s.so\" to the config", name, m.Name, file)
		return
	}
	c.add(r, sev, "%s: module %s is not loaded, and this kemi has no module %s%s", name, head, head, config.DidYouMean(head, loadedNames(c.env.Reg)))
}

// didYouMean suggests a near name in the module, else the same name in
// another loaded module (KSR.hdr.append_hf is KSR.textops.append_hf).
func (c *checker) didYouMean(module, fn string) string {
	if s := config.DidYouMean(fn, c.names(module)); s != "" {
		return s
	}
	for _, m := range c.env.Reg.Modules() {
		if m.Name != module && c.lookup(m.Name, fn) != nil {
			if m.Name == "" {
				return " (did you mean KSR." + fn + "?)"
			}
			return " (did you mean KSR." + m.Name + "." + fn + "?)"
		}
	}
	return ""
}

func loadedNames(reg *core.Registry) []string {
	var out []string
	for _, m := range reg.Modules() {
		if m.Name != "" {
			out = append(out, m.Name)
		}
	}
	return out
}

// args checks a call's literal arguments against e's declared params, the
// way the language's engine converts them.
func (c *checker) args(r *ref, name string, e *core.Export) {
	want := make([]string, len(e.Params))
	for i, t := range e.Params {
		want[i] = t.String()
	}
	sig := "(" + strings.Join(want, ", ") + ")"
	for _, a := range r.args {
		if a.kind == aKeyword {
			c.add(r, Error, "%s: takes no keyword arguments, expected %s", name, sig)
			return
		}
	}
	n, spread := len(r.args), false
	for i, a := range r.args {
		if a.kind == aSpread { // f(...xs): any number of values from here
			n, spread = i, true
			break
		}
	}
	switch {
	case !spread && n != len(e.Params):
		c.add(r, Error, "%s: expected %d argument%s %s, got %d", name, len(e.Params), plural(len(e.Params)), sig, n)
		return
	case spread && n > len(e.Params):
		c.add(r, Error, "%s: expected %d argument%s %s, got at least %d", name, len(e.Params), plural(len(e.Params)), sig, n)
		return
	}
	for i := 0; i < n; i++ {
		a := r.args[i]
		if a.kind == aOther {
			continue
		}
		if msg := c.accepts(e.Params[i], a); msg != "" {
			c.add(r, Error, "%s: argument %d: expected %s %s, got %s", name, i+1, e.Params[i], sig, msg)
		}
	}
	if routeFuncs[e.Key()] && n >= 1 && r.args[0].kind == aStr {
		rn := r.args[0].str
		if rn != "" && !c.defined(rn) {
			c.add(r, Error, "%s(%q): the script defines no function %s; the route would never run%s",
				name, rn, rn, config.DidYouMean(rn, c.definedNames()))
		}
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// accepts returns "" when the engine of c.lang converts literal a to t,
// else a description of a for the error. It mirrors toValue in
// engines/lua, invoke in engines/js and engines/starlark.
func (c *checker) accepts(t core.Type, a arg) string {
	integral := a.kind == aNum && a.num == math.Trunc(a.num) && !math.IsInf(a.num, 0) && a.num >= math.MinInt64 && a.num < math.MaxInt64
	switch t {
	case core.TInt, core.TLong:
		if integral {
			return ""
		}
	case core.TStr:
		if a.kind == aStr {
			return ""
		}
	case core.TBool:
		if a.kind == aBool || (c.lang == Lua && a.kind == aNum) {
			return ""
		}
	default:
		return ""
	}
	return c.describe(t, a)
}

func (c *checker) describe(t core.Type, a arg) string {
	switch a.kind {
	case aNum:
		return "the number " + strconv.FormatFloat(a.num, 'g', -1, 64)
	case aStr:
		q := a.str
		if len(q) > 40 {
			q = q[:40] + "..."
		}
		s := "the string " + strconv.Quote(q)
		if t == core.TInt || t == core.TLong {
			if _, err := strconv.ParseInt(strings.TrimSpace(a.str), 10, 64); err == nil {
				s += " (kemi's engines take a number here, not a numeric string: write " + strings.TrimSpace(a.str) + ")"
			}
		}
		return s
	case aBool:
		return "the boolean " + strconv.FormatBool(a.b)
	case aNil:
		switch c.lang {
		case Lua:
			return "nil"
		case JS:
			return "null"
		}
		return "None"
	}
	return "something else"
}
