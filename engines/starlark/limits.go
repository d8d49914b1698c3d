package starlark

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"kemi/core"
)

// The memory budget (modparam app_starlark memory_budget, MiB per
// message). Starlark's step budget counts bytecode steps, but a builtin or
// an operator is one step however much it allocates: list(range(10**9))
// or [0] * (1 << 29) ask for gigabytes at once. Two guards:
//
//   - size checks in front of what makes a large value in one step: the
//     operators * and % and the string methods join, replace and format
//     (rewritten by Compile into calls of checking builtins, rewrite.go),
//     and the built-ins range, list, tuple, set, dict, sorted, reversed,
//     enumerate, zip, min, max, any, all, str, repr and print (predeclared
//     in their place). A string may hold at most the budget in bytes, a
//     list, tuple or range a sixteenth of it in elements.
//   - heapwatch cancels the thread when the message grew the heap by more
//     than the budget, which catches growth through +, append, extend and
//     comprehensions within one sample.
const defaultMemoryBudget = 64 // MiB

// memoryBudget is the budget in bytes from the app_starlark modparam.
func memoryBudget(rt *core.Runtime) uint64 {
	mib := int64(defaultMemoryBudget)
	if v := rt.Param("app_starlark", "memory_budget"); v.Kind == core.KInt && v.I > 0 {
		mib = v.I
	}
	return uint64(mib) << 20
}

// memError is a failed size check; it wraps core.ErrBudget.
type memError struct {
	what string
	n    float64
	unit string
	mib  uint64
}

func (e *memError) Error() string {
	return fmt.Sprintf("%s (memory: %s would make at least %.0f %s; memory_budget is %d MiB)", core.ErrBudget, e.what, e.n, e.unit, e.mib)
}
func (e *memError) Unwrap() error { return core.ErrBudget }

// heapReason is the thread's cancel reason when heapwatch stops it.
const heapReason = "memory budget"

// limits holds one VM's bounds.
type limits struct {
	mib      uint64
	maxBytes float64
	maxElems float64
}

func newLimits(budget uint64) *limits {
	return &limits{mib: budget >> 20, maxBytes: float64(budget), maxElems: float64(budget / 16)}
}

func (l *limits) bytes(what string, n float64) error {
	if n > l.maxBytes {
		return &memError{what: what, n: n, unit: "bytes", mib: l.mib}
	}
	return nil
}

func (l *limits) elems(what string, n float64) error {
	if n > l.maxElems {
		return &memError{what: what, n: n, unit: "elements", mib: l.mib}
	}
	return nil
}

// checkMul checks x * y for a sequence repeated by an int.
func (l *limits) checkMul(x, y starlark.Value) error {
	seq, count := x, y
	if _, ok := x.(starlark.Int); ok {
		seq, count = y, x
	}
	c, ok := count.(starlark.Int)
	if !ok {
		return nil
	}
	n := float64(c.Float())
	if n <= 0 {
		return nil
	}
	switch s := seq.(type) {
	case starlark.String:
		return l.bytes("string * int", float64(len(s))*n)
	case starlark.Bytes:
		return l.bytes("bytes * int", float64(len(s))*n)
	case *starlark.List:
		return l.elems("list * int", float64(s.Len())*n)
	case starlark.Tuple:
		return l.elems("tuple * int", float64(len(s))*n)
	}
	return nil
}

// checkMod checks format % args: each directive may insert the largest
// argument.
func (l *limits) checkMod(x, y starlark.Value) error {
	f, ok := x.(starlark.String)
	if !ok {
		return nil
	}
	directives := strings.Count(string(f), "%")
	if directives == 0 {
		return nil
	}
	var largest float64
	switch y := y.(type) {
	case starlark.Tuple:
		for _, a := range y {
			largest = max(largest, l.size(a))
		}
	case *starlark.Dict:
		for _, it := range y.Items() {
			largest = max(largest, l.size(it[1]))
		}
	default:
		largest = l.size(y)
	}
	return l.bytes("string % args", float64(len(f))+float64(directives)*largest)
}

