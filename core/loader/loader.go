// Package loader turns a kamailio.cfg-style file into a running setup: it
// parses the config, resolves the modules, builds the core.Runtime, and
// compiles the routing script with the engine cfgengine names. `kemi serve`
// and `kemi check` share it, so check reports exactly what serve would.
package loader

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/syslog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"kemi/core"
	"kemi/core/config"
	"kemi/core/scriptcheck"
	"kemi/internal/memguard"
	"kemi/internal/resolve"
	"kemi/sip"
)

// Options says where the config comes from and what the command line set.
type Options struct {
	Path    string            // config file; "" uses FS/DefaultPath
	FS      fs.FS             // when set, files (config, includes, script) are read from it
	Defines map[string]string // -A NAME[=VALUE]
	Listens []string          // -l proto:addr:port, overriding listen= in the config
	Workers int               // -n; 0 keeps children from the config
	MemMB   int               // -m; 0 keeps shm_mem_size from the config
	LogOut  io.Writer         // default os.Stderr
	// Syslog lets log_stderror=no send the log to syslog instead of
	// LogOut: kemi serve sets it; kemi check and kemi test keep their
	// lines on the terminal.
	Syslog bool
	// Check resolves the script's KSR calls against the loaded modules
	// (core/scriptcheck), as `kemi check` does: an error there fails the
	// load and Setup.Diags keeps the warnings. Strict makes a call into a
	// module that is not loaded an error.
	Check, Strict bool

	// Wire, when set, runs once the script is compiled and before the
	// modules start: the server gives the runtime what it sends through,
	// its is_myself policy and its VM builder there, so start hooks and
	// timers find them set.
	Wire func(*Setup) error
}

// Setup is a loaded config, ready to serve.
type Setup struct {
	Config  *config.Config
	RT      *core.Runtime
	Program core.Program
	Engine  *core.EngineInfo
	Script  string
	Listens []config.Listen
	Workers int
	MemMB   int                // the memory budget in MB: -m, else shm_mem_size, else memguard.DefaultMB
	Diags   []scriptcheck.Diag // with Options.Check: the warnings
}

// always are the modules every script sees without a loadmodule: the core
// functions (KSR.info), KSR.x, KSR.hdr and KSR.pv, which Kamailio builds
// into its core too (its shipped scripts call KSR.hdr.remove without
// loading anything for it). What a module brings along (pv brings pvx,
// which Kamailio's pv.so exports beside its pseudo-variables) comes from
// its spec (brings: in module.yaml), for these and for loaded modules.
var always = []string{"", "x", "hdr", "pv"}

