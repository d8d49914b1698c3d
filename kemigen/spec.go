package kemigen

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxParams is the most parameters a function may take, as in Kamailio's
// sr_kemi_t (SR_KEMI_PARAMS_MAX).
const MaxParams = 6

// Param types a function accepts, and what each becomes in Go.
var paramGoTypes = map[string]string{
	"int":  "int",
	"str":  "string",
	"bool": "bool",
	"long": "int64",
}

// Return types a function may declare, and what its Go function returns
// ("" for nothing).
var returnGoTypes = map[string]string{
	"none": "",
	"int":  "int",
	"bool": "bool",
	"xval": "core.Value",
}

// Checks a str param may declare (`check:`), and what each means in the
// docs. The generated thunk tests the value before the Go function runs
// and raises a script error naming the function when it fails; see
// core.CheckLine.
var paramChecks = map[string]string{
	"line":    "Checked: no CR, LF or NUL (a script error otherwise).",
	"hdrline": "Checked: one header line, no CR, LF or NUL but one CRLF at the end (a script error otherwise).",
}

// xvalKinds are what an xval may hold, in the order `gives` lists them.
var xvalKinds = []string{"int", "str", "null"}

// Module parameter types (what modparam can carry).
var modParamTypes = map[string]bool{"int": true, "str": true}

// Engines examples are written for, in the order docs show them.
var engineKeys = []string{"lua", "js", "starlark", "native"}

// Module is one validated spec.
type Module struct {
	Name      string // "" for the core (KSR.info)
	Files     []string
	Doc       string
	Params    []*ModParam
	Functions []*Function // sorted by name
	PVs       []*PV       // sorted by name

	// Lifecycle: the Go functions kemigen registers (start:, stop:,
	// reply_hooks:), the RPC methods (rpc:) and the modules a loadmodule
	// of this one loads too (brings:).
	Start      []string
	Stop       []string
	ReplyHooks []string
	RPCs       []*RPC // sorted by name
	Brings     []string
	// BroughtBy names the modules whose spec brings this one (set by
	// Load, for the docs).
	BroughtBy []string

	Spec    string // spec path relative to the root, slash-separated
	Dir     string // folder relative to the root: "exports/sl"
	Package string // Go package name of Dir
}

// Slug names the module in file names and URLs: "core" for module "".
func (m *Module) Slug() string {
	if m.Name == "" {
		return "core"
	}
	return m.Name
}

// Prefix is "KSR." or "KSR.<module>.".
func (m *Module) Prefix() string {
	if m.Name == "" {
		return "KSR."
	}
	return "KSR." + m.Name + "."
}

// ModParam is a module parameter settable with modparam.
type ModParam struct {
	Name    string
	Type    string // int or str
	Default *string
	Doc     string
	Multi   bool
}

// Function is one exported function.
type Function struct {
	Name      string
	Aliases   []string
	Native    string
	Params    []*Param
	Returns   string
	ReturnDoc string
	Doc       string
	Go        string
	Examples  map[string]string // engine -> example; derived where the spec has none
	// Fails: the Go function also returns an error, which the thunk
	// raises as a script error. For int, bool and none functions whose
	// return type is fixed (Kamailio's); an xval one gives back
	// ctx.Fail(err) itself.
	Fails bool
	// Value marks an int return that is a value (a count, a code, a
	// length), not a status: the docs then leave out the "below 0 is
	// failure, 0 stops the route" convention and say what it is.
	Value bool
	// Gives narrows an xval return to what the function really gives:
	// some of "int", "str" and "null", in that order; nil is all three.
	// Stubs and signatures type the return by it (a gete getter is a
	// string, never null).
	Gives []string
	// Outcome is what the examples do when run against the reference
	// message (test/examples/testdata/invite.sip); nil when the spec
	// states none. test/examples runs them in every engine.
	Outcome *Outcome
}

// Outcome is what running a function's examples must produce.
type Outcome struct {
	Sends []string // the first line of each message sent, in order
	Log   []string // text the log must hold
}

// Param is one function parameter.
type Param struct {
	Name  string
	Type  string
	Doc   string
	Check string // "", "line" or "hdrline" (paramChecks)
}

