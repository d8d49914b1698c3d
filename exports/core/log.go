package kcore

import "kemi/core"

// LogDbg is KSR.dbg.
func LogDbg(ctx *core.Ctx, msg string) { ctx.ScriptLog(core.LDbg, msg) }

// LogInfo is KSR.info.
func LogInfo(ctx *core.Ctx, msg string) { ctx.ScriptLog(core.LInfo, msg) }

// LogNotice is KSR.notice.
func LogNotice(ctx *core.Ctx, msg string) { ctx.ScriptLog(core.LNotice, msg) }

// LogWarn is KSR.warn.
func LogWarn(ctx *core.Ctx, msg string) { ctx.ScriptLog(core.LWarn, msg) }

// LogErr is KSR.err.
func LogErr(ctx *core.Ctx, msg string) { ctx.ScriptLog(core.LErr, msg) }

// LogCrit is KSR.crit.
func LogCrit(ctx *core.Ctx, msg string) { ctx.ScriptLog(core.LCrit, msg) }

// Log is KSR.log(level, msg). As in Kamailio, a level it does not know
// logs as an error rather than being lost.
func Log(ctx *core.Ctx, level, msg string) { ctx.ScriptLog(LevelOf(level), msg) }

// LevelOf maps KSR.log's level names, ignoring case, to logger levels.
func LevelOf(name string) int {
	switch {
	case equalFold(name, "dbg"):
		return core.LDbg
	case equalFold(name, "info"):
		return core.LInfo
	case equalFold(name, "notice"):
		return core.LNotice
	case equalFold(name, "warn"):
		return core.LWarn
	case equalFold(name, "crit"):
		return core.LCrit
	}
	return core.LErr
}

// equalFold is ASCII case-insensitive equality of a byte slice or string
// with a string, without converting either.
func equalFold[T ~string | ~[]byte](a T, b string) bool {
	if len(a) != len(b) {
		return false
	}
	if string(a) == b { // the usual case, upper-case methods; no copy
		return true
	}
	for i := 0; i < len(b); i++ {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
