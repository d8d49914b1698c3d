// Package kex implements module kex's script functions: a worker's own
// log level (setdebug, resetdebug). kex's statistics and RPC methods are
// in kemi's core (exports/kcore).
package kex

import (
	"strconv"

	"kemi/core"
)

// SetDebug is KSR.kex.setdebug.
func SetDebug(ctx *core.Ctx, level int) int {
	if level < core.LAlert || level > core.LDbg+10 {
		ctx.Log(core.LErr, "KSR.kex.setdebug: level: expected -5 to 3, got "+strconv.Itoa(level)+"\n")
		return -1
	}
	ctx.SetLogLevel(level)
	return 1
}

// ResetDebug is KSR.kex.resetdebug.
func ResetDebug(ctx *core.Ctx) int {
	ctx.ResetLogLevel()
	return 1
}
