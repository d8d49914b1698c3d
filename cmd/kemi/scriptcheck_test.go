package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"kemi/core/loader"
)

// repoRoot is the repository, two levels up from cmd/kemi.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkFindings loads cfg as `kemi check` does and returns what it printed
// besides "ok" and notices, and its exit code.
func checkFindings(t *testing.T, args ...string) (int, []string) {
	t.Helper()
	var out, errb bytes.Buffer
	rc := run(append([]string{"check"}, args...), &out, &errb)
	var lines []string
	for _, l := range strings.Split(errb.String(), "\n") {
		if l != "" && !strings.Contains(l, "NOTICE") {
			lines = append(lines, l)
		}
	}
	if rc == 0 && strings.TrimSpace(out.String()) != "ok" {
		t.Errorf("rc 0 without ok: %q", out.String())
	}
	return rc, lines
}

// Issue 12: Kamailio's own example Lua script, run by its config, checks
// with no error. It probes for permissions and rtpproxy before calling
// them (`if KSR.rtpproxy then`), so their calls are warnings only.
func TestScriptCheck_KamailioLuaExampleClean(t *testing.T) {
	const script = "/usr/share/doc/kamailio/examples/kemi/kamailio-basic-kemi-lua.lua"
	if _, err := os.Stat(script); err != nil {
		t.Skipf("%s: %v", script, err)
	}
	t.Setenv("KEMI_DB", filepath.Join(t.TempDir(), "kemi.db"))
	start := time.Now()
	rc, lines := checkFindings(t, "-f", filepath.Join(repoRoot(t), "testdata/registrar/kamailio-lua.cfg"))
	t.Logf("kemi check of kamailio-lua.cfg with Kamailio's script: %v", time.Since(start))
	want := []string{
		script + `:295: warning: KSR.permissions.allow_source_address: module permissions is not loaded: add loadmodule "permissions.so" to the config`,
		script + `:356: warning: KSR.rtpproxy.rtpproxy_manage: module rtpproxy is not loaded: add loadmodule "rtpproxy.so" to the config`,
	}
	if rc != 0 || strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("rc %d:\n%s\nwant:\n%s", rc, strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	rc, lines = checkFindings(t, "-strict", "-f", filepath.Join(repoRoot(t), "testdata/registrar/kamailio-lua.cfg"))
	if rc != 1 || len(lines) != 2 || strings.Contains(lines[0], "warning") {
		t.Errorf("-strict: rc %d:\n%s", rc, strings.Join(lines, "\n"))
	}
}

// Issue 12: Kamailio's example JavaScript script checks with no error but
// one, which is real: it calls KSR.hdr.append_hf, which neither Kamailio
// (see ../shared/reference/kamailio-kemi-exports.tsv) nor kemi has, on
// the path for foreign domains, where Kamailio too fails the request.
func TestScriptCheck_KamailioJSExampleClean(t *testing.T) {
	const script = "/usr/share/doc/kamailio/examples/kemi/kamailio-basic-kemi-jsdt.js"
	if _, err := os.Stat(script); err != nil {
		t.Skipf("%s: %v", script, err)
	}
	t.Setenv("KEMI_DB", filepath.Join(t.TempDir(), "kemi.db"))
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "testdata/registrar/kemi-js.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^modparam\("app_jsdt", "load", .*$`)
	if !re.Match(b) {
		t.Fatal("kemi-js.cfg has no app_jsdt load modparam")
	}
	cfg := filepath.Join(t.TempDir(), "kamailio-js.cfg")
	os.WriteFile(cfg, re.ReplaceAll(b, []byte(`modparam("app_jsdt", "load", "`+script+`")`)), 0o644)
	rc, lines := checkFindings(t, "-f", cfg)
	want := []string{
		script + `:246:7: warning: KSR.permissions.allow_source_address: module permissions is not loaded: add loadmodule "permissions.so" to the config`,
		script + `:304:2: warning: KSR.rtpproxy.rtpproxy_manage: module rtpproxy is not loaded: add loadmodule "rtpproxy.so" to the config`,
		script + `:335:2: KSR.hdr.append_hf: module hdr has no function append_hf`,
	}
	if rc != 1 || strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("rc %d:\n%s\nwant:\n%s", rc, strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// Issue 12: every config the project ships checks clean: the registrar
// configs, the seed's, the benchmarks' (with the placeholders their
// scripts fill in).
func TestScriptCheck_ShippedConfigsClean(t *testing.T) {
	root := repoRoot(t)
	t.Setenv("KEMI_DB", filepath.Join(t.TempDir(), "kemi.db"))
	var cfgs []string
	for _, g := range []string{"testdata/registrar/kemi-*.cfg", "testdata/seed/*.cfg", "testdata/bench/seed-*.cfg"} {
		m, _ := filepath.Glob(filepath.Join(root, g))
		cfgs = append(cfgs, m...)
	}
	tmp := t.TempDir()
	// proxy.sh appends UASPORT to a copy of the script.
	for _, ext := range []string{"lua", "js", "star"} {
		b, err := os.ReadFile(filepath.Join(root, "testdata/bench/proxy."+ext))
		if err != nil {
			t.Fatal(err)
		}
		def := "\nUASPORT = 5070\n"
		if ext == "js" {
			def = "\nvar UASPORT = 5070;\n"
		}
		os.WriteFile(filepath.Join(tmp, "proxy."+ext), append(b, def...), 0o644)
		c, err := os.ReadFile(filepath.Join(root, "testdata/bench/proxy-"+ext+".cfg"))
		if err != nil {
			t.Fatal(err)
		}
		cfg := filepath.Join(tmp, "proxy-"+ext+".cfg")
		os.WriteFile(cfg, c, 0o644)
		cfgs = append(cfgs, cfg)
	}
	// register-compare.sh fills in register-kemi.cfg per engine.
	tpl, err := os.ReadFile(filepath.Join(root, "testdata/bench/register-kemi.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []struct{ mod, eng, script string }{
		{"app_lua", "lua", "testdata/registrar/kemi.lua"},
		{"app_jsdt", "jsdt", "testdata/registrar/kemi.js"},
		{"app_starlark", "starlark", "testdata/registrar/kemi.star"},
	} {
		s := strings.NewReplacer("CHILDREN", "2", "PORT", "5099", "SCRIPT", filepath.Join(root, e.script),
			"ENGINEMOD", e.mod, `cfgengine "ENGINE"`, `cfgengine "`+e.eng+`"`).Replace(string(tpl))
		cfg := filepath.Join(tmp, "register-"+e.eng+".cfg")
		os.WriteFile(cfg, []byte(s), 0o644)
		cfgs = append(cfgs, cfg)
	}
	if len(cfgs) < 12 {
		t.Fatalf("only %d configs: %v", len(cfgs), cfgs)
	}
	for _, cfg := range cfgs {
		rc, lines := checkFindings(t, "-strict", "-f", cfg)
		if rc != 0 || len(lines) != 0 {
			t.Errorf("%s: rc %d:\n%s", cfg, rc, strings.Join(lines, "\n"))
		}
	}
}

// scenarioFindings are the findings the scenarios in testdata/scripts are
// written to have: arg-errors makes the script errors the engines raise at
// run time (its scenario.yaml expects them), which check now finds first.
var scenarioFindings = map[string][]string{
	"arg-errors": {
		`:3`, `KSR.sl.sl_send_reply: argument 1: expected int (int, str), got the string "two hundred"`,
		`:5`, `KSR.sl.sl_send_reply: expected 2 arguments (int, str), got 1`,
	},
}

// Issue 12: every scenario in testdata/scripts, with the modules its
// scenario.yaml loads, checks clean in every engine, or has exactly the
// findings it was written to have.
func TestScriptCheck_ScenariosClean(t *testing.T) {
	root := repoRoot(t)
	dirs, _ := filepath.Glob(filepath.Join(root, "testdata/scripts/*/scenario.yaml"))
	if len(dirs) < 10 {
		t.Fatalf("only %d scenarios", len(dirs))
	}
	t.Setenv("KEMI_DB", filepath.Join(t.TempDir(), "kemi.db"))
	for _, y := range dirs {
		dir := filepath.Dir(y)
		name := filepath.Base(dir)
		var sc struct {
			Modules []string `yaml:"modules"`
			Params  []string `yaml:"params"`
		}
		b, _ := os.ReadFile(y)
		if err := yaml.Unmarshal(b, &sc); err != nil {
			t.Fatalf("%s: %v", y, err)
		}
		for _, e := range []struct{ mod, eng, ext string }{{"app_lua", "lua", "lua"}, {"app_jsdt", "jsdt", "js"}, {"app_starlark", "starlark", "star"}} {
			script := filepath.Join(dir, "script."+e.ext)
			if _, err := os.Stat(script); err != nil {
				continue
			}
			var cfg strings.Builder
			cfg.WriteString("#!KAMAILIO\n")
			for _, m := range sc.Modules {
				cfg.WriteString("loadmodule \"" + m + ".so\"\n")
			}
			cfg.WriteString("loadmodule \"" + e.mod + ".so\"\nmodparam(\"" + e.mod + "\", \"load\", \"" + script + "\")\n")
			for _, p := range sc.Params {
				if strings.Contains(p, "{db_url}") {
					// No database runs here: a closed port, and sqlops
					// starts without it (connect_mode 1).
					p = strings.ReplaceAll(p, "{db_url}", "postgres://kemi:x@127.0.0.1:1/kemi") +
						"\nmodparam(\"sqlops\", \"connect_mode\", 1)"
				}
				// {http} and {httpdown}: the scenario runner's HTTP server.
				// {redis_port}, {redis_db}: the runner's redis-server; a
				// closed port here, and ndb_redis starts without it.
				if strings.Contains(p, "{redis_port}") && strings.Contains(p, `"ndb_redis"`) {
					p += "\nmodparam(\"ndb_redis\", \"init_without_redis\", 1)"
				}
				cfg.WriteString(strings.NewReplacer("{module}", e.mod, "{http}", "127.0.0.1:9", "{httpdown}", "127.0.0.1:9",
					"{redis_port}", "1", "{redis_db}", "1").Replace(p) + "\n")
			}
			cfg.WriteString("cfgengine \"" + e.eng + "\"\n")
			path := filepath.Join(t.TempDir(), "kamailio.cfg")
			os.WriteFile(path, []byte(cfg.String()), 0o644)
			s, err := loader.Load(loader.Options{Path: path, LogOut: io.Discard, Check: true})
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			} else {
				for _, d := range s.Diags {
					got = append(got, d.String())
				}
				s.RT.Stop()
			}
			want := scenarioFindings[name]
			ok := len(got) == len(want)/2
			for i := 0; ok && i < len(want); i += 2 {
				ok = strings.Contains(got[i/2], want[i]) && strings.Contains(got[i/2], want[i+1])
			}
			if !ok {
				t.Errorf("%s/%s: got\n%s\nwant\n%s", name, e.eng, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	}
}

// Issue 12: a function name the config gives the script
// (kemi.*_callback) must be one the script defines; the error is at the
// config line.
func TestScriptCheck_ConfigCallbackUndefined(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "script.lua"), []byte("function ksr_request_route() end\nfunction ksr_reply_route() end\n"), 0o644)
	cfg := filepath.Join(dir, "kemi.cfg")
	os.WriteFile(cfg, []byte("kemi.reply_route_callback=\"ksr_reply_routee\"\nkemi.onsend_route_callback=\"none\"\n"+luaCfg), 0o644)
	rc, lines := checkFindings(t, "-f", cfg)
	want := cfg + `:1:1: kemi.reply_route_callback names "ksr_reply_routee", but ` + filepath.Join(dir, "script.lua") + ` defines no such function (did you mean "ksr_reply_route"?)`
	if rc != 1 || len(lines) != 1 || lines[0] != want {
		t.Errorf("rc %d:\n%s\nwant:\n%s", rc, strings.Join(lines, "\n"), want)
	}
}
