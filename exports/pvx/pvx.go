// Package pvx implements module pvx, the KSR.pvx functions of Kamailio's
// pv module: $avp, $var, $shv and $xavp by name. The stores are module
// pv's; this package only gives them Kamailio's KEMI names and returns.
package pvx

import (
	"kemi/core"
	"kemi/exports/pv"
)

func orNull(v core.Value, ok bool) core.Value {
	if !ok {
		return core.Null()
	}
	return v
}

func orEmpty(v core.Value, ok bool) core.Value {
	if !ok {
		return core.Str("")
	}
	return v
}

func orPrint(v core.Value, ok bool) core.Value {
	if !ok {
		return core.Str("<null>")
	}
	return v
}

// AvpGet is KSR.pvx.avp_get.
func AvpGet(ctx *core.Ctx, name string) core.Value { return orNull(pv.AVP(ctx, name)) }

// AvpGete is KSR.pvx.avp_gete.
func AvpGete(ctx *core.Ctx, name string) core.Value { return orEmpty(pv.AVP(ctx, name)) }

// AvpGetw is KSR.pvx.avp_getw.
func AvpGetw(ctx *core.Ctx, name string) core.Value { return orPrint(pv.AVP(ctx, name)) }

// AvpSets is KSR.pvx.avp_sets.
func AvpSets(ctx *core.Ctx, name, v string) int { pv.AddAVP(ctx, name, core.Str(v)); return 1 }

// AvpSeti is KSR.pvx.avp_seti.
func AvpSeti(ctx *core.Ctx, name string, v int) int {
	pv.AddAVP(ctx, name, core.Int(int64(v)))
	return 1
}

// AvpRm is KSR.pvx.avp_rm.
func AvpRm(ctx *core.Ctx, name string) int { pv.RemoveAVP(ctx, name); return 1 }

// AvpIsNull is KSR.pvx.avp_is_null.
func AvpIsNull(ctx *core.Ctx, name string) int {
	if _, ok := pv.AVP(ctx, name); ok {
		return -1
	}
	return 1
}

// VarGet is KSR.pvx.var_get: 0 with a warning for a variable not set, as
// Kamailio gives.
func VarGet(ctx *core.Ctx, name string) core.Value {
	if v, ok := pv.Var(ctx, name); ok {
		return v
	}
	ctx.Log(core.LWarn, "KSR.pvx.var_get: $var("+clip(name)+") is not defined - return value 0\n")
	return core.Int(0)
}

// VarSets is KSR.pvx.var_sets.
func VarSets(ctx *core.Ctx, name, v string) int { pv.SetVar(ctx, name, core.Str(v)); return 1 }

// VarSeti is KSR.pvx.var_seti.
func VarSeti(ctx *core.Ctx, name string, v int) int {
	pv.SetVar(ctx, name, core.Int(int64(v)))
	return 1
}

// ShvGet is KSR.pvx.shv_get: 0 with a warning for a variable not set.
func ShvGet(ctx *core.Ctx, name string) core.Value {
	if v, ok := pv.Shv(ctx, name); ok {
		return v
	}
	ctx.Log(core.LWarn, "KSR.pvx.shv_get: $shv("+clip(name)+") is not defined - return value 0\n")
	return core.Int(0)
}

func shvSet(ctx *core.Ctx, fn, name string, v core.Value) int {
	if err := pv.SetShv(ctx, name, v); err != nil {
		ctx.Log(core.LErr, "KSR.pvx."+fn+": "+err.Error()+"\n")
		return -1
	}
	return 1
}

// ShvSets is KSR.pvx.shv_sets.
func ShvSets(ctx *core.Ctx, name, v string) int { return shvSet(ctx, "shv_sets", name, core.Str(v)) }

// ShvSeti is KSR.pvx.shv_seti.
func ShvSeti(ctx *core.Ctx, name string, v int) int {
	return shvSet(ctx, "shv_seti", name, core.Int(int64(v)))
}

// XavpGet is KSR.pvx.xavp_get.
func XavpGet(ctx *core.Ctx, name string) core.Value { return orNull(pv.XavpGet(ctx, name)) }

// XavpGete is KSR.pvx.xavp_gete.
func XavpGete(ctx *core.Ctx, name string) core.Value { return orEmpty(pv.XavpGet(ctx, name)) }

// XavpGetw is KSR.pvx.xavp_getw.
func XavpGetw(ctx *core.Ctx, name string) core.Value { return orPrint(pv.XavpGet(ctx, name)) }

// XavpSets is KSR.pvx.xavp_sets.
func XavpSets(ctx *core.Ctx, name, v string) int { pv.XavpAdd(ctx, name, core.Str(v)); return 1 }

// XavpSeti is KSR.pvx.xavp_seti.
func XavpSeti(ctx *core.Ctx, name string, v int) int {
	pv.XavpAdd(ctx, name, core.Int(int64(v)))
	return 1
}

// XavpRm is KSR.pvx.xavp_rm.
func XavpRm(ctx *core.Ctx, name string) int { pv.XavpRemove(ctx, name, false); return 1 }

// XavpRmAll is KSR.pvx.xavp_rm_all.
func XavpRmAll(ctx *core.Ctx, name string) int { pv.XavpRemove(ctx, name, true); return 1 }

// XavpIsNull is KSR.pvx.xavp_is_null.
func XavpIsNull(ctx *core.Ctx, name string) int {
	if _, ok := pv.XavpGet(ctx, name); ok {
		return -1
	}
	return 1
}

// XavpParamsExplode is KSR.pvx.xavp_params_explode.
func XavpParamsExplode(ctx *core.Ctx, params, name string) int {
	if err := pv.XavpParamsExplode(ctx, params, name); err != nil {
		ctx.Log(core.LErr, "KSR.pvx.xavp_params_explode: "+err.Error()+"\n")
		return -1
	}
	return 1
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
