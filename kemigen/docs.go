package kemigen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"strings"
)

// engineTypes names the spec types in each language's own words, as the
// docs and stubs show them.
var engineTypes = map[string]map[string]string{
	"lua":      {"int": "integer", "long": "integer", "str": "string", "bool": "boolean", "xval": "integer|string|nil", "none": ""},
	"js":       {"int": "number", "long": "number", "str": "string", "bool": "boolean", "xval": "number|string|null", "none": "void"},
	"starlark": {"int": "int", "long": "int", "str": "str", "bool": "bool", "xval": "int|str|None", "none": "None"},
	"native":   {"int": "int", "long": "long", "str": "str", "bool": "bool", "xval": "xval", "none": ""},
}

// xvalNames names what an xval holds in each language, for a return
// narrowed with `gives`.
var xvalNames = map[string]map[string]string{
	"lua":      {"int": "integer", "str": "string", "null": "nil"},
	"js":       {"int": "number", "str": "string", "null": "null"},
	"starlark": {"int": "int", "str": "str", "null": "None"},
}

// ReturnType is f's return type in engine's notation: an xval narrowed by
// its spec's `gives` is typed by what it gives ("string" for a gete
// getter, "string|nil" for a get one).
func ReturnType(f *Function, engine string) string {
	names := xvalNames[engine]
	if f.Returns != "xval" || len(f.Gives) == 0 || names == nil {
		return engineTypes[engine][f.Returns]
	}
	var ts []string
	for _, g := range f.Gives {
		ts = append(ts, names[g])
	}
	return strings.Join(ts, "|")
}

var engineTitles = map[string]string{"lua": "Lua", "js": "JavaScript", "starlark": "Starlark", "native": "Native"}

// Signature is a function's signature in one engine's notation.
func Signature(m *Module, f *Function, engine string) string {
	t := engineTypes[engine]
	var ps []string
	for _, a := range f.Params {
		switch engine {
		case "native":
			ps = append(ps, t[a.Type]+" "+a.Name)
		default:
			ps = append(ps, a.Name+": "+t[a.Type])
		}
	}
	args := strings.Join(ps, ", ")
	switch engine {
	case "lua":
		s := m.Prefix() + f.Name + "(" + args + ")"
		if r := ReturnType(f, engine); r != "" {
			s += ": " + r
		}
		return s
	case "js":
		return m.Prefix() + f.Name + "(" + args + "): " + ReturnType(f, engine)
	case "starlark":
		return m.Prefix() + f.Name + "(" + args + ") -> " + ReturnType(f, engine)
	}
	return f.Native + "(" + args + ")"
}

// ReturnKind names what a function returns in the docs: "int status"
// for an int that reports success or failure, "int value" for one that is
// a count or a code (spec `value: true`), else the spec type.
func ReturnKind(f *Function) string {
	if f.Returns == "int" {
		if f.Value {
			return "int value"
		}
		return "int status"
	}
	return f.Returns
}

// ReturnMeaning says what a function returns: the spec's return_doc, then
// what the type means in every engine. The status convention ("below 0 is
// failure, 0 stops the route") is told only for a status.
func ReturnMeaning(f *Function) string {
	var parts []string
	if d := strings.TrimSpace(f.ReturnDoc); d != "" {
		parts = append(parts, d)
	}
	switch f.Returns {
	case "int":
		if !f.Value {
			parts = append(parts, "A status: below 0 is failure, above 0 success; in the native language a 0 also stops the route (like exit), KEMI scripts just get 0.")
		} else if len(parts) == 0 {
			parts = append(parts, "An int.")
		}
	case "bool":
		if len(parts) == 0 {
			parts = append(parts, "true or false.")
		}
		parts = append(parts, "The native language sees 1 for true and -1 for false.")
	case "xval":
		if len(parts) == 0 {
			parts = append(parts, "An int, a string or null.")
		}
		if len(f.Gives) > 0 && len(f.Gives) < len(xvalKinds) {
			parts = append(parts, "It gives "+orList(f.Gives)+".")
		}
		parts = append(parts, "Null, where it gives one, is nil in Lua, null in JavaScript, None in Starlark and $null in the native language.")
	case "none":
		if len(parts) == 0 {
			parts = append(parts, "Nothing.")
		}
	}
	if f.Fails {
		parts = append(parts, "It can also raise a script error, which stops the route.")
	}
	return strings.Join(parts, " ")
}

