// Package examples compiles every example of the KSR reference in its
// engine, and runs the examples whose spec states an outcome against a
// SIP message (issue 12, "The reference's examples run").
//
// The examples come from kemigen.Load, so derived ones (JavaScript and
// Starlark written from the Lua example) are tested as the docs show them.
// Each is wrapped in a ksr_request_route function in the engine's syntax,
// with the function's params declared as locals of their declared types
// (the examples kemigen writes for a function without one pass its param
// names), and compiled by the engine found through core's engine registry,
// with the runtime of a config that loads every module, as the loader does.
package examples

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"

	"kemi/core"
	"kemi/core/loader"
	"kemi/core/router"
	_ "kemi/engines/all"
	_ "kemi/exports/all"
	"kemi/kemigen"
)

type engine struct {
	key       string // the examples key in module.yaml
	module    string // the engine's module
	cfgengine string
	ext       string
}

var engines = []engine{
	{"lua", "app_lua", "lua", "lua"},
	{"js", "app_jsdt", "jsdt", "js"},
	{"starlark", "app_starlark", "starlark", "star"},
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func loadSpecs(t *testing.T) []*kemigen.Module {
	t.Helper()
	mods, err := kemigen.Load(repoRoot())
	if err != nil {
		t.Fatal(err)
	}
	return mods
}

// sample is a value of a param type in each engine's syntax.
func sample(typ, eng string) string {
	switch typ {
	case "int", "long":
		return "1"
	case "bool":
		if eng == "starlark" {
			return "True"
		}
		return "true"
	}
	return `"x"`
}

// keywords are the param names an engine cannot declare as a local.
var keywords = map[string]map[string]bool{
	"lua":      {"end": true, "function": true, "local": true, "nil": true, "repeat": true, "then": true, "until": true},
	"js":       {"default": true, "delete": true, "function": true, "new": true, "var": true},
	"starlark": {"def": true, "lambda": true, "load": true, "pass": true},
}

// wrap puts an example in a ksr_request_route body in the engine's syntax,
// after locals named as f's params.
func wrap(eng string, f *kemigen.Function, example string) string {
	var b strings.Builder
	switch eng {
	case "lua":
		b.WriteString("function ksr_request_route()\n")
		for _, p := range declared(eng, f) {
			fmt.Fprintf(&b, "\tlocal %s = %s\n", p.Name, sample(p.Type, eng))
		}
		b.WriteString(example + "\nend\n")
	case "js":
		b.WriteString("function ksr_request_route() {\n")
		for _, p := range declared(eng, f) {
			fmt.Fprintf(&b, "\tlet %s = %s;\n", p.Name, sample(p.Type, eng))
		}
		b.WriteString(example + "\n}\n")
	case "starlark":
		b.WriteString("def ksr_request_route():\n")
		for _, p := range declared(eng, f) {
			fmt.Fprintf(&b, "    %s = %s\n", p.Name, sample(p.Type, eng))
		}
		for _, line := range strings.Split(example, "\n") {
			b.WriteString("    " + line + "\n")
		}
		b.WriteString("    pass\n")
	}
	return b.String()
}

// declared is f's params that can be locals in eng.
func declared(eng string, f *kemigen.Function) []*kemigen.Param {
	var out []*kemigen.Param
	for _, p := range f.Params {
		if !keywords[eng][p.Name] {
			out = append(out, p)
		}
	}
	return out
}

// setup loads a config with every module of mods and the engine, and a
// script that only defines ksr_request_route; the examples compile
// against its runtime.
func setup(t *testing.T, mods []*kemigen.Module, e engine, modparams ...string) (*loader.Setup, *bytes.Buffer) {
	t.Helper()
	var cfg strings.Builder
	cfg.WriteString("#!KAMAILIO\ndebug=3\nlog_stderror=yes\n")
	for _, m := range mods {
		if m.Name == "" || strings.HasPrefix(m.Name, "app_") {
			continue
		}
		cfg.WriteString("loadmodule \"" + m.Name + ".so\"\n")
	}
	script := "script." + e.ext
	cfg.WriteString("loadmodule \"" + e.module + ".so\"\n")
	cfg.WriteString("modparam(\"" + e.module + "\", \"load\", \"" + script + "\")\n")
	for _, p := range modparams {
		cfg.WriteString(p + "\n")
	}
	cfg.WriteString("cfgengine \"" + e.cfgengine + "\"\n")
	empty := map[string]string{
		"lua":      "function ksr_request_route() end\n",
		"js":       "function ksr_request_route() {}\n",
		"starlark": "def ksr_request_route():\n    pass\n",
	}[e.key]
	fsys := fstest.MapFS{
		"kamailio.cfg": {Data: []byte(cfg.String())},
		script:         {Data: []byte(empty)},
	}
	var log bytes.Buffer
	s, err := loader.Load(loader.Options{Path: "kamailio.cfg", FS: fsys, LogOut: &log})
	if err != nil {
		t.Fatalf("load: %v\nconfig:\n%s", err, cfg.String())
	}
	t.Cleanup(s.RT.Stop)
	return s, &log
}

// ksrRef finds the KSR names an example uses: KSR.module.function( or
// KSR.function(.
var ksrRef = regexp.MustCompile(`\bKSR\.(\w+)(?:\.(\w+))?\s*\(`)

// TestExamples_CompileInEveryEngine compiles every example of every
// function in lua, js and starlark, and checks that each KSR function an
// example names exists.
func TestExamples_CompileInEveryEngine(t *testing.T) {
	mods := loadSpecs(t)
	for _, e := range engines {
		t.Run(e.key, func(t *testing.T) {
			s, _ := setup(t, mods, e)
			n := 0
			for _, m := range mods {
				for _, f := range m.Functions {
					ex, ok := f.Examples[e.key]
					if !ok {
						continue
					}
					n++
					where := fmt.Sprintf("%s (%s): %s example", m.Prefix()+f.Name, m.Spec, e.key)
					path := m.Slug() + "." + f.Name + "." + e.ext
					src := wrap(e.key, f, ex)
					if _, err := s.Engine.Engine.Compile(path, []byte(src), s.RT); err != nil {
						t.Errorf("%s does not compile: %v\n%s", where, err, src)
					}
					for _, r := range ksrRef.FindAllStringSubmatch(ex, -1) {
						mod, fn := r[1], r[2]
						if fn == "" {
							mod, fn = "", r[1]
						}
						if s.RT.Reg.Lookup(mod, fn) == nil {
							t.Errorf("%s calls %s, which no module exports", where, strings.TrimSuffix(r[0], "("))
						}
					}
				}
			}
			if n < 100 {
				t.Errorf("only %d %s examples found; the specs should have hundreds", n, e.key)
			}
			t.Logf("%d %s examples compiled", n, e.key)
		})
	}
}

// TestExamples_EveryFunctionHasOneInEachEngine: every function shows a
// Lua, JavaScript and Starlark example; the Lua one is what the
// other engines' examples are derived from.
func TestExamples_EveryFunctionHasOneInEachEngine(t *testing.T) {
	for _, m := range loadSpecs(t) {
		for _, f := range m.Functions {
			for _, e := range engines {
				if _, ok := f.Examples[e.key]; !ok {
					t.Errorf("%s (%s): no %s example (write one under examples:, kemigen derives only one-line Lua examples)", m.Prefix()+f.Name, m.Spec, e.key)
				}
			}
		}
	}
}

// invite is the scenario message the outcome examples run against.
func invite(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "test", "examples", "testdata", "invite.sip"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("\r\n")) {
		b = bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
	}
	return b
}

