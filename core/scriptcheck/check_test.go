package scriptcheck

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"kemi/core"
	_ "kemi/exports/all"
)

// testEnv is a registry with the modules a config loads, besides the
// ones every script sees (core, x, hdr, pv, pvx), as the loader builds it.
func testEnv(t testing.TB, mods ...string) Env {
	t.Helper()
	var specs []*core.ModuleSpec
	seen := map[string]bool{}
	for _, n := range append([]string{"", "x", "hdr", "pv", "pvx"}, mods...) {
		m := core.Known(n)
		if m == nil {
			t.Fatalf("no module %q", n)
		}
		if !seen[m.Name] {
			specs = append(specs, m)
			seen[m.Name] = true
		}
	}
	reg, err := core.NewRegistry(specs...)
	if err != nil {
		t.Fatal(err)
	}
	return Env{Reg: reg}
}

// scripts holds one script per language; %s in each is replaced by the
// body line of the case, in that language.
type rule struct {
	name          string
	lua, js, star string // a statement inside ksr_request_route
	mods          []string
	strict        bool
	want          []string // substrings of the findings, in order
	warn          bool     // the findings are warnings
}

var rules = []rule{
	{name: "UnknownFunctionDidYouMean",
		lua: `KSR.sl.send_replyy(200, "OK")`, js: `KSR.sl.send_replyy(200, "OK");`, star: `KSR.sl.send_replyy(200, "OK")`,
		mods: []string{"sl"},
		want: []string{`KSR.sl.send_replyy: module sl has no function send_replyy (did you mean "send_reply"?)`}},
	{name: "UnknownFunctionOtherModule",
		lua: `KSR.hdr.t_relay()`, js: `KSR.hdr.t_relay();`, star: `KSR.hdr.t_relay()`,
		mods: []string{"tm"},
		want: []string{`KSR.hdr.t_relay: module hdr has no function t_relay (did you mean KSR.tm.t_relay?)`}},
	{name: "UnknownCoreFunction",
		lua: `KSR.inof("x")`, js: `KSR.inof("x");`, star: `KSR.inof("x")`,
		want: []string{`KSR.inof: no core function inof (did you mean "info"?)`}},
	{name: "ModuleNotLoadedWarns",
		lua: `KSR.tm.t_relay()`, js: `KSR.tm.t_relay();`, star: `KSR.tm.t_relay()`,
		warn: true,
		want: []string{`warning: KSR.tm.t_relay: module tm is not loaded: add loadmodule "tm.so" to the config`}},
	{name: "ModuleNotLoadedStrictErrs",
		lua: `KSR.tm.t_relay()`, js: `KSR.tm.t_relay();`, star: `KSR.tm.t_relay()`,
		strict: true,
		want:   []string{`KSR.tm.t_relay: module tm is not loaded: add loadmodule "tm.so" to the config`}},
	{name: "ModuleNotLoadedNamesItsFile",
		lua: `KSR.kx.get_ruri()`, js: `KSR.kx.get_ruri();`, star: `KSR.kx.get_ruri()`,
		warn: true,
		want: []string{`warning: KSR.kx.get_ruri: module kx is not loaded: add loadmodule "kemix.so" to the config`}},
	{name: "ModuleKemiLacksWarns",
		lua: `KSR.lcr.load_gws(1)`, js: `KSR.lcr.load_gws(1);`, star: `KSR.lcr.load_gws(1)`,
		warn: true,
		want: []string{`warning: KSR.lcr.load_gws: module lcr is not loaded, and this kemi has no module lcr`}},
	{name: "ArgCount",
		lua: `KSR.sl.send_reply(200)`, js: `KSR.sl.send_reply(200);`, star: `KSR.sl.send_reply(200)`,
		mods: []string{"sl"},
		want: []string{`KSR.sl.send_reply: expected 2 arguments (int, str), got 1`}},
	{name: "ArgCountNone",
		lua: `KSR.x.exit(1)`, js: `KSR.x.exit(1);`, star: `KSR.x.exit(1)`,
		want: []string{`KSR.x.exit: expected 0 arguments (), got 1`}},
	{name: "ArgType",
		lua: `KSR.sl.send_reply("OK", 200)`, js: `KSR.sl.send_reply("OK", 200);`, star: `KSR.sl.send_reply("OK", 200)`,
		mods: []string{"sl"},
		want: []string{`KSR.sl.send_reply: argument 1: expected int (int, str), got the string "OK"`,
			`KSR.sl.send_reply: argument 2: expected str (int, str), got the number 200`}},
	{name: "ArgTypeFraction",
		lua: `KSR.sl.send_reply(200.5, "OK")`, js: `KSR.sl.send_reply(200.5, "OK");`, star: `KSR.sl.send_reply(200.5, "OK")`,
		mods: []string{"sl"},
		want: []string{`argument 1: expected int (int, str), got the number 200.5`}},
	{name: "ArgTypeNonNumericString",
		lua: `KSR.sl.send_reply("4o4", "Not Here")`, js: `KSR.sl.send_reply("4o4", "Not Here");`, star: `KSR.sl.send_reply("4o4", "Not Here")`,
		mods: []string{"sl"},
		want: []string{`argument 1: expected int (int, str), got the string "4o4"`}},
	{name: "ArgTypeNil",
		lua: `KSR.hdr.remove(nil)`, js: `KSR.hdr.remove(null);`, star: `KSR.hdr.remove(None)`,
		want: []string{`KSR.hdr.remove: argument 1: expected str (str), got`}},
	{name: "UndefinedFailureRoute",
		lua: `KSR.tm.t_on_failure("ksr_failure_mange")`, js: `KSR.tm.t_on_failure("ksr_failure_mange");`, star: `KSR.tm.t_on_failure("ksr_failure_mange")`,
		mods: []string{"tm"},
		want: []string{`KSR.tm.t_on_failure("ksr_failure_mange"): the script defines no function ksr_failure_mange; the route would never run (did you mean "ksr_failure_manage"?)`}},
	{name: "UndefinedBranchRoute",
		lua: `KSR.tm.t_on_branch("nobranch")`, js: `KSR.tm.t_on_branch("nobranch");`, star: `KSR.tm.t_on_branch("nobranch")`,
		mods: []string{"tm"},
		want: []string{`KSR.tm.t_on_branch("nobranch"): the script defines no function nobranch`}},
	{name: "UndefinedReplyRoute",
		lua: `KSR.tm.t_on_reply("noreply")`, js: `KSR.tm.t_on_reply("noreply");`, star: `KSR.tm.t_on_reply("noreply")`,
		mods: []string{"tm"},
		want: []string{`KSR.tm.t_on_reply("noreply"): the script defines no function noreply`}},
	{name: "UndefinedBranchFailureRoute",
		lua: `KSR.tm.t_on_branch_failure("nobf")`, js: `KSR.tm.t_on_branch_failure("nobf");`, star: `KSR.tm.t_on_branch_failure("nobf")`,
		mods: []string{"tm"},
		want: []string{`KSR.tm.t_on_branch_failure("nobf"): the script defines no function nobf`}},
	{name: "NumericStringIsClean",
		lua: `KSR.sl.send_reply("404", "Not Here")`, js: `KSR.sl.send_reply("404", "Not Here");`, star: `KSR.sl.send_reply("404", "Not Here")`,
		mods: []string{"sl"}},
	{name: "DefinedRouteIsClean",
		lua: `KSR.tm.t_on_failure("ksr_failure_manage")`, js: `KSR.tm.t_on_failure("ksr_failure_manage");`, star: `KSR.tm.t_on_failure("ksr_failure_manage")`,
		mods: []string{"tm"}},
	{name: "MultipleErrorsAllReported",
		lua:  "KSR.sl.send_replyy(200, \"OK\")\n  KSR.inof(\"x\")\n  KSR.sl.send_reply(200)",
		js:   "KSR.sl.send_replyy(200, \"OK\");\n  KSR.inof(\"x\");\n  KSR.sl.send_reply(200);",
		star: "KSR.sl.send_replyy(200, \"OK\")\n    KSR.inof(\"x\")\n    KSR.sl.send_reply(200)",
		mods: []string{"sl"},
		want: []string{`:3`, `send_replyy`, `:4`, `KSR.inof`, `:5`, `expected 2 arguments`}},
	{name: "AliasFollowed",
		lua: "local sl = KSR.sl\n  sl.send_replyy(200, \"OK\")", js: "const sl = KSR.sl;\n  sl.send_replyy(200, \"OK\");", star: "sl = KSR.sl\n    sl.send_replyy(200, \"OK\")",
		mods: []string{"sl"},
		want: []string{`KSR.sl.send_replyy: module sl has no function send_replyy`}},
	{name: "DynamicLeftAlone",
		lua:  "local n = \"send_replyy\"\n  KSR.sl[n](200, \"OK\")\n  local f = KSR.sl\n  f = {}\n  f.nothing()",
		js:   "var n = \"send_replyy\";\n  KSR.sl[n](200, \"OK\");\n  var f = KSR.sl;\n  f = {};\n  f.nothing();",
		star: "n = \"send_replyy\"\n    getattr(KSR.sl, n)(200, \"OK\")",
		mods: []string{"sl"}},
	{name: "NonLiteralArgsLeftAlone",
		lua: "local code = 200\n  KSR.sl.send_reply(code, \"OK\")", js: "var code = 200;\n  KSR.sl.send_reply(code, \"OK\");", star: "code = 200\n    KSR.sl.send_reply(code, \"OK\")",
		mods: []string{"sl"}},
	{name: "GuardIsClean",
		lua: "if KSR.rtpproxy then return end", js: "if (KSR.rtpproxy) { return; }", star: "if KSR.rtpproxy:\n        return",
		mods: []string{"sl"}},
}

