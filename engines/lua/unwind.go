package lua

import (
	"reflect"
	"unsafe"

	glua "github.com/yuin/gopher-lua"
)

// Unwinding without a Go panic.
//
// KSR.x.exit ends most relayed requests in Kamailio-style scripts, and a
// Go panic through gopher-lua's main loop to PCall's recover costs
// 0.5-3 us, more than the rest of the route. When the export was reached
// by plain Lua calls only, there is a cheaper way with the same effect:
// point every Lua frame of the callback at its final instruction, which
// the compiler always makes `RETURN 0 1`, and let the Go function return.
// Each frame then returns at once (closing its upvalues as a normal return
// does) and PCall returns without error.
//
// That is only sound when every frame is suspended in an OP_CALL (or a
// tail call) made by the Lua loop itself. A frame suspended in anything
// else (a metamethod, a for-in iterator, a comparison) is resumed by Go
// code that still adjusts its Pc, and a Go function in the chain (pcall,
// table.sort, gsub) would go on running after we return. In those cases,
// and when gopher-lua's layout is not the one checked below, raiseExit
// falls back to the panic.
//
// gopher-lua does not export the current frame, only its type's fields
// (through RemoveCallerFrame's result), so the field is read at an offset
// found and type-checked by reflection once, at init.
var currentFrameOffset, haveFrames = func() (uintptr, bool) {
	f, ok := reflect.TypeFor[glua.LState]().FieldByName("currentFrame")
	if !ok {
		return 0, false
	}
	want := reflect.TypeOf((*glua.LState).RemoveCallerFrame).Out(0)
	return f.Offset, f.Type == want
}()

// frameOf reads L's current frame. The unused argument only names the
// frame type, which the package does not export.
func frameOf[F any](L *glua.LState, _ func(*glua.LState) F) F {
	return *(*F)(unsafe.Add(unsafe.Pointer(L), currentFrameOffset))
}

// unwindFrames makes every Lua frame below the running Go function return
// at once. It reports false, changing nothing, when that is not safe.
func unwindFrames(L *glua.LState) bool {
	if !haveFrames {
		return false
	}
	cur := frameOf(L, (*glua.LState).RemoveCallerFrame)
	if cur == nil || cur.Fn == nil || !cur.Fn.IsG {
		return false
	}
	for f := cur.Parent; f != nil; f = f.Parent {
		if f.Fn == nil || f.Fn.IsG || f.Fn.Proto == nil || f.Pc < 1 || f.Pc > len(f.Fn.Proto.Code) {
			return false
		}
		code := f.Fn.Proto.Code
		if op := int(code[f.Pc-1] >> 26); op != glua.OP_CALL && op != glua.OP_TAILCALL {
			return false
		}
		if last := code[len(code)-1]; int(last>>26) != glua.OP_RETURN {
			return false
		}
	}
	for f := cur.Parent; f != nil; f = f.Parent {
		f.Pc = len(f.Fn.Proto.Code) - 1
	}
	return true
}
