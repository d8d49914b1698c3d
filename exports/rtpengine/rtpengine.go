// Package rtpengine implements module rtpengine: Kamailio's control of the
// rtpengine media relay over the ng protocol (bencoded dictionaries over
// UDP, each request prefixed by a cookie the reply repeats).
//
// The client (ng.go) is built when the config loads and shared by every
// worker: nodes grouped in sets with weights, a call → node map so every
// command of a call reaches the node holding its session, retries with a
// timeout, and nodes that stop answering disabled for
// rtpengine_disable_tout seconds, then pinged back in. A command blocks
// its worker for at most rtpengine_retr × rtpengine_tout_ms per node
// tried. Flags are Kamailio's strings, turned into ng keys the way its
// module does (request.go). New SDP from rtpengine replaces the body
// through the message's edits, so other edits of the message still
// apply and Content-Length follows.
package rtpengine

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"kemi/core"
	"kemi/exports/pv"
	"kemi/sip"
)

// clients holds each runtime's client, set by start.
var clients = core.NewRuntimeState[Client](func(*core.Runtime) *Client { return nil })

// Of returns the runtime's client; nil before start or without nodes.
func Of(rt *core.Runtime) *Client { return clients.Peek(rt) }

// stop closes the client's sockets (stop: in module.yaml).
func stop(rt *core.Runtime) {
	if c := clients.Peek(rt); c != nil {
		c.Close()
	}
}

func start(rt *core.Runtime) error {
	var socks []string
	for _, v := range rt.ParamValues("rtpengine", "rtpengine_sock") {
		socks = append(socks, v.S)
	}
	if len(socks) == 0 {
		// Loaded without nodes (a config being checked, the docs'
		// examples): every command fails and says why.
		return nil
	}
	sets, err := ParseSock(socks)
	if err != nil {
		return fmt.Errorf("rtpengine: %w", err)
	}
	c := NewClient(sets, int(rt.Param("rtpengine", "hash_table_size").I))
	if v := rt.Param("rtpengine", "rtpengine_tout_ms").I; v > 0 {
		c.Timeout = time.Duration(v) * time.Millisecond
	}
	if v := rt.Param("rtpengine", "rtpengine_retr").I; v > 0 {
		c.Retries = int(v)
	}
	if v := rt.Param("rtpengine", "rtpengine_disable_tout").I; v >= 0 {
		c.DisableTout = time.Duration(v) * time.Second
	}
	if v := rt.Param("rtpengine", "queried_nodes_limit").I; v > 0 {
		if v > 30 {
			return fmt.Errorf("rtpengine: queried_nodes_limit %d: at most 30", v)
		}
		c.Limit = int(v)
	}
	if v := rt.Param("rtpengine", "hash_table_tout").I; v > 0 {
		c.calls.tout = time.Duration(v) * time.Second
	}
	if rt.Clock != nil {
		// kemi test's stepped clock: disable times follow it.
		clk := rt.Clock
		c.Now = func() time.Time { return time.Unix(0, clk.Now()) }
	}
	c.Default = int(rt.Param("rtpengine", "setid_default").I)
	if c.Set(c.Default) == nil {
		return fmt.Errorf("rtpengine: setid_default %d: no such set in rtpengine_sock", c.Default)
	}
	if a := rt.Param("rtpengine", "setid_avp").S; a != "" {
		name, ok := strings.CutPrefix(a, "$avp(")
		if !ok || !strings.HasSuffix(name, ")") {
			return fmt.Errorf("rtpengine: setid_avp %q: expected $avp(name)", a)
		}
		c.setidAVP = strings.TrimSuffix(name, ")")
	}
	clients.Set(rt, c)
	return nil
}

// state is a worker's scratch and the per-message choices.
type state struct {
	set   int // set_rtpengine_set for this message; -1 none
	req   request
	buf   []byte
	stat  Dict // the last query reply of this message, for $rtpstat
	statN string
}