func scriptFor(lang Lang, body string) (string, string) {
	switch lang {
	case Lua:
		return "s.lua", "function ksr_request_route()\n  -- route\n  " + body + "\nend\nfunction ksr_failure_manage()\nend\n"
	case JS:
		return "s.js", "function ksr_request_route() {\n  // route\n  " + body + "\n}\nfunction ksr_failure_manage() {}\n"
	}
	return "s.star", "def ksr_request_route():\n    # route\n    " + body + "\n    return\ndef ksr_failure_manage():\n    pass\n"
}

// posRe: the call is on line 3 (4 after an alias), indented 2 (JS) or 4
// (Starlark) columns.
var posRe = regexp.MustCompile(`^s\.(js|star):[34]:[35]: `)

func TestCheckRules(t *testing.T) {
	for _, r := range rules {
		for _, lang := range []Lang{Lua, JS, Starlark} {
			body := [...]string{r.lua, r.js, r.star}[lang]
			name := r.name + "/" + [...]string{"lua", "js", "star"}[lang]
			t.Run(name, func(t *testing.T) {
				env := testEnv(t, r.mods...)
				env.Strict = r.strict
				path, src := scriptFor(lang, body)
				ds := Check(lang, path, []byte(src), env)
				var all []string
				for _, d := range ds {
					all = append(all, d.String())
				}
				out := strings.Join(all, "\n")
				if len(r.want) == 0 {
					if len(ds) != 0 {
						t.Fatalf("want no findings, got:\n%s", out)
					}
					return
				}
				rest := out
				for _, w := range r.want {
					i := strings.Index(rest, w)
					if i < 0 {
						t.Fatalf("findings lack %q (in order):\n%s\nscript:\n%s", w, out, src)
					}
					rest = rest[i+len(w):]
				}
				if !strings.HasPrefix(out, path+":") {
					t.Errorf("finding does not start with the script's path: %s", out)
				}
				if lang != Lua && !posRe.MatchString(out) {
					t.Errorf("finding not at line:col of the call: %s", out)
				}
				wantErrs := len(ds)
				if r.warn {
					wantErrs = 0
				}
				if Errors(ds) != wantErrs {
					t.Errorf("%d errors, want %d:\n%s", Errors(ds), wantErrs, out)
				}
			})
		}
	}
}

