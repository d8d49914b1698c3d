// Package starlark is the Starlark engine (cfgengine "starlark", module
// app_starlark), built on go.starlark.net.
//
// Compile parses and resolves the script once into a *starlark.Program,
// which is immutable and shared by every worker. NewVM builds one worker's
// VM: a thread, the KSR value bound once, and the script's top level run
// once, after which its globals are frozen. Routing callbacks therefore
// keep per-message state in locals; a callback cannot change what another
// message will see.
//
// KSR and its modules are starlark.HasAttrs values whose members are
// *starlark.Builtin closures over the resolved *core.Export. Arguments are
// decoded by hand into a reused [6]core.Value (never UnpackArgs, which
// goes through reflection). A module that is not loaded reads as None, so
// `if KSR.auth:` and `KSR.auth == None` work; any other unknown name on KSR
// is None too, since it cannot tell a module it never heard of from a typo.
//
// KSR.x.exit/drop return a preallocated *starlark.EvalError that the
// interpreter passes up unchanged; Call recognises it and returns nil.
//
// Dialect: `while` loops and top-level if/for/while are allowed (Kamailio
// scripts are imperative, and a runaway `while True: pass` must be
// expressible so the budget can be shown to stop it). Recursion stays
// disallowed: a deep enough recursion would overflow the Go stack and kill
// the process before the step budget fires. Global reassignment stays off;
// the set built-in is available.
// load() reads .star modules from the script's folder tree (load.go),
// print goes to the kemi log, and every
// callback runs under rt.StepBudget execution steps and the memory budget
// (limits.go; Compile rewrites the operators and methods it checks,
// rewrite.go).
package starlark

import (
	"fmt"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"kemi/core"
)

func init() {
	core.RegisterEngine(&core.EngineInfo{
		Name:   "starlark",
		Module: "app_starlark",
		Engine: Engine{},
	})
}

// fileOptions is the kemi dialect, described in the package doc.
var fileOptions = &syntax.FileOptions{
	While:           true,
	TopLevelControl: true,
	Set:             true,
}

// Engine compiles Starlark routing scripts.
type Engine struct{}

// Compile parses and resolves src. Errors read "path:line:col: message".
func (Engine) Compile(path string, src []byte, rt *core.Runtime) (core.Program, error) {
	f, err := fileOptions.Parse(path, src, 0)
	if err != nil {
		return nil, compileError(err)
	}
	funcs := topLevelFuncs(f)
	rewriteFile(f)
	prog, err := starlark.FileProgram(f, isPredeclared)
	if err != nil {
		return nil, compileError(err)
	}
	mods := newModules(path)
	if err := mods.check(prog, path, nil); err != nil {
		return nil, err
	}
	return &Program{path: path, prog: prog, rt: rt, funcs: funcs, mods: mods}, nil
}

// isPredeclared: KSR, the checking built-ins that replace universal ones
// and the ones rewritten operators call (limits.go).
func isPredeclared(name string) bool { return predeclaredNames[name] }

var predeclaredNames = func() map[string]bool {
	m := map[string]bool{"KSR": true, mulName: true, modName: true, mulOKName: true, modOKName: true, attrName: true}
	for _, n := range limitedNames {
		m[n] = true
	}
	return m
}()

func compileError(err error) error {
	if list, ok := err.(resolve.ErrorList); ok && len(list) > 1 {
		return fmt.Errorf("%s (and %d more errors)", list[0].Error(), len(list)-1)
	}
	return err // syntax and resolve errors already start with file:line:col
}

// Program is a compiled script, shared by every worker.
type Program struct {
	path  string
	prog  *starlark.Program
	rt    *core.Runtime
	funcs map[string]bool
	mods  *modules // load()'s files (load.go)
}

// Has reports whether the script's top level defines callback with def or
// binds it to a lambda. It reads the syntax tree and runs nothing. A
// function from a module becomes a callback by assignment
// (ksr_reply_route = reply), since load's names are local to the file.
func (p *Program) Has(callback string) bool { return p.funcs[callback] }

func topLevelFuncs(f *syntax.File) map[string]bool {
	out := map[string]bool{}
	loaded := map[string]bool{} // names bound by load statements
	for _, st := range f.Stmts {
		switch st := st.(type) {
		case *syntax.LoadStmt:
			for _, id := range st.To {
				loaded[id.Name] = true
			}
		case *syntax.DefStmt:
			out[st.Name.Name] = true
		case *syntax.AssignStmt:
			id, ok := st.LHS.(*syntax.Ident)
			if _, lambda := st.RHS.(*syntax.LambdaExpr); ok && lambda && st.Op == syntax.EQ {
				out[id.Name] = true
			}
			if rhs, isID := st.RHS.(*syntax.Ident); ok && isID && loaded[rhs.Name] && st.Op == syntax.EQ {
				out[id.Name] = true
			}
		}
	}
	return out
}

var _ core.Engine = Engine{}
var _ core.Program = (*Program)(nil)