// Load parses the config and compiles its script. The error lists every
// problem found, each with file:line:col.
func Load(opt Options) (*Setup, error) {
	read := os.ReadFile
	if opt.FS != nil {
		read = func(p string) ([]byte, error) { return fs.ReadFile(opt.FS, strings.TrimPrefix(p, "/")) }
	}
	cfg, err := config.Load(opt.Path, config.Options{Defines: opt.Defines, ReadFile: read})
	if err != nil {
		return nil, err
	}
	s := &Setup{Config: cfg}
	out := opt.LogOut
	if out == nil {
		out = os.Stderr
	}
	rt, err := buildRuntime(cfg, out, opt.Syslog)
	if err != nil {
		return nil, err
	}
	s.RT = rt
	rt.Defines = cfg.Defines
	for _, n := range cfg.Notices {
		rt.Log.Log(core.LNotice, nil, n)
	}

	// Listeners: -l wins over listen=, then port=, then Kamailio's default.
	if len(opt.Listens) > 0 {
		for _, l := range opt.Listens {
			ln, err := config.ParseListen(l)
			if err != nil {
				return nil, fmt.Errorf("-l %s: %w", l, err)
			}
			if ln.Port == 0 {
				ln.Port = 5060
				if ln.Proto == "tls" || ln.Proto == "wss" {
					ln.Port = 5061
				}
			}
			s.Listens = append(s.Listens, ln)
		}
	} else {
		s.Listens = cfg.Listens
	}
	if len(s.Listens) == 0 {
		port := 5060
		if v, ok := cfg.Global("port"); ok && v.Kind == core.KInt {
			port = int(v.I)
		}
		s.Listens = []config.Listen{{Proto: "udp", Host: "0.0.0.0", Port: port}}
	}
	// RFC 3263 picks among the transports kemi can send over: UDP, and
	// TCP and TLS when there is a listen for them (their Via needs it).
	if protos := resolveProtos(s.Listens); protos != resolve.UDP {
		c := dnsConfig(rt.Globals)
		c.Protos = protos
		resolve.SetDefault(resolve.New(c))
	}
	// The is_myself policy without auto_aliases' reverse lookups, which
	// the server adds when it starts (ResolveMyself).
	rt.Myself = Myself(s.Listens, cfg.Aliases, nil)
	s.Workers = opt.Workers
	if s.Workers <= 0 {
		s.Workers = 8 // Kamailio's default children
		if v, ok := cfg.Global("children"); ok && v.Kind == core.KInt && v.I > 0 {
			s.Workers = int(v.I)
		}
	}

	s.MemMB = opt.MemMB
	if s.MemMB < 0 {
		return nil, fmt.Errorf("-m %d: expected a memory budget in MB > 0", s.MemMB)
	}
	if s.MemMB == 0 {
		s.MemMB = memguard.DefaultMB
		for _, g := range cfg.Globals {
			if g.Name != "shm_mem_size" {
				continue
			}
			if g.Value.Kind != core.KInt || g.Value.I <= 0 {
				return nil, fmt.Errorf("%s: shm_mem_size: expected a memory budget in MB > 0, got %s", g.Pos, g.Value.String())
			}
			s.MemMB = int(g.Value.I)
		}
	}

	if cfg.Engine == "" {
		return nil, fmt.Errorf("%s: no cfgengine: kemi's native route blocks are not available yet; "+
			"load an engine module and set cfgengine to one of: %s", cfgPos(cfg, opt.Path), core.EngineList(nil, nil))
	}
	eng := core.LookupEngine(cfg.Engine)
	if eng == nil {
		return nil, fmt.Errorf("%s: cfgengine %q: unknown engine; this kemi has %s", cfg.EnginePos, cfg.Engine, core.EngineList(nil, nil))
	}
	s.Engine = eng
	script := rt.Param(eng.Module, "load")
	if script.Kind != core.KStr || script.S == "" {
		return nil, fmt.Errorf("%s: cfgengine %q: no script: set modparam(\"%s\", \"load\", \"/path/to/script\")", cfg.EnginePos, cfg.Engine, eng.Module)
	}
	s.Script = resolveScript(script.S, opt.Path, read)
	src, err := read(s.Script)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: modparam(\"%s\", \"load\"): script %s does not exist", modparamPos(cfg, eng.Module, "load"), eng.Module, script.S)
		}
		return nil, fmt.Errorf("%s: reading script: %w", modparamPos(cfg, eng.Module, "load"), err)
	}
	prog, err := eng.Engine.Compile(s.Script, src, rt)
	if err != nil {
		return nil, err
	}
	if !prog.Has(rt.Callback("ksr_request_route")) {
		return nil, fmt.Errorf("%s: the script defines no %s() function; it is required", s.Script, rt.Callback("ksr_request_route"))
	}
	s.Program = prog
	if opt.Check {
		if err := s.checkScript(eng, src, opt.Strict, read); err != nil {
			return nil, err
		}
	}
	if opt.Wire != nil {
		if err := opt.Wire(s); err != nil {
			return nil, err
		}
	}
	if err := rt.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

// ResolveMyself rebuilds RT.Myself with auto_aliases (Kamailio's default,
// yes): the names the listen addresses resolve back to, by the system
// resolver and the hosts file, looked up once now. Listens may have been
// replaced by what the server bound.
func (s *Setup) ResolveMyself() {
	var lookup Lookup
	if v, ok := s.Config.Global("auto_aliases"); !ok || v.Truth() {
		lookup = net.DefaultResolver.LookupAddr
	}
	s.RT.Myself = Myself(s.Listens, s.Config.Aliases, lookup)
}

