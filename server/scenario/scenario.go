// Package scenario tests a routing script offline: it feeds the SIP
// messages of a scenario folder to a server built without sockets (the
// same server package, loader, router and is_myself policy as `kemi
// serve`) and checks what the script sent and logged. `kemi test` runs a
// user's folders against their config; test/scenarios runs the project's
// folders (testdata/scripts) in every engine.
//
// A scenario folder holds scenario.yaml and the message files its steps
// send. scenario.yaml:
//
//	doc: what the scenario shows
//	steps:
//	  - send: options.sip          # a message file in the folder (LF or CRLF)
//	    from: 127.0.0.1:5999       # its source address (this is the default)
//	    proto: tcp                 # udp (default), tcp, tls, ws or wss: as if over a connection
//	    conn: 7                    # that connection's id ($conid); default 1
//	    expect: ["SIP/2.0 200 Keepalive"]  # first line of each message sent, in order
//	    has: ["Server: kemi"]      # text the messages sent must contain
//	    hasnot: ["X-Secret"]       # text they must not contain
//	    log: ["keepalive"]         # text the log must show during the step
//	    nolog: ["ERROR"]           # text it must not show
//	  - wait: 31s                  # move the fake clock: tm's timers fire
//	    expect: ["SIP/2.0 408 Request Timeout"]
//	  - send: invite.sip
//	    settle: 3s                 # wait up to 3 s of real time for what a goroutine sends later
//	    expect: ["SIP/2.0 503 Routing service down"]
//
// A step may both wait and send; the wait comes first. Timers run on a
// fake clock that moves only in wait steps, in 10 ms ticks as the real
// timers do, so retransmissions show up in expect too.
//
// The project's own scenarios also carry the script (script.lua,
// script.js, script.star) and the config it needs (modules, params,
// engines, pending, disk, env, script_errors, dns, http, sql); see File.
// http: lists the answers of an HTTP server started on 127.0.0.1 for the
// run, whose host:port replaces {http} in params and scripts ({httpdown}
// is a port nothing listens on). A folder with sql: [postgres, mysql]
// runs against each database the caller starts (test/scenarios starts
// real ones), seeded from its seed.sql before each engine's run;
// {db_url} in params is its URL.
package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing/fstest"
	"time"

	"gopkg.in/yaml.v3"

	"kemi/core"
	"kemi/core/loader"
	"kemi/server"
)

// File is scenario.yaml.
type File struct {
	Doc string `yaml:"doc"`
	// Modules are loaded for the folder's own script (not with a config
	// of the user's, which loads its own).
	Modules []string `yaml:"modules"`
	// Params are extra config lines (modparam, globals) for the folder's
	// own script; {module} stands for the engine's module (app_lua,
	// app_jsdt, app_starlark).
	Params []string `yaml:"params"`
	// Pending names engines (lua, jsdt, starlark) that do not have the
	// behaviour yet, with why; they are skipped, saying so.
	Pending map[string]string `yaml:"pending"`
	// ScriptErrors, when given, is what the router's script-error counter
	// must read after the last step.
	ScriptErrors *uint64 `yaml:"script_errors"`
	Steps        []Step  `yaml:"steps"`
	// Engines limits the folder's own script to some engines (cfgengine
	// names), for a behaviour of one language only; empty means all
	// three.
	Engines []string `yaml:"engines"`
	// Disk runs the folder's own script from the folder on disk instead
	// of an in-memory copy, for scripts that read files next to them.
	Disk bool `yaml:"disk"`
	// Env sets environment variables during the run (os.getenv).
	Env map[string]string `yaml:"env"`
	// DNS are zone-file records ("gw.example.test. 60 IN A 127.0.0.2")
	// for the folder's own script: the caller starts a DNS server on
	// 127.0.0.1 answering them and sets DNSServer, which the config's
	// dns_servers then names (see internal/resolve/dnstest).
	DNS []string `yaml:"dns"`
	// HTTP are the answers of an HTTP server started on 127.0.0.1 for
	// the run; {http} in params and in the folder's scripts stands for
	// its host:port, and {httpdown} for a port nothing listens on.
	HTTP []HTTPAnswer `yaml:"http"`
	// Redis asks for a redis-server: the caller starts one on 127.0.0.1
	// (internal/testsvc) and sets RedisPort; in params {redis_port} is its
	// port and {redis_db} the engine's own database (1, 2, 3), so each
	// engine starts from an empty one.
	Redis bool `yaml:"redis"`
	// SQL names the SQL databases (postgres, mysql) the folder's own
	// script runs against, each in turn: the caller starts each one
	// empty, sets DBURL (which {db_url} in Params stands for) and Seed,
	// which runs the folder's seed.sql before every engine's run, so
	// each engine starts from the same rows.
	SQL []string `yaml:"sql"`
}

