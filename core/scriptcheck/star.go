package scriptcheck

import (
	"math/big"

	"go.starlark.net/syntax"
)

// starOptions is the Starlark engine's dialect (engines/starlark).
var starOptions = &syntax.FileOptions{While: true, TopLevelControl: true, Set: true}

// walkStar reads a Starlark script through go.starlark.net/syntax, the
// parser the Starlark engine compiles with.
func walkStar(path string, src []byte) *script {
	f, err := starOptions.Parse(path, src, 0)
	if err != nil || f == nil {
		return nil
	}
	w := &starWalker{al: newAliases(), s: &script{defined: map[string]bool{}}}
	for _, st := range f.Stmts {
		syntax.Walk(st, w.collect)
	}
	for _, st := range f.Stmts {
		syntax.Walk(st, w.visit)
	}
	for _, st := range f.Stmts {
		switch st := st.(type) {
		case *syntax.DefStmt:
			w.s.defined[st.Name.Name] = true
		case *syntax.AssignStmt:
			id, ok := st.LHS.(*syntax.Ident)
			if _, lambda := st.RHS.(*syntax.LambdaExpr); ok && lambda && st.Op == syntax.EQ {
				w.s.defined[id.Name] = true
			}
		case *syntax.LoadStmt:
			// load("x.star", "f") binds f here: it may be a route.
			for _, id := range st.From {
				w.s.defined[id.Name] = true
			}
		}
	}
	return w.s
}

type starWalker struct {
	al *aliases
	s  *script
}

// binds records every name an expression binds (a, (a, b), [a, b]).
func (w *starWalker) binds(e syntax.Expr) {
	if e == nil {
		return
	}
	syntax.Walk(e, func(n syntax.Node) bool {
		if id, ok := n.(*syntax.Ident); ok {
			w.al.assign(id.Name, nil)
		}
		return true
	})
}

func (w *starWalker) params(ps []syntax.Expr) {
	for _, p := range ps {
		switch p := p.(type) {
		case *syntax.Ident:
			w.al.assign(p.Name, nil)
		case *syntax.BinaryExpr:
			w.binds(p.X)
		case *syntax.UnaryExpr:
			w.binds(p.X)
		}
	}
}

func (w *starWalker) collect(n syntax.Node) bool {
	switch x := n.(type) {
	case *syntax.AssignStmt:
		if id, ok := x.LHS.(*syntax.Ident); ok {
			var to *chain
			if c, ok := starChain(x.RHS); ok && x.Op == syntax.EQ {
				to = &c
			}
			w.al.assign(id.Name, to)
		} else {
			switch x.LHS.(type) {
			case *syntax.TupleExpr, *syntax.ListExpr, *syntax.ParenExpr:
				w.binds(x.LHS)
			}
		}
	case *syntax.DefStmt:
		w.al.assign(x.Name.Name, nil)
		w.params(x.Params)
	case *syntax.LambdaExpr:
		w.params(x.Params)
	case *syntax.ForStmt:
		w.binds(x.Vars)
	case *syntax.ForClause:
		w.binds(x.Vars)
	case *syntax.LoadStmt:
		for _, id := range append(x.From, x.To...) {
			w.al.assign(id.Name, nil)
		}
		if m, ok := x.Module.Value.(string); ok {
			w.s.requires = append(w.s.requires, m)
		}
	}
	return true
}

func starChain(e syntax.Expr) (chain, bool) {
	var rev []string
	for {
		switch x := e.(type) {
		case *syntax.Ident:
			c := chain{base: x.Name, path: make([]string, len(rev))}
			for i := range rev {
				c.path[i] = rev[len(rev)-1-i]
			}
			return c, true
		case *syntax.DotExpr:
			rev = append(rev, x.Name.Name)
			e = x.X
		default:
			return chain{}, false
		}
	}
}

func (w *starWalker) emit(c chain, pos syntax.Position, call bool, args []syntax.Expr) bool {
	path, _, ok := w.al.resolve(c, false)
	if !ok {
		return false
	}
	r := ref{line: int(pos.Line), col: int(pos.Col), path: path, call: call}
	if call {
		r.args = make([]arg, len(args))
		for i, a := range args {
			r.args[i] = w.arg(a)
		}
	}
	w.s.refs = append(w.s.refs, r)
	return true
}

func (w *starWalker) visit(n syntax.Node) bool {
	switch x := n.(type) {
	case *syntax.DotExpr:
		if c, ok := starChain(x); ok {
			start, _ := x.Span()
			if w.emit(c, start, false, nil) {
				return false
			}
		}
	case *syntax.CallExpr:
		if c, ok := starChain(x.Fn); ok {
			start, _ := x.Fn.Span()
			if w.emit(c, start, true, x.Args) {
				for _, a := range x.Args {
					syntax.Walk(a, w.visit)
				}
				return false
			}
		}
	}
	return true
}

func (w *starWalker) arg(e syntax.Expr) arg {
	switch x := e.(type) {
	case *syntax.Literal:
		switch v := x.Value.(type) {
		case int64:
			return arg{kind: aNum, num: float64(v)}
		case *big.Int:
			f, _ := new(big.Float).SetInt(v).Float64()
			return arg{kind: aNum, num: f}
		case float64:
			return arg{kind: aNum, num: v}
		case string:
			if x.Token == syntax.STRING {
				return arg{kind: aStr, str: v}
			}
		}
	case *syntax.UnaryExpr:
		switch x.Op {
		case syntax.STAR, syntax.STARSTAR:
			return arg{kind: aSpread}
		case syntax.MINUS:
			if a := w.arg(x.X); a.kind == aNum {
				a.num = -a.num
				return a
			}
		}
	case *syntax.BinaryExpr:
		if x.Op == syntax.EQ {
			return arg{kind: aKeyword}
		}
	case *syntax.Ident:
		if w.al.assigned[x.Name] > 0 {
			return arg{}
		}
		switch x.Name {
		case "True":
			return arg{kind: aBool, b: true}
		case "False":
			return arg{kind: aBool}
		case "None":
			return arg{kind: aNil}
		}
	}
	return arg{}
}