// orList joins xval kinds for the docs: "a string or null".
func orList(kinds []string) string {
	words := map[string]string{"int": "an int", "str": "a string", "null": "null"}
	var ws []string
	for _, k := range kinds {
		ws = append(ws, words[k])
	}
	if len(ws) == 1 {
		return ws[0] + " only"
	}
	return strings.Join(ws[:len(ws)-1], ", ") + " or " + ws[len(ws)-1]
}

// conventions heads a module's function list: the status convention only
// when some function of the module returns a status.
func conventions(m *Module) string {
	var s []string
	status, value, xval := false, false, false
	for _, f := range m.Functions {
		status = status || f.Returns == "int" && !f.Value
		value = value || f.Value
		xval = xval || f.Returns == "xval"
	}
	if status {
		s = append(s, "A function returning an int status reports failure below 0 and success above 0; in the native language a 0 also stops the route.")
	}
	if value || xval {
		s = append(s, "A function returning a value (an int value, or an xval: an int or a string) says what it returns; no value stops the route.")
	}
	if xval {
		s = append(s, "A missing value (null) is nil in Lua, null in JavaScript, None in Starlark and $null in the native language.")
	}
	s = append(s, "Wrong argument types are a script error naming the function, not a silent 0.")
	return strings.Join(s, " ")
}

// indexEntry is one function in docs/reference/index.json.
type indexEntry struct {
	Module     string            `json:"module"`
	Name       string            `json:"name"`
	Full       string            `json:"full"`
	Aliases    []string          `json:"aliases,omitempty"`
	Native     string            `json:"native"`
	Params     []indexParam      `json:"params"`
	Returns    string            `json:"returns"`
	Value      bool              `json:"value,omitempty"`
	Gives      []string          `json:"gives,omitempty"`
	ReturnDoc  string            `json:"return_doc,omitempty"`
	Doc        string            `json:"doc"`
	Signatures map[string]string `json:"signatures"`
	Examples   map[string]string `json:"examples,omitempty"`
	Page       string            `json:"page"`
}

type indexParam struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Doc   string `json:"doc,omitempty"`
	Check string `json:"check,omitempty"`
}

// paramDoc is a param's description with what its check refuses.
func paramDoc(a *Param) string {
	c := paramChecks[a.Check]
	switch {
	case c == "":
		return a.Doc
	case a.Doc == "":
		return c
	}
	return strings.TrimSpace(a.Doc) + " " + c
}

type indexModule struct {
	Name   string          `json:"name"`
	Dir    string          `json:"dir"`
	Files  []string        `json:"files,omitempty"`
	Doc    string          `json:"doc"`
	Params []indexModParam `json:"params,omitempty"`
	PVs    []indexParam    `json:"pvs,omitempty"`
	RPCs   []indexParam    `json:"rpc,omitempty"`
}

type indexModParam struct {
	Name    string  `json:"name"`
	Type    string  `json:"type"`
	Default *string `json:"default,omitempty"`
	Multi   bool    `json:"multi,omitempty"`
	Doc     string  `json:"doc,omitempty"`
}

// Index is the shape of docs/reference/index.json.
type Index struct {
	Generated string        `json:"generated"`
	Modules   []indexModule `json:"modules"`
	Functions []indexEntry  `json:"functions"`
}

func buildIndex(mods []*Module) *Index {
	ix := &Index{Generated: "Code generated by kemigen. DO NOT EDIT."}
	for _, m := range mods {
		im := indexModule{Name: m.Name, Dir: m.Dir, Files: m.Files, Doc: m.Doc}
		for _, p := range m.Params {
			im.Params = append(im.Params, indexModParam{p.Name, p.Type, p.Default, p.Multi, p.Doc})
		}
		for _, r := range m.RPCs {
			im.RPCs = append(im.RPCs, indexParam{Name: r.Name, Doc: r.Doc})
		}
		for _, pv := range m.PVs {
			im.PVs = append(im.PVs, indexParam{Name: pv.Name, Doc: pv.Doc})
		}
		ix.Modules = append(ix.Modules, im)
		for _, f := range m.Functions {
			e := indexEntry{
				Module: m.Name, Name: f.Name, Full: m.Prefix() + f.Name, Aliases: f.Aliases,
				Native: f.Native, Params: []indexParam{}, Returns: f.Returns, Value: f.Value, Gives: f.Gives, ReturnDoc: f.ReturnDoc,
				Doc: f.Doc, Signatures: map[string]string{}, Page: m.Slug() + ".html#" + anchor(f),
			}
			for _, a := range f.Params {
				e.Params = append(e.Params, indexParam{a.Name, a.Type, a.Doc, a.Check})
			}
			for _, eng := range engineKeys {
				e.Signatures[eng] = Signature(m, f, eng)
			}
			if len(f.Examples) > 0 {
				e.Examples = f.Examples
			}
			ix.Functions = append(ix.Functions, e)
		}
	}
	return ix
}

