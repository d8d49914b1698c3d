package tm

import (
	"bytes"
	"errors"

	"kemi/core"
	"kemi/sip"
)

// FailedBranch is for modules acting in a failure route on the reply that
// ended the transaction, as uac_auth does with a 401 or 407: the picked
// branch's reply (top Via removed) is appended to reply, and the
// Request-URI that branch was sent to is appended to ruri. It fails
// outside a failure route, and when the picked reply was made here (a
// timeout or a send failure has no headers to act on).
func FailedBranch(ctx *core.Ctx, reply, ruri []byte) (code int, replyOut, ruriOut []byte, err error) {
	st := state(ctx)
	if !st.inFailure || st.c == nil {
		return 0, reply, ruri, errors.New("not in a failure route")
	}
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != st.gen || !c.live || st.brIdx < 0 || st.brIdx >= c.nbr {
		return 0, reply, ruri, errors.New("the transaction ended")
	}
	br := &c.br[st.brIdx]
	if br.local || len(br.reply) == 0 {
		return br.final, reply, ruri, errors.New("the picked reply was made locally, not received")
	}
	// The branch request's first line: METHOD SP Request-URI SP SIP/2.0.
	line := br.out
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 < 0 || sp2 <= sp1 {
		return br.final, reply, ruri, errors.New("the branch request has no Request-URI")
	}
	return br.final, append(reply, br.reply...), append(ruri, line[sp1+1:sp2]...), nil
}

// maxRestore bounds what RestoreInReplies keeps per header.
const maxRestore = 2048

// RestoreInReplies asks that the replies to this request, before the
// onreply route and on their way upstream, get the From (from) or To
// header's display name and URI back as prefix (as the request came,
// before uac_replace_* or uac_restore_* changed them); their parameters
// (tags) stay as the reply has them. Call it in the request route, before
// or after the transaction exists.
func RestoreInReplies(ctx *core.Ctx, from bool, prefix []byte) {
	if len(prefix) > maxRestore {
		return
	}
	st := state(ctx)
	if c := st.c; c != nil && !st.inFailure && !st.inReply {
		c.mu.Lock()
		if c.gen.Load() == st.gen && c.live {
			if from {
				c.rFrom = append(c.rFrom[:0], prefix...)
			} else {
				c.rTo = append(c.rTo[:0], prefix...)
			}
		}
		c.mu.Unlock()
		return
	}
	if from {
		st.rFrom = append(st.rFrom[:0], prefix...)
	} else {
		st.rTo = append(st.rTo[:0], prefix...)
	}
}

// restoreReply writes the kept From/To back into reply m. c.mu held.
func restoreReply(c *cell, m *sip.Msg) {
	for _, x := range [2]struct {
		val  []byte
		from bool
	}{{c.rFrom, true}, {c.rTo, false}} {
		if len(x.val) == 0 {
			continue
		}
		var n sip.NameAddr
		var err error
		if x.from {
			n, err = m.From()
		} else {
			n, err = m.To()
		}
		if err != nil {
			continue
		}
		if s, e, ok := m.NameAddrSpan(&n); ok && string(m.Raw()[s:e]) != string(x.val) {
			_ = m.Replace(s, e, x.val)
		}
	}
}

// restoreLocal puts the kept From/To into a reply tm made from the kept
// request (which has them as relayed). Rare: uac only. c.mu held.
func restoreLocal(c *cell, reply []byte) []byte {
	var m sip.Msg
	if m.Parse(reply) != nil {
		return reply
	}
	restoreReply(c, &m)
	if !m.PendingEdits() {
		return reply
	}
	return m.AppendTo(make([]byte, 0, len(reply)+64))
}
