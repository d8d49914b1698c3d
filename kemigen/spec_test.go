package kemigen

import (
	"strings"
	"testing"
)

// TestSpecErrors has one case per kind of spec error, each with the exact
// message (file:line:col and what is wrong) a user sees.
func TestSpecErrors(t *testing.T) {
	for _, c := range []struct {
		name, spec, want string
	}{
		{"unknown module field", "module: m\ncolour: red\n",
			`m.yaml:2:1: module spec: unknown field "colour" (known: module, files, doc, params, functions, pvs, start, stop, reply_hooks, http_hooks, rpc, rpc_prefix, brings)`},
		// Issue 12: the lifecycle fields, one case each.
		{"pv field suggests", "module: m\npvs:\n  - {name: x, gte: getX}\n",
			`m.yaml:3:15: pv: unknown field "gte" (did you mean "get"?)`},
		{"pv getter not an identifier", "module: m\npvs:\n  - {name: x, get: get-x}\n",
			`m.yaml:3:20: pv get: "get-x" is not a valid identifier (letters, digits and _, not starting with a digit)`},
		{"pv setter not a string", "module: m\npvs:\n  - {name: x, set: [a]}\n",
			`m.yaml:3:20: pv set: want a string, got a list`},
		{"pv without a name", "module: m\npvs:\n  - {get: getX}\n",
			`m.yaml:3:5: pv: missing name`},
		{"start not a list", "module: m\nstart: begin\n",
			`m.yaml:2:8: start: want a list, got "begin"`},
		{"start twice", "module: m\nstart: [a, a]\n",
			`m.yaml:2:12: start: "a" given twice`},
		{"stop not an identifier", "module: m\nstop: [a.b]\n",
			`m.yaml:2:8: stop: "a.b" is not a valid identifier (letters, digits and _, not starting with a digit)`},
		{"reply hook misspelt", "module: m\nreply_hook: [h]\n",
			`m.yaml:2:1: module spec: unknown field "reply_hook" (did you mean "reply_hooks"?)`},
		{"reply hook not a string", "module: m\nreply_hooks: [{a: b}]\n",
			`m.yaml:2:15: reply_hooks: want a string, got a mapping`},
		{"rpc without go", "module: m\nrpc:\n  - {name: m.stats}\n",
			`m.yaml:3:5: rpc "m.stats": missing go (the Go function, a core.RPCFunc)`},
		{"rpc field suggests", "module: m\nrpc:\n  - {name: m.stats, go: s, docs: x}\n",
			`m.yaml:3:28: rpc: unknown field "docs" (did you mean "doc"?)`},
		{"rpc twice", "module: m\nrpc:\n  - {name: m.s, go: a}\n  - {name: m.s, go: b}\n",
			`m.yaml:4:5: rpc "m.s" declared twice (first at line 3)`},
		// Issue 16 item 2: an RPC name is module.command under the
		// module's name or its declared rpc_prefix (dialog: dlg.list).
		{"rpc without the module's name", "module: m\nrpc:\n  - {name: stats, go: s}\n",
			`m.yaml:3:5: rpc "stats": want a name starting with "m." (module.command)`},
		{"rpc under another module's name", "module: m\nrpc:\n  - {name: other.stats, go: s}\n",
			`m.yaml:3:5: rpc "other.stats": want a name starting with "m." (module.command)`},
		{"rpc under neither name nor prefix", "module: m\nrpc_prefix: mm\nrpc:\n  - {name: x.stats, go: s}\n",
			`m.yaml:4:5: rpc "x.stats": want a name starting with "m." or "mm." (module.command)`},
		{"rpc_prefix not an identifier", "module: m\nrpc_prefix: a.b\n",
			`m.yaml:2:13: rpc_prefix: "a.b" is not a valid identifier (letters, digits and _, not starting with a digit)`},
		{"brings twice", "module: m\nbrings: [x, x]\n",
			`m.yaml:2:13: brings: module "x" given twice`},
		{"brings not an identifier", "module: m\nbrings: [pv.so]\n",
			`m.yaml:2:10: brings: "pv.so" is not a valid identifier (letters, digits and _, not starting with a digit)`},
		{"unknown field suggests", "module: m\nfunctions:\n  - name: f\n    returns: int\n    retrun_doc: x\n",
			`m.yaml:5:5: function: unknown field "retrun_doc" (did you mean "return_doc"?)`},
		{"unknown param field", "module: m\nfunctions:\n  - name: f\n    returns: int\n    params:\n      - {name: a, tpye: int}\n",
			`m.yaml:6:19: function f: param: unknown field "tpye" (did you mean "type"?)`},
		{"unknown example engine", "module: m\nfunctions:\n  - name: f\n    returns: int\n    examples: {python: f()}\n",
			`m.yaml:5:16: examples: unknown field "python" (known: lua, js, starlark, native)`},
		{"missing module", "doc: x\n",
			`m.yaml:1:1: module spec: missing field "module" (use module: "" for the core)`},
		{"field twice", "module: m\ndoc: a\ndoc: b\n",
			`m.yaml:3:1: module spec: field "doc" given twice`},
		{"duplicate function", "module: m\nfunctions:\n  - {name: f, returns: int}\n  - {name: f, returns: int}\n",
			`m.yaml:4:5: function "f" declared twice (first at line 3)`},
		{"alias clashes with a function", "module: m\nfunctions:\n  - {name: f, returns: int}\n  - {name: g, aliases: [f], returns: int}\n",
			`m.yaml:4:5: function "f" declared twice (first at line 3)`},
		{"duplicate param", "module: m\nfunctions:\n  - name: f\n    returns: int\n    params:\n      - {name: a, type: int}\n      - {name: a, type: str}\n",
			`m.yaml:7:9: function f: param "a" declared twice`},
		{"duplicate module param", "module: m\nparams:\n  - {name: p, type: int}\n  - {name: p, type: int}\n",
			`m.yaml:4:5: module param "p" declared twice (first at line 3)`},
		{"duplicate pv", "module: m\npvs:\n  - {name: ru}\n  - {name: ru}\n",
			`m.yaml:4:5: pv "ru" declared twice (first at line 3)`},
		{"seven params", "module: m\nfunctions:\n  - name: f\n    returns: int\n    params: [{name: a, type: int}, {name: b, type: int}, {name: c, type: int}, {name: d, type: int}, {name: e, type: int}, {name: g, type: int}, {name: h, type: int}]\n",
			`m.yaml:5:13: function f: 7 params, at most 6 allowed`},
		{"unknown param type", "module: m\nfunctions:\n  - name: f\n    returns: int\n    params:\n      - {name: a, type: float}\n",
			`m.yaml:6:25: function f: param "a": unknown type "float" (want int, str, bool or long)`},
		{"unknown check", "module: m\nfunctions:\n  - name: f\n    returns: int\n    params:\n      - {name: a, type: str, check: crlf}\n",
			`m.yaml:6:37: function f: param "a": unknown check "crlf" (want line or hdrline)`},
		{"check on an int", "module: m\nfunctions:\n  - name: f\n    returns: int\n    params:\n      - {name: a, type: int, check: line}\n",
			`m.yaml:6:37: function f: param "a": check "line" applies to str params, not int`},
		{"fails on xval", "module: m\nfunctions:\n  - {name: f, returns: xval, fails: true}\n",
			`m.yaml:3:37: function f: fails is for int, bool and none functions; an xval one returns ctx.Fail(err)`},
		{"unknown return type", "module: m\nfunctions:\n  - {name: f, returns: string}\n",
			`m.yaml:3:24: function f: unknown return type "string" (want none, int, bool or xval)`},
		{"missing returns", "module: m\nfunctions:\n  - {name: f}\n",
			`m.yaml:3:5: function f: missing returns (none, int, bool or xval)`},
		{"unknown module param type", "module: m\nparams:\n  - {name: p, type: bool}\n",
			`m.yaml:3:21: module param "p": unknown type "bool" (want int or str)`},
		{"bad int default", "module: m\nparams:\n  - {name: p, type: int, default: ten}\n",
			`m.yaml:3:35: module param "p": default "ten" is not an int`},
		{"bad function name", "module: m\nfunctions:\n  - {name: send-reply, returns: int}\n",
			`m.yaml:3:12: function name: "send-reply" is not a valid identifier (letters, digits and _, not starting with a digit)`},
		{"bad module name", "module: 2fa\n",
			`m.yaml:1:9: module: "2fa" is not a valid identifier (letters, digits and _, not starting with a digit)`},
		{"bad param name", "module: m\nfunctions:\n  - name: f\n    returns: int\n    params:\n      - {name: a b, type: int}\n",
			`m.yaml:6:16: param name: "a b" is not a valid identifier (letters, digits and _, not starting with a digit)`},
		{"bad alias", "module: m\nfunctions:\n  - {name: f, aliases: [f.g], returns: int}\n",
			`m.yaml:3:25: alias: "f.g" is not a valid identifier (letters, digits and _, not starting with a digit)`},
		{"bad go name", "module: m\nfunctions:\n  - {name: f, go: pkg.F, returns: int}\n",
			`m.yaml:3:19: go: "pkg.F" is not a valid identifier (letters, digits and _, not starting with a digit)`},
		{"bad pv name", "module: m\npvs:\n  - {name: $ru}\n",
			`m.yaml:3:12: pv name: "$ru" is not a valid identifier (letters, digits and _, not starting with a digit)`},
		{"value on an xval", "module: m\nfunctions:\n  - {name: f, returns: xval, value: true}\n",
			`m.yaml:3:37: function f: value is for int returns (a count or a code rather than a status); xval is not a status anyway`},
		{"value not a bool", "module: m\nfunctions:\n  - {name: f, returns: int, value: yes please}\n",
			`m.yaml:3:36: value: want true or false, got "yes please"`},
		{"gives on an int", "module: m\nfunctions:\n  - {name: f, returns: int, gives: [str]}\n",
			`m.yaml:3:36: function f: gives narrows an xval return, not int`},
		{"gives unknown kind", "module: m\nfunctions:\n  - {name: f, returns: xval, gives: [str, float]}\n",
			`m.yaml:3:43: gives: unknown kind "float" (want int, str or null)`},
		{"gives twice", "module: m\nfunctions:\n  - {name: f, returns: xval, gives: [str, str]}\n",
			`m.yaml:3:43: gives: "str" given twice`},
		{"gives a list", "module: m\nfunctions:\n  - {name: f, returns: xval, gives: [[str]]}\n",
			`m.yaml:3:38: gives: want a string, got a list`},
		{"gives empty", "module: m\nfunctions:\n  - {name: f, returns: xval, gives: []}\n",
			`m.yaml:3:37: gives: want at least one of int, str, null`},
		{"empty outcome", "module: m\nfunctions:\n  - {name: f, returns: int, outcome: {}}\n",
			`m.yaml:3:38: outcome: want sends or log (or both)`},
		{"unknown outcome field", "module: m\nfunctions:\n  - {name: f, returns: int, outcome: {replies: [x]}}\n",
			`m.yaml:3:39: outcome: unknown field "replies" (known: sends, log)`},
		{"outcome sends not a list", "module: m\nfunctions:\n  - {name: f, returns: int, outcome: {sends: x}}\n",
			`m.yaml:3:46: outcome sends: want a list, got "x"`},
		{"not a mapping", "- a\n- b\n",
			`m.yaml:1:1: module spec: want a mapping, got a list`},
		{"params not a list", "module: m\nparams: {name: p}\n",
			`m.yaml:2:9: params: want a list, got a mapping`},
		{"yaml syntax", "module: m\n  doc: [\n",
			`m.yaml: line 2: mapping values are not allowed in this context`},
		{"empty", "",
			`m.yaml: empty spec: want a mapping with at least ` + "`module:`"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, errs := ParseSpec([]byte(c.spec), "m.yaml")
			if errs == nil {
				t.Fatalf("no error; got module %+v", m)
			}
			if m != nil {
				t.Errorf("a module came back with errors")
			}
			for _, e := range errs {
				if e.Error() == c.want {
					return
				}
			}
			t.Errorf("got  %s\nwant %s", errs.Error(), c.want)
		})
	}
}