type capture struct{ sent [][]byte }

func (c *capture) WriteTo(b []byte, to netip.AddrPort) error {
	c.sent = append(c.sent, append([]byte(nil), b...))
	return nil
}

var _ core.Sender = (*router.Worker)(nil)

// TestExamples_OutcomesRun runs, in every engine, the examples of each
// function whose spec states an outcome, against the INVITE in
// testdata/invite.sip, and checks the first line of each message sent
// and the log lines.
func TestExamples_OutcomesRun(t *testing.T) {
	mods := loadSpecs(t)
	msg := invite(t)
	n := 0
	for _, e := range engines {
		t.Run(e.key, func(t *testing.T) {
			s, log := setup(t, mods, e)
			// tm sends its replies through the runtime, not the worker.
			var out *capture
			s.RT.Send = func(b []byte, _ core.Proto, to netip.AddrPort) error { return out.WriteTo(b, to) }
			for _, m := range mods {
				for _, f := range m.Functions {
					if f.Outcome == nil {
						continue
					}
					n++
					name := m.Prefix() + f.Name
					ex, ok := f.Examples[e.key]
					if !ok {
						t.Errorf("%s states an outcome but has no %s example", name, e.key)
						continue
					}
					src := wrap(e.key, f, ex)
					path := m.Slug() + "." + f.Name + "." + e.ext
					prog, err := s.Engine.Engine.Compile(path, []byte(src), s.RT)
					if err != nil {
						t.Errorf("%s: %v", name, err)
						continue
					}
					r, err := router.New(s.RT, prog)
					if err != nil {
						t.Fatal(err)
					}
					w, err := r.NewWorker(netip.MustParseAddrPort("127.0.0.1:5060"))
					if err != nil {
						t.Fatal(err)
					}
					before := log.Len()
					out = &capture{}
					w.HandlePacket(msg, netip.MustParseAddrPort("127.0.0.1:5999"), out)
					w.Close()
					got := log.String()[before:]
					var lines []string
					for _, b := range out.sent {
						line, _, _ := bytes.Cut(b, []byte("\r\n"))
						lines = append(lines, string(line))
					}
					if n := r.ScriptErrors.Load(); n != 0 {
						t.Errorf("%s %s example: %d script errors:\n%s\n%s", name, e.key, n, src, got)
					}
					if strings.Join(lines, "\n") != strings.Join(f.Outcome.Sends, "\n") {
						t.Errorf("%s %s example sent %q, the spec says %q\n%s", name, e.key, lines, f.Outcome.Sends, src)
					}
					for _, want := range f.Outcome.Log {
						if !strings.Contains(got, want) {
							t.Errorf("%s %s example: log lacks %q:\n%s", name, e.key, want, got)
						}
					}
				}
			}
		})
	}
	if n < 3*10 {
		t.Errorf("%d outcomes ran; the specs state more", n)
	}
}

