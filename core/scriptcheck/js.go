package scriptcheck

import (
	"reflect"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/file"
	"github.com/dop251/goja/parser"
	"github.com/dop251/goja/token"
)

// walkJS reads a JavaScript script through goja's parser, the one the JS
// engine compiles with.
func walkJS(path string, src []byte) *script {
	prog, err := parser.ParseFile(nil, path, string(src), 0, parser.WithDisableSourceMaps)
	if err != nil || prog == nil {
		return nil
	}
	w := &jsWalker{al: newAliases(), s: &script{defined: map[string]bool{}}, f: prog.File}
	w.collect = true
	w.walk(reflect.ValueOf(prog.Body), 0)
	w.collect = false
	w.walk(reflect.ValueOf(prog.Body), 0)
	bindings := func(list []*ast.Binding) {
		for _, b := range list {
			if id, ok := b.Target.(*ast.Identifier); ok && jsIsFunc(b.Initializer) {
				w.s.defined[id.Name.String()] = true
			}
		}
	}
	for _, st := range prog.Body {
		switch st := st.(type) {
		case *ast.FunctionDeclaration:
			if st.Function != nil && st.Function.Name != nil {
				w.s.defined[st.Function.Name.Name.String()] = true
			}
		case *ast.VariableStatement:
			bindings(st.List)
		case *ast.LexicalDeclaration:
			bindings(st.List)
		case *ast.ExpressionStatement:
			if as, ok := st.Expression.(*ast.AssignExpression); ok {
				if id, ok := as.Left.(*ast.Identifier); ok && jsIsFunc(as.Right) {
					w.s.defined[id.Name.String()] = true
				}
			}
		}
	}
	return w.s
}

func jsIsFunc(e ast.Expression) bool {
	switch e.(type) {
	case *ast.FunctionLiteral, *ast.ArrowFunctionLiteral:
		return true
	}
	return false
}

type jsWalker struct {
	collect bool
	al      *aliases
	s       *script
	f       *file.File
}

var (
	jsNodeType = reflect.TypeOf((*ast.Node)(nil)).Elem()
	// The declaration lists repeat nodes the body already holds.
	jsSkipFields = map[string]bool{"DeclarationList": true, "File": true, "Source": true}
)

// maxDepth bounds the walk; goja's parser has its own recursion limit.
const maxDepth = 10000

// walk visits every node under v. goja has no AST walker, so this goes
// through the struct fields by reflection, which covers every node type
// the parser makes.
func (w *jsWalker) walk(v reflect.Value, depth int) {
	if depth > maxDepth || !v.IsValid() {
		return
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return
		}
		if v.Kind() == reflect.Pointer && v.Type().Implements(jsNodeType) {
			if !w.visit(v.Interface().(ast.Node), depth) {
				return
			}
		}
		w.walk(v.Elem(), depth+1)
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			w.walk(v.Index(i), depth+1)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			if !t.Field(i).IsExported() || jsSkipFields[t.Field(i).Name] {
				continue
			}
			w.walk(v.Field(i), depth+1)
		}
	}
}