func anchor(f *Function) string { return "fn-" + f.Name }

// Docs renders docs/reference: one Markdown page per module, index.json,
// and the static HTML site with its search box.
func Docs(mods []*Module) map[string][]byte {
	out := map[string][]byte{}
	ix := buildIndex(mods)
	j, _ := json.MarshalIndent(ix, "", "  ")
	out["docs/reference/index.json"] = append(j, '\n')

	var md bytes.Buffer
	md.WriteString("<!-- Code generated by kemigen. DO NOT EDIT. -->\n\n# KSR reference\n\n")
	md.WriteString("Every function a routing script can call, generated from the module specs.\n")
	md.WriteString("Browse it with search in [html/index.html](html/index.html).\n\n| module | functions | about |\n| --- | --- | --- |\n")
	for _, m := range mods {
		fmt.Fprintf(&md, "| [%s](%s.md) | %d | %s |\n", moduleTitle(m), m.Slug(), len(m.Functions), mdCell(firstSentence(m.Doc)))
	}
	out["docs/reference/README.md"] = md.Bytes()

	for _, m := range mods {
		out["docs/reference/"+m.Slug()+".md"] = moduleMarkdown(m)
		out["docs/reference/html/"+m.Slug()+".html"] = moduleHTML(m)
	}
	out["docs/reference/html/index.html"] = indexHTML(mods)
	out["docs/reference/html/search.js"] = searchJS(mods)
	return out
}

func moduleTitle(m *Module) string {
	if m.Name == "" {
		return "core (KSR.*)"
	}
	return m.Name
}

func firstSentence(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", " ")
}

// broughtNote says which loadmodule brings m along (brings: in another
// spec) and what m brings, with code marking a file name; "" for neither.
func broughtNote(m *Module, code func(string) string) string {
	var b strings.Builder
	so := func(names []string) string {
		q := make([]string, len(names))
		for i, n := range names {
			q[i] = code(n + ".so")
		}
		return strings.Join(q, ", ")
	}
	if len(m.BroughtBy) > 0 {
		fmt.Fprintf(&b, "It comes with %s: loading that loads this one too.\n\n", so(m.BroughtBy))
	}
	if len(m.Brings) > 0 {
		fmt.Fprintf(&b, "Loading it also loads %s.\n\n", so(m.Brings))
	}
	return b.String()
}

