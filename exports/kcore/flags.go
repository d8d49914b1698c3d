package kcore

import (
	"strconv"
	"sync/atomic"

	"kemi/core"
)

// MaxFlag is the highest flag index: ctx.Flags and ctx.BranchFlags are
// 64-bit (Kamailio has 32).
const MaxFlag = 63

func flagOK(ctx *core.Ctx, flag int) bool {
	if flag < 0 || flag > MaxFlag {
		ctx.Log(core.LErr, "invalid flag "+strconv.Itoa(flag)+": want 0-63\n")
		return false
	}
	return true
}

// Setflag sets a message flag.
func Setflag(ctx *core.Ctx, flag int) bool {
	if !flagOK(ctx, flag) {
		return false
	}
	ctx.Flags |= 1 << flag
	return true
}

// Resetflag clears a message flag.
func Resetflag(ctx *core.Ctx, flag int) bool {
	if !flagOK(ctx, flag) {
		return false
	}
	ctx.Flags &^= 1 << flag
	return true
}

// Isflagset checks a message flag.
func Isflagset(ctx *core.Ctx, flag int) bool {
	return flagOK(ctx, flag) && ctx.Flags&(1<<flag) != 0
}

// Setbflag sets a flag of branch 0.
func Setbflag(ctx *core.Ctx, flag int) bool {
	if !flagOK(ctx, flag) {
		return false
	}
	ctx.BranchFlags |= 1 << flag
	return true
}

// Resetbflag clears a flag of branch 0.
func Resetbflag(ctx *core.Ctx, flag int) bool {
	if !flagOK(ctx, flag) {
		return false
	}
	ctx.BranchFlags &^= 1 << flag
	return true
}

// Isbflagset checks a flag of branch 0.
func Isbflagset(ctx *core.Ctx, flag int) bool {
	return flagOK(ctx, flag) && ctx.BranchFlags&(1<<flag) != 0
}

// ForceRport makes replies go to the source port.
func ForceRport(ctx *core.Ctx) bool {
	ctx.ForceRport = true
	return true
}

// SetDrop marks the message dropped; the route goes on.
func SetDrop(ctx *core.Ctx) { ctx.SetDrop() }

// Script flags live in the runtime, shared by all workers, and start
// clear after a reload.
type sflags struct{ bits atomic.Uint64 }

var sflagStates = core.NewRuntimeState[sflags](nil)

func scriptFlags(ctx *core.Ctx) *sflags {
	if ctx.RT == nil {
		return nil
	}
	return sflagStates.Get(ctx.RT)
}

// Setsflag sets a script flag.
func Setsflag(ctx *core.Ctx, flag int) bool {
	f := scriptFlags(ctx)
	if f == nil || !flagOK(ctx, flag) {
		return false
	}
	f.bits.Or(1 << flag)
	return true
}

// Resetsflag clears a script flag.
func Resetsflag(ctx *core.Ctx, flag int) bool {
	f := scriptFlags(ctx)
	if f == nil || !flagOK(ctx, flag) {
		return false
	}
	f.bits.And(^uint64(1 << flag))
	return true
}

// Issflagset checks a script flag.
func Issflagset(ctx *core.Ctx, flag int) bool {
	f := scriptFlags(ctx)
	return f != nil && flagOK(ctx, flag) && f.bits.Load()&(1<<flag) != 0
}

// GetDebug is the log level in force, the debug global.
func GetDebug(ctx *core.Ctx) int {
	if ctx.RT == nil || ctx.RT.Log == nil {
		return core.LWarn
	}
	return ctx.RT.Log.CurLevel()
}
