package kemigen

import (
	"bytes"
	"fmt"
	"go/format"
	"strconv"
	"strings"
)

// printer is a small line printer in the protogen style.
type printer struct{ bytes.Buffer }

func (p *printer) P(args ...any) {
	for _, a := range args {
		fmt.Fprint(&p.Buffer, a)
	}
	p.WriteByte('\n')
}

// formatGo runs go/format; when the source does not parse, the error shows
// it with line numbers, since the bug is in the emitter.
func formatGo(name string, src []byte) ([]byte, error) {
	b, err := format.Source(src)
	if err != nil {
		var num strings.Builder
		for i, line := range strings.Split(string(src), "\n") {
			fmt.Fprintf(&num, "%4d  %s\n", i+1, line)
		}
		return nil, fmt.Errorf("kemigen: %s: generated Go does not format: %v\n%s", name, err, num.String())
	}
	return b, nil
}

var coreTypes = map[string]string{
	"none": "core.TNone", "int": "core.TInt", "str": "core.TStr",
	"bool": "core.TBool", "long": "core.TLong", "xval": "core.TXval",
}

// GoSource renders a module's zz_kemi.go.
func GoSource(m *Module) ([]byte, error) {
	var p printer
	p.P(Header)
	p.P()
	p.P("package ", m.Package)
	p.P()
	p.P(`import "kemi/core"`)
	p.P()
	p.P("func init() {")
	p.P("core.Register(&core.ModuleSpec{")
	p.P("Name: ", strconv.Quote(m.Name), ",")
	if len(m.Files) > 0 {
		p.P("Files: ", goStrings(m.Files), ",")
	}
	p.P("Doc: ", strconv.Quote(m.Doc), ",")
	if len(m.Params) > 0 {
		p.P("Params: []core.ParamSpec{")
		for _, mp := range m.Params {
			def := "core.Null()"
			if mp.Default != nil {
				if mp.Type == "int" {
					def = "core.Int(" + *mp.Default + ")"
				} else {
					def = "core.Str(" + strconv.Quote(*mp.Default) + ")"
				}
			}
			multi := ""
			if mp.Multi {
				multi = ", Multi: true"
			}
			p.P("{Name: ", strconv.Quote(mp.Name), ", Type: ", coreTypes[mp.Type], ", Default: ", def,
				", Doc: ", strconv.Quote(mp.Doc), multi, "},")
		}
		p.P("},")
	}
	if len(m.Functions) > 0 {
		p.P("Exports: []*core.Export{")
		for _, f := range m.Functions {
			p.P("{")
			p.P("Module: ", strconv.Quote(m.Name), ",")
			p.P("Name: ", strconv.Quote(f.Name), ",")
			if len(f.Params) > 0 {
				p.P("Params: ", argsVar(f), ",")
			}
			p.P("Returns: ", coreTypes[f.Returns], ",")
			p.P("Native: ", strconv.Quote(f.Native), ",")
			if len(f.Aliases) > 0 {
				p.P("Aliases: ", goStrings(f.Aliases), ",")
			}
			p.P("Call: ", thunkName(f), ",")
			p.P("},")
		}
		p.P("},")
	}
	if len(m.PVs) > 0 {
		p.P("PVs: []core.PVSpec{")
		for _, pv := range m.PVs {
			fns := ""
			if pv.Get != "" {
				fns += ", Get: " + pv.Get
			}
			if pv.Set != "" {
				fns += ", Set: " + pv.Set
			}
			p.P("{Name: ", strconv.Quote(pv.Name), ", Doc: ", strconv.Quote(pv.Doc), fns, "},")
		}
		p.P("},")
	}
	if len(m.Start) > 0 {
		p.P("Start: []core.StartFunc{", strings.Join(m.Start, ", "), "},")
	}
	if len(m.Stop) > 0 {
		p.P("Stop: []core.StopFunc{", strings.Join(m.Stop, ", "), "},")
	}
	if len(m.ReplyHooks) > 0 {
		p.P("ReplyHooks: []core.ReplyHook{", strings.Join(m.ReplyHooks, ", "), "},")
	}
	if len(m.HTTPHooks) > 0 {
		p.P("HTTPHooks: []core.HTTPHook{", strings.Join(m.HTTPHooks, ", "), "},")
	}
	if len(m.RPCs) > 0 {
		p.P("RPCs: []core.RPCSpec{")
		for _, r := range m.RPCs {
			p.P("{Name: ", strconv.Quote(r.Name), ", Doc: ", strconv.Quote(r.Doc), ", Call: ", r.Go, "},")
		}
		p.P("},")
	}
	if len(m.Brings) > 0 {
		p.P("Brings: ", goStrings(m.Brings), ",")
	}
	p.P("})")
	p.P("}")

	for _, f := range m.Functions {
		p.P()
		emitThunk(&p, m, f)
	}

	guards := guardLines(m)
	if len(guards) > 0 {
		p.P()
		p.P("// The build breaks here when a Go function's signature drifts from ", m.Spec, ".")
		p.P("var (")
		for _, g := range guards {
			p.P(g)
		}
		p.P(")")
	}
	return formatGo(m.Dir+"/"+GoFile, p.Bytes())
}

// Go signatures of the lifecycle functions a spec names, as the core
// types them (core.PVGetter, core.StartFunc, ...), spelt out so a drift
// shows the signature wanted.
const (
	pvGetType     = "func(*core.Ctx, string, []byte) ([]byte, bool)"
	pvSetType     = "func(*core.Ctx, string, core.Value) error"
	startType     = "func(*core.Runtime) error"
	stopType      = "func(*core.Runtime)"
	replyHookType = "func(*core.Ctx) bool"
	httpHookType  = "func(*core.Ctx) bool"
	rpcType       = "func(*core.Runtime, []core.Value) (any, error)"
)

