package kemigen

import (
	"fmt"
	"os"
	"sort"
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
	// reply_hooks:, http_hooks:), the RPC methods (rpc:) and the modules a loadmodule
	// of this one loads too (brings:).
	Start      []string
	Stop       []string
	ReplyHooks []string
	HTTPHooks  []string
	RPCs       []*RPC // sorted by name
	// RPCPrefix is the first part RPC names may have besides the module's
	// name (rpc_prefix: dlg, as Kamailio's dialog names its commands).
	RPCPrefix string
	Brings    []string
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
	Name string // "<module>.stats" (or "<rpc_prefix>.stats")
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
