package js

import (
	"math"

	"github.com/dop251/goja"

	"kemi/core"
)

// smallInts caches the goja values of common results (-1, 0, 1, reply
// codes): turning an int64 into an interface allocates above 255, and
// KEMI functions return -1 on failure all the time.
const (
	smallIntMin = -16
	smallIntMax = 1024
)

// bindKSR builds the KSR global: module "" functions directly on it, every
// other loaded module as an object of its functions (aliases included).
// Modules that are not loaded are simply absent, so `KSR.auth` is
// undefined and scripts can test for it.
//
// KSR and its module objects are read-only (issue 10 item 8): they are
// goja dynamic objects whose Set, Delete and defineProperty throw a
// TypeError, in sloppy mode too, so `KSR.sl = null` fails that message
// loudly and the next message sees the real functions. (Object.freeze
// would make the assignment fail silently in sloppy mode.)
func (v *VM) bindKSR(reg *core.Registry) error {
	ksr := &ksrObject{v: v, name: "KSR", members: map[string]goja.Value{}}
	for _, m := range reg.Modules() {
		obj := ksr
		if m.Name != "" {
			obj = &ksrObject{v: v, name: "KSR." + m.Name, members: map[string]goja.Value{}}
			ksr.set(m.Name, v.rt.NewDynamicObject(obj))
		}
		for _, e := range m.Exports {
			fn := v.rt.ToValue(v.export(e))
			for _, name := range append([]string{e.Name}, e.Aliases...) {
				obj.set(name, fn)
			}
		}
	}
	return v.rt.Set("KSR", v.rt.NewDynamicObject(ksr))
}

// ksrObject is KSR or one of its modules, as a goja.DynamicObject: a fixed
// set of members that scripts can read and never change.
type ksrObject struct {
	v       *VM
	name    string // "KSR", "KSR.sl"
	members map[string]goja.Value
	keys    []string
}

func (o *ksrObject) set(name string, val goja.Value) {
	if _, dup := o.members[name]; !dup {
		o.keys = append(o.keys, name)
	}
	o.members[name] = val
}

// Get returns nil for a name that is not a member, so the lookup goes on
// to Object.prototype and ends undefined, as on a plain object.
func (o *ksrObject) Get(key string) goja.Value { return o.members[key] }
func (o *ksrObject) Has(key string) bool {
	_, ok := o.members[key]
	return ok
}
func (o *ksrObject) Keys() []string { return append([]string(nil), o.keys...) }

func (o *ksrObject) Set(key string, _ goja.Value) bool {
	panic(o.v.rt.NewTypeError("%s.%s: cannot assign, %s is read-only", o.name, key, o.name))
}

func (o *ksrObject) Delete(key string) bool {
	panic(o.v.rt.NewTypeError("%s.%s: cannot delete, %s is read-only", o.name, key, o.name))
}

// export returns the native function for e. Its shape,
// func(goja.FunctionCall) goja.Value, is the one goja calls directly;
// any other Go func would go through reflection.
func (v *VM) export(e *core.Export) func(goja.FunctionCall) goja.Value {
	return func(call goja.FunctionCall) goja.Value { return v.invoke(e, call.Arguments) }
}

// invoke converts args by e's declared param types into the VM's buffer,
// calls the thunk and converts its result. Errors are thrown as JS
// exceptions; exit/drop throw the uncatchable exit signal.
func (v *VM) invoke(e *core.Export, args []goja.Value) goja.Value {
	if len(args) != len(e.Params) {
		panic(v.argError(e, args))
	}
	buf := v.args[:len(args)]
	for i, t := range e.Params {
		a := args[i]
		switch t {
		case core.TInt, core.TLong:
			if goja.IsString(a) {
				// A numeric string converts, as in Kamailio.
				n, ok := core.IntArg(a.String())
				if !ok {
					panic(v.argError(e, args))
				}
				buf[i] = core.Int(n)
				continue
			}
			if !goja.IsNumber(a) {
				panic(v.argError(e, args))
			}
			if f := a.ToFloat(); f != math.Trunc(f) || math.IsInf(f, 0) {
				panic(v.argError(e, args))
			}
			buf[i] = core.Int(a.ToInteger())
		case core.TStr:
			if !goja.IsString(a) {
				panic(v.argError(e, args))
			}
			buf[i] = core.Str(a.String())
		case core.TBool:
			switch a {
			case v.jsTrue:
				buf[i] = core.Bool(true)
			case v.jsFalse:
				buf[i] = core.Bool(false)
			default:
				panic(v.argError(e, args))
			}
		default:
			panic(v.argError(e, args))
		}
	}
	r := e.Call(v.ctx, buf)
	clear(buf) // drop string references until the next call
	switch r.Kind {
	case core.KError:
		panic(v.rt.NewGoError(v.ctx.Err()))
	case core.KExit:
		panic(exitSignal)
	}
	switch e.Returns {
	case core.TNone:
		return goja.Undefined()
	case core.TBool:
		if r.Truth() {
			return v.jsTrue
		}
		return v.jsFalse
	}
	switch r.Kind {
	case core.KInt:
		return v.intValue(r.I)
	case core.KBool:
		if r.I != 0 {
			return v.jsTrue
		}
		return v.jsFalse
	case core.KStr:
		return v.rt.ToValue(r.S)
	}
	return goja.Null()
}

func (v *VM) intValue(i int64) goja.Value {
	if i >= smallIntMin && i < smallIntMax {
		return v.ints[i-smallIntMin]
	}
	return v.rt.ToValue(i)
}

// argError is the TypeError for a bad call, naming KSR.m.f, the declared
// types and the JavaScript types received.
func (v *VM) argError(e *core.Export, args []goja.Value) *goja.Object {
	got := make([]string, len(args))
	for i, a := range args {
		got[i] = typeOf(a)
	}
	return v.rt.NewTypeError(core.ArgError(e.FullName(), e.Params, got).Error())
}

// typeOf is JavaScript's typeof, except that null says "null".
func typeOf(a goja.Value) string {
	switch {
	case a == nil || goja.IsUndefined(a):
		return "undefined"
	case goja.IsNull(a):
		return "null"
	case goja.IsNumber(a):
		return "number"
	case goja.IsString(a):
		return "string"
	case goja.IsBigInt(a):
		return "bigint"
	}
	switch a := a.(type) {
	case *goja.Symbol:
		return "symbol"
	case *goja.Object:
		if _, ok := goja.AssertFunction(a); ok {
			return "function"
		}
		return "object"
	}
	return "boolean"
}
