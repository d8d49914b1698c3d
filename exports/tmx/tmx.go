// Package tmx implements module tmx: extra transaction functions over tm.
package tmx

import (
	"fmt"
	"math"

	"kemi/core"
	"kemi/exports/tm"
)

// PrecheckTrans is t_precheck_trans.
func PrecheckTrans(ctx *core.Ctx) int { return tm.Precheck(ctx) }

func yes(b bool) int {
	if b {
		return 1
	}
	return -1
}

// IsBranchRoute is t_is_branch_route.
func IsBranchRoute(ctx *core.Ctx) int { return yes(ctx.Route == core.BranchRoute) }

// IsFailureRoute is t_is_failure_route.
func IsFailureRoute(ctx *core.Ctx) int { return yes(ctx.Route == core.FailureRoute) }

// IsReplyRoute is t_is_reply_route: the onreply route of a transaction or
// the core reply route.
func IsReplyRoute(ctx *core.Ctx) int {
	return yes(ctx.Route == core.OnReplyRoute || ctx.Route == core.ReplyRoute)
}

// Suspend is t_suspend.
func Suspend(ctx *core.Ctx) int {
	if _, _, ok := tm.Suspend(ctx); !ok {
		return -1
	}
	return 1
}

// Continue is t_continue.
func Continue(ctx *core.Ctx, tindex, tlabel int, cbname string) int {
	t := tm.Of(ctx.RT)
	if t == nil {
		ctx.Log(core.LErr, "tmx: t_continue: module tm is not started\n")
		return -1
	}
	if tindex < 0 || tlabel <= 0 || tindex > math.MaxUint32 || tlabel > math.MaxUint32 {
		ctx.Log(core.LErr, fmt.Sprintf("tmx: t_continue: expected a transaction index and label from $T(id_index) and $T(id_label), got %d and %d\n", tindex, tlabel))
		return -1
	}
	if err := t.Continue(uint32(tindex), uint32(tlabel), cbname, nil, nil); err != nil {
		ctx.Log(core.LErr, fmt.Sprintf("tmx: t_continue(%d, %d, %s): %v\n", tindex, tlabel, core.LogQuote(cbname), err))
		return -1
	}
	return 1
}
