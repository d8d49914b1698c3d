// Package tmx implements module tmx: extra transaction functions over tm.
package tmx

import (
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
