package lua

import (
	"reflect"
	"strings"
	"unsafe"

	glua "github.com/yuin/gopher-lua"

	"kemi/core"
)

// The per-message memory budget.
//
// gopher-lua has no allocation hook, and OP_CONCAT, the table stores and
// the constructors run inside its VM. What kemi does see is the context
// poll before every instruction (budget.go). There Done reads the
// instruction about to run and, for the few opcodes that allocate, works
// out what it will allocate from the operands in the registers and charges
// that to the budget before it runs:
//
//   - CONCAT: the sum of the operands' lengths (a number counts 24 bytes).
//     `s = s .. s` is refused before the doubling that would cross the
//     budget, not after.
//   - SETTABLE, SETTABLEKS: a store that adds a key (the key was absent
//     and the value is not nil): 48 bytes for a number key, 192 for others
//     (the map entry and gopher-lua's key list). Overwrites are free.
//   - NEWTABLE: 96 bytes plus the size hints; SETLIST: 16 bytes a value.
//   - CLOSURE: 96 bytes plus 48 an upvalue.
//   - SETGLOBAL: nothing (the key is a constant), but `KSR = nil` is
//     refused there (readonly.go).
//
// The builtins that build a value in one Go call check their result's
// worst case before building it: string.rep, string.format (widths and
// precisions over 99 are refused, as in Lua 5.1), string.gsub (kemi's own:
// it streams its matches and charges its output buffer as it grows, and 16
// bytes a match), table.concat (kemi's own); string.upper, lower and
// reverse charge what they return (after checking that a result as long
// as their argument fits), os.date too (its format is capped at 1024
// bytes), table.insert and rawset a new slot, and a string a KSR function
// returns is charged its length.
//
// It is an allocation budget, not a live-heap one: garbage counts too, so
// a string built one byte at a time costs the sum of its prefixes. It is
// reset for each message (each top-level callback run).
//
// Reading the instruction costs a few loads per instruction: the current
// frame and the registry are unexported fields, read at offsets found and
// type-checked by reflection once, at init (as unwind.go does). When the
// layout is not the expected one, haveRegs is false and only the step
// budget and the builtin checks apply; a test fails then.

// Default memory budget per message, in MiB.
const DefaultMemoryBudget = 64

// Charges in bytes; approximations of what gopher-lua allocates on 64-bit.
const (
	numberSize  = 24  // a number converted to a string by `..`
	slotSize    = 16  // one interface value in an array
	newSlotSize = 48  // an array slot with append's spare capacity, and a boxed value
	entrySize   = 192 // a new key in the hash part: map entries, key list, boxed key and value
	tableSize   = 96  // an empty table
	closureSize = 96  // a closure without upvalues
	upvalSize   = 48  // one upvalue of a closure
)

// registryHead mirrors the first fields of gopher-lua's registry (the
// value stack).
type registryHead struct {
	array []glua.LValue
	top   int
}

var regOffset, haveRegs = func() (uintptr, bool) {
	f, ok := reflect.TypeFor[glua.LState]().FieldByName("reg")
	if !ok || f.Type.Kind() != reflect.Pointer || f.Type.Elem().Kind() != reflect.Struct {
		return 0, false
	}
	r := f.Type.Elem()
	a, ok1 := r.FieldByName("array")
	t, ok2 := r.FieldByName("top")
	if !ok1 || !ok2 || a.Offset != unsafe.Offsetof(registryHead{}.array) ||
		a.Type != reflect.TypeFor[[]glua.LValue]() ||
		t.Offset != unsafe.Offsetof(registryHead{}.top) || t.Type.Kind() != reflect.Int {
		return 0, false
	}
	return f.Offset, haveFrames
}()

func regsOf(L *glua.LState) *registryHead {
	return *(**registryHead)(unsafe.Add(unsafe.Pointer(L), regOffset))
}

// watchedOps has a bit for each opcode watchOp looks at.
var watchedOps = func() (w uint64) {
	for _, op := range []int{glua.OP_CONCAT, glua.OP_SETTABLE, glua.OP_SETTABLEKS,
		glua.OP_NEWTABLE, glua.OP_SETLIST, glua.OP_CLOSURE, glua.OP_SETGLOBAL} {
		w |= 1 << op
	}
	return w
}()