// visit handles one node and says whether to walk its children.
func (w *jsWalker) visit(n ast.Node, depth int) bool {
	if w.collect {
		switch x := n.(type) {
		case *ast.Binding:
			if id, ok := x.Target.(*ast.Identifier); ok {
				w.assign(id.Name.String(), x.Initializer)
			}
		case *ast.AssignExpression:
			if id, ok := x.Left.(*ast.Identifier); ok {
				w.assign(id.Name.String(), x.Right)
			}
		case *ast.FunctionLiteral:
			if x.Name != nil {
				w.assign(x.Name.Name.String(), nil)
			}
			w.params(x.ParameterList)
		case *ast.ArrowFunctionLiteral:
			w.params(x.ParameterList)
		case *ast.CatchStatement:
			if id, ok := x.Parameter.(*ast.Identifier); ok {
				w.assign(id.Name.String(), nil)
			}
		case *ast.UnaryExpression: // x++, --x
			if id, ok := x.Operand.(*ast.Identifier); ok && (x.Operator == token.INCREMENT || x.Operator == token.DECREMENT) {
				w.assign(id.Name.String(), nil)
			}
		}
		return true
	}
	switch x := n.(type) {
	case *ast.DotExpression:
		if c, ok := jsChain(x); ok && w.emit(c, x.Idx0(), false, nil) {
			return false
		}
	case *ast.CallExpression:
		if id, ok := x.Callee.(*ast.Identifier); ok && id.Name == "require" && len(x.ArgumentList) == 1 {
			if s, ok := x.ArgumentList[0].(*ast.StringLiteral); ok {
				w.s.requires = append(w.s.requires, s.Value.String())
			}
		}
		if c, ok := jsChain(x.Callee); ok && w.emit(c, x.Callee.Idx0(), true, x.ArgumentList) {
			w.walk(reflect.ValueOf(x.ArgumentList), depth+1)
			return false
		}
	}
	return true
}

func (w *jsWalker) assign(name string, e ast.Expression) {
	var to *chain
	if e != nil {
		if c, ok := jsChain(e); ok {
			to = &c
		}
	}
	w.al.assign(name, to)
}

func (w *jsWalker) params(pl *ast.ParameterList) {
	if pl == nil {
		return
	}
	for _, b := range pl.List {
		if id, ok := b.Target.(*ast.Identifier); ok {
			w.assign(id.Name.String(), nil)
		}
	}
	if id, ok := pl.Rest.(*ast.Identifier); ok {
		w.assign(id.Name.String(), nil)
	}
}

// jsChain reads ident.a.b (dots, or string literals in brackets).
func jsChain(e ast.Expression) (chain, bool) {
	var rev []string
	for {
		switch x := e.(type) {
		case *ast.Identifier:
			c := chain{base: x.Name.String(), path: make([]string, len(rev))}
			for i := range rev {
				c.path[i] = rev[len(rev)-1-i]
			}
			return c, true
		case *ast.DotExpression:
			rev = append(rev, x.Identifier.Name.String())
			e = x.Left
		case *ast.BracketExpression:
			s, ok := x.Member.(*ast.StringLiteral)
			if !ok {
				return chain{}, false
			}
			rev = append(rev, s.Value.String())
			e = x.Left
		default:
			return chain{}, false
		}
	}
}

func (w *jsWalker) emit(c chain, at file.Idx, call bool, args []ast.Expression) bool {
	path, _, ok := w.al.resolve(c, false)
	if !ok {
		return false
	}
	p := w.f.Position(int(at) - w.f.Base())
	r := ref{line: p.Line, col: p.Column, path: path, call: call}
	if call {
		r.args = make([]arg, len(args))
		for i, a := range args {
			r.args[i] = jsArg(a)
		}
	}
	w.s.refs = append(w.s.refs, r)
	return true
}

func jsArg(e ast.Expression) arg {
	switch x := e.(type) {
	case *ast.NumberLiteral:
		switch n := x.Value.(type) {
		case int64:
			return arg{kind: aNum, num: float64(n)}
		case float64:
			return arg{kind: aNum, num: n}
		}
	case *ast.UnaryExpression:
		if n, ok := x.Operand.(*ast.NumberLiteral); ok && x.Operator == token.MINUS && !x.Postfix {
			a := jsArg(n)
			a.num = -a.num
			return a
		}
	case *ast.StringLiteral:
		return arg{kind: aStr, str: x.Value.String()}
	case *ast.BooleanLiteral:
		return arg{kind: aBool, b: x.Value}
	case *ast.NullLiteral:
		return arg{kind: aNil}
	case *ast.Identifier:
		if x.Name == "undefined" {
			return arg{kind: aNil}
		}
	case *ast.SpreadElement:
		return arg{kind: aSpread}
	}
	return arg{}
}
