package jsonrpcs

import (
	"encoding/json"
	"strconv"

	"kemi/core"
	"kemi/exports/xhttp"
)

// state is the last exec's answer for the message in hand ($jsonrpl).
type state struct {
	done bool
	code int
	text string
	body []byte
}

var msgStates = core.NewMsgState(func(old *state) state { return state{body: old.body[:0]} })

func rpc(ctx *core.Ctx) func([]byte) []byte {
	if ctx.RT == nil || ctx.RT.Control == nil {
		return nil
	}
	return ctx.RT.Control.RPC
}

// Dispatch is KSR.jsonrpcs.dispatch.
func Dispatch(ctx *core.Ctx) int {
	if ctx.Msg == nil || !ctx.Msg.IsHTTP() {
		ctx.Log(core.LErr, "jsonrpcs: dispatch: the message is not an HTTP request\n")
		return -1
	}
	call := rpc(ctx)
	if call == nil {
		ctx.Log(core.LErr, "jsonrpcs: dispatch: no RPC server\n")
		return -1
	}
	out := call(ctx.Msg.Body())
	if out == nil { // a notification: no answer document
		return xhttp.Reply(ctx, 200, "OK", "", "")
	}
	return xhttp.Reply(ctx, 200, "OK", "application/json", string(out))
}

// Exec is KSR.jsonrpcs.exec.
func Exec(ctx *core.Ctx, cmd string) int {
	call := rpc(ctx)
	if call == nil || cmd == "" {
		ctx.Log(core.LErr, "jsonrpcs: exec: no RPC server, or an empty command\n")
		return -1
	}
	st := msgStates.Get(ctx)
	out := call([]byte(cmd))
	st.done, st.body = true, append(st.body[:0], out...)
	st.code, st.text = 200, "OK"
	var r struct {
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(out, &r) == nil && r.Error != nil {
		st.code, st.text = r.Error.Code, r.Error.Message
	}
	return 1
}

// Execx is KSR.jsonrpcs.execx.
func Execx(ctx *core.Ctx, cmd string) int { return Exec(ctx, cmd) }

// Response is KSR.jsonrpcs.response.
func Response(ctx *core.Ctx) core.Value {
	st := msgStates.Get(ctx)
	if !st.done {
		return core.Null()
	}
	return core.Str(string(st.body))
}

func getJsonrpl(ctx *core.Ctx, name string, dst []byte) ([]byte, bool) {
	st := msgStates.Get(ctx)
	if !st.done {
		return dst, false
	}
	switch name {
	case "code":
		return strconv.AppendInt(dst, int64(st.code), 10), true
	case "text":
		return append(dst, st.text...), true
	case "body":
		return append(dst, st.body...), true
	}
	return dst, false
}
