package scriptcheck

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
)

// walkLua reads a Lua script through gopher-lua's parser, the one the Lua
// engine compiles with. Its AST has lines but no columns.
func walkLua(path string, src []byte) *script {
	chunk, err := parse.Parse(bytes.NewReader(src), path)
	if err != nil {
		return nil
	}
	w := &luaWalker{al: newAliases(), s: &script{defined: map[string]bool{}}}
	// First pass: assignments, for aliases; then the refs.
	w.collect = true
	w.stmts(chunk)
	w.collect = false
	w.stmts(chunk)
	for _, st := range chunk {
		switch st := st.(type) {
		case *ast.FuncDefStmt:
			if id, ok := st.Name.Func.(*ast.IdentExpr); ok && st.Name.Receiver == nil {
				w.s.defined[id.Value] = true
			}
		case *ast.AssignStmt:
			for i, l := range st.Lhs {
				if id, ok := l.(*ast.IdentExpr); ok && i < len(st.Rhs) {
					if _, fn := st.Rhs[i].(*ast.FunctionExpr); fn {
						w.s.defined[id.Value] = true
					}
				}
			}
		}
	}
	return w.s
}

type luaWalker struct {
	collect bool
	al      *aliases
	s       *script
}

func (w *luaWalker) stmts(list []ast.Stmt) {
	for _, st := range list {
		w.stmt(st)
	}
}

func (w *luaWalker) assign(name string, e ast.Expr) {
	if !w.collect {
		return
	}
	var to *chain
	if e != nil {
		if c, ok := luaChain(e); ok {
			to = &c
		}
	}
	w.al.assign(name, to)
}

func (w *luaWalker) names(ns []string) {
	for _, n := range ns {
		w.assign(n, nil)
	}
}

func (w *luaWalker) stmt(st ast.Stmt) {
	switch st := st.(type) {
	case *ast.AssignStmt:
		for i, l := range st.Lhs {
			if id, ok := l.(*ast.IdentExpr); ok {
				var rhs ast.Expr
				if i < len(st.Rhs) && len(st.Lhs) == len(st.Rhs) {
					rhs = st.Rhs[i]
				}
				w.assign(id.Value, rhs)
			} else {
				w.expr(l)
			}
		}
		w.exprs(st.Rhs)
	case *ast.LocalAssignStmt:
		for i, n := range st.Names {
			var rhs ast.Expr
			if i < len(st.Exprs) && len(st.Names) == len(st.Exprs) {
				rhs = st.Exprs[i]
			}
			w.assign(n, rhs)
		}
		w.exprs(st.Exprs)
	case *ast.FuncCallStmt:
		w.expr(st.Expr)
	case *ast.DoBlockStmt:
		w.stmts(st.Stmts)
	case *ast.WhileStmt:
		w.expr(st.Condition)
		w.stmts(st.Stmts)
	case *ast.RepeatStmt:
		w.stmts(st.Stmts)
		w.expr(st.Condition)
	case *ast.IfStmt:
		w.expr(st.Condition)
		w.stmts(st.Then)
		w.stmts(st.Else)
	case *ast.NumberForStmt:
		w.assign(st.Name, nil)
		w.expr(st.Init)
		w.expr(st.Limit)
		w.expr(st.Step)
		w.stmts(st.Stmts)
	case *ast.GenericForStmt:
		w.names(st.Names)
		w.exprs(st.Exprs)
		w.stmts(st.Stmts)
	case *ast.FuncDefStmt:
		if st.Name != nil {
			if id, ok := st.Name.Func.(*ast.IdentExpr); ok && st.Name.Receiver == nil {
				w.assign(id.Value, nil)
			} else {
				w.expr(st.Name.Func)
				w.expr(st.Name.Receiver)
			}
		}
		if st.Func != nil {
			w.expr(st.Func)
		}
	case *ast.ReturnStmt:
		w.exprs(st.Exprs)
	}
}

func (w *luaWalker) exprs(list []ast.Expr) {
	for _, e := range list {
		w.expr(e)
	}
}

