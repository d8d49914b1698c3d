package starlark

import (
	"fmt"
	"math"
	"sort"

	"go.starlark.net/starlark"

	"kemi/core"
)

// object is KSR or one of its modules: a fixed set of members built once
// per VM.
type object struct {
	name    string // "KSR", "KSR.sl"
	members map[string]starlark.Value
	names   []string
	// noneForMissing makes unknown names None instead of an error, for KSR
	// itself, so scripts can test whether a module is loaded.
	noneForMissing bool
}

func newObject(name string, noneForMissing bool) *object {
	return &object{name: name, members: map[string]starlark.Value{}, noneForMissing: noneForMissing}
}

func (o *object) set(name string, v starlark.Value) {
	if _, dup := o.members[name]; !dup {
		o.names = append(o.names, name)
		sort.Strings(o.names)
	}
	o.members[name] = v
}

func (o *object) String() string        { return "<" + o.name + ">" }
func (o *object) Type() string          { return o.name }
func (o *object) Freeze()               {} // immutable once bound
func (o *object) Truth() starlark.Bool  { return starlark.True }
func (o *object) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: %s", o.name) }
func (o *object) AttrNames() []string   { return o.names }

// Attr returns a member; on KSR an unknown name is None, elsewhere
// (nil, nil) lets starlark report "has no .x field or method (did you
// mean .y?)".
func (o *object) Attr(name string) (starlark.Value, error) {
	if v, ok := o.members[name]; ok {
		return v, nil
	}
	if o.noneForMissing {
		return starlark.None, nil
	}
	return nil, nil
}

// bindKSR builds KSR: module "" functions directly on it, every other
// loaded module as an object of its functions (aliases included).
func (v *VM) bindKSR(reg *core.Registry) *object {
	ksr := newObject("KSR", true)
	for _, m := range reg.Modules() {
		obj := ksr
		if m.Name != "" {
			obj = newObject("KSR."+m.Name, false)
			ksr.set(m.Name, obj)
		}
		for _, e := range m.Exports {
			fn := v.export(e)
			for _, name := range append([]string{e.Name}, e.Aliases...) {
				obj.set(name, fn)
			}
		}
	}
	return ksr
}

// vmKey is the thread-local naming the VM that owns a thread.
const vmKey = "kemi.vm"

// export is KSR.m.f. It acts for the VM of the thread that calls it, not
// the one that built it: a function of a module loaded by one VM, shared
// by all (load.go), calls KSR for whichever worker runs it.
func (v *VM) export(e *core.Export) *starlark.Builtin {
	return starlark.NewBuiltin(e.FullName(), func(th *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		cur, _ := th.Local(vmKey).(*VM)
		if cur == nil {
			return nil, fmt.Errorf("%s: called on a thread that is no kemi VM's", e.FullName())
		}
		return cur.invoke(e, args, kwargs)
	})
}

// invoke converts args by e's declared param types into the VM's buffer,
// calls the thunk and converts its result.
func (v *VM) invoke(e *core.Export, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(kwargs) > 0 {
		k, _ := starlark.AsString(kwargs[0][0])
		return nil, fmt.Errorf("%s: takes no keyword arguments, got %s=", e.FullName(), k)
	}
	if len(args) != len(e.Params) {
		return nil, argError(e, args)
	}
	buf := v.args[:len(args)]
	for i, t := range e.Params {
		switch t {
		case core.TInt, core.TLong:
			n, ok := toInt(args[i])
			if !ok {
				return nil, argError(e, args)
			}
			buf[i] = core.Int(n)
		case core.TStr:
			s, ok := args[i].(starlark.String)
			if !ok {
				return nil, argError(e, args)
			}
			buf[i] = core.Str(string(s))
		case core.TBool:
			b, ok := args[i].(starlark.Bool)
			if !ok {
				return nil, argError(e, args)
			}
			buf[i] = core.Bool(bool(b))
		default:
			return nil, argError(e, args)
		}
	}
	r := e.Call(v.ctx, buf)
	clear(buf) // drop string references until the next call
	switch r.Kind {
	case core.KError:
		return nil, v.ctx.Err()
	case core.KExit:
		return nil, exitSignal
	}
	switch e.Returns {
	case core.TNone:
		return starlark.None, nil
	case core.TBool:
		return starlark.Bool(r.Truth()), nil
	}
	switch r.Kind {
	case core.KInt:
		return starlark.MakeInt64(r.I), nil
	case core.KBool:
		return starlark.Bool(r.I != 0), nil
	case core.KStr:
		return starlark.String(r.S), nil
	}
	return starlark.None, nil
}

// toInt accepts an int that fits int64, or a float with an integral value
// (as JavaScript numbers are), and nothing else: bool is not an int here.
func toInt(a starlark.Value) (int64, bool) {
	switch a := a.(type) {
	case starlark.Int:
		return a.Int64()
	case starlark.Float:
		f := float64(a)
		if f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64 {
			return int64(f), true
		}
	}
	return 0, false
}

// argError names KSR.m.f, the declared types and the Starlark types given.
func argError(e *core.Export, args starlark.Tuple) error {
	got := make([]string, len(args))
	for i, a := range args {
		got[i] = a.Type()
	}
	return core.ArgError(e.FullName(), e.Params, got)
}