// msgState carries a worker's scratch (the request and buffer) from one
// message to the next; the choices and the query reply start afresh.
var msgState = core.NewMsgState(func(old *state) state {
	return state{set: -1, req: old.req, buf: old.buf[:0], statN: old.statN}
})

func stateOf(ctx *core.Ctx) *state { return msgState.Get(ctx) }

// setOf is the set a command of this message uses: setid_avp, then
// set_rtpengine_set, then setid_default.
func setOf(ctx *core.Ctx, c *Client, st *state) *Set {
	if c.setidAVP != "" {
		if v, ok := pv.AVP(ctx, c.setidAVP); ok {
			id := v.I
			if v.Kind == core.KStr {
				n, err := strconv.Atoi(v.S)
				if err != nil {
					return nil
				}
				id = int64(n)
			}
			return c.Set(int(id))
		}
	}
	if st.set >= 0 {
		return c.Set(st.set)
	}
	return c.Set(c.Default)
}

func isSDP(m *sip.Msg) bool {
	ct := m.Header("Content-Type")
	if ct == nil {
		ct = m.Header("c")
	}
	return len(m.Body()) > 0 && bytes.Contains(bytes.ToLower(ct), []byte("application/sdp"))
}

// command runs one ng command for the current message; sdp says whether
// the body goes along and the reply's SDP replaces it.
func command(ctx *core.Ctx, fn, cmd, flags string, sdp bool) int {
	c := Of(ctx.RT)
	if c == nil {
		ctx.Log(core.LErr, "rtpengine: "+fn+`: no nodes; add modparam("rtpengine", "rtpengine_sock", "udp:127.0.0.1:2223")`+"\n")
		return -1
	}
	st := stateOf(ctx)
	r := &st.req
	r.reset(cmd)
	if err := r.parseFlags(flags); err != nil {
		ctx.Log(core.LErr, "rtpengine: "+fn+": "+err.Error()+"\n")
		return -1
	}
	m := ctx.Msg
	if r.callID == "" {
		r.callID = string(m.CallID())
	}
	if r.callID == "" {
		ctx.Log(core.LErr, "rtpengine: "+fn+": the message has no Call-ID\n")
		return -1
	}
	if r.fromTag == "" {
		r.fromTag = string(m.FromTag())
	}
	if r.toTag == "" && (cmd != "delete" || r.toTagForce) {
		r.toTag = string(m.ToTag())
	}
	if r.viaSel != "" {
		r.viaBranch = viaBranch(m, r.viaSel)
	}
	if a := ctx.Src.Addr().Unmap(); a.IsValid() {
		fam := "IP4"
		if a.Is6() {
			fam = "IP6"
		}
		r.recvFrom = [2]string{fam, a.String()}
	}
	if sdp {
		if !isSDP(m) {
			ctx.Log(core.LErr, "rtpengine: "+fn+": the message has no SDP body\n")
			return -1
		}
		r.sdp = append(r.sdp, m.Body()...)
	}
	d, _, buf, err := c.Do(setOf(ctx, c, st), r, st.buf)
	st.buf = buf
	if err != nil {
		ctx.Log(core.LErr, "rtpengine: "+fn+": call "+core.LogQuote(r.callID)+": "+err.Error()+"\n")
		return -1
	}
	if cmd == "query" {
		st.stat = d
	}
	if sdp {
		out := d.Str("sdp")
		if out == "" {
			ctx.Log(core.LErr, "rtpengine: "+fn+": the reply has no sdp\n")
			return -1
		}
		m.SetBody([]byte(out), "")
	}
	return 1
}

// viaBranch reads the branch of Via 1 or 2 as via-branch= selects.
func viaBranch(m *sip.Msg, sel string) string {
	n := 0
	switch sel {
	case "2":
		n = 1
	case "auto", "auto-next", "auto-extra":
		if !m.IsRequest() {
			n = 1
		}
	}
	it := m.Vias()
	for i := 0; it.Next(); i++ {
		if i == n {
			return string(it.Via().Branch)
		}
	}
	return ""
}

