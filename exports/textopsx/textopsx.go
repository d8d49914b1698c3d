// Package textopsx implements module textopsx: msg_apply_changes, which
// makes the edits recorded so far part of the message so that later reads
// see them; change_reply_status; remove_body; keep_hf; and fnmatch.
//
// Edits in kemi are lumps (sip/edits.go), recorded against the received
// buffer and applied when the message is written out, so a header added
// with append_hf is not seen by a later read until msg_apply_changes. That
// function writes the message with its edits into one of two buffers the
// worker keeps here, checks that it parses, and only then parses it into
// the worker's message; the next apply writes into the other buffer, so
// the buffer being read is never the one being written. A result that
// would not parse (too big, say) leaves the message and its pending edits
// as they were.
package textopsx

import (
	"fmt"
	"strconv"

	"kemi/core"
	"kemi/internal/recache"
	"kemi/sip"
)

// state is one worker's buffers.
type state struct {
	bufs  [2][]byte
	check sip.Msg // the applied message is parsed here first
}

// Every buffer carries over: nothing in state outlives a call.
var msgStates = core.NewMsgState(func(old *state) state { return *old })

func get(ctx *core.Ctx) *state { return msgStates.Get(ctx) }

// apply writes the message with its pending edits into the worker's
// buffer that the message does not read, and parses it into the message.
func apply(ctx *core.Ctx) error {
	m := ctx.Msg
	if !m.PendingEdits() {
		return nil
	}
	st := get(ctx)
	i := 0
	if raw := m.Raw(); len(raw) > 0 && cap(st.bufs[0]) > 0 && &st.bufs[0][:1][0] == &raw[:1][0] {
		i = 1
	}
	out := m.AppendTo(st.bufs[i][:0])
	st.bufs[i] = out
	if err := st.check.Parse(out); err != nil {
		return err
	}
	return m.Parse(out)
}

// MsgApplyChanges is msg_apply_changes.
func MsgApplyChanges(ctx *core.Ctx) int {
	if ctx.Route != core.RequestRoute && ctx.Route != core.ReplyRoute {
		ctx.Log(core.LErr, "textopsx: msg_apply_changes: only in the request route or the core reply route\n")
		return -1
	}
	if err := apply(ctx); err != nil {
		ctx.Log(core.LErr, "textopsx: msg_apply_changes: the edited message does not parse, left as it was: "+core.LogValue(err.Error())+"\n")
		return -1
	}
	return 1
}

// ChangeReplyStatus is change_reply_status: a new status code and reason
// for the reply being handled.
func ChangeReplyStatus(ctx *core.Ctx, code int, reason string) int {
	return changeStatus(ctx, "change_reply_status", code, reason)
}

// ChangeReplyStatusCode is change_reply_status_code: a new status code,
// keeping the reason phrase.
func ChangeReplyStatusCode(ctx *core.Ctx, code int) int {
	return changeStatus(ctx, "change_reply_status_code", code, "")
}

func changeStatus(ctx *core.Ctx, fn string, code int, reason string) int {
	m := ctx.Msg
	bad := func(what string) int {
		ctx.Log(core.LErr, "textopsx: "+fn+": "+what+"\n")
		return -1
	}
	switch {
	case m.IsRequest():
		return bad("the message is a request, not a reply")
	case code < 100 || code > 699:
		return bad("status code " + strconv.Itoa(code) + " is not 100-699")
	case (code < 300 || m.StatusCode() < 300) && code/100 != m.StatusCode()/100:
		return bad("the class of a provisional or positive final reply cannot change (" + strconv.Itoa(m.StatusCode()) + " to " + strconv.Itoa(code) + ")")
	case fn == "change_reply_status" && reason == "":
		return bad("expected a reason phrase, got \"\"")
	}
	for i := 0; i < len(reason); i++ {
		if c := reason[i]; c < ' ' && c != '\t' || c == 0x7f {
			return bad("the reason phrase " + core.LogQuote(reason) + " has a control character")
		}
	}
	v := m.Version()
	off := m.OffsetOf(v)
	if off < 0 {
		return bad("cannot find the status line")
	}
	start := off + len(v) + 1 // the status code
	var line [3 + 1 + 256]byte
	b := strconv.AppendInt(line[:0], int64(code), 10)
	end := start + 3
	if reason != "" {
		if r := m.Reason(); len(r) > 0 {
			if ro := m.OffsetOf(r); ro >= 0 {
				end = ro + len(r)
			}
		}
		b = append(append(b, ' '), reason...)
	}
	if err := m.Replace(start, end, b); err != nil {
		return bad(err.Error())
	}
	return 1
}