// The config's callbacks (kemi.*_callback, event_callback modparams) must
// name functions the script defines.
func TestCheckConfigRoutes(t *testing.T) {
	for _, lang := range []Lang{Lua, JS, Starlark} {
		env := testEnv(t)
		env.Routes = []Route{
			{Name: "ksr_reply_route", Where: "k.cfg:3:1: kemi.reply_route_callback"},
			{Name: "ksr_failure_manage", Where: "k.cfg:4:1: modparam(\"htable\", \"event_callback\")"},
			{Name: "none", Where: "k.cfg:5:1: kemi.onsend_route_callback"},
		}
		path, src := scriptFor(lang, "pass")
		if lang == Lua || lang == JS {
			path, src = scriptFor(lang, "")
		}
		ds := Check(lang, path, []byte(src), env)
		if len(ds) != 1 || ds[0].String() != `k.cfg:3:1: kemi.reply_route_callback names "ksr_reply_route", but `+path+` defines no such function` {
			t.Errorf("%s: %v", path, ds)
		}
	}
}

// Lua's legacy sr object resolves like KSR, with its own extras.
func TestCheckLuaLegacySR(t *testing.T) {
	env := testEnv(t, "sl", "maxfwd")
	src := "function ksr_request_route()\n sr.log(\"info\", \"x\")\n sr.maxfwd.process_maxfwd(10)\n sr.sl.send_reply(200, \"OK\")\n sr.sl.send_replyy(200, \"OK\")\nend\n"
	ds := Check(Lua, "s.lua", []byte(src), env)
	if len(ds) != 1 || !strings.Contains(ds[0].String(), "s.lua:5: sr.sl.send_replyy: module sl has no function send_replyy") {
		t.Errorf("%v", ds)
	}
}