func moduleMarkdown(m *Module) []byte {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("<!-- Code generated by kemigen. DO NOT EDIT. -->\n<!-- Source: %s -->\n\n", m.Spec)
	w("# %s\n\n", moduleTitle(m))
	if m.Doc != "" {
		w("%s\n\n", strings.TrimSpace(m.Doc))
	}
	if m.Name != "" {
		w("Load it with `loadmodule \"%s.so\"`", m.Name)
		if len(m.Files) > 0 {
			w(" (also loaded as: %s)", strings.Join(m.Files, ", "))
		}
		w(".\n\n")
		w("%s", broughtNote(m, func(s string) string { return "`" + s + "`" }))
	}
	if len(m.Params) > 0 {
		w("## Parameters\n\n| name | type | default | description |\n| --- | --- | --- | --- |\n")
		for _, p := range m.Params {
			def := ""
			if p.Default != nil {
				def = "`" + *p.Default + "`"
			}
			doc := p.Doc
			if p.Multi {
				doc += " May be given many times."
			}
			w("| `%s` | %s | %s | %s |\n", p.Name, p.Type, def, mdCell(doc))
		}
		w("\nSet with `modparam(\"%s\", \"name\", value)`.\n\n", m.Name)
	}
	if len(m.Functions) > 0 {
		w("## Functions\n\n%s\n\n", conventions(m))
		for _, f := range m.Functions {
			w("- [%s%s](#%s)\n", m.Prefix(), f.Name, anchor(f))
		}
		w("\n")
		for _, f := range m.Functions {
			w("<a id=\"%s\"></a>\n### %s%s\n\n", anchor(f), m.Prefix(), f.Name)
			if f.Doc != "" {
				w("%s\n\n", strings.TrimSpace(f.Doc))
			}
			w("| engine | signature |\n| --- | --- |\n")
			for _, eng := range engineKeys {
				w("| %s | `%s` |\n", engineTitles[eng], mdCell(Signature(m, f, eng)))
			}
			w("\n")
			if len(f.Params) > 0 {
				w("| param | type | description |\n| --- | --- | --- |\n")
				for _, a := range f.Params {
					w("| `%s` | %s | %s |\n", a.Name, a.Type, mdCell(paramDoc(a)))
				}
				w("\n")
			}
			w("**Returns** (%s): %s\n\n", ReturnKind(f), oneLine(ReturnMeaning(f)))
			if f.Native != f.Name {
				w("Native name: `%s`.", f.Native)
			} else {
				w("Native name: same, `%s`.", f.Native)
			}
			if len(f.Aliases) > 0 {
				w(" Aliases: %s.", codeList(f.Aliases))
			}
			w("\n\n")
			if len(f.Examples) > 0 {
				for _, eng := range engineKeys {
					if ex, ok := f.Examples[eng]; ok {
						w("```%s\n%s\n```\n\n", fenceLang(eng), ex)
					}
				}
			}
			if o := outcomeText(f.Outcome, "`"); o != "" {
				w("%s\n\n", o)
			}
		}
	}
	if len(m.PVs) > 0 {
		w("## Pseudo-variables\n\n| name | description |\n| --- | --- |\n")
		for _, pv := range m.PVs {
			w("| `$%s` | %s |\n", pv.Name, mdCell(pv.Doc))
		}
		w("\n")
	}
	if len(m.RPCs) > 0 {
		w("## RPC methods\n\nCall them with `kemi rpc METHOD [ARGS...]` (or kamcli, or any JSON-RPC client on the control socket).\n\n| method | description |\n| --- | --- |\n")
		for _, r := range m.RPCs {
			w("| `%s` | %s |\n", r.Name, mdCell(r.Doc))
		}
		w("\n")
	}
	return append(bytes.TrimRight(b.Bytes(), "\n"), '\n')
}

// outcomeText tells what the examples do on the test INVITE, each item
// between quote marks; "" when the spec states no outcome.
func outcomeText(o *Outcome, q string) string {
	if o == nil {
		return ""
	}
	quote := func(ss []string) string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = q + s + q
			if q == "" {
				out[i] = "\"" + s + "\""
			}
		}
		return strings.Join(out, ", ")
	}
	var parts []string
	if len(o.Sends) > 0 {
		parts = append(parts, "sends "+quote(o.Sends))
	}
	if len(o.Log) > 0 {
		parts = append(parts, "logs "+quote(o.Log))
	}
	return "Run on an INVITE, the example in each engine " + strings.Join(parts, " and ") + " (test/examples checks it)."
}

func fenceLang(eng string) string {
	switch eng {
	case "js":
		return "javascript"
	case "starlark":
		return "python"
	case "native":
		return "c"
	}
	return eng
}

func codeList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = "`" + s + "`"
	}
	return strings.Join(q, ", ")
}

// searchItem is one row of the search index in html/search.js.
type searchItem struct {
	N string `json:"n"` // full name
	A string `json:"a"` // aliases and native name, space separated
	D string `json:"d"` // the doc
	U string `json:"u"` // page#anchor
}

type navItem struct {
	N string `json:"n"` // module title
	U string `json:"u"` // page
}

// searchJS renders html/search.js: the module list and the function index
// with the code that uses them. Every page loads it with <script src>,
// which works from a plain file:// checkout (no server, nothing fetched),
// and a new module changes this file and index.html rather than every page.
func searchJS(mods []*Module) []byte {
	var items []searchItem
	var nav []navItem
	for _, m := range mods {
		nav = append(nav, navItem{moduleTitle(m), m.Slug() + ".html"})
		for _, f := range m.Functions {
			items = append(items, searchItem{
				N: m.Prefix() + f.Name,
				A: strings.TrimSpace(strings.Join(f.Aliases, " ") + " " + f.Native),
				D: oneLine(f.Doc),
				U: m.Slug() + ".html#" + anchor(f),
			})
		}
	}
	ib, _ := json.Marshal(items)
	nb, _ := json.Marshal(nav)
	var b bytes.Buffer
	b.WriteString("// Code generated by kemigen. DO NOT EDIT.\n\nvar KEMI_MODULES = ")
	b.Write(nb)
	b.WriteString(";\nvar KEMI_INDEX = ")
	b.Write(ib)
	b.WriteString(";\n")
	b.WriteString(searchScript)
	b.WriteString("\n")
	return b.Bytes()
}