// Offer is rtpengine_offer.
func Offer(ctx *core.Ctx, flags string) int {
	return command(ctx, "rtpengine_offer", "offer", flags, true)
}

// Offer0 is rtpengine_offer0.
func Offer0(ctx *core.Ctx) int { return Offer(ctx, "") }

// Answer is rtpengine_answer.
func Answer(ctx *core.Ctx, flags string) int {
	return command(ctx, "rtpengine_answer", "answer", flags, true)
}

// Answer0 is rtpengine_answer0.
func Answer0(ctx *core.Ctx) int { return Answer(ctx, "") }

// Delete is rtpengine_delete.
func Delete(ctx *core.Ctx, flags string) int {
	return command(ctx, "rtpengine_delete", "delete", flags, false)
}

// Delete0 is rtpengine_delete0.
func Delete0(ctx *core.Ctx) int { return Delete(ctx, "") }

// Query is rtpengine_query.
func Query(ctx *core.Ctx, flags string) int {
	return command(ctx, "rtpengine_query", "query", flags, false)
}

// Query0 is rtpengine_query0.
func Query0(ctx *core.Ctx) int { return Query(ctx, "") }

// Manage is rtpengine_manage: offer, answer or delete by the message,
// as Kamailio decides it. Requests: INVITE and UPDATE with SDP offer,
// ACK and PRACK with SDP answer, BYE and CANCEL delete, and so does any
// request in a failure route. Replies to
// INVITE: 1xx/2xx with SDP answer when the call has a session (the
// INVITE offered), else offer (late offer); a status of 300 and up
// deletes.
func Manage(ctx *core.Ctx, flags string) int {
	m := ctx.Msg
	sdp := isSDP(m)
	if m.IsRequest() {
		if ctx.Route == core.FailureRoute {
			return command(ctx, "rtpengine_manage", "delete", flags, false)
		}
		switch m.MethodID() {
		case sip.MethodINVITE, sip.MethodUPDATE:
			if sdp { // a re-INVITE is a new offer too
				return command(ctx, "rtpengine_manage", "offer", flags, true)
			}
			return -1
		case sip.MethodACK, sip.MethodPRACK:
			if sdp {
				return command(ctx, "rtpengine_manage", "answer", flags, true)
			}
			return -1
		case sip.MethodBYE, sip.MethodCANCEL:
			return command(ctx, "rtpengine_manage", "delete", flags, false)
		}
		return -1
	}
	_, meth, err := m.CSeq()
	if err != nil || string(meth) != "INVITE" && string(meth) != "UPDATE" && string(meth) != "PRACK" {
		return -1
	}
	code := m.StatusCode()
	if code >= 300 {
		return command(ctx, "rtpengine_manage", "delete", flags, false)
	}
	if !sdp {
		return -1
	}
	if knows(ctx, m) {
		return command(ctx, "rtpengine_manage", "answer", flags, true)
	}
	return command(ctx, "rtpengine_manage", "offer", flags, true)
}

// knows says whether the call already has a session on a node.
func knows(ctx *core.Ctx, m *sip.Msg) bool {
	c := Of(ctx.RT)
	return c != nil && c.calls.get(string(m.CallID()), c.Now()) != nil
}

// Manage0 is rtpengine_manage0.
func Manage0(ctx *core.Ctx) int { return Manage(ctx, "") }

// SetSet is set_rtpengine_set: the set this message's commands use.
func SetSet(ctx *core.Ctx, id int) int {
	c := Of(ctx.RT)
	if c == nil || c.Set(id) == nil {
		ctx.Log(core.LErr, "rtpengine: set_rtpengine_set: no set "+strconv.Itoa(id)+"\n")
		return -1
	}
	stateOf(ctx).set = id
	return 1
}

// StartRecording is start_recording.
func StartRecording(ctx *core.Ctx) int {
	return command(ctx, "start_recording", "start recording", "", false)
}

// StopRecording is stop_recording.
func StopRecording(ctx *core.Ctx) int {
	return command(ctx, "stop_recording", "stop recording", "", false)
}