// RemoveBody is remove_body: the body goes and Content-Length becomes 0;
// Content-Type stays, as in Kamailio.
func RemoveBody(ctx *core.Ctx) int {
	if len(ctx.Msg.Body()) == 0 {
		return 1
	}
	ctx.Msg.SetBody(nil, "")
	return 1
}

// kept reports whether keep_hf always keeps a header line.
func kept(id sip.HdrID) bool {
	switch id {
	case sip.HdrVia, sip.HdrFrom, sip.HdrTo, sip.HdrCallID, sip.HdrCSeq, sip.HdrContact,
		sip.HdrContentLength, sip.HdrContentType, sip.HdrRoute, sip.HdrRecordRoute, sip.HdrMaxForwards:
		return true
	}
	return false
}

// KeepHF is keep_hf: remove every header but the ones routing needs.
func KeepHF(ctx *core.Ctx) int { return keepHF(ctx, "keep_hf", "") }

// KeepHFRe is keep_hf_re: keep_hf, keeping also the headers whose name
// matches expr (case ignored, anywhere in the name).
func KeepHFRe(ctx *core.Ctx, expr string) int { return keepHF(ctx, "keep_hf_re", expr) }

var regexps = recache.New("(?i)")

func keepHF(ctx *core.Ctx, fn, expr string) int {
	m := ctx.Msg
	var match func([]byte) bool
	if expr != "" {
		re, err := regexps.Compile(expr)
		if err != nil {
			ctx.Log(core.LErr, "textopsx: "+fn+": bad regular expression "+core.LogQuote(expr)+": "+core.LogValue(err.Error())+"\n")
			return -1
		}
		match = re.Match
	}
	// Runs of neighbouring lines to remove, each one edit, so that even a
	// message of MaxHeaders lines needs at most MaxEdits/2+1 of them.
	type run struct{ off, end int }
	var runs [sip.MaxHeaders]run
	n := 0
	for i := 0; i < m.NumHeaders(); i++ {
		if kept(m.HeaderIDAt(i)) {
			continue
		}
		if match != nil {
			if name, _ := m.HeaderAt(i); match(name) {
				continue
			}
		}
		line, off := m.HeaderLine(i)
		if n > 0 && runs[n-1].end == off {
			runs[n-1].end = off + len(line)
			continue
		}
		runs[n] = run{off, off + len(line)}
		n++
	}
	for i := 0; i < n; i++ {
		if err := m.Replace(runs[i].off, runs[i].end, nil); err != nil {
			ctx.Log(core.LErr, "textopsx: "+fn+": "+core.LogValue(err.Error())+fmt.Sprintf(" (removed %d of %d runs of headers; msg_apply_changes first frees the edits)", i, n)+"\n")
			return -1
		}
	}
	return 1
}

// Fnmatch is fnmatch: whether value matches the shell pattern expr. As
// Kamailio's KEMI function does, it returns 0 on a match (its cfg function
// returns 1), so scripts written for Kamailio keep their `== 0` tests.
func Fnmatch(ctx *core.Ctx, value, expr string) int {
	if Match(expr, value, false) {
		return 0
	}
	return -1
}

// FnmatchEx is fnmatch_ex: fnmatch with flags; "i" ignores ASCII case.
func FnmatchEx(ctx *core.Ctx, value, expr, flags string) int {
	fold := len(flags) > 0 && (flags[0] == 'i' || flags[0] == 'I')
	if Match(expr, value, fold) {
		return 0
	}
	return -1
}