const pageCSS = `body{font:15px/1.5 system-ui,sans-serif;margin:0;display:flex;color:#222}
nav{width:15em;padding:1em;background:#f4f4f4;min-height:100vh;box-sizing:border-box}
nav a{display:block;color:#036;text-decoration:none}main{padding:1em 2em;max-width:60em}
code,pre{font:13px/1.4 ui-monospace,monospace;background:#f6f6f6}pre{padding:.5em;overflow:auto}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left}
#q{width:100%;box-sizing:border-box;padding:.3em}#hits a{display:block;font-size:13px}
h3{border-top:1px solid #ddd;padding-top:1em}`

// searchScript lists the modules in the page's nav and searches the index
// as the user types. Function names rank first: an exact name (short,
// full, alias or native), then names starting with the query, then names
// holding it, then entries whose name, aliases or doc hold every word;
// shorter names first within a rank. At most maxHits show, and a line
// says how many matched when more did.
const searchScript = `(function(){
var idx=KEMI_INDEX,MAX=50;
var mods=document.getElementById("mods");
KEMI_MODULES.forEach(function(m){
  var a=document.createElement("a");a.href=m.u;a.textContent=m.n;mods.appendChild(a);
});
var q=document.getElementById("q"),hits=document.getElementById("hits");
function names(it){
  var full=it.n.toLowerCase(),short=full.slice(full.lastIndexOf(".")+1);
  return [short,full].concat(it.a?it.a.toLowerCase().split(" "):[]);
}
function rank(it,query,words){
  var ns=names(it),i;
  for(i=0;i<ns.length;i++)if(ns[i]===query)return 0;
  for(i=0;i<ns.length;i++)if(ns[i].indexOf(query)===0)return 1;
  for(i=0;i<ns.length;i++)if(ns[i].indexOf(query)>=0)return 2;
  var hay=(it.n+" "+it.a+" "+it.d).toLowerCase();
  return words.every(function(w){return hay.indexOf(w)>=0;})?3:-1;
}
function show(){
  var query=q.value.toLowerCase().trim(),words=query.split(/\s+/).filter(Boolean);
  hits.textContent="";
  if(!words.length)return;
  var found=[];
  for(var i=0;i<idx.length;i++){
    var r=rank(idx[i],query,words);
    if(r>=0)found.push({r:r,it:idx[i]});
  }
  found.sort(function(x,y){return x.r-y.r||x.it.n.length-y.it.n.length||(x.it.n<y.it.n?-1:x.it.n>y.it.n?1:0);});
  if(!found.length){hits.textContent="no match";return;}
  found.slice(0,MAX).forEach(function(f){
    var a=document.createElement("a");a.href=f.it.u;a.textContent=f.it.n;a.title=f.it.d;
    hits.appendChild(a);
  });
  if(found.length>MAX){
    var p=document.createElement("p");p.className="more";
    p.textContent="showing "+MAX+" of "+found.length+" matches: type more to narrow";
    hits.appendChild(p);
  }
}
q.addEventListener("input",show);show();
})();`

func pageHTML(title string, body string) []byte {
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<!-- Code generated by kemigen. DO NOT EDIT. -->\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n")
	fmt.Fprintf(&b, "<title>%s</title>\n<style>%s</style>\n</head><body>\n<nav>\n", html.EscapeString(title), pageCSS)
	b.WriteString("<input id=\"q\" type=\"search\" placeholder=\"Search functions\" aria-label=\"Search functions\">\n<div id=\"hits\"></div>\n<p><a href=\"index.html\">All modules</a></p>\n<div id=\"mods\"></div>\n")
	b.WriteString("</nav>\n<main>\n")
	b.WriteString(body)
	b.WriteString("</main>\n<script src=\"search.js\"></script>\n</body></html>\n")
	return b.Bytes()
}