// rk reads operand x of an instruction: a constant or a register.
func rk(proto *glua.FunctionProto, reg []glua.LValue, lbase, x int) glua.LValue {
	if x&0x100 != 0 {
		return proto.Constants[x&0xff]
	}
	return reg[lbase+x]
}

// watchOp runs before an allocating instruction: it charges what the
// instruction will allocate and refuses stores into KSR and sr.
func (vm *VM) watchOp(L *glua.LState, fn *glua.LFunction, lbase int, inst uint32) {
	proto := fn.Proto
	rg := regsOf(L)
	reg := rg.array
	a := lbase + int(inst>>18)&0xff
	b := int(inst & 0x1ff)
	c := int(inst>>9) & 0x1ff
	switch int(inst >> 26) {
	case glua.OP_CONCAT:
		n := 0
		for _, v := range reg[lbase+b : lbase+c+1] {
			switch v := v.(type) {
			case glua.LString:
				n += len(v)
			case glua.LNumber:
				n += numberSize
			}
		}
		vm.budget.charge(L, n)
	case glua.OP_SETTABLE, glua.OP_SETTABLEKS:
		t, ok := reg[a].(*glua.LTable)
		if !ok {
			return
		}
		key, val := rk(proto, reg, lbase, b), rk(proto, reg, lbase, c)
		vm.checkStore(L, t, key, val, "")
		if val == glua.LNil || t.RawGet(key) != glua.LNil {
			return
		}
		if _, ok := key.(glua.LNumber); ok {
			vm.budget.charge(L, newSlotSize)
		} else {
			vm.budget.charge(L, entrySize)
		}
	case glua.OP_NEWTABLE:
		vm.budget.charge(L, tableSize+b*slotSize+c*entrySize)
	case glua.OP_SETLIST:
		n := b
		if n == 0 {
			n = rg.top - a - 1
		}
		vm.budget.charge(L, n*slotSize)
	case glua.OP_SETGLOBAL:
		// `KSR = nil`: the global names themselves are protected too.
		if env := fn.Env; env == L.G.Global {
			if bx := int(inst & 0x3ffff); bx < len(proto.Constants) {
				vm.checkStore(L, env, proto.Constants[bx], reg[a], "")
			}
		}
	case glua.OP_CLOSURE:
		if bx := int(inst & 0x3ffff); bx < len(proto.FunctionPrototypes) {
			vm.budget.charge(L, closureSize+upvalSize*int(proto.FunctionPrototypes[bx].NumUpvalues))
		}
	}
}

// memoryBudget reads modparam("app_lua", "memory_budget"): MiB, > 0.
func memoryBudget(rt *core.Runtime) int {
	v := rt.Param("app_lua", "memory_budget")
	if v.Kind == core.KInt && v.I > 0 {
		if v.I > 1<<20 {
			return 1 << 20
		}
		return int(v.I)
	}
	return DefaultMemoryBudget
}

// wrapBuiltins replaces the library functions that can build a large
// value in one call with budget-aware versions.
func (vm *VM) wrapBuiltins() {
	L := vm.L
	g := L.G.Global
	if s, ok := g.RawGetString("string").(*glua.LTable); ok {
		s.RawSetString("rep", L.NewFunction(vm.strRep))
		s.RawSetString("gsub", L.NewFunction(vm.gsub))
		s.RawSetString("find", L.NewFunction(vm.strFind))
		s.RawSetString("match", L.NewFunction(vm.strMatch))
		s.RawSetString("gmatch", L.NewFunction(vm.strGmatch))
		if f := gfunc(s, "format"); f != nil {
			s.RawSetString("format", L.NewFunction(vm.strFormat(f)))
		}
		for _, name := range []string{"upper", "lower", "reverse"} {
			if f := gfunc(s, name); f != nil {
				s.RawSetString(name, L.NewFunction(vm.sameSize("string."+name, vm.chargeResult(f))))
			}
		}
	}
	if os, ok := g.RawGetString("os").(*glua.LTable); ok {
		if f := gfunc(os, "date"); f != nil {
			os.RawSetString("date", L.NewFunction(vm.osDate(f)))
		}
	}
	if t, ok := g.RawGetString("table").(*glua.LTable); ok {
		t.RawSetString("concat", L.NewFunction(vm.tableConcat))
		if f := gfunc(t, "insert"); f != nil {
			t.RawSetString("insert", L.NewFunction(vm.guardTable("table.insert", f, newSlotSize)))
		}
		for _, name := range []string{"remove", "sort"} {
			if f := gfunc(t, name); f != nil {
				t.RawSetString(name, L.NewFunction(vm.guardTable("table."+name, f, 0)))
			}
		}
	}
}