// guardLines are the compile-time checks of every Go function a spec
// names: "_ func(...) = F", one a function.
func guardLines(m *Module) []string {
	var out []string
	g := func(typ, name string) { out = append(out, "_ "+typ+" = "+name) }
	for _, f := range m.Functions {
		g(goFuncType(f), f.Go)
	}
	for _, pv := range m.PVs {
		if pv.Get != "" {
			g(pvGetType, pv.Get)
		}
		if pv.Set != "" {
			g(pvSetType, pv.Set)
		}
	}
	for _, f := range m.Start {
		g(startType, f)
	}
	for _, f := range m.Stop {
		g(stopType, f)
	}
	for _, f := range m.ReplyHooks {
		g(replyHookType, f)
	}
	for _, f := range m.HTTPHooks {
		g(httpHookType, f)
	}
	for _, r := range m.RPCs {
		g(rpcType, r.Go)
	}
	return out
}

func thunkName(f *Function) string { return "kemi_" + f.Name }
func argsVar(f *Function) string   { return "kemiArgs_" + f.Name }

// goFuncType is the typed Go signature a spec function asks for.
func goFuncType(f *Function) string {
	var b strings.Builder
	b.WriteString("func(*core.Ctx")
	for _, a := range f.Params {
		b.WriteString(", ")
		b.WriteString(paramGoTypes[a.Type])
	}
	b.WriteString(")")
	r := returnGoTypes[f.Returns]
	switch {
	case f.Fails && r != "":
		b.WriteString(" (" + r + ", error)")
	case f.Fails:
		b.WriteString(" error")
	case r != "":
		b.WriteString(" " + r)
	}
	return b.String()
}

func emitThunk(p *printer, m *Module, f *Function) {
	full := m.Prefix() + f.Name
	if len(f.Params) > 0 {
		var ts []string
		for _, a := range f.Params {
			ts = append(ts, coreTypes[a.Type])
		}
		p.P("var ", argsVar(f), " = []core.Type{", strings.Join(ts, ", "), "}")
		p.P()
	}
	p.P("// ", thunkName(f), " adapts ", full, " to ", f.Go, ".")
	p.P("func ", thunkName(f), "(ctx *core.Ctx, args []core.Value) core.Value {")
	cond := []string{"len(args) != " + strconv.Itoa(len(f.Params))}
	var call []string
	call = append(call, "ctx")
	for i, a := range f.Params {
		arg := "args[" + strconv.Itoa(i) + "]"
		switch a.Type {
		case "int":
			cond = append(cond, arg+".Kind != core.KInt")
			call = append(call, "int("+arg+".I)")
		case "long":
			cond = append(cond, arg+".Kind != core.KInt")
			call = append(call, arg+".I")
		case "str":
			cond = append(cond, arg+".Kind != core.KStr")
			call = append(call, arg+".S")
		case "bool":
			// Native cfg passes flags as ints; both mean the same.
			cond = append(cond, "("+arg+".Kind != core.KBool && "+arg+".Kind != core.KInt)")
			call = append(call, arg+".I != 0")
		}
	}
	want := "nil"
	if len(f.Params) > 0 {
		want = argsVar(f)
	}
	p.P("if ", strings.Join(cond, " || "), " {")
	p.P("return ctx.Fail(core.ArgError(", strconv.Quote(full), ", ", want, ", core.KindNames(args)))")
	p.P("}")
	for i, a := range f.Params {
		arg := "args[" + strconv.Itoa(i) + "].S"
		var ok, name string
		switch a.Check {
		case "line":
			ok, name = "core.LineOK", "core.CheckLine"
		case "hdrline":
			ok, name = "core.HdrLineOK", "core.CheckHdrLine"
		default:
			continue
		}
		p.P("if !", ok, "(", arg, ") {")
		p.P("return ctx.Fail(core.CheckError(", strconv.Quote(full), ", ", strconv.Quote(a.Name), ", ", name, ", ", arg, "))")
		p.P("}")
	}
	c := f.Go + "(" + strings.Join(call, ", ") + ")"
	if f.Fails {
		if f.Returns == "none" {
			p.P("if err := ", c, "; err != nil {")
			p.P("return ctx.Fail(err)")
			p.P("}")
			p.P("return core.Null()")
		} else {
			p.P("r, err := ", c)
			p.P("if err != nil {")
			p.P("return ctx.Fail(err)")
			p.P("}")
			if f.Returns == "int" {
				p.P("return core.Int(int64(r))")
			} else {
				p.P("return core.Bool(r)")
			}
		}
		p.P("}")
		return
	}
	switch f.Returns {
	case "none":
		p.P(c)
		p.P("return core.Null()")
	case "int":
		p.P("return core.Int(int64(", c, "))")
	case "bool":
		p.P("return core.Bool(", c, ")")
	case "xval":
		p.P("return ", c)
	}
	p.P("}")
}

func goStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[]string{" + strings.Join(q, ", ") + "}"
}

// AllSource renders exports/all/all.go: a blank import of every module in
// exports/, so one import links them all (CoreDNS's zplugin.go idea).
// Engines register their app_* modules themselves and are imported by the
// binary, so they are not listed.
func AllSource(mods []*Module) ([]byte, error) {
	var p printer
	p.P(Header)
	p.P()
	p.P("package all")
	p.P()
	p.P("import (")
	for _, m := range mods {
		if strings.HasPrefix(m.Dir, "exports/") {
			p.P(`_ "kemi/`, m.Dir, `" // module `, strconv.Quote(m.Name))
		}
	}
	p.P(")")
	return formatGo("exports/all/all.go", p.Bytes())
}
