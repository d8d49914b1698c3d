// Package scenarios runs every script scenario in testdata/scripts in every
// engine and checks that each gives the same SIP outcome.
//
// A scenario is a folder holding script.lua, script.js and script.star, the
// modules it loads (scenario.yaml), the SIP messages it receives, and what
// each message must produce: the first line of every message sent, and text
// that must appear in the log (a script error, say). A scenario of one
// language's own library (engines: [lua]) runs in that engine only, and one
// whose script reads files next to it (disk: true) runs from its folder.
package scenarios

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"gopkg.in/yaml.v3"

	"kemi/core"
	"kemi/core/loader"
	"kemi/core/router"
	_ "kemi/engines/all"
	_ "kemi/exports/all"
	"kemi/internal/resolve/dnstest"
)

// scenario is scenario.yaml.
type scenario struct {
	Doc     string   `yaml:"doc"`
	Modules []string `yaml:"modules"`
	// Params are extra config lines (modparam, globals); {module} stands
	// for the engine's module (app_lua, app_jsdt, app_starlark).
	Params []string `yaml:"params"`
	// Pending names engines (lua, jsdt, starlark) that do not have the
	// behaviour yet, with why; they are skipped, saying so.
	Pending map[string]string `yaml:"pending"`
	// ScriptErrors, when given, is what the router's script-error counter
	// must read after the last step.
	ScriptErrors *uint64 `yaml:"script_errors"`
	Steps        []step  `yaml:"steps"`
	// Engines limits the scenario to some engines (cfgengine names), for a
	// behaviour of one language only, such as Lua's standard library;
	// empty means all three.
	Engines []string `yaml:"engines"`
	// Disk runs the script from the scenario folder on disk instead of an
	// in-memory copy, for scripts that read files next to them (require,
	// io.open).
	Disk bool `yaml:"disk"`
	// Env sets environment variables for the scenario (os.getenv).
	Env map[string]string `yaml:"env"`
	// DNS are zone-file records ("gw.example.test. 60 IN A 127.0.0.2")
	// an in-test DNS server on 127.0.0.1 answers; the config's
	// dns_servers points at it.
	DNS []string `yaml:"dns"`
}

type step struct {
	Send string `yaml:"send"` // a file in the scenario folder
	// Expect lists the first line of each message the step sends, in order.
	Expect []string `yaml:"expect"`
	// Log lists texts that must appear in the log during this step.
	Log []string `yaml:"log"`
	// NoLog lists texts that must not appear.
	NoLog []string `yaml:"nolog"`
	// Has lists texts that must appear in what the step sent (a header
	// line, say); HasNot texts that must not.
	Has    []string `yaml:"has"`
	HasNot []string `yaml:"hasnot"`
}

type engineInfo struct{ module, cfgengine, ext string }

var engines = []engineInfo{
	{"app_lua", "lua", "lua"},
	{"app_jsdt", "jsdt", "js"},
	{"app_starlark", "starlark", "star"},
}

func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "scripts")
}

func TestScenarios(t *testing.T) {
	dirs, err := os.ReadDir(root())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		n++
		dir := filepath.Join(root(), d.Name())
		t.Run(d.Name(), func(t *testing.T) { runScenario(t, dir) })
	}
	if n == 0 {
		t.Fatal("no scenarios under testdata/scripts")
	}
}

