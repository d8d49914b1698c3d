package starlark

import "go.starlark.net/syntax"

// The operators and string methods that can make a huge value in one
// native step cannot be wrapped in starlark-go: they are built into the
// interpreter. Compile therefore rewrites them, after parsing and before
// resolving, into calls of checking builtins (see limits.go):
//
//	x * y           ->  _kemi_mul(x, y)
//	x % y           ->  _kemi_mod(x, y)
//	x *= y, x %= y  ->  x *= _kemi_mul_ok(x, y), x %= _kemi_mod_ok(x, y)
//	x.join, x.replace, x.format, x.split, x.rsplit, x.splitlines,
//	x.extend (read, not assigned)  ->  _kemi_attr(x, "join")
//
// The calls sit at the operator's or the dot's position, so errors point
// where they did. In an augmented assignment the target's subexpressions
// are evaluated twice (a[f()] *= 2 calls f twice); kemi scripts have no
// reason to do that.
const (
	mulName   = "_kemi_mul"
	modName   = "_kemi_mod"
	mulOKName = "_kemi_mul_ok"
	modOKName = "_kemi_mod_ok"
	attrName  = "_kemi_attr"
)

// checkedMethods are the string methods whose result can be far larger
// than their inputs (split makes 32 bytes of list and string header per
// piece), and list.extend, which doubles a list in one step.
var checkedMethods = map[string]bool{"join": true, "replace": true, "format": true, "split": true, "rsplit": true, "splitlines": true, "extend": true}

func rewriteFile(f *syntax.File) {
	f.Stmts = rewriteStmts(f.Stmts)
}

func rewriteStmts(list []syntax.Stmt) []syntax.Stmt {
	for _, st := range list {
		rewriteStmt(st)
	}
	return list
}

func rewriteStmt(st syntax.Stmt) {
	switch st := st.(type) {
	case *syntax.AssignStmt:
		rhs := rewriteExpr(st.RHS)
		switch st.Op {
		case syntax.STAR_EQ:
			rhs = call(mulOKName, st.OpPos, rewriteExpr(copyExpr(st.LHS)), rhs)
		case syntax.PERCENT_EQ:
			rhs = call(modOKName, st.OpPos, rewriteExpr(copyExpr(st.LHS)), rhs)
		}
		st.RHS = rhs
		st.LHS = rewriteTarget(st.LHS)
	case *syntax.DefStmt:
		rewriteParams(st.Params)
		st.Body = rewriteStmts(st.Body)
	case *syntax.ExprStmt:
		st.X = rewriteExpr(st.X)
	case *syntax.IfStmt:
		st.Cond = rewriteExpr(st.Cond)
		st.True = rewriteStmts(st.True)
		st.False = rewriteStmts(st.False)
	case *syntax.ForStmt:
		st.Vars = rewriteTarget(st.Vars)
		st.X = rewriteExpr(st.X)
		st.Body = rewriteStmts(st.Body)
	case *syntax.WhileStmt:
		st.Cond = rewriteExpr(st.Cond)
		st.Body = rewriteStmts(st.Body)
	case *syntax.ReturnStmt:
		if st.Result != nil {
			st.Result = rewriteExpr(st.Result)
		}
	}
}

// rewriteParams rewrites default values, never the parameter names.
func rewriteParams(params []syntax.Expr) {
	for _, p := range params {
		if b, ok := p.(*syntax.BinaryExpr); ok && b.Op == syntax.EQ {
			b.Y = rewriteExpr(b.Y)
		}
	}
}

// rewriteTarget rewrites inside an assignment target, leaving the target
// itself (a name, a.b, a[i]) to be assigned.
func rewriteTarget(e syntax.Expr) syntax.Expr {
	switch e := e.(type) {
	case *syntax.DotExpr:
		e.X = rewriteExpr(e.X)
	case *syntax.IndexExpr:
		e.X = rewriteExpr(e.X)
		e.Y = rewriteExpr(e.Y)
	case *syntax.TupleExpr:
		for i := range e.List {
			e.List[i] = rewriteTarget(e.List[i])
		}
	case *syntax.ListExpr:
		for i := range e.List {
			e.List[i] = rewriteTarget(e.List[i])
		}
	case *syntax.ParenExpr:
		e.X = rewriteTarget(e.X)
	}
	return e
}