func cfgPos(cfg *config.Config, path string) string {
	if path == "" {
		return "config"
	}
	return path
}

func modparamPos(cfg *config.Config, module, name string) string {
	for _, mp := range cfg.ModParams {
		if mp.Module == module && mp.Name == name {
			return mp.Pos.String()
		}
	}
	return cfg.EnginePos.String()
}

func buildRuntime(cfg *config.Config, logOut io.Writer, syslogOK bool) (*core.Runtime, error) {
	var specs []*core.ModuleSpec
	seen := map[string]bool{}
	var add func(m *core.ModuleSpec)
	add = func(m *core.ModuleSpec) {
		if m == nil || seen[m.Name] {
			return
		}
		specs = append(specs, m)
		seen[m.Name] = true
		for _, b := range m.Brings {
			add(core.Known(b))
		}
	}
	for _, n := range always {
		add(core.Known(n))
	}
	for _, lm := range cfg.Modules {
		add(lm.Spec)
	}
	reg, err := core.NewRegistry(specs...)
	if err != nil {
		return nil, err
	}
	rt := &core.Runtime{
		Reg:        reg,
		Params:     map[string]map[string][]core.Value{},
		Globals:    map[string]core.Value{},
		StepBudget: core.DefaultStepBudget,
		TimeBudget: core.DefaultTimeBudget,
		Callbacks:  map[string]string{},
	}
	for _, g := range cfg.Globals {
		rt.Globals[g.Name] = g.Value
	}
	// Every load sets it, so a reload that drops the line turns it off.
	maddr := rt.Globals["reply_to_via_maddr"]
	sip.SetReplyToViaMaddr((maddr.Kind == core.KBool || maddr.Kind == core.KInt) && maddr.I != 0)
	for _, mp := range cfg.ModParams {
		if rt.Params[mp.Module] == nil {
			rt.Params[mp.Module] = map[string][]core.Value{}
		}
		rt.Params[mp.Module][mp.Name] = append(rt.Params[mp.Module][mp.Name], mp.Value)
	}
	if err := setSignature(rt, cfg); err != nil {
		return nil, err
	}
	resolve.SetDefault(resolve.New(dnsConfig(rt.Globals)))
	for _, cb := range []string{"request_route", "reply_route", "onsend_route", "event_route"} {
		if v, ok := rt.Globals["kemi."+cb+"_callback"]; ok && v.Kind == core.KStr && v.S != "" {
			rt.Callbacks["ksr_"+cb] = v.S
		}
	}
	lg, err := newLogger(rt.Globals, logOut, syslogOK)
	if err != nil {
		return nil, err
	}
	rt.Log = lg
	return rt, nil
}

// setSignature reads server_signature, server_header and
// user_agent_header into rt.Signature, once: replies then write the line
// as it is, with no work per reply. A header that is not one line of the
// form "Name: value" is an error, as it would break every reply.
func setSignature(rt *core.Runtime, cfg *config.Config) error {
	if v, ok := cfg.Global("server_signature"); ok {
		rt.Signature.Off = !v.Truth()
	}
	for _, g := range cfg.Globals {
		var dst *string
		switch g.Name {
		case "server_header":
			dst = &rt.Signature.Server
		case "user_agent_header":
			dst = &rt.Signature.UserAgent
		default:
			continue
		}
		line := strings.TrimRight(g.Value.S, " \t")
		if err := checkHeaderLine(line); err != nil {
			return fmt.Errorf("%s: %s: %v", g.Pos, g.Name, err)
		}
		*dst = line
	}
	return nil
}

