package kemigen

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/dop251/goja"
	luaparse "github.com/yuin/gopher-lua/parse"
)

var spaces = regexp.MustCompile(` +`)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden/*/want")

// TestGolden renders each testdata/golden/<case>/in tree and compares every
// output with <case>/want. Run with -update after an intended change.
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/golden/*")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			mods, err := Load(filepath.Join(dir, "in"))
			if err != nil {
				t.Fatal(err)
			}
			files, err := Generate(mods)
			if err != nil {
				t.Fatal(err)
			}
			want := filepath.Join(dir, "want")
			if *update {
				os.RemoveAll(want)
				for p, b := range files {
					full := filepath.Join(want, filepath.FromSlash(p)+".golden")
					os.MkdirAll(filepath.Dir(full), 0o755)
					if err := os.WriteFile(full, b, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			var got, exp []string
			for p := range files {
				got = append(got, p)
			}
			filepath.WalkDir(want, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(want, p)
					exp = append(exp, strings.TrimSuffix(filepath.ToSlash(rel), ".golden"))
				}
				return nil
			})
			sort.Strings(got)
			sort.Strings(exp)
			if strings.Join(got, "\n") != strings.Join(exp, "\n") {
				t.Fatalf("generated files differ from %s:\ngot:\n%s\nwant:\n%s", want, strings.Join(got, "\n"), strings.Join(exp, "\n"))
			}
			for _, p := range got {
				w, _ := os.ReadFile(filepath.Join(want, filepath.FromSlash(p)+".golden"))
				if !bytes.Equal(files[p], w) {
					t.Errorf("%s differs from its golden file (run go test ./kemigen -update and review the diff)", p)
				}
			}
		})
	}
}

// TestGeneratedGo checks what the golden bytes cannot show at a glance: the
// header is the first line (so go/ast.IsGenerated sees it), the thunks and
// guards exist, and the package clause follows the folder's Go files.
func TestGeneratedGo(t *testing.T) {
	for _, c := range []struct{ root, file, pkg string }{
		{"testdata/golden/basic/in", "exports/demo/zz_kemi.go", "demo"},
		{"testdata/golden/engine/in", "engines/lua/zz_kemi.go", "luaengine"},
	} {
		mods, err := Load(c.root)
		if err != nil {
			t.Fatal(err)
		}
		files, err := Generate(mods)
		if err != nil {
			t.Fatal(err)
		}
		src := files[c.file]
		if !bytes.HasPrefix(src, []byte(Header+"\n")) {
			t.Errorf("%s: first line is not %q", c.file, Header)
		}
		f, err := parser.ParseFile(token.NewFileSet(), c.file, src, parser.ParseComments)
		if err != nil {
			t.Fatalf("%s does not parse: %v", c.file, err)
		}
		if !ast.IsGenerated(f) {
			t.Errorf("%s: go/ast does not see it as generated", c.file)
		}
		if f.Name.Name != c.pkg {
			t.Errorf("%s: package %s, want %s", c.file, f.Name.Name, c.pkg)
		}
	}
	mods, _ := Load("testdata/golden/basic/in")
	files, _ := Generate(mods)
	// gofmt aligns the guards; compare them with one space between words.
	src := spaces.ReplaceAllString(string(files["exports/demo/zz_kemi.go"]), " ")
	for _, want := range []string{
		"_ func(*core.Ctx, int, string, bool, int64) int = Send",
		"_ func(*core.Ctx) core.Value                    = Get",
		"_ func(*core.Ctx, string) bool                  = Check",
		"_ func(*core.Ctx)                               = Delete",
		"_ func(*core.Ctx, string) (bool, error)         = Put",
		"_ func(*core.Ctx) error                         = Flush",
		`r, err := Put(ctx, args[0].S)
	if err != nil {
		return ctx.Fail(err)
	}
	return core.Bool(r)`,
		`if err := Flush(ctx); err != nil {
		return ctx.Fail(err)
	}`,
		`core.ArgError("KSR.demo.send", kemiArgs_send, core.KindNames(args))`,
		`Aliases: []string{"snd"}`,
		`if !core.LineOK(args[1].S) {
		return ctx.Fail(core.CheckError("KSR.demo.send", "text", core.CheckLine, args[1].S))`,
		`if !core.HdrLineOK(args[0].S) {
		return ctx.Fail(core.CheckError("KSR.demo.check", "what", core.CheckHdrLine, args[0].S))`,
		`Files: []string{"demox"}`,
		`{Name: "peer", Type: core.TStr, Default: core.Null(), Doc: "Peers; one per modparam.", Multi: true}`,
		// The lifecycle a spec declares (issue 12): registered and guarded.
		`{Name: "demoval", Doc: "A value to read and set.", Get: getDemoval, Set: setDemoval}`,
		`{Name: "demoro", Doc: "A read-only value.", Get: getDemoro}`,
		`Start: []core.StartFunc{start, startTimers}`,
		`Stop: []core.StopFunc{stop}`,
		`ReplyHooks: []core.ReplyHook{onReply}`,
		`HTTPHooks: []core.HTTPHook{onHTTP}`,
		"_ func(*core.Ctx) bool = onHTTP",
		`{Name: "reload", Doc: "Reload the table.", Call: rpcReload}`,
		`Brings: []string{"extra"}`,
		"_ func(*core.Ctx, string, []byte) ([]byte, bool) = getDemoval",
		"_ func(*core.Ctx, string, core.Value) error = setDemoval",
		"_ func(*core.Runtime) error = startTimers",
		"_ func(*core.Runtime) = stop",
		"_ func(*core.Ctx) bool = onReply",
		"_ func(*core.Runtime, []core.Value) (any, error) = rpcStats",
	} {
		want = spaces.ReplaceAllString(want, " ")
		if !strings.Contains(src, want) {
			t.Errorf("zz_kemi.go lacks %q", want)
		}
	}
	if !strings.Contains(string(files["exports/all/all.go"]), `_ "kemi/exports/demo"`) {
		t.Errorf("all.go does not import exports/demo:\n%s", files["exports/all/all.go"])
	}
}

// TestDeterministic renders twice, from specs loaded twice.
func TestDeterministic(t *testing.T) {
	render := func() map[string][]byte {
		mods, err := Load("testdata/golden/basic/in")
		if err != nil {
			t.Fatal(err)
		}
		files, err := Generate(mods)
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	a, b := render(), render()
	for p := range a {
		if !bytes.Equal(a[p], b[p]) {
			t.Errorf("%s differs between two runs", p)
		}
	}
}

// TestRunWritesNothingOnError copies a good tree, breaks one of two specs,
// and checks that Run reports it and leaves the tree as it was.
func TestRunWritesNothingOnError(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "go.mod"), []byte("module kemi\n"), 0o644)
	good, _ := os.ReadFile("testdata/golden/basic/in/exports/demo/module.yaml")
	for _, m := range []string{"a", "b"} {
		os.MkdirAll(filepath.Join(root, "exports", m), 0o755)
		spec := bytes.Replace(good, []byte("module: demo"), []byte("module: "+m), 1)
		spec = bytes.Replace(spec, []byte("files: [demox]"), []byte("files: ["+m+"x]"), 1)
		spec = bytes.Replace(spec, []byte("brings: [extra]\n"), nil, 1)
		spec = bytes.ReplaceAll(spec, []byte("name: demo"), []byte("name: "+m))
		os.WriteFile(filepath.Join(root, "exports", m, "module.yaml"), spec, 0o644)
	}
	if err := Run(root); err != nil {
		t.Fatalf("good tree: %v", err)
	}
	before := snapshot(t, root)
	bad := filepath.Join(root, "exports", "b", "module.yaml")
	spec, _ := os.ReadFile(bad)
	spec = bytes.Replace(spec, []byte("doc: Send something."), []byte("doc: Send something.\n    colour: red"), 1)
	os.WriteFile(bad, spec, 0o644)
	os.WriteFile(filepath.Join(root, "exports", "a", "module.yaml"),
		bytes.Replace(good, []byte("module: demo"), []byte("module: a\n# changed"), 1), 0o644)
	before["exports/a/module.yaml"] = nil
	before["exports/b/module.yaml"] = nil

	err := Run(root)
	if err == nil || !strings.Contains(err.Error(), `exports/b/module.yaml:20:5: function: unknown field "colour"`) {
		t.Fatalf("Run: got %v, want the unknown field error", err)
	}
	after := snapshot(t, root)
	for p, b := range before {
		if b != nil && !bytes.Equal(after[p], b) {
			t.Errorf("%s changed although a spec was bad", p)
		}
	}
	if len(after) != len(before) {
		t.Errorf("files: %d before, %d after", len(before), len(after))
	}
}

func snapshot(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out[filepath.ToSlash(rel)], _ = os.ReadFile(p)
		}
		return nil
	})
	return out
}

// TestWriteRemovesStale checks that a module whose spec is gone leaves no
// docs page or zz_kemi.go behind.
func TestWriteRemovesStale(t *testing.T) {
	root := t.TempDir()
	spec, _ := os.ReadFile("testdata/golden/basic/in/exports/demo/module.yaml")
	for _, m := range []string{"a", "b"} {
		os.MkdirAll(filepath.Join(root, "exports", m), 0o755)
		s := bytes.Replace(spec, []byte("module: demo"), []byte("module: "+m), 1)
		s = bytes.Replace(s, []byte("files: [demox]"), []byte("files: ["+m+"x]"), 1)
		s = bytes.Replace(s, []byte("brings: [extra]\n"), nil, 1)
		s = bytes.ReplaceAll(s, []byte("name: demo"), []byte("name: "+m))
		os.WriteFile(filepath.Join(root, "exports", m, "module.yaml"), s, 0o644)
	}
	if err := Run(root); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(root, "exports", "b", "module.yaml"))
	if err := Run(root); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"exports/b/zz_kemi.go", "docs/reference/b.md", "docs/reference/html/b.html"} {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s is still there", p)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "docs/reference/a.md")); err != nil {
		t.Errorf("a.md is gone: %v", err)
	}
}

func TestFindRoot(t *testing.T) {
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("FindRoot gave %s, which has no go.mod", root)
	}
}

// TestFormatFailureShowsSource checks that an emitter bug shows the
// numbered source, so the broken line can be found.
func TestFormatFailureShowsSource(t *testing.T) {
	_, err := formatGo("exports/x/zz_kemi.go", []byte("package x\n\nfunc f() {\n"))
	if err == nil {
		t.Fatal("broken Go formatted")
	}
	for _, want := range []string{"kemigen: exports/x/zz_kemi.go: generated Go does not format", "   1  package x\n", "   3  func f() {\n"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, err)
		}
	}
}

// TestLuaStubsParse runs the generated KSR.lua and .luacheckrc through
// gopher-lua's parser, the Lua kemi runs.
func TestLuaStubsParse(t *testing.T) {
	mods, err := Load("testdata/golden/basic/in")
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(mods)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"docs/stubs/KSR.lua", "docs/stubs/.luacheckrc"} {
		if _, err := luaparse.Parse(bytes.NewReader(files[p]), p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestSearchJS runs the generated html/search.js in goja with a stand-in
// document and types queries into the box.
func TestSearchJS(t *testing.T) {
	mods, err := Load("testdata/golden/basic/in")
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(mods)
	if err != nil {
		t.Fatal(err)
	}
	vm := goja.New()
	_, err = vm.RunString(`
function el(){ return {textContent:"", value:"", kids:[], appendChild:function(a){this.kids.push(a)}, addEventListener:function(e,f){this.on=f}}; }
var elems={mods:el(), q:el(), hits:el()};
var document={getElementById:function(i){return elems[i]}, createElement:function(){return {}}};
function search(q){ elems.q.value=q; elems.hits.kids=[]; elems.q.on(); return elems.hits.kids.map(function(a){return a.textContent}).join(" ")+elems.hits.textContent; }
`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vm.RunString(string(files["docs/reference/html/search.js"])); err != nil {
		t.Fatalf("search.js: %v", err)
	}
	for q, want := range map[string]string{
		"send":              "KSR.demo.send",
		"snd":               "KSR.demo.send",  // by alias
		"demo_send":         "KSR.demo.send",  // by native name
		"null value":        "KSR.demo.get",   // words of the doc, any order
		"KSR.INFO":          "KSR.info",       // any case
		"thing check":       "KSR.demo.check", // several words
		"no-such-function":  "no match",
		"reserved javascri": "KSR.demo.delete",
		// Exact names, then prefixes, then the doc's words; shorter first.
		"c":     "KSR.demo.check KSR.demo.count KSR.demo.put KSR.demo.flush KSR.demo.delete",
		"count": "KSR.demo.count",
		"info":  "KSR.info",
	} {
		v, err := vm.RunString("search(" + strconv.Quote(q) + ")")
		if err != nil {
			t.Fatal(err)
		}
		if got := v.String(); got != want {
			t.Errorf("search %q: got %q, want %q", q, got, want)
		}
	}
	if v, _ := vm.RunString("elems.mods.kids.map(function(a){return a.textContent}).join(',')"); v.String() != "core (KSR.*),demo,extra" {
		t.Errorf("nav: %s", v)
	}
}

// TestSearchJS_RanksNamesAndSaysWhenCut runs the search code on an index
// of 120 functions: an exact name comes first even when it sorts last and
// its doc matches nothing, prefixes next, and the list says it was cut.
func TestSearchJS_RanksNamesAndSaysWhenCut(t *testing.T) {
	vm := goja.New()
	var b strings.Builder
	b.WriteString(`var KEMI_MODULES=[];var KEMI_INDEX=[`)
	for i := 0; i < 120; i++ {
		fmt.Fprintf(&b, `{"n":"KSR.m.reply_%03d","a":"","d":"Send a reply.","u":"m.html#fn-reply_%03d"},`, i, i)
	}
	b.WriteString(`{"n":"KSR.z.reply","a":"","d":"Something else.","u":"z.html#fn-reply"}];`)
	b.WriteString(`
function el(){ return {textContent:"", value:"", kids:[], appendChild:function(a){this.kids.push(a)}, addEventListener:function(e,f){this.on=f}}; }
var elems={mods:el(), q:el(), hits:el()};
var document={getElementById:function(i){return elems[i]}, createElement:function(){return {}}};
`)
	b.WriteString(searchScript)
	if _, err := vm.RunString(b.String()); err != nil {
		t.Fatal(err)
	}
	v, err := vm.RunString(`elems.q.value="reply"; elems.hits.kids=[]; elems.q.on();
		var k=elems.hits.kids; [k.length, k[0].textContent, k[1].textContent, k[50].className, k[50].textContent].join("|")`)
	if err != nil {
		t.Fatal(err)
	}
	want := "51|KSR.z.reply|KSR.m.reply_000|more|showing 50 of 121 matches: type more to narrow"
	if v.String() != want {
		t.Errorf("got  %s\nwant %s", v, want)
	}
	v, _ = vm.RunString(`elems.q.value="reply_11"; elems.hits.kids=[]; elems.q.on(); elems.hits.kids.map(function(a){return a.textContent}).join(" ")`)
	if want := "KSR.m.reply_110 KSR.m.reply_111 KSR.m.reply_112 KSR.m.reply_113 KSR.m.reply_114 KSR.m.reply_115 KSR.m.reply_116 KSR.m.reply_117 KSR.m.reply_118 KSR.m.reply_119"; v.String() != want {
		t.Errorf("got  %s\nwant %s", v, want)
	}
}
