package lua

import (
	glua "github.com/yuin/gopher-lua"
)

// KSR, sr and their module tables are read-only.
//
// Script globals persist from message to message (as in Kamailio), so one
// `KSR.sl = nil` used to leave the worker unable to answer until restart.
// Lua has no read-only tables, and a __newindex metamethod only sees keys
// a table lacks, so the stores are refused where they happen:
//
//   - `KSR.x = v`, `KSR[k] = v`: the SETTABLE opcodes, checked before they
//     run by the instruction watch that also keeps the memory budget
//     (memory.go), so it costs nothing on reads and calls;
//   - `KSR = nil`, `_G.sr = {}`: the global names KSR and sr, through
//     SETGLOBAL and stores into the globals table;
//   - rawset, table.insert, table.remove and table.sort on them;
//   - setfenv(f, KSR), after which plain global assignments would go into
//     KSR, and a __newindex that points at one of them, set through a
//     store, rawset or setmetatable;
//   - setmetatable(KSR, ...): their metatable carries __metatable, so
//     gopher-lua refuses to change it and getmetatable returns a string.
//
// Each protected table has the VM's roMeta as its metatable, which is how
// the checks recognise it; it has no __index, so reads, pairs and next
// behave as before. The string metatable gets __metatable too, so a script
// cannot take `s:sub(...)` away from the next message.

// protect marks t as read-only under the given name ("KSR", "KSR.sl").
func (vm *VM) protect(t *glua.LTable, name string) {
	t.Metatable = vm.roMeta
	vm.roNames[t] = name
}

func (vm *VM) readOnly(t *glua.LTable) bool { return t.Metatable == vm.roMeta }

// setupReadOnly builds the marker metatable and guards the base functions
// that write to a table they are given.
func (vm *VM) setupReadOnly() {
	L := vm.L
	mt := L.NewTable()
	mt.RawSetString("__metatable", glua.LString("read-only"))
	vm.roMeta = mt
	vm.roNames = map[*glua.LTable]string{}

	if smt, ok := L.GetMetatable(glua.LString("")).(*glua.LTable); ok {
		smt.RawSetString("__metatable", glua.LString("the string metatable is read-only"))
	}

	g := L.G.Global
	if f := gfunc(g, "rawset"); f != nil {
		g.RawSetString("rawset", L.NewFunction(func(L *glua.LState) int {
			if t, ok := L.Get(1).(*glua.LTable); ok {
				vm.checkStore(L, t, L.Get(2), L.Get(3), "rawset")
				if L.Get(3) != glua.LNil && t.RawGet(L.Get(2)) == glua.LNil {
					if _, ok := L.Get(2).(glua.LNumber); ok {
						vm.budget.charge(L, newSlotSize)
					} else {
						vm.budget.charge(L, entrySize)
					}
				}
			}
			return f(L)
		}))
	}
	if f := gfunc(g, "setfenv"); f != nil {
		g.RawSetString("setfenv", L.NewFunction(func(L *glua.LState) int {
			if t, ok := L.Get(2).(*glua.LTable); ok && vm.readOnly(t) {
				vm.raiseReadOnly(L, t, nil, "setfenv")
			}
			return f(L)
		}))
	}
	if f := gfunc(g, "setmetatable"); f != nil {
		g.RawSetString("setmetatable", L.NewFunction(func(L *glua.LState) int {
			if mt, ok := L.Get(2).(*glua.LTable); ok {
				if t, ok := mt.RawGetString("__newindex").(*glua.LTable); ok && vm.readOnly(t) {
					vm.raiseReadOnly(L, t, nil, "setmetatable with __newindex")
				}
			}
			return f(L)
		}))
	}
}

// checkStore raises when t[key] = val would change a protected table, or
// would make one the __newindex of another table. how names the function
// ("rawset"), or is empty for an assignment.
func (vm *VM) checkStore(L *glua.LState, t *glua.LTable, key, val glua.LValue, how string) {
	if t.Metatable == vm.roMeta {
		vm.raiseReadOnly(L, t, key, how)
	}
	if t == L.G.Global {
		if k, ok := key.(glua.LString); ok && (k == "KSR" || k == "sr") {
			if how == "" {
				L.RaiseError("%s is read-only: cannot assign the global %s", k, k)
			}
			L.RaiseError("%s is read-only: cannot change the global %s with %s", k, k, how)
		}
	}
	if v, ok := val.(*glua.LTable); ok && v.Metatable == vm.roMeta {
		if k, ok := key.(glua.LString); ok && k == "__newindex" {
			vm.raiseReadOnly(L, v, nil, "__newindex")
		}
	}
}

// raiseReadOnly raises "KSR is read-only: cannot assign KSR.sl".
func (vm *VM) raiseReadOnly(L *glua.LState, t *glua.LTable, key glua.LValue, how string) {
	name := vm.roNames[t]
	root := name
	for i := 0; i < len(name); i++ {
		if name[i] == '.' {
			root = name[:i]
			break
		}
	}
	what := name
	if key != nil {
		if k, ok := key.(glua.LString); ok {
			what = name + "." + string(k)
		} else {
			what = name + "[" + L.ToStringMeta(key).String() + "]"
		}
	}
	if how == "" {
		L.RaiseError("%s is read-only: cannot assign %s", root, what)
	}
	L.RaiseError("%s is read-only: cannot change %s with %s", root, what, how)
}