// PV is a pseudo-variable the module provides.
type PV struct {
	Name string
	Doc  string
	Get  string // Go getter (core.PVGetter); "" when only documented here
	Set  string // Go setter (core.PVSetter); "" when read-only
}

// RPC is an RPC method the module provides.
type RPC struct {
	Name string // "stats", shown as "<module>.stats"
	Go   string // Go function (core.RPCFunc)
	Doc  string
}

// Error is a spec error at a position.
type Error struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// ErrorList is every spec error found, sorted by position.
type ErrorList []*Error

func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

func (l ErrorList) sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// LoadSpec reads and validates one spec file. name is how errors name it.
func LoadSpec(path, name string) (*Module, ErrorList) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, ErrorList{{File: name, Msg: err.Error()}}
	}
	return ParseSpec(src, name)
}

// ParseSpec decodes a spec strictly. Every problem is reported, each with
// file:line:col, so one run shows all of them.
func ParseSpec(src []byte, name string) (*Module, ErrorList) {
	d := &decoder{file: name}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, ErrorList{{File: name, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if len(doc.Content) == 0 {
		return nil, ErrorList{{File: name, Msg: "empty spec: want a mapping with at least `module:`"}}
	}
	m := d.module(doc.Content[0])
	if len(d.errs) > 0 {
		d.errs.sort()
		return nil, d.errs
	}
	return m, nil
}

type decoder struct {
	file string
	errs ErrorList
}

func (d *decoder) errf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)})
}

// fields walks a mapping node, calling set for each known key and reporting
// unknown and repeated keys. It returns false when n is not a mapping.
func (d *decoder) fields(n *yaml.Node, what string, known []string, set func(key string, k, v *yaml.Node)) bool {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		d.errf(n, "%s: want a mapping, got %s", what, kindName(n))
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		if !contains(known, key) {
			msg := fmt.Sprintf("%s: unknown field %q", what, key)
			if s := nearest(key, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else {
				msg += " (known: " + strings.Join(known, ", ") + ")"
			}
			d.errf(k, "%s", msg)
			continue
		}
		if seen[key] {
			d.errf(k, "%s: field %q given twice", what, key)
			continue
		}
		seen[key] = true
		set(key, k, v)
	}
	return true
}

func (d *decoder) str(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errf(n, "%s: want a string, got %s", what, kindName(n))
		return ""
	}
	return n.Value
}

func (d *decoder) boolean(n *yaml.Node, what string) bool {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.errf(n, "%s: want true or false, got %s", what, kindName(n))
		return false
	}
	return n.Value == "true"
}

func (d *decoder) list(n *yaml.Node, what string) []*yaml.Node {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errf(n, "%s: want a list, got %s", what, kindName(n))
		return nil
	}
	return n.Content
}

func (d *decoder) ident(n *yaml.Node, what, s string) {
	if !isIdent(s) {
		d.errf(n, "%s: %q is not a valid identifier (letters, digits and _, not starting with a digit)", what, s)
	}
}

