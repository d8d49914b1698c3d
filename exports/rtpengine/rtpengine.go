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
	"encoding/json"
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
	for _, p := range []struct {
		name string
		dst  *string
		set  bool
	}{{"read_sdp_pv", &c.readSDP, false}, {"write_sdp_pv", &c.writeSDP, true}, {"extra_id_pv", &c.extraPV, false},
		{"rtp_inst_pvar", &c.instPV, true}, {"media_duration", &c.durationPV, true}} {
		v := rt.Param("rtpengine", p.name).S
		if v == "" {
			continue
		}
		name, _, ok := core.SplitPV(v)
		if !ok || v[0] != '$' {
			return fmt.Errorf("rtpengine: %s %q: expected a pseudo-variable such as $var(x) or $avp(x)", p.name, v)
		}
		if p.set && core.LookupPVSetter(name) == nil {
			return fmt.Errorf("rtpengine: %s %q: $%s cannot be written", p.name, v, name)
		}
		*p.dst = v
	}
	c.mos = mosParams(rt)
	if u := rt.Param("rtpengine", "db_url").S; u != "" {
		return fmt.Errorf("rtpengine: db_url %q: kemi reads nodes from rtpengine_sock only (no rtpengine table yet)", u)
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
	set2  int // the second set of set_rtpengine_set2; -1 none
	req   request
	buf   []byte
	stat  Dict // the last query reply of this message, for $rtpstat
	last  Dict // the last reply of this message
	statN string
}