// checkHeaderLine wants one header line without its CRLF: a header name,
// a colon and a value of printable characters.
func checkHeaderLine(s string) error {
	name, value, ok := strings.Cut(s, ":")
	if !ok || name == "" {
		return fmt.Errorf("expected a whole header line like \"Server: my proxy\", got %q", s)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-.!%*_+`'~", c) >= 0) {
			return fmt.Errorf("header name %q: %q is not allowed in a header name", name, c)
		}
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < ' ' && c != '\t' || c == 0x7f {
			return fmt.Errorf("control character %q in the value; the header must be one line", c)
		}
	}
	return nil
}

// newLogger applies debug, log_prefix, log_format, and log_stderror=no
// with log_facility and log_name (syslog).
func newLogger(g map[string]core.Value, out io.Writer, syslogOK bool) (*core.Logger, error) {
	lg := &core.Logger{Level: core.LWarn, Out: out}
	if v, ok := g["debug"]; ok {
		switch v.Kind {
		case core.KInt:
			lg.Level = int(v.I)
		case core.KStr:
			n, err := strconv.Atoi(v.S)
			if err != nil {
				return nil, fmt.Errorf("debug: expected a level from -5 to 3, got %q", v.S)
			}
			lg.Level = n
		}
	}
	if v, ok := g["log_prefix"]; ok && v.Kind == core.KStr && v.S != "" {
		f, err := core.CompileFormat(v.S)
		if err != nil {
			return nil, fmt.Errorf("log_prefix: %w", err)
		}
		lg.Prefix = func(ctx *core.Ctx, dst []byte) []byte { return f.Append(dst, ctx) }
	}
	if v, ok := g["log_format"]; ok {
		switch strings.ToLower(v.S) {
		case "text", "":
		case "json":
			lg.Format = core.LogJSON
		default:
			return nil, fmt.Errorf("log_format: expected text or json, got %q", v.S)
		}
	}
	facility := syslog.LOG_DAEMON // Kamailio's default
	if v, ok := g["log_facility"]; ok && v.S != "" {
		f, ok := core.SyslogFacility(strings.ToUpper(v.S))
		if !ok {
			return nil, fmt.Errorf("log_facility: expected a syslog facility (LOG_DAEMON, LOG_LOCAL0 to LOG_LOCAL7, ...), got %q", v.S)
		}
		facility = f
	}
	// Kamailio logs to syslog unless log_stderror=yes; kemi keeps stderr
	// unless the config says log_stderror=no, so that a config without the
	// line does not lose its log where no syslog daemon runs.
	if v, ok := g["log_stderror"]; ok && !v.Truth() && syslogOK {
		tag := "kemi"
		if n, ok := g["log_name"]; ok && n.S != "" {
			tag = n.S
		}
		var w *syslog.Writer
		var err error
		if SyslogPath != "" {
			w, err = syslog.Dial("unixgram", SyslogPath, facility|syslog.LOG_INFO, tag)
		} else {
			w, err = syslog.New(facility|syslog.LOG_INFO, tag)
		}
		if err != nil {
			lg.Log(core.LNotice, nil, "kemi: log_stderror=no: no syslog to write to ("+err.Error()+"); logging to stderr")
		} else {
			lg.Syslog = w
		}
	}
	return lg, nil
}

// SyslogPath, when set, is the syslog socket log_stderror=no writes to
// instead of the system's (/dev/log): for tests only.
var SyslogPath string

// resolveScript finds a relative script path as given (from the working
// directory, as Kamailio does) or, failing that, beside the config file, so
// a config and its script can move together.
func resolveScript(script, cfgPath string, read func(string) ([]byte, error)) string {
	if filepath.IsAbs(script) || cfgPath == "" {
		return script
	}
	if _, err := read(script); err == nil {
		return script
	}
	alt := filepath.Join(filepath.Dir(cfgPath), script)
	if _, err := read(alt); err == nil {
		return alt
	}
	return script
}

// checkScript runs core/scriptcheck over the compiled script. Every
// finding is in the error (errors and warnings, in script order), so
// `kemi check` prints them all; without errors the warnings stay in Diags.
func (s *Setup) checkScript(eng *core.EngineInfo, src []byte, strict bool, read func(string) ([]byte, error)) error {
	lang, ok := scriptcheck.LangOf(eng.Module)
	if !ok {
		return nil
	}
	env := scriptcheck.Env{Reg: s.RT.Reg, Strict: strict, Defined: s.Program.Has, ReadFile: read}
	// Function names the config hands to the script: kemi.*_callback
	// (request_route is required above) and event_callback modparams.
	for _, g := range s.Config.Globals {
		if strings.HasPrefix(g.Name, "kemi.") && strings.HasSuffix(g.Name, "_callback") &&
			g.Name != "kemi.request_route_callback" && g.Value.Kind == core.KStr {
			env.Routes = append(env.Routes, scriptcheck.Route{Name: g.Value.S, Where: g.Pos.String() + ": " + g.Name})
		}
	}
	for _, mp := range s.Config.ModParams {
		if mp.Name == "event_callback" && mp.Value.Kind == core.KStr {
			env.Routes = append(env.Routes, scriptcheck.Route{Name: mp.Value.S,
				Where: fmt.Sprintf("%s: modparam(%q, %q)", mp.Pos, mp.Module, mp.Name)})
		}
	}
	s.Diags = scriptcheck.Check(lang, s.Script, src, env)
	if scriptcheck.Errors(s.Diags) == 0 {
		return nil
	}
	lines := make([]string, len(s.Diags))
	for i, d := range s.Diags {
		lines[i] = d.String()
	}
	return errors.New(strings.Join(lines, "\n"))
}

// dnsConfig reads the dns_* core parameters (and kemi's dns_servers) into
// the resolver's configuration; what is not set keeps the resolver's
// defaults (see docs/dns.md). Values were checked by the config parser.
// resolveProtos are the transports next hops may be resolved to: UDP,
// and TCP and TLS for a tcp: or tls: listen.
func resolveProtos(ls []config.Listen) resolve.Proto {
	p := resolve.UDP
	for _, l := range ls {
		switch l.Proto {
		case "tcp":
			p |= resolve.TCP
		case "tls":
			p |= resolve.TLS
		}
	}
	return p
}

func dnsConfig(g map[string]core.Value) resolve.Config {
	var c resolve.Config
	if v, ok := g["dns_servers"]; ok {
		c.Servers, _ = resolve.ParseServers(v.S)
	}
	num := func(name string) (int64, bool) {
		v, ok := g[name]
		return v.I, ok && (v.Kind == core.KInt || v.Kind == core.KBool)
	}
	off := func(name string) bool {
		n, ok := num(name)
		return ok && n == 0
	}
	if n, ok := num("dns_retr_time"); ok && n > 0 {
		c.Timeout = time.Duration(n) * time.Second
	}
	if n, ok := num("dns_retr_no"); ok && n > 0 {
		c.Attempts = int(n)
	}
	c.NoIPv6 = off("dns_try_ipv6")
	c.NoNAPTR = off("dns_try_naptr")
	if n, ok := num("dns_srv_lb"); ok {
		c.SRVLoadBalance = n != 0
	}
	c.NoCache = off("use_dns_cache")
	c.NoFailover = off("use_dns_failover")
	if n, ok := num("dns_cache_min_ttl"); ok {
		c.MinTTL = time.Duration(n) * time.Second
	}
	if n, ok := num("dns_cache_max_ttl"); ok {
		c.MaxTTL = time.Duration(n) * time.Second
	}
	if n, ok := num("dns_cache_negative_ttl"); ok {
		c.NegTTL = time.Duration(n) * time.Second
		if n == 0 {
			c.NegTTL = -1 // 0 turns negative caching off, as in Kamailio
		}
	}
	if n, ok := num("dns_cache_mem"); ok && n > 0 {
		// Kamailio's bound is KB of shared memory; an entry here costs
		// about 256 bytes with its records (names, a few addresses).
		c.MaxEntries = int(max(n*1024/256, 16))
	}
	return c
}
