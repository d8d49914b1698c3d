package config

import (
	"fmt"
	"strings"
	"testing"

	"kemi/core"
)

// TestPreprocessorValues checks directives through the values they leave
// in the globals.
func TestPreprocessorValues(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		defines map[string]string
		want    map[string]core.Value
	}{
		{"define number", "#!define LVL 3\ndebug=LVL\n", nil,
			map[string]core.Value{"debug": core.Int(3)}},
		{"define string", "#!define NAME \"kemi-x\"\nlog_name=NAME\n", nil,
			map[string]core.Value{"log_name": core.Str("kemi-x")}},
		{"define continuation", "#!define PFX \"a\" \\\n \"b\"\nlog_prefix=PFX\n", nil,
			map[string]core.Value{"log_prefix": core.Str("ab")}},
		{"define chain", "#!define A B\n#!define B 7\nchildren=A\n", nil,
			map[string]core.Value{"children": core.Int(7)}},
		{"define whole word only", "#!define DBG 4\nlog_prefix=\"DBG\"\nlog_name=DBG_X\ndebug=DBG\n", nil,
			map[string]core.Value{"log_prefix": core.Str("DBG"), "log_name": core.Str("DBG_X"), "debug": core.Int(4)}},
		{"define not in pvar", "#!define ci 1\nlog_prefix=\"x\"\n", nil,
			map[string]core.Value{"log_prefix": core.Str("x")}},
		{"ifdef taken", "#!define WITH_X\n#!ifdef WITH_X\ndebug=1\n#!else\ndebug=2\n#!endif\n", nil,
			map[string]core.Value{"debug": core.Int(1)}},
		{"ifdef not taken", "#!ifdef WITH_X\ndebug=1\n#!else\ndebug=2\n#!endif\n", nil,
			map[string]core.Value{"debug": core.Int(2)}},
		{"ifndef", "#!ifndef WITH_X\ndebug=1\n#!endif\n", nil,
			map[string]core.Value{"debug": core.Int(1)}},
		{"nested inside skipped", "#!ifdef NO\n#!ifdef ALSO\ndebug=1\n#!else\ndebug=2\n#!endif\ndebug=3\n#!else\ndebug=4\n#!endif\n", nil,
			map[string]core.Value{"debug": core.Int(4)}},
		{"nested taken", "#!define A\n#!define B\n#!ifdef A\n#!ifndef B\ndebug=1\n#!else\ndebug=2\n#!endif\n#!endif\n", nil,
			map[string]core.Value{"debug": core.Int(2)}},
		{"skipped text is not lexed", "#!ifdef NO\n  ALTER TABLE acc ADD COLUMN src_user VARCHAR(64) NOT NULL DEFAULT '';\n\"unclosed\n#!endif\ndebug=1\n", nil,
			map[string]core.Value{"debug": core.Int(1)}},
		{"trydef keeps first", "#!define L 1\n#!trydef L 2\ndebug=L\n", nil,
			map[string]core.Value{"debug": core.Int(1)}},
		{"trydef defines", "#!trydef L 2\ndebug=L\n", nil,
			map[string]core.Value{"debug": core.Int(2)}},
		{"redefine", "#!define L 1\n#!redefine L 2\ndebug=L\n", nil,
			map[string]core.Value{"debug": core.Int(2)}},
		{"undef", "#!define L\n#!undef L\n#!ifdef L\ndebug=1\n#!else\ndebug=2\n#!endif\n", nil,
			map[string]core.Value{"debug": core.Int(2)}},
		{"bang bang form", "!!define L 5\n!!ifdef L\ndebug=L\n!!endif\n", nil,
			map[string]core.Value{"debug": core.Int(5)}},
		{"command line flag", "#!ifdef WITH_DEBUG\ndebug=3\n#!else\ndebug=2\n#!endif\n", map[string]string{"WITH_DEBUG": ""},
			map[string]core.Value{"debug": core.Int(3)}},
		{"command line value", "#!trydef LVL 1\ndebug=LVL\n", map[string]string{"LVL": "4"},
			map[string]core.Value{"debug": core.Int(4)}},
		{"markers", "#!KAMAILIO\n#!KEMI\n#!SER\ndebug=1\n", nil,
			map[string]core.Value{"debug": core.Int(1)}},
		{"unknown bang line is a comment", "#!/usr/sbin/kamailio -f\n#!some note\ndebug=1\n", nil,
			map[string]core.Value{"debug": core.Int(1)}},
		{"trailing comment after endif", "#!ifdef X # why\ndebug=1\n#!else // other\ndebug=2\n#!endif /* done */\n", nil,
			map[string]core.Value{"debug": core.Int(2)}},
		{"subst on strings", "#!subst \"/HOST/example.com/g\"\nalias=\"sip.HOST\"\nlog_name=\"HOST-HOST\"\n", nil,
			map[string]core.Value{"log_name": core.Str("example.com-example.com")}},
		{"subst first match only", "#!subst \"/a/b/\"\nlog_name=\"aaa\"\n", nil,
			map[string]core.Value{"log_name": core.Str("baa")}},
		{"subst icase backref", "#!subst \"/(x+)Y/<\\1>/i\"\nlog_name=\"xxy\"\n", nil,
			map[string]core.Value{"log_name": core.Str("<xx>")}},
		{"subst other separator", "#!subst \"!a/b!c!\"\nlog_name=\"a/b\"\n", nil,
			map[string]core.Value{"log_name": core.Str("c")}},
		{"substdef defines too", "#!substdef \"/MYPORT/5070/\"\nport=MYPORT\nlog_name=\"p=MYPORT\"\n", nil,
			map[string]core.Value{"port": core.Int(5070), "log_name": core.Str("p=5070")}},
		{"substdefs quotes", "#!substdefs \"/NAME/kemi/\"\nlog_name=NAME\n", nil,
			map[string]core.Value{"log_name": core.Str("kemi")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := testOptions(nil)
			opt.Defines = tt.defines
			cfg, err := Parse("x", []byte(tt.src), opt)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			for name, want := range tt.want {
				if got := global(t, cfg, name); got != want {
					t.Errorf("%s = %#v, want %#v", name, got, want)
				}
			}
		})
	}
}