// A script that does not parse gives no findings: the engine reports it.
func TestCheckSyntaxErrorLeftToEngine(t *testing.T) {
	for lang, src := range map[Lang]string{Lua: "function (", JS: "function (", Starlark: "def ("} {
		if ds := Check(lang, "s", []byte(src), testEnv(t)); len(ds) != 0 {
			t.Errorf("%d: %v", lang, ds)
		}
	}
}

// BenchmarkCheckKamailioLua: the checker alone on Kamailio's example
// script (about 450 lines), as kemi check runs it after compiling.
func BenchmarkCheckKamailioLua(b *testing.B) {
	const path = "/usr/share/doc/kamailio/examples/kemi/kamailio-basic-kemi-lua.lua"
	src, err := os.ReadFile(path)
	if err != nil {
		b.Skip(err)
	}
	env := testEnv(b, "tm", "tmx", "sl", "rr", "maxfwd", "usrloc", "registrar", "textops", "siputils", "sanity", "kemix", "auth", "auth_db", "nathelper", "htable", "pike", "corex")
	b.ReportAllocs()
	for b.Loop() {
		if ds := Check(Lua, path, src, env); Errors(ds) != 0 {
			b.Fatal(ds)
		}
	}
}

// Files the script requires with a literal name, found beside it, are
// checked too, and a route may be defined in one.
func TestCheckRequiredFiles(t *testing.T) {
	files := map[string]string{
		"d/lib/util.lua": "function ksr_failure_lib() end\nfunction helper() KSR.sl.send_replyy(200, \"OK\") end\n",
		"d/util.js":      "function ksr_failure_lib() {}\nfunction helper() { KSR.sl.send_replyy(200, \"OK\"); }\n",
		"d/util.star":    "def ksr_failure_lib():\n    pass\ndef helper():\n    KSR.sl.send_replyy(200, \"OK\")\n",
	}
	env := testEnv(t, "sl", "tm")
	env.ReadFile = func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
	for _, c := range []struct {
		lang      Lang
		path, src string
	}{
		{Lua, "d/s.lua", "require(\"lib.util\")\nrequire(\"missing\")\nfunction ksr_request_route()\n  KSR.tm.t_on_failure(\"ksr_failure_lib\")\nend\n"},
		{JS, "d/s.js", "require(\"./util\");\nfunction ksr_request_route() {\n  KSR.tm.t_on_failure(\"ksr_failure_lib\");\n}\n"},
		{Starlark, "d/s.star", "load(\"util.star\", \"ksr_failure_lib\")\ndef ksr_request_route():\n    KSR.tm.t_on_failure(\"ksr_failure_lib\")\n"},
	} {
		ds := Check(c.lang, c.path, []byte(c.src), env)
		if len(ds) != 1 || !strings.Contains(ds[0].String(), "util.") || !strings.Contains(ds[0].String(), "KSR.sl.send_replyy: module sl has no function send_replyy") {
			t.Errorf("%s: %v", c.path, ds)
		}
	}
}
