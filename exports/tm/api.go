package tm

import (
	"bytes"
	"errors"
	"net/netip"
	"sync"

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

// Completion tells an OnComplete hook about a transaction whose final reply
// went upstream. The slices belong to the transaction: a hook copies what
// it keeps.
type Completion struct {
	Req   []byte // the request as received, with the script's edits
	Reply []byte // the final reply as sent upstream
	Code  int
	Flags uint64 // the message flags the transaction was created with
	Src   netip.AddrPort
	Local netip.AddrPort
	Proto core.Proto
	Inv   bool
	At    int64 // tm's clock (ns) when the reply went
}

// completeHooks are the OnComplete hooks of one runtime.
type completeHooks struct {
	mu sync.Mutex
	fs []func(*Completion)
}

var hooksOf = core.NewRuntimeState[completeHooks](nil)

// OnComplete registers fn to run each time a transaction of rt sends its
// final reply upstream (once per transaction; later 2xx of a forked
// INVITE do not run it again), for modules that account for or track
// calls (acc, dialog). fn runs with the transaction locked, on the worker
// or timer that completed it, before the transaction can be freed: it must
// be quick, must not call tm, and copies what it keeps. Register from a
// start function.
func OnComplete(rt *core.Runtime, fn func(*Completion)) {
	h := hooksOf.Get(rt)
	h.mu.Lock()
	h.fs = append(h.fs, fn)
	h.mu.Unlock()
}

// runComplete runs the OnComplete hooks for c. c.mu held.
func (t *TM) runComplete(c *cell, code int, now int64) {
	h := hooksOf.Peek(t.rt)
	if h == nil {
		return
	}
	h.mu.Lock()
	fs := h.fs
	h.mu.Unlock()
	if len(fs) == 0 {
		return
	}
	x := Completion{Req: c.base, Reply: c.reply, Code: code, Flags: c.flags, Src: c.src, Local: c.local, Proto: c.proto, Inv: c.inv, At: now}
	for _, f := range fs {
		f(&x)
	}
}