// HTTPAnswer is what the scenario's HTTP server answers on a path.
type HTTPAnswer struct {
	Path   string `yaml:"path"`
	Status int    `yaml:"status"` // default 200
	Body   string `yaml:"body"`
	// Repeat sends Body this many times (a huge answer).
	Repeat int `yaml:"repeat"`
	// Delay waits this long (Go syntax) before answering.
	Delay string `yaml:"delay"`
	// Trickle sends the body one byte per this duration (a slow-loris
	// server).
	Trickle string `yaml:"trickle"`
	// Header lines to answer with, "Name: value".
	Headers []string `yaml:"headers"`
}

// Step is one message in, or one move of the clock, and what it must
// produce.
type Step struct {
	// Send is a message file in the scenario folder.
	Send string `yaml:"send"`
	// From is the message's source address; default 127.0.0.1:5999.
	From string `yaml:"from"`
	// Proto is the transport the message comes over: udp (default), tcp,
	// tls, ws or wss (SIP over an upgraded WebSocket connection; an HTTP
	// request goes over tcp or tls). Replies over them are recorded like
	// UDP's.
	Proto string `yaml:"proto"`
	// Conn is the connection id of a tcp or tls message ($conid);
	// default 1.
	Conn uint64 `yaml:"conn"`
	// Wait moves the fake clock on by this duration (Go syntax: 31s,
	// 500ms) before the step's message, firing the timers due.
	Wait string `yaml:"wait"`
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
	// Settle waits up to this long in real time (Go syntax) for the
	// messages Expect lists, for what is sent later by a goroutine
	// (http_async_client's callbacks).
	Settle string `yaml:"settle"`
}

// Scenario is a loaded scenario folder.
type Scenario struct {
	Dir  string
	Name string // the folder's base name
	File
	// DNSServer, when set, is the host:port the folder's own script's
	// config gives as dns_servers.
	DNSServer string
	// RedisPort is the port of the redis-server started for Redis.
	RedisPort int
	// DBURL is the db_url of the database the caller started for SQL;
	// Seed, when set, runs before each engine's run.
	DBURL string
	Seed  func() error
}

// Load reads dir/scenario.yaml, refusing unknown fields, and checks that
// every step's message file and duration are there.
func Load(dir string) (*Scenario, error) {
	path := filepath.Join(dir, "scenario.yaml")
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: not a scenario folder: expected a scenario.yaml in it", dir)
	}
	if err != nil {
		return nil, err
	}
	sc := &Scenario{Dir: dir, Name: filepath.Base(filepath.Clean(dir))}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&sc.File); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(sc.Steps) == 0 {
		return nil, fmt.Errorf("%s: no steps: expected a list of steps, each with send: FILE or wait: DURATION", path)
	}
	for i, st := range sc.Steps {
		if st.Send == "" && st.Wait == "" {
			return nil, fmt.Errorf("%s: step %d: expected send: FILE or wait: DURATION, got neither", path, i+1)
		}
		if st.Wait != "" {
			if d, err := time.ParseDuration(st.Wait); err != nil || d < 0 {
				return nil, fmt.Errorf("%s: step %d: wait: expected a duration such as 31s or 500ms, got %q", path, i+1, st.Wait)
			}
		}
		if st.Settle != "" {
			if d, err := time.ParseDuration(st.Settle); err != nil || d < 0 {
				return nil, fmt.Errorf("%s: step %d: settle: expected a duration such as 3s, got %q", path, i+1, st.Settle)
			}
		}
		if st.From != "" {
			if _, err := netip.ParseAddrPort(st.From); err != nil {
				return nil, fmt.Errorf("%s: step %d: from: expected IP:PORT, got %q", path, i+1, st.From)
			}
		}
		switch st.Proto {
		case "", "udp", "tcp", "tls", "ws", "wss":
		default:
			return nil, fmt.Errorf("%s: step %d: proto: expected udp, tcp, tls, ws or wss, got %q", path, i+1, st.Proto)
		}
		if st.Send != "" {
			if _, err := os.Stat(filepath.Join(dir, st.Send)); err != nil {
				return nil, fmt.Errorf("%s: step %d: send: %v", path, i+1, err)
			}
		}
	}
	return sc, nil
}

// HasScripts reports whether the folder carries its own script
// (script.lua, script.js or script.star), as the project's scenarios do.
func (sc *Scenario) HasScripts() bool {
	for _, e := range Engines {
		if _, err := os.Stat(filepath.Join(sc.Dir, "script."+e.Ext)); err == nil {
			return true
		}
	}
	return false
}