// msgState carries a worker's scratch (the request and buffer) from one
// message to the next; the choices and the query reply start afresh.
var msgState = core.NewMsgState(func(old *state) state {
	return state{set: -1, set2: -1, req: old.req, buf: old.buf[:0], statN: old.statN}
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
	return commandVia(ctx, fn, cmd, flags, "", sdp)
}

// commandVia is command with the via-branch value of the str,str
// variants (rtpengine_offer2 and the like); "" when there is none. With
// two sets chosen (set_rtpengine_set2) the command goes to both, the SDP
// one gives back going on to the other: the first set then the second,
// in reverse for an answer, as Kamailio chains them.
func commandVia(ctx *core.Ctx, fn, cmd, flags, via string, sdp bool) int {
	c := Of(ctx.RT)
	if c == nil {
		ctx.Log(core.LErr, "rtpengine: "+fn+`: no nodes; add modparam("rtpengine", "rtpengine_sock", "udp:127.0.0.1:2223")`+"\n")
		return -1
	}
	st := stateOf(ctx)
	m := ctx.Msg
	var in []byte
	if sdp {
		if c.readSDP != "" {
			if v := pv.Get(ctx, c.readSDP); v.Kind == core.KStr && v.S != "" {
				in = []byte(v.S)
			}
		}
		if in == nil {
			if !isSDP(m) {
				ctx.Log(core.LErr, "rtpengine: "+fn+": the message has no SDP body\n")
				return -1
			}
			in = m.Body()
		}
	}
	sets := [2]*Set{setOf(ctx, c, st), nil}
	n := 1
	if st.set2 >= 0 {
		sets[1], n = c.Set(st.set2), 2
		if cmd == "answer" {
			sets[0], sets[1] = sets[1], sets[0]
		}
	}
	var out string
	for i := 0; i < n; i++ {
		isSet2 := n == 2 && (cmd != "answer") == (i == 1)
		d, node, ok := c.one(ctx, st, fn, cmd, flags, via, in, sets[i], isSet2)
		if !ok {
			return -1
		}
		if node != nil && c.instPV != "" {
			pv.Sets(ctx, c.instPV, node.URL)
		}
		if len(c.mos) > 0 && (cmd == "delete" || cmd == "query") {
			setMOS(ctx, c.mos, d)
		}
		if cmd == "play media" && c.durationPV != "" {
			dur, found := d.Int("duration")
			if !found {
				dur = -1
			}
			pv.Setl(ctx, c.durationPV, dur)
		}
		if sdp && cmd == "subscribe answer" {
			continue // the SDP goes, none comes back
		}
		if sdp {
			out = d.Str("sdp")
			if out == "" {
				ctx.Log(core.LErr, "rtpengine: "+fn+": the reply has no sdp\n")
				return -1
			}
			if i+1 < n {
				in = []byte(out) // the next set's input
			}
		}
	}
	if sdp && cmd != "subscribe answer" {
		if c.writeSDP != "" {
			if ok, _ := pv.Sets(ctx, c.writeSDP, out); !ok {
				ctx.Log(core.LErr, "rtpengine: "+fn+": write_sdp_pv "+core.LogQuote(c.writeSDP)+" could not be set\n")
				return -1
			}
			return 1
		}
		m.SetBody([]byte(out), "")
	}
	return 1
}

// one sends one ng command to set s (the second of a chain keeps its own
// entry in the call → node map when second is true) and returns the reply
// and the node that answered; false when it failed (logged).
func (c *Client) one(ctx *core.Ctx, st *state, fn, cmd, flags, via string, sdp []byte, s *Set, second bool) (Dict, *Node, bool) {
	r := &st.req
	r.reset(cmd)
	if err := r.parseFlags(flags); err != nil {
		ctx.Log(core.LErr, "rtpengine: "+fn+": "+err.Error()+"\n")
		return nil, nil, false
	}
	m := ctx.Msg
	if r.callID == "" {
		r.callID = string(m.CallID())
	}
	if r.callID == "" {
		ctx.Log(core.LErr, "rtpengine: "+fn+": the message has no Call-ID\n")
		return nil, nil, false
	}
	if second {
		r.mapKey = r.callID + "\x00set2"
	}
	if r.fromTag == "" {
		r.fromTag = string(m.FromTag())
	}
	if r.toTag == "" && (r.toTagForce || cmd != "delete" && !strings.Contains(cmd, "subscribe")) {
		r.toTag = string(m.ToTag())
	}
	if via != "" {
		// The str,str variants' second argument selects the via-branch
		// as the via-branch= flag does (Kamailio's
		// parse_viabranch_with_param).
		sel, ok := viaSelectors[via]
		if !ok {
			ctx.Log(core.LErr, "rtpengine: "+fn+": via-branch "+core.LogQuote(via)+": expected 1, 2, auto, extra, next, auto-next, auto-extra or none\n")
			return nil, nil, false
		}
		r.viaSel = sel
	}
	if r.viaSel != "" {
		r.viaBranch = c.viaBranch(ctx, m, r.viaSel)
	}
	if a := ctx.Src.Addr().Unmap(); a.IsValid() {
		fam := "IP4"
		if a.Is6() {
			fam = "IP6"
		}
		r.recvFrom = [2]string{fam, a.String()}
	}
	r.sdp = append(r.sdp, sdp...)
	d, node, buf, err := c.Do(s, r, st.buf)
	st.buf = buf
	if err != nil {
		ctx.Log(core.LErr, "rtpengine: "+fn+": call "+core.LogQuote(r.callID)+": "+err.Error()+"\n")
		return nil, nil, false
	}
	if cmd == "query" {
		st.stat = d
	}
	st.last = d
	return d, node, true
}

// viaSelectors are the via-branch values of the str,str variants, with
// Kamailio's synonyms.
var viaSelectors = map[string]string{"1": "1", "2": "2", "auto": "auto", "extra": "extra", "next": "next",
	"auto-next": "auto-next", "next-auto": "auto-next", "auto-extra": "auto-extra", "extra-auto": "auto-extra",
	"none": ""}

// viaBranch reads the branch of Via 1 or 2 as via-branch= selects;
// "extra" (and "auto-extra" in a request) is the value of extra_id_pv.
func (c *Client) viaBranch(ctx *core.Ctx, m *sip.Msg, sel string) string {
	n := 0
	switch sel {
	case "2":
		n = 1
	case "extra":
		return c.extraID(ctx)
	case "auto-extra":
		if m.IsRequest() {
			return c.extraID(ctx)
		}
	case "auto", "auto-next":
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

// extraID is the value of extra_id_pv, "" when unset or not set.
func (c *Client) extraID(ctx *core.Ctx) string {
	if c.extraPV == "" {
		ctx.Log(core.LErr, "rtpengine: via-branch=extra: extra_id_pv is not set\n")
		return ""
	}
	v := pv.Get(ctx, c.extraPV)
	if v.Kind == core.KNull {
		return ""
	}
	return v.String()
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
func Manage(ctx *core.Ctx, flags string) int { return manage(ctx, flags, "") }

// Manage2 is rtpengine_manage2: rtpengine_manage with a via-branch value.
func Manage2(ctx *core.Ctx, flags, via string) int { return manage(ctx, flags, via) }

func manage(ctx *core.Ctx, flags, via string) int {
	command := func(ctx *core.Ctx, fn, cmd, flags string, sdp bool) int {
		return commandVia(ctx, fn, cmd, flags, via, sdp)
	}
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
	st := stateOf(ctx)
	st.set, st.set2 = id, -1
	return 1
}

// SetSet2 is set_rtpengine_set2: two sets whose nodes each handle the
// following commands of this message, chained (see commandVia).
func SetSet2(ctx *core.Ctx, id1, id2 int) int {
	c := Of(ctx.RT)
	for _, id := range [2]int{id1, id2} {
		if c == nil || c.Set(id) == nil {
			ctx.Log(core.LErr, "rtpengine: set_rtpengine_set2: no set "+strconv.Itoa(id)+"\n")
			return -1
		}
	}
	if id1 == id2 {
		ctx.Log(core.LErr, "rtpengine: set_rtpengine_set2: the two sets must differ, got "+strconv.Itoa(id1)+" twice\n")
		return -1
	}
	st := stateOf(ctx)
	st.set, st.set2 = id1, id2
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

// The str,str variants (Kamailio's KEMI rtpengine_offer2 and the like):
// flags, and which via-branch to send (one media session per branch): 1,
// 2, auto, extra, next, auto-next or auto-extra, as the via-branch= flag.

// Offer2 is rtpengine_offer2.
func Offer2(ctx *core.Ctx, flags, via string) int {
	return commandVia(ctx, "rtpengine_offer2", "offer", flags, via, true)
}

// Answer2 is rtpengine_answer2.
func Answer2(ctx *core.Ctx, flags, via string) int {
	return commandVia(ctx, "rtpengine_answer2", "answer", flags, via, true)
}

// Delete2 is rtpengine_delete2.
func Delete2(ctx *core.Ctx, flags, via string) int {
	return commandVia(ctx, "rtpengine_delete2", "delete", flags, via, false)
}

// Query2 is rtpengine_query2.
func Query2(ctx *core.Ctx, flags, via string) int {
	return commandVia(ctx, "rtpengine_query2", "query", flags, via, false)
}

// BlockMedia2 is block_media2.
func BlockMedia2(ctx *core.Ctx, flags, via string) int {
	return commandVia(ctx, "block_media2", "block media", flags, via, false)
}

// UnblockMedia2 is unblock_media2.
func UnblockMedia2(ctx *core.Ctx, flags, via string) int {
	return commandVia(ctx, "unblock_media2", "unblock media", flags, via, false)
}

// SilenceMedia2 is silence_media2.
func SilenceMedia2(ctx *core.Ctx, flags, via string) int {
	return commandVia(ctx, "silence_media2", "silence media", flags, via, false)
}

// UnsilenceMedia2 is unsilence_media2.
func UnsilenceMedia2(ctx *core.Ctx, flags, via string) int {
	return commandVia(ctx, "unsilence_media2", "unsilence media", flags, via, false)
}

// BlockDTMF2 is block_dtmf2.
func BlockDTMF2(ctx *core.Ctx, flags, via string) int {
	return commandVia(ctx, "block_dtmf2", "block DTMF", flags, via, false)
}

// UnblockDTMF2 is unblock_dtmf2.
func UnblockDTMF2(ctx *core.Ctx, flags, via string) int {
	return commandVia(ctx, "unblock_dtmf2", "unblock DTMF", flags, via, false)
}

// PlayMedia2 is play_media2.
func PlayMedia2(ctx *core.Ctx, flags, via string) int {
	return commandVia(ctx, "play_media2", "play media", flags, via, false)
}

// StopMedia2 is stop_media2.
func StopMedia2(ctx *core.Ctx, flags, via string) int {
	return commandVia(ctx, "stop_media2", "stop media", flags, via, false)
}

// StartForwarding is start_forwarding: rtpengine forwards the call's
// media to its recording daemon (ng "start forwarding").
func StartForwarding(ctx *core.Ctx, flags string) int {
	return command(ctx, "start_forwarding", "start forwarding", flags, false)
}

// StartForwarding0 is start_forwarding0.
func StartForwarding0(ctx *core.Ctx) int { return StartForwarding(ctx, "") }

// StartForwarding2 is start_forwarding2.
func StartForwarding2(ctx *core.Ctx, flags, via string) int {
	return commandVia(ctx, "start_forwarding2", "start forwarding", flags, via, false)
}

// StopForwarding is stop_forwarding.
func StopForwarding(ctx *core.Ctx, flags string) int {
	return command(ctx, "stop_forwarding", "stop forwarding", flags, false)
}

// StopForwarding0 is stop_forwarding0.
func StopForwarding0(ctx *core.Ctx) int { return StopForwarding(ctx, "") }

// StopForwarding2 is stop_forwarding2.
func StopForwarding2(ctx *core.Ctx, flags, via string) int {
	return commandVia(ctx, "stop_forwarding2", "stop forwarding", flags, via, false)
}

// Connect is rtpengine_connect: ng "connect", joining this call's media
// with another's (to-call-id=, to-tag= in the flags).
func Connect(ctx *core.Ctx, flags string) int {
	return command(ctx, "rtpengine_connect", "connect", flags, false)
}

// Connect0 is rtpengine_connect0.
func Connect0(ctx *core.Ctx) int { return Connect(ctx, "") }

// Connect2 is rtpengine_connect2.
func Connect2(ctx *core.Ctx, flags, via string) int {
	return commandVia(ctx, "rtpengine_connect2", "connect", flags, via, false)
}

// maxQueryV bounds what rtpengine_query_v writes into a variable.
const maxQueryV = 64 << 10

// QueryV is rtpengine_query_v: query the call and write rtpengine's whole
// reply as JSON into the pseudo-variable dst; format "j" is compact, "jp"
// indented.
func QueryV(ctx *core.Ctx, format, dst string) int {
	if format == "" || format[0] != 'j' && format[0] != 'J' {
		ctx.Log(core.LErr, "rtpengine: rtpengine_query_v: format "+core.LogQuote(format)+": expected j or jp\n")
		return -1
	}
	if name, _, ok := core.SplitPV(dst); !ok || dst[0] != '$' || core.LookupPVSetter(name) == nil {
		ctx.Log(core.LErr, "rtpengine: rtpengine_query_v: "+core.LogQuote(dst)+" is not a writable pseudo-variable\n")
		return -1
	}
	if command(ctx, "rtpengine_query_v", "query", "", false) < 0 {
		return -1
	}
	var b []byte
	var err error
	if len(format) > 1 && (format[1] == 'p' || format[1] == 'P') {
		b, err = json.MarshalIndent(stateOf(ctx).stat, "", "\t")
	} else {
		b, err = json.Marshal(stateOf(ctx).stat)
	}
	if err != nil || len(b) > maxQueryV {
		ctx.Log(core.LErr, "rtpengine: rtpengine_query_v: the reply does not fit a variable ("+strconv.Itoa(len(b))+" bytes of JSON)\n")
		return -1
	}
	if ok, _ := pv.Sets(ctx, dst, string(b)); !ok {
		return -1
	}
	return 1
}

// SubscribeRequest is rtpengine_subscribe_request: ask rtpengine for a
// copy of the call's media (ng "subscribe request"; flags such as "all"
// or from-tag= choose the legs). The SDP rtpengine offers for the copy
// goes to the pseudo-variable sdpPV, the subscription's to-tag to
// toTagPV, and each stream to the xavp streamXavp as leg (caller or
// callee), label and medianum; "" skips one.
func SubscribeRequest(ctx *core.Ctx, flags, sdpPV, toTagPV, streamXavp string) int {
	const fn = "rtpengine_subscribe_request"
	if command(ctx, fn, "subscribe request", flags, false) < 0 {
		return -1
	}
	d := stateOf(ctx).last
	for _, o := range [2][2]string{{sdpPV, "sdp"}, {toTagPV, "to-tag"}} {
		if o[0] == "" {
			continue
		}
		v := d.Str(o[1])
		if v == "" {
			ctx.Log(core.LErr, "rtpengine: "+fn+": the reply has no "+o[1]+"\n")
			return -1
		}
		if ok, _ := pv.Sets(ctx, o[0], v); !ok {
			return -1
		}
	}
	if streamXavp != "" {
		from := string(ctx.Msg.FromTag())
		parts, _ := d["tag-medias"].([]any)
		for _, p := range parts {
			pd, _ := p.(Dict)
			leg := "callee"
			if pd.Str("tag") == from {
				leg = "caller"
			}
			medias, _ := pd["medias"].([]any)
			for _, m := range medias {
				md, _ := m.(Dict)
				label, ok := md.Int("label")
				if !ok {
					continue
				}
				idx, _ := md.Int("index")
				if err := pv.XavpParamsExplode(ctx, "leg="+leg+";label="+strconv.FormatInt(label, 10)+";medianum="+strconv.FormatInt(idx, 10), streamXavp); err != nil {
					ctx.Log(core.LErr, "rtpengine: "+fn+": "+err.Error()+"\n")
					return -1
				}
			}
		}
	}
	return 1
}

// SubscribeAnswer is rtpengine_subscribe_answer: give rtpengine the
// subscriber's SDP answer (the message body; the subscription's to-tag in
// the flags, to-tag=...), so the copy starts flowing.
func SubscribeAnswer(ctx *core.Ctx, flags string) int {
	return command(ctx, "rtpengine_subscribe_answer", "subscribe answer", flags, true)
}

// Unsubscribe is rtpengine_unsubscribe: end a subscription (to-tag=... in
// the flags).
func Unsubscribe(ctx *core.Ctx, flags string) int {
	return command(ctx, "rtpengine_unsubscribe", "unsubscribe", flags, false)
}