func TestDefenv(t *testing.T) {
	t.Setenv("KEMI_TEST_PORT", "5080")
	t.Setenv("KEMI_TEST_NAME", "edge")
	cfg := mustParse(t, "#!defenv P=KEMI_TEST_PORT\n#!defenvs KEMI_TEST_NAME\n#!trydefenv P=KEMI_TEST_NAME\n#!defenv U=KEMI_TEST_UNSET_VAR\nport=P\nlog_name=KEMI_TEST_NAME\n#!ifdef U\ndebug=9\n#!endif\n")
	if got := global(t, cfg, "port"); got != core.Int(5080) {
		t.Errorf("port = %v, want 5080", got)
	}
	if got := global(t, cfg, "log_name"); got != core.Str("edge") {
		t.Errorf("log_name = %v, want edge", got)
	}
	if _, ok := cfg.Global("debug"); ok {
		t.Errorf("an unset environment variable defined U")
	}
}

func TestPreprocessorErrors(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		defines map[string]string
		want    string
	}{
		{"endif without ifdef", "debug=1\n#!endif\n", nil,
			"x:2:1: #!endif without #!ifdef"},
		{"else without ifdef", "\n  #!else\n", nil,
			"x:2:3: #!else without #!ifdef"},
		{"ifdef without endif", "debug=1\n\n#!ifdef X\ndebug=2\n", nil,
			"x:3:1: #!ifdef at x:3:1 has no #!endif"},
		{"ifndef without endif, nested", "#!ifdef A\n#!ifndef B\n#!endif\n#!ifndef C\n", nil,
			"x:1:1: #!ifdef at x:1:1 has no #!endif\nx:4:1: #!ifndef at x:4:1 has no #!endif"},
		{"two elses", "#!ifdef A\n#!else\n#!else\n#!endif\n", nil,
			"x:3:1: #!else after #!else (for #!ifdef at x:1:1)"},
		{"define twice", "#!define A 1\n#!define A 2\n", nil,
			"x:2:1: #!define A: already defined at x:1:1 (use #!redefine to replace it or #!trydef to keep it)"},
		{"define over command line", "#!define A 2\n", map[string]string{"A": "1"},
			"x:1:1: #!define A: already defined on the command line (use #!redefine to replace it or #!trydef to keep it)"},
		{"dash in name", "#!define A-B 1\n", nil,
			"x:1:1: #!define A-...: '-' is not allowed in a name"},
		{"ifdef without name", "#!ifdef\ndebug=1\n#!endif\n", nil,
			"x:1:1: #!ifdef: expected a blank and a name after it"},
		{"text after endif", "#!ifdef A\n#!endif junk\n", nil,
			"x:2:9: #!endif: unexpected \"junk\" after it"},
		{"directive typo", "#!ifdeff A\ndebug=1\n", nil,
			"x:1:1: unknown directive #!ifdeff (did you mean #!ifdef?)"},
		{"undef unknown", "#!undef NOPE\n#!tryundef NOPE\n", nil,
			"x:1:1: #!undef NOPE: not defined (use #!tryundef when that is fine)"},
		{"ifexp", "#!ifexp A > 1\n#!endif\n", nil,
			"x:1:1: #!ifexp is not supported by kemi; use #!ifdef / #!ifndef"},
		{"bad subst", "#!subst \"/(/x/\"\n", nil,
			"x:1:1: #!subst \"/(/x/\": bad regexp: error parsing regexp: missing closing ): `(`"},
		{"subst missing parts", "#!subst \"/a\"\n", nil,
			"x:1:1: #!subst \"/a\": expected /regexp/replacement/flags"},
		{"subst flag", "#!subst \"/a/b/q\"\n", nil,
			"x:1:1: #!subst \"/a/b/q\": unknown flag 'q' (want i, g)"},
		{"subst unquoted", "#!subst /a/b/\n", nil,
			"x:1:1: #!subst: expected a quoted \"/regexp/replacement/flags\""},
		{"self reference stays a name", "#!define A A\ndebug=A\n", nil,
			"x:2:7: debug: expected a number, got \"A\""},
		{"unclosed comment", "debug=1\n/* no end\n", nil,
			"x:2:1: comment /* is not closed"},
		{"unclosed string", "log_name=\"abc\n", nil,
			"x:1:10: string is not closed (missing \")"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := testOptions(nil)
			opt.Defines = tt.defines
			if got := errText(tt.src, opt); got != tt.want {
				t.Errorf("error:\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestComments(t *testing.T) {
	cfg := mustParse(t, strings.Join([]string{
		"# hash comment debug=9",
		"// slash comment debug=9",
		"/* block",
		"   debug=9 /* nested */ still comment",
		"*/",
		"debug=/* inline */3 # trailing",
		"children=4 // trailing",
		"log_name=\"not # a comment // nor this /* or this */\"",
		"",
	}, "\n"))
	if got := global(t, cfg, "debug"); got != core.Int(3) {
		t.Errorf("debug = %v, want 3", got)
	}
	if got := global(t, cfg, "children"); got != core.Int(4) {
		t.Errorf("children = %v, want 4", got)
	}
	if got := global(t, cfg, "log_name"); got != core.Str("not # a comment // nor this /* or this */") {
		t.Errorf("log_name = %q", got.S)
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		src  string
		want string
	}{
		{`"a" "b"`, "ab"},
		{"\"a\"\n\t\"b\" \"c\"", "abc"},
		{`"tab\there\nnl \"q\" back\\slash"`, "tab\there\nnl \"q\" back\\slash"},
		{`"\x41\101"`, "AA"},
		{`"keep \d and \1"`, `keep \d and \1`},
		{`'single \n "quotes"'`, `single \n "quotes"`},
		{"\"line \\\ncontinued\"", "line continued"},
	}
	for _, tt := range tests {
		cfg := mustParse(t, "log_prefix="+tt.src+"\n")
		if got := global(t, cfg, "log_prefix"); got != core.Str(tt.want) {
			t.Errorf("log_prefix=%s: got %q, want %q", tt.src, got.S, tt.want)
		}
	}
	// Single quoted strings do not join: the second one is a stray value.
	if got := errText("log_prefix='a' 'b'\n", testOptions(nil)); got != `x:1:12: log_prefix: expected a string, got "'a' 'b'"` {
		t.Errorf("got %s", got)
	}
}

func TestIncludes(t *testing.T) {
	files := map[string]string{
		"/etc/kemi/kemi.cfg":        "debug=1\ninclude_file \"inc/mods.cfg\"\n#!include_file \"/abs/params.cfg\"\n!!include_file \"inc/mods.cfg\"\nchildren=N\n",
		"/etc/kemi/inc/mods.cfg":    "loadmodule \"tm.so\"\nimport_file \"more.cfg\"\n",
		"/etc/kemi/inc/more.cfg":    "#!trydef N 6\nloadmodule \"sl.so\"\n",
		"/abs/params.cfg":           "port=5070\n",
		"/etc/kemi/inc/unused.cfg":  "",
		"/etc/kemi/missing-ok.cfg":  "",
		"/etc/kemi/inc/mods.cfg.so": "",
	}
	opt := testOptions(files)
	cfg, err := Load("/etc/kemi/kemi.cfg", opt)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := global(t, cfg, "children"); got != core.Int(6) {
		t.Errorf("children = %v: a define from an include is not seen after it", got)
	}
	if got := global(t, cfg, "port"); got != core.Int(5070) {
		t.Errorf("port = %v, want 5070", got)
	}
	var mods []string
	for _, m := range cfg.Modules {
		mods = append(mods, m.Name+"@"+m.Pos.String())
	}
	want := "tm@/etc/kemi/inc/mods.cfg:1:1 sl@/etc/kemi/inc/more.cfg:2:1"
	if got := strings.Join(mods, " "); got != want {
		t.Errorf("modules %s, want %s", got, want)
	}
}

func TestIncludeErrors(t *testing.T) {
	files := map[string]string{
		"dir/main.cfg":  "include_file \"a.cfg\"\ninclude_file \"nope.cfg\"\nimport_file \"optional.cfg\"\ninclude_file \"loop.cfg\"\n",
		"dir/a.cfg":     "debug=1\n#!ifdef X\n",
		"dir/loop.cfg":  "include_file \"loop.cfg\"\n",
		"dir/other.cfg": "",
	}
	cfg, err := Parse("dir/main.cfg", []byte(files["dir/main.cfg"]), testOptions(files))
	want := strings.Join([]string{
		"dir/main.cfg:2:1: include_file \"nope.cfg\": file not found (tried dir/nope.cfg, nope.cfg); use import_file for an optional file",
		"dir/a.cfg:2:1: #!ifdef at dir/a.cfg:2:1 has no #!endif",
		"dir/loop.cfg:1:1: include_file \"loop.cfg\": includes nested deeper than 10 (does a file include itself?)",
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got: %v\nwant: %s", err, want)
	}
	wantNotice := "dir/main.cfg:3:1: import_file \"optional.cfg\": not found, skipped (tried dir/optional.cfg, optional.cfg)"
	if len(cfg.Notices) != 1 || cfg.Notices[0] != wantNotice {
		t.Errorf("notices %q, want %q", cfg.Notices, wantNotice)
	}
}

func TestLoadFromDisk(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := writeFile(dir+"/"+name, text); err != nil {
			t.Fatal(err)
		}
	}
	write("kemi.cfg", "#!KAMAILIO\ninclude_file \"sub/globals.cfg\"\n")
	write("sub/globals.cfg", "children=2\ninclude_file \"bad.cfg\"\n")
	write("sub/bad.cfg", "\n  chidlren=3\n")
	_, err := Load(dir+"/kemi.cfg", Options{Module: fakeModule, ModuleNames: fakeModuleNames, Engine: fakeEngine})
	want := dir + "/sub/bad.cfg:2:3: unknown global parameter \"chidlren\" (did you mean \"children\"?)"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got: %v\nwant: %s", err, want)
	}
	if _, err := Load(dir+"/none.cfg", Options{}); err == nil || !strings.Contains(err.Error(), "none.cfg") {
		t.Errorf("missing main file: error %v should name the file", err)
	}
}

// Defines that fan out and files that include themselves twice grow
// exponentially; the parse stops with an error instead of running away.
func TestRunawayInput(t *testing.T) {
	var b strings.Builder
	for i := range 30 {
		fmt.Fprintf(&b, "#!define D%d D%d D%d\n", i, i+1, i+1)
	}
	b.WriteString("log_name=D0\n")
	got := errText(b.String(), testOptions(nil))
	if got != "x:31:10: define D0: expands to more than 65536 tokens" {
		t.Errorf("fan-out defines: got %.200s", got)
	}
	files := map[string]string{}
	for i := range 8 {
		name, next := fmt.Sprintf("f%d.cfg", i), fmt.Sprintf("f%d.cfg", i+1)
		files[name] = strings.Repeat("include_file \""+next+"\"\n", 3)
	}
	files["f8.cfg"] = "debug=1\n"
	got = errText(files["f0.cfg"], testOptions(files))
	if !strings.HasSuffix(got, `: more than 1000 files included in all`) || strings.Count(got, "\n") != 0 {
		t.Errorf("3^8 includes: got %.300s", got)
	}
}

func TestByteOrderMark(t *testing.T) {
	cfg := mustParse(t, "\xEF\xBB\xBFdebug=1\n")
	if got := global(t, cfg, "debug"); got != core.Int(1) || cfg.Globals[0].Pos.String() != "x:1:1" {
		t.Errorf("debug = %v at %v", got, cfg.Globals[0].Pos)
	}
}

// A file that exists but cannot be read is an error even for import_file.
func TestIncludeReadError(t *testing.T) {
	opt := testOptions(nil)
	opt.ReadFile = func(p string) ([]byte, error) { return nil, fmt.Errorf("read %s: permission denied", p) }
	got := errText("import_file \"/etc/kemi/local.cfg\"\n", opt)
	if want := `x:1:1: import_file "/etc/kemi/local.cfg": read /etc/kemi/local.cfg: permission denied`; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

// Many uses of a sizeable define are fine: the per-use limit is per use.
func TestManyDefineUses(t *testing.T) {
	var b strings.Builder
	b.WriteString("#!define BLOCK if (a == 1 && b == 2 && c == 3 && d == 4) { x(); y(); z(); }\nroute[R] {\n")
	for range 2000 {
		b.WriteString("BLOCK\n")
	}
	b.WriteString("}\n")
	cfg := mustParse(t, b.String())
	if got := strings.Count(cfg.Routes[0].Body, "z();"); got != 2000 {
		t.Errorf("%d expansions in the body, want 2000", got)
	}
}