func runScenario(t *testing.T, dir string) {
	raw, err := os.ReadFile(filepath.Join(dir, "scenario.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var sc scenario
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&sc); err != nil {
		t.Fatalf("%s/scenario.yaml: %v", dir, err)
	}
	for k, v := range sc.Env {
		t.Setenv(k, v)
	}
	outcomes := map[string]string{}
	for _, e := range engines {
		if len(sc.Engines) > 0 && !slices.Contains(sc.Engines, e.cfgengine) {
			continue
		}
		t.Run(e.cfgengine, func(t *testing.T) {
			if why, ok := sc.Pending[e.cfgengine]; ok {
				t.Skip("pending: " + why)
			}
			outcomes[e.cfgengine] = runEngine(t, dir, &sc, e)
		})
	}
	// Every engine must have sent exactly the same bytes, not just the
	// same first lines: the scenario is one behaviour in three languages.
	var names []string
	for n := range outcomes {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) < 2 {
		return
	}
	for _, n := range names[1:] {
		if outcomes[n] != outcomes[names[0]] {
			t.Errorf("engines differ:\n--- %s\n%s\n--- %s\n%s", names[0], outcomes[names[0]], n, outcomes[n])
		}
	}
}

// capture is a transport.Writer that keeps what the script sent.
type capture struct{ sent [][]byte }

func (c *capture) WriteTo(b []byte, to netip.AddrPort) error {
	c.sent = append(c.sent, append([]byte(nil), b...))
	return nil
}

// runEngine runs the scenario in one engine and returns everything sent,
// for comparing engines with each other.
func runEngine(t *testing.T, dir string, sc *scenario, e engineInfo) string {
	script := "script." + e.ext
	src, err := os.ReadFile(filepath.Join(dir, script))
	if err != nil {
		t.Fatalf("scenario has no %s: %v", script, err)
	}
	var cfg strings.Builder
	cfg.WriteString("#!KAMAILIO\ndebug=3\nlog_stderror=yes\n")
	if len(sc.DNS) > 0 {
		cfg.WriteString("dns_servers=\"" + dnstest.Start(t, sc.DNS...).Addr + "\"\n")
	}
	for _, m := range sc.Modules {
		cfg.WriteString("loadmodule \"" + m + ".so\"\n")
	}
	cfg.WriteString("loadmodule \"" + e.module + ".so\"\n")
	if sc.Disk {
		script = filepath.Join(dir, script)
	}
	cfg.WriteString("modparam(\"" + e.module + "\", \"load\", \"" + script + "\")\n")
	for _, p := range sc.Params {
		cfg.WriteString(strings.ReplaceAll(p, "{module}", e.module) + "\n")
	}
	cfg.WriteString("cfgengine \"" + e.cfgengine + "\"\n")
	fsys := fstest.MapFS{
		"kamailio.cfg": {Data: []byte(cfg.String())},
		script:         {Data: src},
	}
	opts := loader.Options{Path: "kamailio.cfg", FS: fsys}
	if sc.Disk {
		opts.Path = filepath.Join(t.TempDir(), "kamailio.cfg")
		opts.FS = nil
		if err := os.WriteFile(opts.Path, []byte(cfg.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var log syncBuffer
	opts.LogOut = &log
	setup, err := loader.Load(opts)
	if err != nil {
		t.Fatalf("load: %v\nconfig:\n%s", err, cfg.String())
	}
	r, err := router.New(setup.RT, setup.Program)
	if err != nil {
		t.Fatal(err)
	}
	local := netip.MustParseAddrPort("127.0.0.1:5060")
	w, err := r.NewWorker(local)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	src4 := netip.MustParseAddrPort("127.0.0.1:5999")
	var all strings.Builder
	for i, st := range sc.Steps {
		msg, err := os.ReadFile(filepath.Join(dir, st.Send))
		if err != nil {
			t.Fatal(err)
		}
		msg = crlf(msg)
		before := log.Len()
		var out capture
		w.HandlePacket(msg, src4, &out)
		var got []string
		var sent strings.Builder
		for _, b := range out.sent {
			sent.Write(b)
			line, _, _ := bytes.Cut(b, []byte("\r\n"))
			got = append(got, string(line))
			all.Write(b)
			all.WriteString("\n----\n")
		}
		if strings.Join(got, "\n") != strings.Join(st.Expect, "\n") {
			t.Errorf("step %d (%s): sent\n  %s\nwant\n  %s\nlog:\n%s", i+1, st.Send,
				strings.Join(got, "\n  "), strings.Join(st.Expect, "\n  "), log.String()[before:])
		}
		for _, want := range st.Has {
			if !strings.Contains(sent.String(), want) {
				t.Errorf("step %d (%s): sent messages lack %q:\n%s", i+1, st.Send, want, sent.String())
			}
		}
		for _, bad := range st.HasNot {
			if strings.Contains(sent.String(), bad) {
				t.Errorf("step %d (%s): sent messages have %q:\n%s", i+1, st.Send, bad, sent.String())
			}
		}
		stepLog := log.String()[before:]
		for _, want := range st.Log {
			want = strings.ReplaceAll(want, "{script}", script)
			if !strings.Contains(stepLog, want) {
				t.Errorf("step %d (%s): log lacks %q:\n%s", i+1, st.Send, want, stepLog)
			}
		}
		for _, bad := range st.NoLog {
			if strings.Contains(stepLog, bad) {
				t.Errorf("step %d (%s): log has %q:\n%s", i+1, st.Send, bad, stepLog)
			}
		}
	}
	if sc.ScriptErrors != nil {
		if n := r.ScriptErrors.Load(); n != *sc.ScriptErrors {
			t.Errorf("script errors = %d, want %d; log:\n%s", n, *sc.ScriptErrors, log.String())
		}
	}
	return all.String()
}

// crlf turns the LF line ends of a message file into CRLF, keeping a body
// that is already CRLF as it is, and fixes nothing else.
func crlf(b []byte) []byte {
	if bytes.Contains(b, []byte("\r\n")) {
		return b
	}
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

// syncBuffer is a log sink.
type syncBuffer struct{ bytes.Buffer }

var _ core.Sender = (*router.Worker)(nil)
