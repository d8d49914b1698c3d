package tm

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"kemi/core"
	"kemi/sip"
)

// tm.stats: {"current": N, ...} as Kamailio's tm.stats; kemi counts the
// transactions in memory only so far.
func rpcStats(rt *core.Runtime, _ []core.Value) (any, error) {
	t := tms.Peek(rt)
	if t == nil {
		return nil, errors.New("tm.stats: tm is not running")
	}
	return map[string]any{"current": t.Live()}, nil
}

// tm.t_uac_start METHOD RURI NEXTHOP SOCKET HEADERS [BODY]: send a local
// request (see uac.go); NEXTHOP and SOCKET may be ".".
func rpcUACStart(rt *core.Runtime, args []core.Value) (any, error) {
	t := tms.Peek(rt)
	if t == nil {
		return nil, errors.New("tm.t_uac_start: tm is not running")
	}
	var a UACArgs
	for i, dst := range []*string{&a.Method, &a.RURI, &a.NextHop, &a.Socket, &a.Headers} {
		s, err := core.RPCArgStr("tm.t_uac_start", args, i, [...]string{"method", "ruri", "nexthop", "socket", "headers"}[i])
		if err != nil {
			return nil, err
		}
		*dst = s
	}
	if len(args) > 5 {
		a.Body = args[5].String()
	}
	res, err := t.StartUAC(a)
	if err != nil {
		return nil, fmt.Errorf("tm.t_uac_start: %w", err)
	}
	return res, nil
}

// maxList bounds the transactions tm.list answers with.
const maxList = 1000

// tm.list: the transactions in memory, with the fields Kamailio's
// tm.list gives (cell, tindex, tlabel, method, from, to, callid, cseq,
// uas_request, tflags, outgoings, ref_count, lifetime) and kemi's state
// and branch codes; at most maxList of them.
func rpcList(rt *core.Runtime, _ []core.Value) (any, error) {
	t := tms.Peek(rt)
	if t == nil {
		return nil, errors.New("tm.list: tm is not running")
	}
	return t.List(maxList), nil
}

type cellRef struct {
	c   *cell
	gen uint32
}

// List describes up to max live transactions.
func (t *TM) List(max int) []map[string]any {
	out := []map[string]any{}
	var refs []cellRef
	var m sip.Msg
	now := t.clock.Now()
	for i := range t.tab.b {
		if len(out) >= max {
			break
		}
		b := &t.tab.b[i]
		refs = refs[:0]
		b.mu.Lock()
		for c := b.head; c != nil; c = c.next {
			refs = append(refs, cellRef{c, c.gen.Load()})
		}
		b.mu.Unlock()
		for _, r := range refs {
			if len(out) >= max {
				break
			}
			c := r.c
			c.mu.Lock()
			if !c.live || c.gen.Load() != r.gen || m.Parse(c.base) != nil {
				c.mu.Unlock()
				continue
			}
			n, _, _ := m.CSeq()
			codes := make([]int, 0, c.nbr)
			for j := 0; j < c.nbr; j++ {
				codes = append(codes, c.br[j].final)
			}
			life := int64(0)
			if c.delAt > 0 {
				life = max64(0, (c.delAt-now)/int64(time.Second))
			}
			out = append(out, map[string]any{
				"cell":        fmt.Sprintf("%#x", c.id),
				"tindex":      c.bkt,
				"tlabel":      uint32(c.id >> 14),
				"method":      core.LogValue(m.Method()),
				"from":        core.LogValue(m.HeaderID(sip.HdrFrom)),
				"to":          core.LogValue(m.HeaderID(sip.HdrTo)),
				"callid":      core.LogValue(m.CallID()),
				"cseq":        strconv.FormatUint(uint64(n), 10),
				"uas_request": "yes",
				"tflags":      c.flags,
				"outgoings":   c.nbr,
				"ref_count":   1,
				"lifetime":    life,
				"state":       c.state.String(),
				"reply_code":  c.replyCode,
				"branches":    codes,
			})
			c.mu.Unlock()
		}
	}
	return out
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func (s uasState) String() string {
	switch s {
	case uasProceeding:
		return "proceeding"
	case uasCompleted:
		return "completed"
	case uasConfirmed:
		return "confirmed"
	case uasAccepted:
		return "accepted"
	}
	return "unknown"
}

// CountStates counts the live transactions by the state of their server
// side (for kemi_transactions{state}); it takes each bucket's and cell's
// lock in turn, at scrape time.
func (t *TM) CountStates() (n [uasAccepted + 1]int64) {
	var refs []cellRef
	for i := range t.tab.b {
		b := &t.tab.b[i]
		refs = refs[:0]
		b.mu.Lock()
		for c := b.head; c != nil; c = c.next {
			refs = append(refs, cellRef{c, c.gen.Load()})
		}
		b.mu.Unlock()
		for _, r := range refs {
			r.c.mu.Lock()
			if r.c.live && r.c.gen.Load() == r.gen && int(r.c.state) < len(n) {
				n[r.c.state]++
			}
			r.c.mu.Unlock()
		}
	}
	return n
}