func (d *decoder) module(n *yaml.Node) *Module {
	m := &Module{}
	haveName := false
	known := []string{"module", "files", "doc", "params", "functions", "pvs", "start", "stop", "reply_hooks", "rpc", "brings"}
	ok := d.fields(n, "module spec", known, func(key string, k, v *yaml.Node) {
		switch key {
		case "module":
			haveName = true
			m.Name = d.str(v, "module")
			if m.Name != "" {
				d.ident(v, "module", m.Name)
			}
		case "files":
			for _, f := range d.list(v, "files") {
				s := d.str(f, "files")
				d.ident(f, "files", s)
				m.Files = append(m.Files, s)
			}
		case "doc":
			m.Doc = d.str(v, "doc")
		case "params":
			seen := map[string]*yaml.Node{}
			for _, pn := range d.list(v, "params") {
				p := d.modParam(pn)
				if p == nil {
					continue
				}
				if prev := seen[p.Name]; prev != nil {
					d.errf(pn, "module param %q declared twice (first at line %d)", p.Name, prev.Line)
					continue
				}
				seen[p.Name] = pn
				m.Params = append(m.Params, p)
			}
		case "functions":
			seen := map[string]*yaml.Node{}
			for _, fn := range d.list(v, "functions") {
				f := d.function(fn, m.Name)
				if f == nil {
					continue
				}
				for _, name := range append([]string{f.Name}, f.Aliases...) {
					if prev := seen[name]; prev != nil {
						d.errf(fn, "function %q declared twice (first at line %d)", name, prev.Line)
						continue
					}
					seen[name] = fn
				}
				m.Functions = append(m.Functions, f)
			}
		case "pvs":
			seen := map[string]*yaml.Node{}
			for _, pn := range d.list(v, "pvs") {
				var pv PV
				d.fields(pn, "pv", []string{"name", "doc", "get", "set"}, func(key string, k, v *yaml.Node) {
					switch key {
					case "name":
						pv.Name = d.str(v, "pv name")
						d.ident(v, "pv name", pv.Name)
					case "doc":
						pv.Doc = d.str(v, "pv doc")
					case "get":
						pv.Get = d.str(v, "pv get")
						if pv.Get != "" {
							d.ident(v, "pv get", pv.Get)
						}
					case "set":
						pv.Set = d.str(v, "pv set")
						if pv.Set != "" {
							d.ident(v, "pv set", pv.Set)
						}
					}
				})
				if pv.Name == "" {
					d.errf(pn, "pv: missing name")
				}
				if pv.Name == "" {
					continue
				}
				if prev := seen[pv.Name]; prev != nil {
					d.errf(pn, "pv %q declared twice (first at line %d)", pv.Name, prev.Line)
					continue
				}
				seen[pv.Name] = pn
				m.PVs = append(m.PVs, &pv)
			}
		case "start":
			m.Start = d.goNames(v, "start")
		case "stop":
			m.Stop = d.goNames(v, "stop")
		case "reply_hooks":
			m.ReplyHooks = d.goNames(v, "reply_hooks")
		case "brings":
			seen := map[string]bool{}
			for _, bn := range d.list(v, "brings") {
				s := d.str(bn, "brings")
				d.ident(bn, "brings", s)
				if seen[s] {
					d.errf(bn, "brings: module %q given twice", s)
					continue
				}
				seen[s] = true
				m.Brings = append(m.Brings, s)
			}
		case "rpc":
			seen := map[string]*yaml.Node{}
			for _, rn := range d.list(v, "rpc") {
				r := &RPC{}
				d.fields(rn, "rpc", []string{"name", "go", "doc"}, func(key string, k, v *yaml.Node) {
					switch key {
					case "name":
						r.Name = d.str(v, "rpc name")
						d.ident(v, "rpc name", r.Name)
					case "go":
						r.Go = d.str(v, "rpc go")
						if r.Go != "" {
							d.ident(v, "rpc go", r.Go)
						}
					case "doc":
						r.Doc = d.str(v, "rpc doc")
					}
				})
				if r.Name == "" {
					d.errf(rn, "rpc: missing name")
					continue
				}
				if r.Go == "" {
					d.errf(rn, "rpc %q: missing go (the Go function, a core.RPCFunc)", r.Name)
				}
				if prev := seen[r.Name]; prev != nil {
					d.errf(rn, "rpc %q declared twice (first at line %d)", r.Name, prev.Line)
					continue
				}
				seen[r.Name] = rn
				m.RPCs = append(m.RPCs, r)
			}
		}
	})
	if ok && !haveName {
		d.errf(n, "module spec: missing field \"module\" (use module: \"\" for the core)")
	}
	sort.Slice(m.Functions, func(i, j int) bool { return m.Functions[i].Name < m.Functions[j].Name })
	sort.Slice(m.PVs, func(i, j int) bool { return m.PVs[i].Name < m.PVs[j].Name })
	sort.Slice(m.RPCs, func(i, j int) bool { return m.RPCs[i].Name < m.RPCs[j].Name })
	return m
}