// gfunc returns the Go function behind a library entry.
func gfunc(t *glua.LTable, name string) glua.LGFunction {
	if f, ok := t.RawGetString(name).(*glua.LFunction); ok && f.IsG {
		return f.GFunction
	}
	return nil
}

// memError raises the memory error for a builtin whose result would not
// fit.
func (vm *VM) memError(L *glua.LState, fn string, n int) {
	vm.budget.exhaustMemory()
	L.RaiseError("%s: result of %d bytes: %s", fn, n, vm.budget.memErr.Error())
}

func (vm *VM) strRep(L *glua.LState) int {
	s := L.CheckString(1)
	n := L.CheckInt(2)
	if n <= 0 || len(s) == 0 {
		L.Push(glua.LString(""))
		return 1
	}
	if n > (1<<62)/len(s) || !vm.budget.fits(len(s)*n) {
		vm.memError(L, "string.rep", len(s)*n)
	}
	vm.budget.charge(L, len(s)*n)
	L.Push(glua.LString(strings.Repeat(s, n)))
	return 1
}

// chargeResult calls a string builtin and charges the string it returns;
// its result is at most a few times its argument, already paid for.
func (vm *VM) chargeResult(f glua.LGFunction) glua.LGFunction {
	return func(L *glua.LState) int {
		n := f(L)
		if n == 1 {
			if s, ok := L.Get(-1).(glua.LString); ok {
				vm.budget.charge(L, len(s))
			}
		}
		return n
	}
}

// sameSize checks, before f runs, that a result as long as the first
// argument (a string) fits in the budget.
func (vm *VM) sameSize(name string, f glua.LGFunction) glua.LGFunction {
	return func(L *glua.LState) int {
		if s, ok := L.Get(1).(glua.LString); ok && !vm.budget.fits(len(s)) {
			vm.memError(L, name, len(s))
		}
		return f(L)
	}
}

// maxDateFormat caps os.date's format: gopher-lua's strftime allocates
// some seventy times its format's length.
const maxDateFormat = 1024

// dateCost is charged for each os.date call besides its result: about
// what its strftime allocates for a short format.
const dateCost = 160

func (vm *VM) osDate(f glua.LGFunction) glua.LGFunction {
	charged := vm.chargeResult(f)
	return func(L *glua.LState) int {
		if s, ok := L.Get(1).(glua.LString); ok && len(s) > maxDateFormat {
			L.RaiseError("os.date: format of %d bytes, longer than %d", len(s), maxDateFormat)
		}
		vm.budget.charge(L, dateCost)
		return charged(L)
	}
}

// strFormat refuses widths and precisions of more than two digits, as Lua
// 5.1 does (gopher-lua hands the format to Go's fmt, which takes up to a
// million), then checks the worst case: every verb a few times its
// argument.
func (vm *VM) strFormat(f glua.LGFunction) glua.LGFunction {
	return func(L *glua.LState) int {
		format := L.CheckString(1)
		for i := 0; i < len(format); i++ {
			if format[i] != '%' {
				continue
			}
			digits := 0
			for i++; i < len(format) && strings.IndexByte("-+ #0123456789.[]*", format[i]) >= 0; i++ {
				if format[i] >= '0' && format[i] <= '9' {
					digits++
					if digits > 2 {
						L.RaiseError("string.format: invalid format %q (width or precision longer than 2 digits)", format)
					}
				} else {
					digits = 0
				}
			}
		}
		worst := 8 * len(format)
		for i := 2; i <= L.GetTop(); i++ {
			worst += 512
			if s, ok := L.Get(i).(glua.LString); ok {
				worst += 4 * len(s)
			}
		}
		if !vm.budget.fits(worst) {
			vm.memError(L, "string.format", worst)
		}
		return vm.chargeResult(f)(L)
	}
}