// Engine is a script engine a folder's own script runs in.
type Engine struct{ Module, CfgEngine, Ext string }

// Engines are the engines a folder's own script runs in.
var Engines = []Engine{
	{"app_lua", "lua", "lua"},
	{"app_jsdt", "jsdt", "js"},
	{"app_starlark", "starlark", "star"},
}

// Result is one run of a scenario.
type Result struct {
	Scenario string // the folder
	Engine   string // cfgengine of the folder's own script, or the config file
	// Skipped says why the run did not happen (pending), or is "".
	Skipped  string
	Failures []string
	// Sent is every message sent, for comparing engines with each other.
	Sent string
	// Log is everything logged.
	Log string
}

// Failed reports whether any expectation failed.
func (r *Result) Failed() bool { return len(r.Failures) > 0 }

func (r *Result) fail(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

// RunConfig runs the scenario against a config (kemi test -f): the
// config gives the modules and the script; the folder's modules, params
// and scripts are not used.
func RunConfig(sc *Scenario, opt loader.Options) *Result {
	res := &Result{Scenario: sc.Dir, Engine: opt.Path}
	restore := setEnv(sc.Env)
	defer restore()
	run(sc, opt, res, "")
	return res
}

// RunEngines runs the folder's own script in each engine it names, and
// checks that every engine sent the same bytes. Runs of engines the
// scenario skips come back with Skipped set.
func RunEngines(sc *Scenario) []*Result {
	var out []*Result
	for _, e := range Engines {
		if len(sc.Engines) > 0 && !slices.Contains(sc.Engines, e.CfgEngine) {
			continue
		}
		out = append(out, RunEngine(sc, e))
	}
	return out
}

// RunEngine runs the folder's own script in one engine.
func RunEngine(sc *Scenario, e Engine) *Result {
	res := &Result{Scenario: sc.Dir, Engine: e.CfgEngine}
	if why, ok := sc.Pending[e.CfgEngine]; ok {
		res.Skipped = "pending: " + why
		return res
	}
	restore := setEnv(sc.Env)
	defer restore()
	script := "script." + e.Ext
	src, err := os.ReadFile(filepath.Join(sc.Dir, script))
	if err != nil {
		res.fail("scenario has no %s: %v", script, err)
		return res
	}
	subst := func(s string) string { return s }
	if len(sc.HTTP) > 0 {
		h, err := startHTTP(sc.HTTP)
		if err != nil {
			res.fail("starting the scenario's HTTP server: %v", err)
			return res
		}
		defer h.close()
		subst = strings.NewReplacer("{http}", h.addr, "{httpdown}", h.down).Replace
		src = []byte(subst(string(src)))
	}
	var cfg strings.Builder
	cfg.WriteString("#!KAMAILIO\ndebug=3\nlog_stderror=yes\n")
	if sc.DNSServer != "" {
		cfg.WriteString("dns_servers=\"" + sc.DNSServer + "\"\n")
	} else if len(sc.DNS) > 0 {
		res.fail("the scenario has dns: records but no DNS server was started for them")
		return res
	}
	if len(sc.SQL) > 0 && sc.DBURL == "" {
		res.fail("the scenario names sql: databases but none was started for it")
		return res
	}
	if sc.Seed != nil {
		if err := sc.Seed(); err != nil {
			res.fail("seeding the database: %v", err)
			return res
		}
	}
	for _, m := range sc.Modules {
		cfg.WriteString("loadmodule \"" + m + ".so\"\n")
	}
	cfg.WriteString("loadmodule \"" + e.Module + ".so\"\n")
	if sc.Disk {
		abs, err := filepath.Abs(filepath.Join(sc.Dir, script))
		if err != nil {
			res.fail("%v", err)
			return res
		}
		script = abs
	}
	cfg.WriteString("modparam(\"" + e.Module + "\", \"load\", \"" + script + "\")\n")
	if sc.Redis && sc.RedisPort == 0 {
		res.fail("the scenario has redis: true but no redis-server was started for it")
		return res
	}
	for _, p := range sc.Params {
		p = strings.ReplaceAll(p, "{module}", e.Module)
		p = strings.ReplaceAll(p, "{db_url}", sc.DBURL)
		if sc.Redis {
			p = strings.ReplaceAll(p, "{redis_port}", strconv.Itoa(sc.RedisPort))
			p = strings.ReplaceAll(p, "{redis_db}", strconv.Itoa(1+slices.IndexFunc(Engines, func(x Engine) bool { return x.CfgEngine == e.CfgEngine })))
		}
		cfg.WriteString(subst(p) + "\n")
	}
	cfg.WriteString("cfgengine \"" + e.CfgEngine + "\"\n")
	opts := loader.Options{Path: "kamailio.cfg", FS: fstest.MapFS{
		"kamailio.cfg": {Data: []byte(cfg.String())},
		script:         {Data: src},
	}}
	if sc.Disk {
		tmp, err := os.MkdirTemp("", "kemi-scenario-")
		if err != nil {
			res.fail("%v", err)
			return res
		}
		defer os.RemoveAll(tmp)
		opts.Path = filepath.Join(tmp, "kamailio.cfg")
		opts.FS = nil
		if err := os.WriteFile(opts.Path, []byte(cfg.String()), 0o644); err != nil {
			res.fail("%v", err)
			return res
		}
	}
	if !run(sc, opts, res, script) {
		res.Failures[len(res.Failures)-1] += "\nconfig:\n" + cfg.String()
	}
	return res
}

// CompareEngines says how the runs' sent bytes differ, if they do: a
// scenario is one behaviour in every language.
func CompareEngines(runs []*Result) []string {
	var ran []*Result
	for _, r := range runs {
		if r.Skipped == "" && !r.Failed() {
			ran = append(ran, r)
		}
	}
	sort.Slice(ran, func(i, j int) bool { return ran[i].Engine < ran[j].Engine })
	var out []string
	for _, r := range ran[min(1, len(ran)):] {
		if r.Sent != ran[0].Sent {
			out = append(out, fmt.Sprintf("engines differ:\n--- %s\n%s\n--- %s\n%s", ran[0].Engine, ran[0].Sent, r.Engine, r.Sent))
		}
	}
	return out
}

// DefaultFrom is where a step's message comes from unless it says.
var DefaultFrom = netip.MustParseAddrPort("127.0.0.1:5999")

// run builds an offline server for opt and plays the steps. It reports
// whether the server loaded (false: the one failure says why).
func run(sc *Scenario, opt loader.Options, res *Result, script string) bool {
	log := &syncBuffer{}
	opt.LogOut = log
	defer func() { res.Log = log.String() }()
	var mu sync.Mutex
	var sent [][]byte // what the current step sent, in order
	record := func(b []byte) {
		mu.Lock()
		sent = append(sent, b)
		mu.Unlock()
	}
	clock := &FakeClock{}
	srv, err := server.New(server.Options{
		Options: opt,
		Offline: true,
		Out:     func(b []byte, _ core.Proto, _ netip.AddrPort) { record(b) },
		Clock:   clock,
	})
	if err != nil {
		res.fail("load: %v", err)
		return false
	}
	defer srv.Close()
	w, err := srv.Worker(localAddr(srv.Setup))
	if err != nil {
		res.fail("building a worker: %v", err)
		return false
	}
	out := writerFunc(func(b []byte, _ netip.AddrPort) error {
		record(append([]byte(nil), b...))
		return nil
	})
	var all strings.Builder
	for i, st := range sc.Steps {
		before := log.Len()
		mu.Lock()
		sent = sent[:0]
		mu.Unlock()
		what := st.Send
		if st.Wait != "" {
			d, _ := time.ParseDuration(st.Wait) // checked by Load
			clock.Advance(d)
			if what == "" {
				what = "wait " + st.Wait
			} else {
				what = "wait " + st.Wait + ", " + what
			}
		}
		if st.Send != "" {
			msg, err := os.ReadFile(filepath.Join(sc.Dir, st.Send))
			if err != nil {
				res.fail("step %d: %v", i+1, err)
				continue
			}
			from := DefaultFrom
			if st.From != "" {
				from = netip.MustParseAddrPort(st.From) // checked by Load
			}
			switch st.Proto {
			case "tcp", "tls", "ws", "wss":
				proto, conn := core.TCP, st.Conn
				switch st.Proto {
				case "tls":
					proto = core.TLS
				case "ws":
					proto = core.WS
				case "wss":
					proto = core.WSS
				}
				if conn == 0 {
					conn = 1
				}
				w.HandleAs(crlf(msg), from, proto, conn, out)
			default:
				w.HandlePacket(crlf(msg), from, out)
			}
		}
		if st.Settle != "" {
			d, _ := time.ParseDuration(st.Settle) // checked by Load
			for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
				mu.Lock()
				n := len(sent)
				mu.Unlock()
				if n >= len(st.Expect) {
					break
				}
			}
			if len(st.Expect) == 0 {
				time.Sleep(d)
			}
		}
		mu.Lock()
		stepSent := slices.Clone(sent)
		mu.Unlock()
		var got []string
		var text strings.Builder
		for _, b := range stepSent {
			text.Write(b)
			line, _, _ := bytes.Cut(b, []byte("\r\n"))
			got = append(got, string(line))
			all.Write(b)
			all.WriteString("\n----\n")
		}
		stepLog := log.String()[before:]
		if !slices.Equal(got, nonNil(st.Expect)) {
			res.fail("step %d (%s): sent messages differ (- expected, + sent):\n%s\nlog of the step:\n%s",
				i+1, what, Diff(st.Expect, got), indent(stepLog))
		}
		for _, want := range st.Has {
			if !strings.Contains(text.String(), want) {
				res.fail("step %d (%s): sent messages lack %q:\n%s", i+1, what, want, indent(text.String()))
			}
		}
		for _, bad := range st.HasNot {
			if strings.Contains(text.String(), bad) {
				res.fail("step %d (%s): sent messages have %q:\n%s", i+1, what, bad, indent(text.String()))
			}
		}
		for _, want := range st.Log {
			want = strings.ReplaceAll(want, "{script}", script)
			if !strings.Contains(stepLog, want) {
				res.fail("step %d (%s): log lacks %q; log of the step:\n%s", i+1, what, want, indent(stepLog))
			}
		}
		for _, bad := range st.NoLog {
			if strings.Contains(stepLog, bad) {
				res.fail("step %d (%s): log has %q; log of the step:\n%s", i+1, what, bad, indent(stepLog))
			}
		}
	}
	if sc.ScriptErrors != nil {
		if n := srv.Router.ScriptErrors.Load(); n != *sc.ScriptErrors {
			res.fail("script errors = %d, want %d; log:\n%s", n, *sc.ScriptErrors, indent(log.String()))
		}
	}
	res.Sent = all.String()
	return true
}