// goNames reads a list of Go function names (start:, stop:,
// reply_hooks:), each a plain identifier given once.
func (d *decoder) goNames(n *yaml.Node, what string) []string {
	var out []string
	seen := map[string]bool{}
	for _, gn := range d.list(n, what) {
		s := d.str(gn, what)
		if s == "" {
			continue
		}
		d.ident(gn, what, s)
		if seen[s] {
			d.errf(gn, "%s: %q given twice", what, s)
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

func (d *decoder) modParam(n *yaml.Node) *ModParam {
	p := &ModParam{}
	var def *yaml.Node
	d.fields(n, "module param", []string{"name", "type", "default", "doc", "multi"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			p.Name = d.str(v, "module param name")
			d.ident(v, "module param name", p.Name)
		case "type":
			p.Type = d.str(v, "module param type")
			if !modParamTypes[p.Type] {
				d.errf(v, "module param %q: unknown type %q (want int or str)", p.Name, p.Type)
			}
		case "default":
			def = v
		case "doc":
			p.Doc = d.str(v, "module param doc")
		case "multi":
			p.Multi = d.boolean(v, "module param multi")
		}
	})
	if p.Name == "" {
		d.errf(n, "module param: missing name")
		return nil
	}
	if p.Type == "" {
		d.errf(n, "module param %q: missing type (int or str)", p.Name)
	}
	if def != nil {
		s := d.str(def, "module param default")
		if p.Type == "int" {
			if _, err := strconv.ParseInt(s, 0, 64); err != nil {
				d.errf(def, "module param %q: default %q is not an int", p.Name, s)
			}
		}
		p.Default = &s
	}
	return p
}

func (d *decoder) function(n *yaml.Node, module string) *Function {
	f := &Function{Examples: map[string]string{}}
	known := []string{"name", "aliases", "native", "params", "returns", "return_doc", "doc", "go", "examples", "fails", "outcome", "value", "gives"}
	var failsNode, valueNode, givesNode *yaml.Node
	var paramsNode, returnsNode *yaml.Node
	d.fields(n, "function", known, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			f.Name = d.str(v, "function name")
			d.ident(v, "function name", f.Name)
		case "aliases":
			for _, a := range d.list(v, "aliases") {
				s := d.str(a, "alias")
				d.ident(a, "alias", s)
				f.Aliases = append(f.Aliases, s)
			}
		case "native":
			f.Native = d.str(v, "native")
			d.ident(v, "native", f.Native)
		case "params":
			paramsNode = v
		case "returns":
			returnsNode = v
			f.Returns = d.str(v, "returns")
		case "return_doc":
			f.ReturnDoc = d.str(v, "return_doc")
		case "doc":
			f.Doc = d.str(v, "doc")
		case "go":
			f.Go = d.str(v, "go")
			d.ident(v, "go", f.Go)
		case "fails":
			f.Fails = d.boolean(v, "fails")
			failsNode = v
		case "examples":
			d.fields(v, "examples", engineKeys, func(key string, k, v *yaml.Node) {
				f.Examples[key] = d.str(v, "example")
			})
		case "gives":
			givesNode = v
			have := map[string]bool{}
			for _, n := range d.list(v, "gives") {
				g := "null" // a bare null in YAML
				if n.Kind != yaml.ScalarNode || n.Tag != "!!null" {
					g = d.str(n, "gives")
				}
				if !contains(xvalKinds, g) {
					d.errf(n, "gives: unknown kind %q (want int, str or null)", g)
					continue
				}
				if have[g] {
					d.errf(n, "gives: %q given twice", g)
					continue
				}
				have[g] = true
			}
			for _, g := range xvalKinds {
				if have[g] {
					f.Gives = append(f.Gives, g)
				}
			}
			if len(have) == 0 && len(d.list(v, "gives")) == 0 {
				d.errf(v, "gives: want at least one of int, str, null")
			}
		case "value":
			f.Value = d.boolean(v, "value")
			valueNode = v
		case "outcome":
			o := &Outcome{}
			before := len(d.errs)
			if d.fields(v, "outcome", []string{"sends", "log"}, func(key string, k, v *yaml.Node) {
				for _, n := range d.list(v, "outcome "+key) {
					s := d.str(n, "outcome "+key)
					if key == "sends" {
						o.Sends = append(o.Sends, s)
					} else {
						o.Log = append(o.Log, s)
					}
				}
			}) {
				if len(o.Sends) == 0 && len(o.Log) == 0 && len(d.errs) == before {
					d.errf(v, "outcome: want sends or log (or both)")
				}
				f.Outcome = o
			}
		}
	})
	if f.Name == "" {
		d.errf(n, "function: missing name")
		return nil
	}
	what := "function " + f.Name
	if paramsNode != nil {
		ps := d.list(paramsNode, what+": params")
		if len(ps) > MaxParams {
			d.errf(paramsNode, "%s: %d params, at most %d allowed", what, len(ps), MaxParams)
		}
		seen := map[string]bool{}
		for _, pn := range ps {
			p := &Param{}
			var checkNode *yaml.Node
			d.fields(pn, what+": param", []string{"name", "type", "doc", "check"}, func(key string, k, v *yaml.Node) {
				switch key {
				case "name":
					p.Name = d.str(v, "param name")
					d.ident(v, "param name", p.Name)
				case "type":
					p.Type = d.str(v, "param type")
					if _, ok := paramGoTypes[p.Type]; !ok {
						d.errf(v, "%s: param %q: unknown type %q (want int, str, bool or long)", what, p.Name, p.Type)
					}
				case "doc":
					p.Doc = d.str(v, "param doc")
				case "check":
					p.Check = d.str(v, "param check")
					checkNode = v
				}
			})
			if p.Name == "" {
				d.errf(pn, "%s: param without a name", what)
				continue
			}
			if checkNode != nil {
				if _, ok := paramChecks[p.Check]; !ok {
					d.errf(checkNode, "%s: param %q: unknown check %q (want line or hdrline)", what, p.Name, p.Check)
				} else if p.Type != "str" {
					d.errf(checkNode, "%s: param %q: check %q applies to str params, not %s", what, p.Name, p.Check, p.Type)
				}
			}
			if p.Type == "" {
				d.errf(pn, "%s: param %q: missing type (int, str, bool or long)", what, p.Name)
			}
			if seen[p.Name] {
				d.errf(pn, "%s: param %q declared twice", what, p.Name)
				continue
			}
			seen[p.Name] = true
			f.Params = append(f.Params, p)
		}
	}
	if returnsNode == nil {
		d.errf(n, "%s: missing returns (none, int, bool or xval)", what)
	} else if _, ok := returnGoTypes[f.Returns]; !ok {
		d.errf(returnsNode, "%s: unknown return type %q (want none, int, bool or xval)", what, f.Returns)
	} else if f.Fails && f.Returns == "xval" {
		d.errf(failsNode, "%s: fails is for int, bool and none functions; an xval one returns ctx.Fail(err)", what)
	}
	if f.Value && f.Returns != "int" && returnsNode != nil {
		d.errf(valueNode, "%s: value is for int returns (a count or a code rather than a status); %s is not a status anyway", what, f.Returns)
	}
	if givesNode != nil && f.Returns != "xval" && returnsNode != nil {
		d.errf(givesNode, "%s: gives narrows an xval return, not %s", what, f.Returns)
	}
	if f.Native == "" {
		f.Native = f.Name
	}
	if f.Go == "" {
		f.Go = goName(f.Name)
	}
	deriveExamples(module, f)
	return f
}