// tableConcat is table.concat(t [, sep [, i [, j]]]) as in Lua 5.1: it
// sums the lengths first, so the result is checked against the budget and
// built in one allocation. (gopher-lua's pushed every element on the value
// stack, which overflowed past about 2,500 elements.)
func (vm *VM) tableConcat(L *glua.LState) int {
	t := L.CheckTable(1)
	sep := L.OptString(2, "")
	i := L.OptInt(3, 1)
	j := L.OptInt(4, t.Len())
	size := 0
	for k := i; k <= j; k++ {
		switch v := t.RawGetInt(k).(type) {
		case glua.LString:
			size += len(v)
		case glua.LNumber:
			size += numberSize
		default:
			L.RaiseError("table.concat: invalid value (at index %d) in table for concat: %s", k, v.Type().String())
		}
		if k < j {
			size += len(sep)
		}
		if !vm.budget.fits(size) {
			vm.memError(L, "table.concat", size)
		}
	}
	if size == 0 {
		L.Push(glua.LString(""))
		return 1
	}
	vm.budget.charge(L, size)
	var b strings.Builder
	b.Grow(size)
	for k := i; k <= j; k++ {
		switch v := t.RawGetInt(k).(type) {
		case glua.LString:
			b.WriteString(string(v))
		case glua.LNumber:
			b.WriteString(glua.LVAsString(v))
		}
		if k < j {
			b.WriteString(sep)
		}
	}
	L.Push(glua.LString(b.String()))
	return 1
}

// guardTable refuses a table function on KSR and sr, and charges what it
// may add.
func (vm *VM) guardTable(name string, f glua.LGFunction, cost int) glua.LGFunction {
	return func(L *glua.LState) int {
		if t, ok := L.Get(1).(*glua.LTable); ok && vm.readOnly(t) {
			vm.raiseReadOnly(L, t, nil, name)
		}
		if cost > 0 {
			vm.budget.charge(L, cost)
		}
		return f(L)
	}
}

// The call frame stack: gopher-lua leaves popped frames in its array, so
// after an error a frame of a closure keeps the closure, and through its
// upvalues whatever it held (a bomb's last string), until a call that deep
// reuses the slot. clearStaleFrames zeroes them; VM.Call runs it after a
// failed callback only.
var stackField, haveStack = func() (reflect.StructField, bool) {
	f, ok := reflect.TypeFor[glua.LState]().FieldByName("stack")
	return f, ok && f.Type.Kind() == reflect.Interface
}()

func clearStaleFrames(L *glua.LState) {
	if !haveStack {
		return
	}
	st := reflect.NewAt(stackField.Type, unsafe.Add(unsafe.Pointer(L), stackField.Offset)).Elem().Elem()
	if st.Kind() != reflect.Pointer || st.IsNil() || st.Elem().Kind() != reflect.Struct {
		return
	}
	s := st.Elem()
	arrF, spF := s.FieldByName("array"), s.FieldByName("sp")
	if !arrF.IsValid() || !spF.IsValid() || arrF.Kind() != reflect.Slice || spF.Kind() != reflect.Int {
		return // MinimizeStackMemory's growing stack: not used here
	}
	arr := reflect.NewAt(arrF.Type(), unsafe.Pointer(arrF.UnsafeAddr())).Elem()
	for i := int(spF.Int()); i < arr.Len(); i++ {
		f := arr.Index(i)
		if fn := f.FieldByName("Fn"); fn.IsValid() && fn.IsNil() {
			break // frames are pushed in order: the rest were never used
		}
		f.SetZero()
	}
}