// size estimates the bytes of str(v) or repr(v), stopping once past the
// budget, so it costs at most what the value itself holds.
func (l *limits) size(v starlark.Value) float64 {
	var n float64
	var walk func(v starlark.Value, depth int)
	walk = func(v starlark.Value, depth int) {
		if n > l.maxBytes || depth > 64 {
			return
		}
		switch v := v.(type) {
		case starlark.String:
			n += float64(len(v)) + 2
		case starlark.Bytes:
			n += float64(len(v)) + 3
		case starlark.Indexable: // list, tuple, range
			if r, ok := v.(starlark.Sequence); ok && v.Type() == "range" {
				n += float64(r.Len()) // repr of a range is short, but its elements are not
				return
			}
			for i := 0; i < v.Len() && n <= l.maxBytes; i++ {
				walk(v.Index(i), depth+1)
				n += 2
			}
		case *starlark.Dict:
			for _, it := range v.Items() {
				walk(it[0], depth+1)
				walk(it[1], depth+1)
				n += 4
				if n > l.maxBytes {
					return
				}
			}
		case *starlark.Set:
			iter := v.Iterate()
			defer iter.Done()
			var x starlark.Value
			for iter.Next(&x) && n <= l.maxBytes {
				walk(x, depth+1)
				n += 2
			}
		default:
			n += 24 // numbers, None, bools, functions: short
		}
	}
	walk(v, 0)
	return n
}

// checkMethod checks s.join(...), s.replace(...), s.format(...).
func (l *limits) checkMethod(s starlark.String, name string, args starlark.Tuple, kwargs []starlark.Tuple) error {
	switch name {
	case "join":
		if len(args) != 1 {
			return nil
		}
		if n := starlark.Len(args[0]); n > 0 {
			if err := l.elems("string.join", float64(n)); err != nil {
				return err
			}
		}
		it, ok := args[0].(starlark.Iterable)
		if !ok {
			return nil
		}
		iter := it.Iterate()
		defer iter.Done()
		var total, count float64
		var x starlark.Value
		for iter.Next(&x) && total <= l.maxBytes {
			if e, ok := x.(starlark.String); ok {
				total += float64(len(e))
			}
			count++
		}
		if count > 1 {
			total += (count - 1) * float64(len(s))
		}
		return l.bytes("string.join", total)
	case "replace":
		if len(args) < 2 {
			return nil
		}
		old, ok1 := args[0].(starlark.String)
		repl, ok2 := args[1].(starlark.String)
		if !ok1 || !ok2 || len(repl) <= len(old) {
			return nil
		}
		n := strings.Count(string(s), string(old))
		if len(args) > 2 {
			if c, ok := args[2].(starlark.Int); ok {
				if c64, ok := c.Int64(); ok && c64 >= 0 && int(c64) < n {
					n = int(c64)
				}
			}
		}
		return l.bytes("string.replace", float64(len(s))+float64(n)*float64(len(repl)-len(old)))
	case "split", "rsplit", "splitlines":
		n := strings.Count(string(s), "\n") + 1
		if name != "splitlines" {
			n = len(s)/2 + 1 // split on whitespace: at most every other byte
			if len(args) > 0 {
				if sep, ok := args[0].(starlark.String); ok && len(sep) > 0 {
					n = strings.Count(string(s), string(sep)) + 1
				}
			}
			if len(args) > 1 {
				if c, ok := args[1].(starlark.Int); ok {
					if c64, ok := c.Int64(); ok && c64 >= 0 && int(c64)+1 < n {
						n = int(c64) + 1
					}
				}
			}
		}
		return l.elems("string."+name, float64(n))
	case "format":
		fields := strings.Count(string(s), "{")
		if fields == 0 {
			return nil
		}
		var largest float64
		for _, a := range args {
			largest = max(largest, l.size(a))
		}
		for _, kv := range kwargs {
			largest = max(largest, l.size(kv[1]))
		}
		return l.bytes("string.format", float64(len(s))+float64(fields)*largest)
	}
	return nil
}