// deriveExamples fills the engines a spec gave no example for from its Lua
// one: the call reads the same in every language but for nil/true/false
// and the native function name.
//
// A function with no example at all gets a call with its param names as
// arguments, so every reference entry shows the call in every language.
func deriveExamples(module string, f *Function) {
	if len(f.Examples) == 0 {
		var args []string
		for _, p := range f.Params {
			args = append(args, p.Name)
		}
		prefix := "KSR."
		if module != "" {
			prefix += module + "."
		}
		f.Examples["lua"] = prefix + f.Name + "(" + strings.Join(args, ", ") + ")"
	}
	lua, ok := f.Examples["lua"]
	if !ok || strings.Contains(lua, "\n") {
		return
	}
	full := "KSR." + f.Name + "("
	if module != "" {
		full = "KSR." + module + "." + f.Name + "("
	}
	js, star, native := "", "", ""
	if m := luaIfThen.FindStringSubmatch(lua); m != nil {
		// if <cond> then <one statement> end; a body of several
		// statements needs its examples written out.
		if luaStmt.MatchString(m[2]) {
			js = "if (" + toJS(m[1]) + ") { " + toJS(m[2]) + "; }"
			star = "if " + toStarlark(m[1]) + ":\n    " + toStarlark(m[2])
		}
	} else if luaCall.MatchString(lua) {
		js = toJS(lua) + ";"
		star = toStarlark(lua)
		if strings.HasPrefix(lua, full) {
			native = f.Native + "(" + lua[len(full):] + ";"
		}
	}
	for eng, ex := range map[string]string{"js": js, "starlark": star, "native": native} {
		if _, ok := f.Examples[eng]; !ok && ex != "" {
			f.Examples[eng] = ex
		}
	}
}