func indexHTML(mods []*Module) []byte {
	var b strings.Builder
	b.WriteString("<h1>KSR reference</h1>\n<p>Every function a routing script can call. Type in the box to search by name or by words in the description.</p>\n<table><tr><th>module</th><th>functions</th><th>about</th></tr>\n")
	for _, m := range mods {
		fmt.Fprintf(&b, "<tr><td><a href=\"%s.html\">%s</a></td><td>%d</td><td>%s</td></tr>\n",
			m.Slug(), html.EscapeString(moduleTitle(m)), len(m.Functions), html.EscapeString(firstSentence(m.Doc)))
	}
	b.WriteString("</table>\n")
	return pageHTML("KSR reference", b.String())
}

func moduleHTML(m *Module) []byte {
	var b strings.Builder
	e := html.EscapeString
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("<h1>%s</h1>\n", e(moduleTitle(m)))
	if m.Doc != "" {
		w("<p>%s</p>\n", e(strings.TrimSpace(m.Doc)))
	}
	if m.Name != "" {
		w("<p>Load it with <code>loadmodule \"%s.so\"</code>.</p>\n", e(m.Name))
		if n := broughtNote(m, func(s string) string { return "<code>" + e(s) + "</code>" }); n != "" {
			w("<p>%s</p>\n", strings.TrimSpace(n))
		}
	}
	if len(m.Params) > 0 {
		w("<h2>Parameters</h2>\n<table><tr><th>name</th><th>type</th><th>default</th><th>description</th></tr>\n")
		for _, p := range m.Params {
			def := ""
			if p.Default != nil {
				def = "<code>" + e(*p.Default) + "</code>"
			}
			w("<tr><td><code>%s</code></td><td>%s</td><td>%s</td><td>%s</td></tr>\n", e(p.Name), p.Type, def, e(p.Doc))
		}
		w("</table>\n")
	}
	if len(m.Functions) > 0 {
		w("<h2>Functions</h2>\n<p>%s</p>\n", e(conventions(m)))
		for _, f := range m.Functions {
			w("<h3 id=\"%s\">%s%s</h3>\n", anchor(f), e(m.Prefix()), e(f.Name))
			if f.Doc != "" {
				w("<p>%s</p>\n", e(strings.TrimSpace(f.Doc)))
			}
			w("<table><tr><th>engine</th><th>signature</th></tr>\n")
			for _, eng := range engineKeys {
				w("<tr><td>%s</td><td><code>%s</code></td></tr>\n", engineTitles[eng], e(Signature(m, f, eng)))
			}
			w("</table>\n")
			if len(f.Params) > 0 {
				w("<table><tr><th>param</th><th>type</th><th>description</th></tr>\n")
				for _, a := range f.Params {
					w("<tr><td><code>%s</code></td><td>%s</td><td>%s</td></tr>\n", e(a.Name), a.Type, e(paramDoc(a)))
				}
				w("</table>\n")
			}
			w("<p><b>Returns</b> (%s): %s</p>\n", ReturnKind(f), e(oneLine(ReturnMeaning(f))))
			w("<p>Native name: <code>%s</code>.", e(f.Native))
			if len(f.Aliases) > 0 {
				w(" Aliases: <code>%s</code>.", e(strings.Join(f.Aliases, ", ")))
			}
			w("</p>\n")
			for _, eng := range engineKeys {
				if ex, ok := f.Examples[eng]; ok {
					w("<p>%s:</p><pre>%s</pre>\n", engineTitles[eng], e(ex))
				}
			}
			if o := outcomeText(f.Outcome, ""); o != "" {
				w("<p>%s</p>\n", e(o))
			}
		}
	}
	if len(m.PVs) > 0 {
		w("<h2>Pseudo-variables</h2>\n<table><tr><th>name</th><th>description</th></tr>\n")
		for _, pv := range m.PVs {
			w("<tr><td><code>$%s</code></td><td>%s</td></tr>\n", e(pv.Name), e(pv.Doc))
		}
		w("</table>\n")
	}
	if len(m.RPCs) > 0 {
		w("<h2>RPC methods</h2>\n<p>Call them with <code>kemi rpc METHOD [ARGS...]</code>.</p>\n<table><tr><th>method</th><th>description</th></tr>\n")
		for _, r := range m.RPCs {
			w("<tr><td><code>%s</code></td><td>%s</td></tr>\n", e(r.Name), e(r.Doc))
		}
		w("</table>\n")
	}
	return pageHTML(moduleTitle(m)+" — KSR reference", b.String())
}
