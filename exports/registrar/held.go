package registrar

import (
	"bytes"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"

	"kemi/core"
)

// Held replies: in db_mode 1 and 3 a binding is answered 200 only once it
// is on disk. Rather than block its worker on the fsync of its batch,
// save builds the 200 under the record's lock and hands it to usrloc's
// flusher (usrloc.Table.UpdateHeld), which sends it when the batch is
// committed, or sends 500 Server Internal Error instead when the commit
// fails. The worker takes the next message at once, so batches grow with
// the load and throughput is bounded by CPU rather than by fsync latency.
//
// Replies are held only when they can be sent later exactly as the
// worker would have: statelessly (no tm transaction; a reply that tm must
// record is sent by the worker after waiting), through the socket the
// REGISTER came in on (core.Runtime.SendFrom). At most maxHeld replies
// and maxHeldBytes bytes wait at once, over all workers; past that a
// worker waits for the disk itself, as without holding.
//
// A commit that fails leaves the binding in memory (usrloc writes it
// when the database works again, and lookup uses it meanwhile): the
// client was told 500 and will retry. What is guaranteed is the other
// way round: no binding is answered 200 unless it is durable.
const (
	maxHeld      = 1024
	maxHeldBytes = 4 << 20
	// maxPooledReply is the largest buffer kept for reuse.
	maxPooledReply = 4 << 10
)

var (
	heldN     atomic.Int64
	heldBytes atomic.Int64
	heldPool  = sync.Pool{New: func() any { return new(heldReply) }}
	// heldLog limits the lines about failed commits (one per reply).
	heldLog = core.LogLimit{What: "registrar commit failures"}
)

// heldReply is one 200 OK waiting for its batch.
type heldReply struct {
	rt        *core.Runtime
	buf       []byte
	local, to netip.AddrPort
	proto     core.Proto
	aor       []byte
	counted   int64 // bytes added to heldBytes
}

// canHold reports whether a new reply may be held now.
func canHold() bool {
	return heldN.Load() < maxHeld && heldBytes.Load() < maxHeldBytes
}

func getHeld(ctx *core.Ctx) *heldReply {
	h := heldPool.Get().(*heldReply)
	h.rt, h.local, h.proto = ctx.RT, ctx.Local, ctx.Proto
	h.buf, h.aor = h.buf[:0], h.aor[:0]
	return h
}

// count registers h as waiting, once its reply is built.
func (h *heldReply) count() {
	h.counted = int64(cap(h.buf))
	heldN.Add(1)
	heldBytes.Add(h.counted)
}

func (h *heldReply) release() {
	if h.counted != 0 {
		heldN.Add(-1)
		heldBytes.Add(-h.counted)
		h.counted = 0
	}
	h.rt = nil
	if cap(h.buf) > maxPooledReply {
		h.buf = nil
	}
	if cap(h.aor) > maxPooledReply {
		h.aor = nil
	}
	heldPool.Put(h)
}

// Committed implements usrloc.Held: it runs on usrloc's flusher once the
// batch holding the binding is written (err nil: send the 200) or failed
// (send 500 instead).
func (h *heldReply) Committed(err error) {
	b := h.buf
	rt := h.rt
	if err != nil {
		b = to500(b)
		if rt.Log != nil {
			rt.Log.LogLimited(&heldLog, core.LErr, nil, "registrar: save: binding of "+core.LogQuote(h.aor)+
				" not written to the database: "+core.LogValue(err.Error())+"; answered 500, kept in memory and retried")
		}
	}
	if serr := rt.SendFrom(h.local, b, h.proto, h.to); serr != nil && rt.Log != nil {
		rt.Log.LogLimited(&heldLog, core.LErr, nil, "registrar: reply: "+core.LogValue(serr.Error()))
	}
	h.release()
}

const (
	code500   = 500
	reason500 = "Server Internal Error"
)

// to500 turns a held 200 OK into 500 Server Internal Error in place: the
// status line changes and the Contact lines save listed go.
func to500(b []byte) []byte {
	end := bytes.Index(b, []byte("\r\n"))
	if end < 0 {
		return b
	}
	status := "SIP/2.0 " + strconv.Itoa(code500) + " " + reason500
	out := append(make([]byte, 0, len(b)+len(status)), status...)
	rest := b[end:]
	for len(rest) > 0 {
		// rest starts with the CRLF ending the previous line.
		next := bytes.Index(rest[2:], []byte("\r\n"))
		var line []byte
		if next < 0 {
			line = rest
		} else {
			line = rest[:next+2]
		}
		if !bytes.HasPrefix(line, []byte("\r\nContact: <")) {
			out = append(out, line...)
		}
		rest = rest[len(line):]
	}
	return out
}