// The Lua example forms kemigen can translate: one call, or an if with a
// single statement. Anything else needs its examples written out.
var (
	luaCall   = regexp.MustCompile(`^(local \w+ = )?KSR\.[\w.]+\(.*\)$`)
	luaIfThen = regexp.MustCompile(`^if (.+) then (.+) end$`)
	// luaStmt is the one statement an if may hold: a call, an assignment
	// of a call or a simple value, or a return, with nothing after it.
	luaStmt = regexp.MustCompile(`^(return( -?[\w."]+)?|(local )?(\w+ = )?(KSR\.[\w.]+\(.*\)|[\w."]+))$`)
)

func toJS(s string) string {
	s = strings.TrimPrefix(s, "local ")
	if strings.Contains(s, " = KSR.") {
		s = "let " + s
	}
	return rewrite(s, map[string]string{"nil": "null", "not": "!", "and": "&&", "or": "||", "~=": "!=", "..": "+"})
}

// toStarlark also wraps each operand of Lua's .. that is not a string
// literal in str(): Lua turns a number into a string there, Starlark's +
// refuses string + int (an int or xval return, say).
func toStarlark(s string) string {
	return rewrite(strConcatOperands(strings.TrimPrefix(s, "local ")), map[string]string{"nil": "None", "true": "True", "false": "False", "~=": "!=", "..": "+"})
}

// rewrite swaps whole words and the operators ~= and .. of a one-line Lua
// example, leaving string literals alone.
func rewrite(s string, words map[string]string) string {
	var b strings.Builder
	var quote byte
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && i+1 < len(s) {
				b.WriteByte(c)
				i++
				c = s[i]
			} else if c == quote {
				quote = 0
			}
			b.WriteByte(c)
			i++
			continue
		case c == '"' || c == '\'':
			quote = c
			b.WriteByte(c)
			i++
			continue
		case i+1 < len(s) && (s[i:i+2] == "~=" || s[i:i+2] == ".."):
			b.WriteString(words[s[i:i+2]])
			i += 2
			continue
		}
		j := i
		for j < len(s) && isIdentByte(s[j]) {
			j++
		}
		if j == i {
			b.WriteByte(c)
			i++
			continue
		}
		w := s[i:j]
		if r, ok := words[w]; ok && !(i > 0 && s[i-1] == '.') {
			w = r
			if w == "!" && j < len(s) && s[j] == ' ' {
				j++ // "not x" becomes "!x"
			}
		}
		b.WriteString(w)
		i = j
	}
	return b.String()
}

// goName turns sl_send_reply into SlSendReply and is_INVITE into IsINVITE.
func goName(name string) string {
	var b strings.Builder
	up := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '_' {
			up = true
			continue
		}
		if up && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		up = false
		b.WriteByte(c)
	}
	s := b.String()
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		s = "X" + s
	}
	return s
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isIdent(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdentByte(s[i]) {
			return false
		}
	}
	return true
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "nothing"
	}
	return fmt.Sprintf("%q", n.Value)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// nearest suggests a known field within edit distance 2.
func nearest(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(s, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
