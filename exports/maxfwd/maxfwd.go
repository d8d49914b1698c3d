// Package maxfwd implements module maxfwd with Kamailio's semantics and
// return codes: process_maxfwd adds a missing Max-Forwards or decrements
// it, is_maxfwd_lt compares it with a limit. Both see edits made earlier in
// the route, since sip.Msg.MaxForwards shows a pending SetMaxForwards.
package maxfwd

import (
	"strconv"

	"kemi/core"
)

// DefaultMaxLimit is Kamailio's default for the max_limit param.
const DefaultMaxLimit = 70

// ProcessMaxfwd returns 2 when the header was added, 1 when decremented,
// -1 when it is 0 or limit is out of range, -2 when it cannot be parsed.
func ProcessMaxfwd(ctx *core.Ctx, limit int) int {
	if limit < 0 || limit > 255 {
		ctx.Log(core.LErr, "maxfwd: process_maxfwd: limit "+strconv.Itoa(limit)+" is out of range 0-255\n")
		return -1
	}
	n, present, err := ctx.Msg.MaxForwards()
	switch {
	case err != nil:
		ctx.Log(core.LErr, "maxfwd: process_maxfwd: "+core.LogValue(err.Error())+"\n")
		return -2
	case !present:
		ctx.Msg.SetMaxForwards(limit)
		return 2
	case n == 0:
		return -1
	}
	// Kamailio lowers a large value to max_limit+1 and then decrements,
	// so the request leaves with max_limit.
	if max := maxLimit(ctx); n > max {
		n = max + 1
	}
	ctx.Msg.SetMaxForwards(n - 1)
	return 1
}

// IsMaxfwdLt returns 1 when Max-Forwards < limit, -1 when not (or limit is
// out of range), -2 when the header is missing, -3 when it is malformed.
func IsMaxfwdLt(ctx *core.Ctx, limit int) int {
	if limit < 0 || limit > 255 {
		ctx.Log(core.LErr, "maxfwd: is_maxfwd_lt: limit "+strconv.Itoa(limit)+" is out of range 0-255\n")
		return -1
	}
	n, present, err := ctx.Msg.MaxForwards()
	switch {
	case err != nil:
		return -3
	case !present:
		return -2
	case n >= limit:
		return -1
	}
	return 1
}

func maxLimit(ctx *core.Ctx) int {
	if ctx.RT == nil || ctx.RT.Reg == nil {
		return DefaultMaxLimit
	}
	if v := ctx.RT.Param("maxfwd", "max_limit"); v.Kind == core.KInt {
		return int(v.I)
	}
	return DefaultMaxLimit
}