// localAddr is the address messages arrive on: the first listen address
// when it is one address, else 127.0.0.1 on its port.
func localAddr(s *loader.Setup) netip.AddrPort {
	port := 5060
	if len(s.Listens) > 0 {
		l := s.Listens[0]
		if l.Port > 0 {
			port = l.Port
		}
		if a, err := netip.ParseAddr(strings.Trim(l.Host, "[]")); err == nil && !a.IsUnspecified() {
			return netip.AddrPortFrom(a.Unmap(), uint16(port))
		}
	}
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
}

// setEnv sets vars and returns what puts the environment back.
func setEnv(vars map[string]string) func() {
	type old struct {
		v  string
		ok bool
	}
	saved := map[string]old{}
	for k, v := range vars {
		o, ok := os.LookupEnv(k)
		saved[k] = old{o, ok}
		os.Setenv(k, v)
	}
	return func() {
		for k, o := range saved {
			if o.ok {
				os.Setenv(k, o.v)
			} else {
				os.Unsetenv(k)
			}
		}
	}
}

// crlf turns the LF line ends of a message file into CRLF, keeping a
// message that is already CRLF as it is, and fixes nothing else.
func crlf(b []byte) []byte {
	if bytes.Contains(b, []byte("\r\n")) {
		return b
	}
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func indent(s string) string {
	s = strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	if s == "" {
		return "    (nothing)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// FakeClock is a core.SteppedClock: time moves only in Advance, which
// fires the registered timers every 10 ms of the way, as the real timer
// goroutine ticks.
type FakeClock struct {
	mu    sync.Mutex
	now   int64
	fires []func(now int64)
}

// Tick is the step Advance moves the clock by between firings.
const Tick = 10 * time.Millisecond

// Now is the fake time.
func (c *FakeClock) Now() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// OnAdvance registers a module's timer function.
func (c *FakeClock) OnAdvance(fire func(now int64)) {
	c.mu.Lock()
	c.fires = append(c.fires, fire)
	c.mu.Unlock()
}

// Advance moves the clock on by d, firing the timers at each tick.
func (c *FakeClock) Advance(d time.Duration) {
	end := c.Now() + int64(d)
	for {
		c.mu.Lock()
		now := min(c.now+int64(Tick), end)
		c.now = now
		fires := slices.Clone(c.fires)
		c.mu.Unlock()
		for _, f := range fires {
			f(now)
		}
		if now >= end {
			return
		}
	}
}

var _ core.SteppedClock = (*FakeClock)(nil)

// writerFunc is a transport.Writer.
type writerFunc func(b []byte, to netip.AddrPort) error

func (f writerFunc) WriteTo(b []byte, to netip.AddrPort) error { return f(b, to) }

// syncBuffer is a log sink written from timers and workers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