func rewriteExpr(e syntax.Expr) syntax.Expr {
	switch e := e.(type) {
	case *syntax.BinaryExpr:
		e.X = rewriteExpr(e.X)
		e.Y = rewriteExpr(e.Y)
		switch e.Op {
		case syntax.STAR:
			return call(mulName, e.OpPos, e.X, e.Y)
		case syntax.PERCENT:
			return call(modName, e.OpPos, e.X, e.Y)
		}
	case *syntax.DotExpr:
		e.X = rewriteExpr(e.X)
		if checkedMethods[e.Name.Name] {
			return call(attrName, e.Dot, e.X, &syntax.Literal{Token: syntax.STRING, TokenPos: e.NamePos, Raw: `"` + e.Name.Name + `"`, Value: e.Name.Name})
		}
	case *syntax.CallExpr:
		e.Fn = rewriteExpr(e.Fn)
		for i, a := range e.Args {
			if b, ok := a.(*syntax.BinaryExpr); ok && b.Op == syntax.EQ {
				b.Y = rewriteExpr(b.Y) // name=value: the name stays
				continue
			}
			e.Args[i] = rewriteExpr(a)
		}
	case *syntax.UnaryExpr:
		if e.X != nil {
			e.X = rewriteExpr(e.X)
		}
	case *syntax.ParenExpr:
		e.X = rewriteExpr(e.X)
	case *syntax.IndexExpr:
		e.X = rewriteExpr(e.X)
		e.Y = rewriteExpr(e.Y)
	case *syntax.SliceExpr:
		e.X = rewriteExpr(e.X)
		for _, p := range []*syntax.Expr{&e.Lo, &e.Hi, &e.Step} {
			if *p != nil {
				*p = rewriteExpr(*p)
			}
		}
	case *syntax.ListExpr:
		for i := range e.List {
			e.List[i] = rewriteExpr(e.List[i])
		}
	case *syntax.TupleExpr:
		for i := range e.List {
			e.List[i] = rewriteExpr(e.List[i])
		}
	case *syntax.DictExpr:
		for _, d := range e.List {
			if d, ok := d.(*syntax.DictEntry); ok {
				d.Key = rewriteExpr(d.Key)
				d.Value = rewriteExpr(d.Value)
			}
		}
	case *syntax.CondExpr:
		e.Cond = rewriteExpr(e.Cond)
		e.True = rewriteExpr(e.True)
		e.False = rewriteExpr(e.False)
	case *syntax.LambdaExpr:
		rewriteParams(e.Params)
		e.Body = rewriteExpr(e.Body)
	case *syntax.Comprehension:
		e.Body = rewriteExpr(e.Body)
		for _, c := range e.Clauses {
			switch c := c.(type) {
			case *syntax.ForClause:
				c.Vars = rewriteTarget(c.Vars)
				c.X = rewriteExpr(c.X)
			case *syntax.IfClause:
				c.Cond = rewriteExpr(c.Cond)
			}
		}
	}
	return e
}

// call is name(args...) at pos.
func call(name string, pos syntax.Position, args ...syntax.Expr) syntax.Expr {
	return &syntax.CallExpr{Fn: &syntax.Ident{NamePos: pos, Name: name}, Lparen: pos, Args: args, Rparen: pos}
}

// copyExpr copies an assignment target for reading it once more: names,
// a.b and a[i] with their subexpressions (already rewritten copies are
// not needed: the original target is rewritten separately).
func copyExpr(e syntax.Expr) syntax.Expr {
	switch e := e.(type) {
	case *syntax.Ident:
		return &syntax.Ident{NamePos: e.NamePos, Name: e.Name}
	case *syntax.DotExpr:
		return &syntax.DotExpr{X: copyExpr(e.X), Dot: e.Dot, NamePos: e.NamePos, Name: &syntax.Ident{NamePos: e.Name.NamePos, Name: e.Name.Name}}
	case *syntax.IndexExpr:
		return &syntax.IndexExpr{X: copyExpr(e.X), Lbrack: e.Lbrack, Y: copyExpr(e.Y), Rbrack: e.Rbrack}
	case *syntax.ParenExpr:
		return &syntax.ParenExpr{Lparen: e.Lparen, X: copyExpr(e.X), Rparen: e.Rparen}
	case *syntax.Literal:
		c := *e
		return &c
	case *syntax.BinaryExpr:
		return &syntax.BinaryExpr{X: copyExpr(e.X), OpPos: e.OpPos, Op: e.Op, Y: copyExpr(e.Y)}
	case *syntax.UnaryExpr:
		c := &syntax.UnaryExpr{OpPos: e.OpPos, Op: e.Op}
		if e.X != nil {
			c.X = copyExpr(e.X)
		}
		return c
	case *syntax.CallExpr:
		c := &syntax.CallExpr{Fn: copyExpr(e.Fn), Lparen: e.Lparen, Rparen: e.Rparen}
		for _, a := range e.Args {
			c.Args = append(c.Args, copyExpr(a))
		}
		return c
	case *syntax.TupleExpr:
		c := &syntax.TupleExpr{Lparen: e.Lparen, Rparen: e.Rparen}
		for _, x := range e.List {
			c.List = append(c.List, copyExpr(x))
		}
		return c
	case *syntax.ListExpr:
		c := &syntax.ListExpr{Lbrack: e.Lbrack, Rbrack: e.Rbrack}
		for _, x := range e.List {
			c.List = append(c.List, copyExpr(x))
		}
		return c
	case *syntax.SliceExpr:
		c := &syntax.SliceExpr{X: copyExpr(e.X), Lbrack: e.Lbrack, Rbrack: e.Rbrack}
		for _, p := range []struct {
			dst *syntax.Expr
			src syntax.Expr
		}{{&c.Lo, e.Lo}, {&c.Hi, e.Hi}, {&c.Step, e.Step}} {
			if p.src != nil {
				*p.dst = copyExpr(p.src)
			}
		}
		return c
	}
	return e // other expressions cannot be assignment targets' parts worth copying
}
