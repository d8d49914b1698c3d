// Package x implements module x: KSR.x.exit and KSR.x.drop, which end the
// route from inside a script. The engines unwind on the KExit value these
// return; ctx.Dropped tells the router whether to discard the message.
package x

import "kemi/core"

// Exit stops the current route.
func Exit(ctx *core.Ctx) core.Value { return ctx.Stop(false) }

// Drop stops the current route and drops the message.
func Drop(ctx *core.Ctx) core.Value { return ctx.Stop(true) }
