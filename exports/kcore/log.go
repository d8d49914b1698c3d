package kcore

import (
	"kemi/core"
	"kemi/sip"
)

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
	case sip.EqualFold(name, "dbg"):
		return core.LDbg
	case sip.EqualFold(name, "info"):
		return core.LInfo
	case sip.EqualFold(name, "notice"):
		return core.LNotice
	case sip.EqualFold(name, "warn"):
		return core.LWarn
	case sip.EqualFold(name, "crit"):
		return core.LCrit
	}
	return core.LErr
}