// limitedNames are the universal built-ins replaced by checking ones.
var limitedNames = []string{"range", "list", "tuple", "set", "dict", "sorted", "reversed", "enumerate", "zip", "min", "max", "any", "all", "str", "repr", "print"}

// predeclared returns the checking built-ins, added to KSR in the
// predeclared names of every VM.
func (l *limits) predeclared(d starlark.StringDict) {
	for _, name := range limitedNames {
		orig, ok := starlark.Universe[name].(*starlark.Builtin)
		if !ok {
			continue
		}
		d[name] = starlark.NewBuiltin(name, l.checked(name, orig))
	}
	d[mulName] = starlark.NewBuiltin("*", func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
		if err := l.checkMul(args[0], args[1]); err != nil {
			return nil, err
		}
		return starlark.Binary(syntax.STAR, args[0], args[1])
	})
	d[modName] = starlark.NewBuiltin("%", func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
		if err := l.checkMod(args[0], args[1]); err != nil {
			return nil, err
		}
		return starlark.Binary(syntax.PERCENT, args[0], args[1])
	})
	d[mulOKName] = starlark.NewBuiltin("*=", func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
		return args[1], l.checkMul(args[0], args[1])
	})
	d[modOKName] = starlark.NewBuiltin("%=", func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
		return args[1], l.checkMod(args[0], args[1])
	})
	d[attrName] = starlark.NewBuiltin("getattr", func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
		x, name := args[0], string(args[1].(starlark.String))
		ha, ok := x.(starlark.HasAttrs)
		if !ok {
			return nil, fmt.Errorf("%s has no .%s field or method", x.Type(), name)
		}
		m, err := ha.Attr(name)
		if err != nil || m == nil {
			if err == nil {
				err = fmt.Errorf("%s has no .%s field or method", x.Type(), name)
			}
			return nil, err
		}
		if list, ok := x.(*starlark.List); ok && name == "extend" {
			return starlark.NewBuiltin(name, func(th *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
				if len(args) == 1 {
					if err := l.elems("list.extend", float64(list.Len()+max(starlark.Len(args[0]), 0))); err != nil {
						return nil, err
					}
				}
				return callMethod(th, m, args, kwargs)
			}), nil
		}
		s, ok := x.(starlark.String)
		if !ok {
			return m, nil
		}
		return starlark.NewBuiltin(name, func(th *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			if err := l.checkMethod(s, name, args, kwargs); err != nil {
				return nil, err
			}
			return callMethod(th, m, args, kwargs)
		}), nil
	})
}

// callMethod calls a method got from Attr, in the frame of the checking
// builtin that stands for it.
func callMethod(th *starlark.Thread, m starlark.Value, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if b, ok := m.(*starlark.Builtin); ok {
		return b.CallInternal(th, args, kwargs)
	}
	return starlark.Call(th, m, args, kwargs)
}

// checked wraps a universal built-in with the check for its name.
func (l *limits) checked(name string, orig *starlark.Builtin) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(th *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		switch name {
		case "range":
			r, err := orig.CallInternal(th, args, kwargs)
			if err != nil {
				return nil, err
			}
			if err := l.elems("range", float64(starlark.Len(r))); err != nil {
				return nil, err
			}
			return r, nil
		case "str", "repr", "print":
			var n float64
			for _, a := range args {
				if s, ok := a.(starlark.String); ok && name != "repr" {
					n += float64(len(s))
				} else {
					n += l.size(a)
				}
			}
			if err := l.bytes(name, n); err != nil {
				return nil, err
			}
		default:
			for _, a := range args {
				if n := starlark.Len(a); n > 0 {
					if err := l.elems(name, float64(n)); err != nil {
						return nil, err
					}
				}
			}
		}
		return orig.CallInternal(th, args, kwargs)
	}
}
