package kx

import (
	"strconv"
	"strings"

	"kemi/core"
)

// define reads the config's #!define names (core.Runtime.Defines, filled
// by the loader), for get_def/get_defn/ifdef/ifndef.
func define(ctx *core.Ctx, name string) (string, bool) {
	if ctx.RT == nil || name == "" {
		return "", false
	}
	v, ok := ctx.RT.Defines[name]
	return v, ok
}

// GetDef is the value of a #!define, "" when it is not defined.
func GetDef(ctx *core.Ctx, name string) core.Value {
	v, _ := define(ctx, name)
	return core.Str(v)
}

// GetDefn is the value of a #!define as a number, 0 when it is not
// defined or not a number.
func GetDefn(ctx *core.Ctx, name string) int {
	v, _ := define(ctx, name)
	n, _ := strconv.Atoi(strings.TrimSpace(v))
	return n
}

// Ifdef tells whether a name is #!defined.
func Ifdef(ctx *core.Ctx, name string) bool {
	_, ok := define(ctx, name)
	return ok
}

// Ifndef tells whether a name is not #!defined.
func Ifndef(ctx *core.Ctx, name string) bool { return !Ifdef(ctx, name) }