// BlockMedia is block_media.
func BlockMedia(ctx *core.Ctx, flags string) int {
	return command(ctx, "block_media", "block media", flags, false)
}

// BlockMedia0 is block_media0.
func BlockMedia0(ctx *core.Ctx) int { return BlockMedia(ctx, "") }

// UnblockMedia is unblock_media.
func UnblockMedia(ctx *core.Ctx, flags string) int {
	return command(ctx, "unblock_media", "unblock media", flags, false)
}

// UnblockMedia0 is unblock_media0.
func UnblockMedia0(ctx *core.Ctx) int { return UnblockMedia(ctx, "") }

// SilenceMedia is silence_media.
func SilenceMedia(ctx *core.Ctx, flags string) int {
	return command(ctx, "silence_media", "silence media", flags, false)
}

// SilenceMedia0 is silence_media0.
func SilenceMedia0(ctx *core.Ctx) int { return SilenceMedia(ctx, "") }

// UnsilenceMedia is unsilence_media.
func UnsilenceMedia(ctx *core.Ctx, flags string) int {
	return command(ctx, "unsilence_media", "unsilence media", flags, false)
}

// UnsilenceMedia0 is unsilence_media0.
func UnsilenceMedia0(ctx *core.Ctx) int { return UnsilenceMedia(ctx, "") }

// BlockDTMF is block_dtmf.
func BlockDTMF(ctx *core.Ctx, flags string) int {
	return command(ctx, "block_dtmf", "block DTMF", flags, false)
}

// BlockDTMF0 is block_dtmf0.
func BlockDTMF0(ctx *core.Ctx) int { return BlockDTMF(ctx, "") }

// UnblockDTMF is unblock_dtmf.
func UnblockDTMF(ctx *core.Ctx, flags string) int {
	return command(ctx, "unblock_dtmf", "unblock DTMF", flags, false)
}

// UnblockDTMF0 is unblock_dtmf0.
func UnblockDTMF0(ctx *core.Ctx) int { return UnblockDTMF(ctx, "") }

// PlayMedia is play_media.
func PlayMedia(ctx *core.Ctx, flags string) int {
	return command(ctx, "play_media", "play media", flags, false)
}

// StopMedia is stop_media.
func StopMedia(ctx *core.Ctx, flags string) int {
	return command(ctx, "stop_media", "stop media", flags, false)
}

// StopMedia0 is stop_media0.
func StopMedia0(ctx *core.Ctx) int { return StopMedia(ctx, "") }

// PlayDTMF is play_dtmf.
func PlayDTMF(ctx *core.Ctx, flags string) int {
	return command(ctx, "play_dtmf", "play DTMF", flags, false)
}

// getStat is $rtpstat: the totals of the call as Kamailio prints them,
// "RTP: B bytes, P packets, E errors; RTCP: ...", from this message's
// rtpengine_query, or a query made now.
func getStat(ctx *core.Ctx, _ string, dst []byte) ([]byte, bool) {
	st := stateOf(ctx)
	if st.stat == nil {
		if command(ctx, "$rtpstat", "query", "", false) < 0 {
			return dst, false
		}
	}
	tot := st.stat.Dict("totals")
	if tot == nil {
		return dst, false
	}
	for i, k := range [2]string{"RTP", "RTCP"} {
		if i > 0 {
			dst = append(dst, "; "...)
		}
		s := tot.Dict(k)
		b, _ := s.Int("bytes")
		p, _ := s.Int("packets")
		e, _ := s.Int("errors")
		dst = append(dst, k...)
		dst = append(dst, ": "...)
		dst = strconv.AppendInt(dst, b, 10)
		dst = append(dst, " bytes, "...)
		dst = strconv.AppendInt(dst, p, 10)
		dst = append(dst, " packets, "...)
		dst = strconv.AppendInt(dst, e, 10)
		dst = append(dst, " errors"...)
	}
	return dst, true
}
