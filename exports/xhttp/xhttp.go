// Package xhttp implements module xhttp: the script's answer to HTTP
// requests that arrive on the TCP and TLS listens (see module.yaml). The
// transport tells HTTP from SIP by the request line; the router hands each
// HTTP request to dispatch, the module's HTTP hook.
package xhttp

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"

	"kemi/core"
)

// EventName is the argument the callback gets, as in Kamailio.
const EventName = "xhttp:request"

// module is the runtime's xhttp configuration.
type module struct {
	callback    string
	skip, match *regexp.Regexp
	errLog      core.LogLimit
}

var modules = core.NewRuntimeState[module](func(*core.Runtime) *module { return nil })

// state is the per-request state: whether it was answered.
type state struct{ replied bool }

var msgStates = core.NewMsgState(func(*state) state { return state{} })

func start(rt *core.Runtime) error {
	m := &module{callback: rt.Param("xhttp", "event_callback").S}
	for _, p := range []struct {
		name string
		re   **regexp.Regexp
	}{{"url_skip", &m.skip}, {"url_match", &m.match}} {
		s := rt.Param("xhttp", p.name).S
		if s == "" {
			continue
		}
		re, err := regexp.Compile(s)
		if err != nil {
			return fmt.Errorf("modparam(\"xhttp\", %q, %q): %w", p.name, s, err)
		}
		*p.re = re
	}
	m.errLog.What = "xhttp callback errors"
	modules.Set(rt, m)
	return nil
}

// dispatch runs the event callback for an HTTP request; it reports
// whether the request was answered (or upgraded to WebSocket), so the
// router answers 404 for the rest.
func dispatch(ctx *core.Ctx) bool {
	m := modules.Peek(ctx.RT)
	if m == nil || m.callback == "" || ctx.VM == nil {
		return false
	}
	url := ctx.Msg.RequestURI()
	if m.skip != nil && m.skip.Match(url) {
		return false
	}
	if m.match != nil && !m.match.Match(url) {
		return false
	}
	var err error
	if ac, ok := ctx.VM.(core.ArgCaller); ok {
		err = ac.CallArg(ctx, m.callback, EventName)
	} else {
		err = ctx.VM.Call(ctx, m.callback)
	}
	if err != nil {
		if ok, note := m.errLog.Allow(); ok {
			ctx.Log(core.LErr, fmt.Sprintf("xhttp: %s(%q) for %s %s from %s: %s%s", m.callback, EventName,
				core.LogValue(string(ctx.Msg.Method())), core.LogQuote(url), ctx.Src, core.LogValue(err.Error()), note))
		}
	}
	return Answered(ctx)
}

// Answered reports whether the HTTP request in hand was answered; the
// websocket module's handshake marks its answer with MarkAnswered.
func Answered(ctx *core.Ctx) bool { return msgStates.Get(ctx).replied }

// MarkAnswered records that the request in hand got its answer.
func MarkAnswered(ctx *core.Ctx) { msgStates.Get(ctx).replied = true }

// Reply is KSR.xhttp.xhttp_reply.
func Reply(ctx *core.Ctx, code int, reason, ctype, body string) int {
	if ctx.Msg == nil || !ctx.Msg.IsHTTP() {
		ctx.Log(core.LErr, "xhttp_reply: the message is not an HTTP request\n")
		return -1
	}
	if code < 100 || code > 699 {
		ctx.Log(core.LErr, fmt.Sprintf("xhttp_reply: expected a status code 100-699, got %d\n", code))
		return -1
	}
	if Answered(ctx) {
		ctx.Log(core.LErr, "xhttp_reply: the request was already answered\n")
		return -1
	}
	if wantsClose(ctx) {
		ctx.ConnFlags |= core.ConnReplyClose
	}
	b := AppendResponse(ctx.Scratch[:0], ctx, code, reason, ctype, body)
	ctx.Scratch = b[:0]
	return Send(ctx, b, "xhttp_reply")
}

// wantsClose reports whether the client asked for the connection to
// close after the answer (RFC 9112 §9.3): Connection: close, or HTTP/1.0
// without Connection: keep-alive.
func wantsClose(ctx *core.Ctx) bool {
	c := ctx.Msg.Header("Connection")
	if HasToken(c, "close") {
		return true
	}
	return string(ctx.Msg.Version()) == "HTTP/1.0" && !HasToken(c, "keep-alive")
}

// hasToken reports whether the comma-separated list v has tok (any case).
func HasToken(v []byte, tok string) bool {
	for _, t := range bytes.Split(v, []byte(",")) {
		if bytes.EqualFold(bytes.TrimSpace(t), []byte(tok)) {
			return true
		}
	}
	return false
}

// Send writes an HTTP answer b to the request in hand and marks it
// answered; set_reply_close closes the connection after it.
func Send(ctx *core.Ctx, b []byte, fn string) int {
	if ctx.Out == nil {
		ctx.Log(core.LErr, fn+": no sender for this message\n")
		return -1
	}
	MarkAnswered(ctx)
	if err := ctx.Out.SendTo(b, ctx.Proto, ctx.Src); err != nil {
		ctx.Log(core.LErr, fn+": "+core.LogValue(err.Error())+"\n")
		return -1
	}
	return 1
}

// AppendResponse writes an HTTP/1.1 response with the Server line, the
// headers append_to_reply added, and body (with its Content-Type unless
// ctype is empty).
func AppendResponse(b []byte, ctx *core.Ctx, code int, reason, ctype, body string) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = appendClean(b, reason)
	b = append(b, "\r\n"...)
	if s := ctx.RT.ServerHeader(); s != "" {
		b = append(b, s...)
		b = append(b, "\r\n"...)
	}
	b = append(b, ctx.ReplyHeaders()...)
	if ctype != "" {
		b = append(b, "Content-Type: "...)
		b = appendClean(b, ctype)
		b = append(b, "\r\n"...)
	}
	if ctx.ConnFlags&core.ConnReplyClose != 0 {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}

// appendClean appends s without CR or LF, so a script value cannot add
// header lines.
func appendClean(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '\r' && c != '\n' {
			b = append(b, c)
		}
	}
	return b
}

// GetHU is KSR.xhttp.get_hu.
func GetHU(ctx *core.Ctx) core.Value {
	if ctx.Msg == nil || !ctx.Msg.IsHTTP() {
		return core.Null()
	}
	return core.Str(string(ctx.Msg.RequestURI()))
}

func getHU(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	if ctx.Msg == nil || !ctx.Msg.IsHTTP() {
		return dst, false
	}
	return append(dst, ctx.Msg.RequestURI()...), true
}