// TestExamples_ReturnTextStatusOnlyForStatus: the generated reference
// tells the status convention ("below 0 is failure ... stops the route")
// for int status returns only, and an int return whose return_doc says
// what it is ("The length ...", "The number ...") is a value (spec
// `value: true`), so its page does not call it a status.
func TestExamples_ReturnTextStatusOnlyForStatus(t *testing.T) {
	for _, m := range loadSpecs(t) {
		for _, f := range m.Functions {
			name := m.Prefix() + f.Name
			text := kemigen.ReturnMeaning(f)
			status := f.Returns == "int" && !f.Value
			if got := strings.Contains(text, "below 0 is failure"); got != status {
				t.Errorf("%s (%s, %s): status convention in the return text = %v, want %v: %q", name, m.Spec, kemigen.ReturnKind(f), got, status, text)
			}
			if f.Returns == "int" && !f.Value && strings.HasPrefix(f.ReturnDoc, "The ") {
				t.Errorf("%s (%s): return_doc %q describes a value; mark the function `value: true`", name, m.Spec, f.ReturnDoc)
			}
			if f.Returns != "none" && strings.TrimSpace(f.ReturnDoc) == "" {
				t.Errorf("%s (%s): returns %s but has no return_doc saying what", name, m.Spec, f.Returns)
			}
		}
	}
}