// luaChain reads Ident.a.b.c (keys written with a dot, or as string
// literals in brackets).
func luaChain(e ast.Expr) (chain, bool) {
	var rev []string
	for {
		switch x := e.(type) {
		case *ast.IdentExpr:
			c := chain{base: x.Value, path: make([]string, len(rev))}
			for i := range rev {
				c.path[i] = rev[len(rev)-1-i]
			}
			return c, true
		case *ast.AttrGetExpr:
			k, ok := x.Key.(*ast.StringExpr)
			if !ok {
				return chain{}, false
			}
			rev = append(rev, k.Value)
			e = x.Object
		default:
			return chain{}, false
		}
	}
}

func (w *luaWalker) emit(c chain, line int, call bool, args []ast.Expr) bool {
	path, legacy, ok := w.al.resolve(c, true)
	if !ok {
		return false
	}
	r := ref{line: line, legacy: legacy, path: path, call: call}
	if call {
		r.args = make([]arg, len(args))
		for i, a := range args {
			r.args[i] = luaArg(a, i == len(args)-1)
		}
	}
	w.s.refs = append(w.s.refs, r)
	return true
}

func (w *luaWalker) expr(e ast.Expr) {
	if e == nil {
		return
	}
	switch x := e.(type) {
	case *ast.AttrGetExpr:
		if !w.collect {
			if c, ok := luaChain(x); ok && w.emit(c, x.Line(), false, nil) {
				return
			}
		}
		w.expr(x.Object)
		w.expr(x.Key)
	case *ast.FuncCallExpr:
		if id, ok := x.Func.(*ast.IdentExpr); ok && !w.collect && id.Value == "require" && len(x.Args) == 1 {
			if s, ok := x.Args[0].(*ast.StringExpr); ok {
				w.s.requires = append(w.s.requires, s.Value)
			}
		}
		if !w.collect && x.Func != nil && x.Receiver == nil {
			if c, ok := luaChain(x.Func); ok && w.emit(c, x.Line(), true, x.Args) {
				w.exprs(x.Args)
				return
			}
		}
		w.expr(x.Func)
		w.expr(x.Receiver)
		w.exprs(x.Args)
	case *ast.TableExpr:
		for _, f := range x.Fields {
			w.expr(f.Key)
			w.expr(f.Value)
		}
	case *ast.LogicalOpExpr:
		w.expr(x.Lhs)
		w.expr(x.Rhs)
	case *ast.RelationalOpExpr:
		w.expr(x.Lhs)
		w.expr(x.Rhs)
	case *ast.StringConcatOpExpr:
		w.expr(x.Lhs)
		w.expr(x.Rhs)
	case *ast.ArithmeticOpExpr:
		w.expr(x.Lhs)
		w.expr(x.Rhs)
	case *ast.UnaryMinusOpExpr:
		w.expr(x.Expr)
	case *ast.UnaryNotOpExpr:
		w.expr(x.Expr)
	case *ast.UnaryLenOpExpr:
		w.expr(x.Expr)
	case *ast.FunctionExpr:
		if x.ParList != nil {
			w.names(x.ParList.Names)
		}
		w.stmts(x.Stmts)
	}
}

// luaArg describes one argument; last says whether it is the last one,
// where a call or ... expands to any number of values.
func luaArg(e ast.Expr, last bool) arg {
	switch x := e.(type) {
	case *ast.NumberExpr:
		if f, ok := luaNumber(x.Value); ok {
			return arg{kind: aNum, num: f}
		}
	case *ast.UnaryMinusOpExpr:
		if n, ok := x.Expr.(*ast.NumberExpr); ok {
			if f, ok := luaNumber(n.Value); ok {
				return arg{kind: aNum, num: -f}
			}
		}
	case *ast.StringExpr:
		return arg{kind: aStr, str: x.Value}
	case *ast.TrueExpr:
		return arg{kind: aBool, b: true}
	case *ast.FalseExpr:
		return arg{kind: aBool}
	case *ast.NilExpr:
		return arg{kind: aNil}
	case *ast.Comma3Expr:
		if last {
			return arg{kind: aSpread}
		}
	case *ast.FuncCallExpr:
		if last {
			return arg{kind: aSpread}
		}
	}
	return arg{}
}

// luaNumber converts a Lua number literal as gopher-lua does: decimal
// or 0x hex integers, and decimal floats.
func luaNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		n, err := strconv.ParseUint(s[2:], 16, 64)
		return float64(n), err == nil
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}
