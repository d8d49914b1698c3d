package kx

import (
	"strconv"
	"strings"

	"kemi/core"
)

const definesKey = "kx.defines"

// SetDefines gives the config's #!define names and values to
// get_def/get_defn/ifdef/ifndef. The loader calls it once the config is
// read; a runtime without it has no defines.
func SetDefines(rt *core.Runtime, defs map[string]string) {
	m := rt.State(definesKey, func() any { return map[string]string{} }).(map[string]string)
	for k, v := range defs {
		m[k] = v
	}
}

func define(ctx *core.Ctx, name string) (string, bool) {
	if ctx.RT == nil || name == "" {
		return "", false
	}
	m := ctx.RT.State(definesKey, func() any { return map[string]string{} }).(map[string]string)
	v, ok := m[name]
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
