package tm

import (
	"bytes"
	"errors"

	"kemi/core"
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