// TestSpecAllErrors checks that one run reports every problem, in order.
func TestSpecAllErrors(t *testing.T) {
	_, errs := ParseSpec([]byte("module: m\nfunctions:\n  - {name: f, returns: nope}\n  - {name: f, returns: int, colour: 1}\n"), "m.yaml")
	got := errs.Error()
	want := strings.Join([]string{
		`m.yaml:3:24: function f: unknown return type "nope" (want none, int, bool or xval)`,
		`m.yaml:4:5: function "f" declared twice (first at line 3)`,
		`m.yaml:4:29: function: unknown field "colour" (known: name, aliases, native, params, returns, return_doc, doc, go, examples, fails, outcome, value, gives)`,
	}, "\n")
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestLoadBrings checks brings: across specs (issue 12): an unknown module
// or the module itself is an error; a known one is noted for the docs of
// the module brought.
func TestLoadBrings(t *testing.T) {
	pv := &Module{Name: "pv", Spec: "exports/pv/module.yaml", Brings: []string{"pvx"}}
	pvx := &Module{Name: "pvx", Spec: "exports/pvx/module.yaml"}
	if errs := checkModules([]*Module{pv, pvx}); len(errs) != 0 {
		t.Fatal(errs)
	}
	if len(pvx.BroughtBy) != 1 || pvx.BroughtBy[0] != "pv" {
		t.Errorf("pvx.BroughtBy = %v, want [pv]", pvx.BroughtBy)
	}
	for _, c := range []struct {
		brings, want string
	}{
		{"nope", `exports/a/module.yaml: brings: no module "nope" (no spec names it)`},
		{"a", `exports/a/module.yaml: brings: module "a" brings itself`},
	} {
		errs := checkModules([]*Module{{Name: "a", Spec: "exports/a/module.yaml", Brings: []string{c.brings}}})
		if errs.Error() != c.want {
			t.Errorf("got %q, want %q", errs.Error(), c.want)
		}
	}
}

// TestLoadPVClash: two specs giving one pseudo-variable a getter (or a
// setter) is an error naming both; a getter in one and a setter in the
// other (the core's $ru, pv's setter) is fine.
func TestLoadPVClash(t *testing.T) {
	a := &Module{Name: "a", Spec: "exports/a/module.yaml", PVs: []*PV{{Name: "x", Get: "getX"}}}
	b := &Module{Name: "b", Spec: "exports/b/module.yaml", PVs: []*PV{{Name: "x", Set: "setX"}}}
	if errs := checkModules([]*Module{a, b}); len(errs) != 0 {
		t.Fatal(errs)
	}
	c := &Module{Name: "c", Spec: "exports/c/module.yaml", PVs: []*PV{{Name: "x", Get: "getX"}}}
	want := `exports/c/module.yaml: pv "x": a getter is already declared by exports/a/module.yaml`
	if errs := checkModules([]*Module{a, b, c}); errs.Error() != want {
		t.Errorf("got %q, want %q", errs.Error(), want)
	}
}

// TestLoadClashes checks errors across specs: two specs for one module.
func TestLoadClashes(t *testing.T) {
	mods := []*Module{{Name: "sl", Spec: "exports/sl/module.yaml"}, {Name: "sl", Spec: "exports/sl2/module.yaml"}}
	errs := checkModules(mods)
	if len(errs) != 1 || errs[0].Error() != `exports/sl2/module.yaml: module name "sl" already used by exports/sl/module.yaml` {
		t.Errorf("got %v", errs)
	}
}

func TestDefaultsAndDerivedExamples(t *testing.T) {
	m, errs := ParseSpec([]byte(`module: sl
functions:
  - name: sl_send_reply
    params: [{name: code, type: int}, {name: reason, type: str}]
    returns: int
    examples: {lua: 'KSR.sl.sl_send_reply(404, "nil true")'}
  - name: get
    returns: xval
    examples: {lua: 'if KSR.sl.get() == nil then x = true end'}
`), "m.yaml")
	if errs != nil {
		t.Fatal(errs)
	}
	f := m.Functions[1]
	if f.Go != "SlSendReply" || f.Native != "sl_send_reply" {
		t.Errorf("defaults: go %q native %q", f.Go, f.Native)
	}
	for eng, want := range map[string]string{
		"js":       `KSR.sl.sl_send_reply(404, "nil true");`,
		"starlark": `KSR.sl.sl_send_reply(404, "nil true")`,
		"native":   `sl_send_reply(404, "nil true");`,
	} {
		if got := f.Examples[eng]; got != want {
			t.Errorf("%s example: got %q want %q", eng, got, want)
		}
	}
	g := m.Functions[0]
	for eng, want := range map[string]string{
		"js":       `if (KSR.sl.get() == null) { x = true; }`,
		"starlark": "if KSR.sl.get() == None:\n    x = True",
	} {
		if got := g.Examples[eng]; got != want {
			t.Errorf("%s example: got %q want %q", eng, got, want)
		}
	}
	if _, ok := g.Examples["native"]; ok {
		t.Errorf("native example derived from a statement that is not a call")
	}
}

func TestLuaToOtherEngines(t *testing.T) {
	for lua, want := range map[string][2]string{
		`KSR.info("a" .. KSR.pv.get("$ru") .. "\n")`: {`KSR.info("a" + KSR.pv.get("$ru") + "\n");`, `KSR.info("a" + str(KSR.pv.get("$ru")) + "\n")`},
		// Lua's .. turns an int into a string; Starlark's + does not.
		`KSR.info("branch " .. KSR.tm.t_get_branch_index())`:         {`KSR.info("branch " + KSR.tm.t_get_branch_index());`, `KSR.info("branch " + str(KSR.tm.t_get_branch_index()))`},
		`KSR.info(n .. "/" .. 5 .. KSR.m.f(KSR.m.g("(")) .. "x..y")`: {`KSR.info(n + "/" + 5 + KSR.m.f(KSR.m.g("(")) + "x..y");`, `KSR.info(str(n) + "/" + str(5) + str(KSR.m.f(KSR.m.g("("))) + "x..y")`},
		`if not KSR.is_INVITE() and x ~= nil then KSR.info("not..~=") end`: {
			`if (!KSR.is_INVITE() && x != null) { KSR.info("not..~="); }`,
			"if not KSR.is_INVITE() and x != None:\n    KSR.info(\"not..~=\")"},
		`local v = KSR.m.get()`: {`let v = KSR.m.get();`, `v = KSR.m.get()`},
	} {
		f := &Function{Name: "f", Native: "f", Examples: map[string]string{"lua": lua}}
		deriveExamples("m", f)
		if f.Examples["js"] != want[0] || f.Examples["starlark"] != want[1] {
			t.Errorf("%s\n js: %s\n star: %s", lua, f.Examples["js"], f.Examples["starlark"])
		}
	}
	// An if with two statements is not translated (it became "a() return").
	g := &Function{Name: "f", Native: "f", Examples: map[string]string{"lua": "if KSR.m.f() > 0 then KSR.m.g() return end"}}
	deriveExamples("m", g)
	if len(g.Examples) != 1 {
		t.Errorf("derived %v", g.Examples)
	}
	// A form kemigen cannot translate is left alone.
	f := &Function{Name: "f", Native: "f", Examples: map[string]string{"lua": "for i = 1, 3 do KSR.m.f() end"}}
	deriveExamples("m", f)
	if len(f.Examples) != 1 {
		t.Errorf("derived %v", f.Examples)
	}
}

// TestExamples_OutcomeDecoded: an outcome's sends and log reach the model.
func TestExamples_OutcomeDecoded(t *testing.T) {
	m, errs := ParseSpec([]byte("module: m\nfunctions:\n  - name: f\n    returns: int\n    outcome:\n      sends: [\"SIP/2.0 404 Not Found\"]\n      log: [a, b]\n  - {name: g, returns: int}\n"), "m.yaml")
	if errs != nil {
		t.Fatal(errs)
	}
	o := m.Functions[0].Outcome
	if o == nil || strings.Join(o.Sends, "|") != "SIP/2.0 404 Not Found" || strings.Join(o.Log, "|") != "a|b" {
		t.Errorf("outcome %+v", o)
	}
	if m.Functions[1].Outcome != nil {
		t.Errorf("g has an outcome it did not state")
	}
	m, errs = ParseSpec([]byte("module: m\nfunctions:\n  - {name: f, returns: xval, gives: [null, str]}\n"), "m.yaml")
	if errs != nil {
		t.Fatal(errs)
	}
	f := m.Functions[0]
	if strings.Join(f.Gives, ",") != "str,null" || ReturnType(f, "js") != "string|null" || ReturnType(f, "lua") != "string|nil" || pyReturn(f) != "Union[str, None]" {
		t.Errorf("gives %v: js %s lua %s py %s", f.Gives, ReturnType(f, "js"), ReturnType(f, "lua"), pyReturn(f))
	}
	if false {
		t.Errorf("g has an outcome it did not state")
	}
}
