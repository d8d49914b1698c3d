// Package js is the JavaScript engine (cfgengine "jsdt", alias "js",
// module app_jsdt), built on the goja interpreter.
//
// The script is parsed and compiled once (Compile) into a *goja.Program
// that every worker shares. Each worker gets its own goja.Runtime (NewVM):
// the KSR object is built once in it, one prebuilt object per loaded module
// whose members are native functions closing over the resolved
// *core.Export, and the script's top level runs once. A routing callback
// then costs a map lookup of its name plus the script itself; an exported
// call converts its arguments into a reused [6]core.Value and allocates
// nothing itself.
//
// Exports are bound as func(goja.FunctionCall) goja.Value, the one Go
// function shape goja calls without reflection (goja's ToValue doc: "no
// automatic argument and return value type conversions (which involves
// reflect)"). KSR.x.exit/drop unwind the whole callback with an
// uncatchable signal (try/catch and finally do not see it), like the
// budget interrupt does.
//
// Two costs come from goja and cannot be removed through its API: every
// return from JavaScript to Go drops the runtime's value stack
// (Runtime.leave), so each callback allocates it again (one or two
// allocations, by stack depth; vm.stack is private and Runtime.leave
// clears it unconditionally when the Go call stack into goja is empty);
// and an exit unwinds with Go panics, which goja recovers and rethrows at
// each of its try levels, a few microseconds. goja has no cheaper way to
// end a run early: Runtime.Interrupt makes its run loop panic the same
// way (and captures a stack, which allocates), and a thrown JS exception
// would be catchable by the script. The seed route does not exit, so the
// load figures do not pay it.
//
// Sandbox: goja itself has no require, filesystem, network or process
// access. This package adds one thing, require (require.go): it reads .js
// files in the script's folder tree and nothing else (no goja_nodejs). Every callback runs
// under rt.TimeBudget of wall time, enforced by the VM's heapwatch.Watch (see
// budget.go), and under the memory budget (limits.go). KSR and its module
// objects are read-only (bind.go).
package js

import (
	"errors"
	"fmt"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"

	"kemi/core"
)

func init() {
	core.RegisterEngine(&core.EngineInfo{
		Name:    "jsdt",
		Aliases: []string{"js"},
		Module:  "app_jsdt",
		Engine:  Engine{},
	})
}

// Engine compiles JavaScript routing scripts.
type Engine struct{}

// Compile parses src once and records which functions its top level
// defines. Syntax errors read "path:line:col: SyntaxError: message".
func (Engine) Compile(path string, src []byte, rt *core.Runtime) (core.Program, error) {
	tree, err := parser.ParseFile(nil, path, string(src), 0)
	if err != nil {
		return nil, compileError(path, err)
	}
	prg, err := goja.CompileAST(tree, false)
	if err != nil {
		return nil, compileError(path, err)
	}
	return &Program{path: path, prg: prg, rt: rt, funcs: topLevelFuncs(tree), mods: newModules(path)}, nil
}

// Program is a compiled script, shared by every worker.
type Program struct {
	path  string
	prg   *goja.Program
	rt    *core.Runtime
	funcs map[string]bool
	mods  *modules // require's compiled files (require.go)
}

// Has reports whether the script's top level defines a function named
// callback: a function declaration, or a var/let/const or plain
// assignment whose value is a function or arrow literal. It reads the
// syntax tree, so it runs none of the script.
func (p *Program) Has(callback string) bool { return p.funcs[callback] }

func topLevelFuncs(tree *ast.Program) map[string]bool {
	out := map[string]bool{}
	bindings := func(list []*ast.Binding) {
		for _, b := range list {
			if id, ok := b.Target.(*ast.Identifier); ok && isFuncLiteral(b.Initializer) {
				out[id.Name.String()] = true
			}
		}
	}
	for _, st := range tree.Body {
		switch st := st.(type) {
		case *ast.FunctionDeclaration:
			if st.Function.Name != nil {
				out[st.Function.Name.Name.String()] = true
			}
		case *ast.VariableStatement:
			bindings(st.List)
		case *ast.LexicalDeclaration:
			bindings(st.List)
		case *ast.ExpressionStatement:
			if as, ok := st.Expression.(*ast.AssignExpression); ok {
				if id, ok := as.Left.(*ast.Identifier); ok && isFuncLiteral(as.Right) {
					out[id.Name.String()] = true
				}
			}
		}
	}
	return out
}

func isFuncLiteral(e ast.Expression) bool {
	switch e.(type) {
	case *ast.FunctionLiteral, *ast.ArrowFunctionLiteral:
		return true
	}
	return false
}

// compileError puts the position first, the way every kemi config and
// script error reads.
func compileError(path string, err error) error {
	var list parser.ErrorList
	var one *parser.Error
	var syn *goja.CompilerSyntaxError
	switch {
	case errors.As(err, &list) && len(list) > 0:
		e := list[0]
		more := ""
		if len(list) > 1 {
			more = fmt.Sprintf(" (and %d more errors)", len(list)-1)
		}
		return fmt.Errorf("%s:%d:%d: SyntaxError: %s%s", path, e.Position.Line, e.Position.Column, e.Message, more)
	case errors.As(err, &one):
		return fmt.Errorf("%s:%d:%d: SyntaxError: %s", path, one.Position.Line, one.Position.Column, one.Message)
	case errors.As(err, &syn) && syn.File != nil:
		pos := syn.File.Position(syn.Offset)
		return fmt.Errorf("%s:%d:%d: SyntaxError: %s", path, pos.Line, pos.Column, syn.Message)
	}
	return fmt.Errorf("%s: %w", path, err)
}

var _ core.Engine = Engine{}
var _ core.Program = (*Program)(nil)
