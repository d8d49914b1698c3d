// Package xhttp_prom implements module xhttp_prom: the server's
// Prometheus registry (server/metrics.go) answered through the script's
// xhttp callback.
package xhttp_prom

import (
	"bytes"

	"kemi/core"
	"kemi/exports/xhttp"
)

// contentType is the Prometheus text exposition format's.
const contentType = "text/plain; version=0.0.4; charset=utf-8"

// Dispatch is KSR.xhttp_prom.dispatch.
func Dispatch(ctx *core.Ctx) int {
	if ctx.Msg == nil || !ctx.Msg.IsHTTP() {
		ctx.Log(core.LErr, "xhttp_prom: dispatch: the message is not an HTTP request\n")
		return -1
	}
	if ctx.RT == nil || ctx.RT.Control == nil || ctx.RT.Control.Metrics == nil {
		ctx.Log(core.LErr, "xhttp_prom: dispatch: no metrics in this server\n")
		return -1
	}
	var b bytes.Buffer
	err := error(nil)
	if m := modules.Peek(ctx.RT); m != nil {
		err = m.write(&b)
	}
	if e := ctx.RT.Control.Metrics(&b); e != nil && err == nil {
		err = e
	}
	if err != nil {
		ctx.Log(core.LErr, "xhttp_prom: dispatch: "+core.LogValue(err.Error())+"\n")
		return xhttp.Reply(ctx, 500, "Internal Server Error", "text/plain", "gathering the metrics failed\n")
	}
	return xhttp.Reply(ctx, 200, "OK", contentType, b.String())
}

// CheckURI is KSR.xhttp_prom.check_uri.
func CheckURI(ctx *core.Ctx) int {
	if ctx.Msg == nil || !ctx.Msg.IsHTTP() {
		return -1
	}
	u := ctx.Msg.RequestURI()
	if i := bytes.IndexByte(u, '?'); i >= 0 {
		u = u[:i]
	}
	if string(u) == "/metrics" {
		return 1
	}
	return -1
}
