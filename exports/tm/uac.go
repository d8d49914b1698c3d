package tm

import (
	"bytes"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"kemi/core"
	"kemi/internal/resolve"
	"kemi/sip"
)

// Local requests (tm.t_uac_start): the server sends a request of its own,
// such as an OPTIONS ping, as Kamailio's t_uac does. Over UDP it is
// retransmitted (timer E: T1 doubling to T2) until a final reply or timer
// F (64*T1); the reply is claimed by the Via branch, which carries a
// random token of this start, and only from the address the request went
// to. The outcome is logged at INFO. INVITE is refused: kemi keeps no
// dialog for a local INVITE to ACK its 2xx or send a BYE.

// maxUAC bounds the local requests waiting for their final reply.
const maxUAC = 256

// uacBranch starts every local request's Via branch.
const uacBranch = "z9hG4bKuac"

type uacReq struct {
	method, ruri string
	to           netip.AddrPort
	proto        core.Proto
	local        netip.AddrPort
	out          []byte
	done         chan struct{}
}

type uacs struct {
	once    sync.Once
	token   string
	mu      sync.Mutex
	seq     uint64
	pending map[uint64]*uacReq
}

func (u *uacs) init() {
	u.once.Do(func() {
		var b [6]byte
		_, _ = crand.Read(b[:])
		u.token = hex.EncodeToString(b[:])
		u.pending = map[uint64]*uacReq{}
	})
}

// UACArgs are tm.t_uac_start's arguments, in Kamailio's order.
type UACArgs struct {
	Method, RURI, NextHop, Socket, Headers, Body string
}

// StartUAC sends a local request and returns its Call-ID and branch; the
// final reply (or timer F) is logged.
func (t *TM) StartUAC(a UACArgs) (map[string]any, error) {
	u := &t.uac
	u.init()
	method := strings.ToUpper(strings.TrimSpace(a.Method))
	if !isToken(method) {
		return nil, fmt.Errorf("method: expected a SIP method token, got %s", core.LogQuote(a.Method))
	}
	switch method {
	case "INVITE", "ACK", "CANCEL":
		return nil, fmt.Errorf("method %s: kemi sends no local %s (no dialog to complete it); use OPTIONS, MESSAGE, NOTIFY, INFO", method, method)
	}
	if _, err := sip.ParseURI([]byte(a.RURI)); err != nil || !core.LineOK(a.RURI) || strings.ContainsAny(a.RURI, " \t") {
		return nil, fmt.Errorf("ruri: expected a SIP URI, got %s", core.LogQuote(a.RURI))
	}
	hop := a.RURI
	if a.NextHop != "" && a.NextHop != "." {
		if _, err := sip.ParseURI([]byte(a.NextHop)); err != nil {
			return nil, fmt.Errorf("nexthop: expected a SIP URI or \".\", got %s", core.LogQuote(a.NextHop))
		}
		hop = a.NextHop
	}
	dst, name, tr, why := sip.URINextHop([]byte(hop))
	proto := core.ProtoOfTransport(tr)
	if name {
		ts, err := resolve.Default().AppendURITargets(nil, []byte(hop))
		if err != nil {
			return nil, fmt.Errorf("destination %s: %v", core.LogQuote(hop), err)
		}
		dst, proto, why = ts[0].Addr, ts[0].Proto.CoreProto(), ""
	}
	if why != "" {
		return nil, fmt.Errorf("destination %s: %s", core.LogQuote(hop), why)
	}
	local, err := t.uacLocal(a.Socket, proto)
	if err != nil {
		return nil, err
	}
	hdrs, err := uacHeaders(a.Headers)
	if err != nil {
		return nil, err
	}
	if hdrs.from == "" || hdrs.to == "" {
		return nil, errors.New("headers: expected at least From and To (\"From: <sip:a@b>;tag=x\\r\\nTo: <sip:c@d>\")")
	}
	if a.Body != "" && !hdrs.ctype {
		return nil, errors.New("body: a body needs a Content-Type header")
	}

	u.mu.Lock()
	if len(u.pending) >= maxUAC {
		u.mu.Unlock()
		return nil, fmt.Errorf("%d local requests are waiting for replies already; try again later", maxUAC)
	}
	u.seq++
	id := u.seq
	r := &uacReq{method: method, ruri: a.RURI, to: dst, proto: proto, local: local, done: make(chan struct{})}
	u.pending[id] = r
	u.mu.Unlock()

	idb := strconv.FormatUint(id, 16)
	branch := uacBranch + u.token + "." + idb
	callID := hdrs.callID
	if callID == "" {
		callID = "uac-" + u.token + "-" + idb
	}
	var b []byte
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, a.RURI...)
	b = append(b, " SIP/2.0\r\nVia: SIP/2.0/"...)
	b = append(b, strings.ToUpper(proto.String())...)
	b = append(b, ' ')
	b = sip.AppendHostPort(b, local)
	b = append(b, ";branch="...)
	b = append(b, branch...)
	b = append(b, ";rport\r\n"...)
	if !hdrs.maxFwd {
		b = append(b, "Max-Forwards: 70\r\n"...)
	}
	b = append(b, "From: "...)
	b = append(b, hdrs.from...)
	if !hdrs.fromTag {
		b = append(b, ";tag="...)
		b = append(b, u.token...)
		b = append(b, idb...)
	}
	b = append(b, "\r\nTo: "...)
	b = append(b, hdrs.to...)
	b = append(b, "\r\nCall-ID: "...)
	b = append(b, callID...)
	b = append(b, "\r\n"...)
	if !hdrs.cseq {
		b = append(b, "CSeq: 10 "...)
		b = append(b, method...)
		b = append(b, "\r\n"...)
	}
	b = append(b, hdrs.rest...)
	if s := t.rt.UserAgentHeader(); s != "" && !hdrs.ua {
		b = append(b, s...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(a.Body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, a.Body...)
	r.out = b
	if err := t.uacSend(r); err != nil {
		u.mu.Lock()
		delete(u.pending, id)
		u.mu.Unlock()
		return nil, fmt.Errorf("sending to %s: %v", dst, err)
	}
	go t.uacTimers(id, r)
	return map[string]any{"callid": callID, "branch": branch, "dst": proto.String() + ":" + dst.String()}, nil
}

// uacLocal is the socket a local request leaves from: the socket argument
// ("udp:IP:port") or the first listen of the transport.
func (t *TM) uacLocal(socket string, proto core.Proto) (netip.AddrPort, error) {
	if socket != "" && socket != "." {
		p, ap, err := parseSocket(socket)
		if err != nil {
			return ap, fmt.Errorf("socket: %v", err)
		}
		if p != proto {
			return ap, fmt.Errorf("socket %s: the destination is over %s", core.LogQuote(socket), proto)
		}
		return ap, nil
	}
	if t.rt.StreamLocal != nil {
		if ap, ok := t.rt.StreamLocal(proto); ok {
			return ap, nil
		}
	}
	return netip.AddrPort{}, fmt.Errorf("socket: no %s listen to send from", proto)
}

func parseSocket(s string) (core.Proto, netip.AddrPort, error) {
	p, rest, ok := strings.Cut(s, ":")
	if !ok {
		return 0, netip.AddrPort{}, fmt.Errorf("expected proto:IP:port, got %s", core.LogQuote(s))
	}
	var proto core.Proto
	switch strings.ToLower(p) {
	case "udp":
		proto = core.UDP
	case "tcp":
		proto = core.TCP
	case "tls":
		proto = core.TLS
	default:
		return 0, netip.AddrPort{}, fmt.Errorf("expected udp, tcp or tls, got %s", core.LogQuote(p))
	}
	ap, err := netip.ParseAddrPort(rest)
	if err != nil {
		return 0, ap, fmt.Errorf("expected proto:IP:port, got %s", core.LogQuote(s))
	}
	return proto, ap, nil
}

type uacHdrs struct {
	from, to, callID                 string
	fromTag, cseq, maxFwd, ctype, ua bool
	rest                             []byte
}

// uacHeaders reads the headers argument: header lines separated by CRLF
// or LF (or the escapes \r\n, \n). From, To and Call-ID are taken out to be written in their place;
// Via and Content-Length are refused or replaced (kemi writes them).
func uacHeaders(s string) (uacHdrs, error) {
	var h uacHdrs
	if len(s) > 8<<10 {
		return h, fmt.Errorf("headers: at most 8 KiB, got %d bytes", len(s))
	}
	// A shell argument carries line breaks as the two characters \r\n or
	// \n (as kamcmd's users write them).
	s = strings.ReplaceAll(strings.ReplaceAll(s, `\r\n`, "\n"), `\n`, "\n")
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || line == "." {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || !isToken(name) || !core.LineOK(value) {
			return h, fmt.Errorf("headers: expected \"Name: value\" lines, got %s", core.LogQuote(line))
		}
		switch strings.ToLower(name) {
		case "from", "f":
			h.from = value
			h.fromTag = strings.Contains(strings.ToLower(value), ";tag=")
			continue
		case "to", "t":
			h.to = value
			continue
		case "call-id", "i":
			h.callID = value
			continue
		case "via", "v":
			return h, errors.New("headers: no Via (kemi writes its own)")
		case "content-length", "l":
			continue
		case "cseq":
			h.cseq = true
		case "max-forwards":
			h.maxFwd = true
		case "content-type", "c":
			h.ctype = true
		case "user-agent":
			h.ua = true
		}
		h.rest = append(h.rest, name...)
		h.rest = append(h.rest, ": "...)
		h.rest = append(h.rest, value...)
		h.rest = append(h.rest, "\r\n"...)
	}
	return h, nil
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-.!%*_+`'~", c) >= 0) {
			return false
		}
	}
	return true
}

func (t *TM) uacSend(r *uacReq) error {
	rt := t.rt
	switch {
	case r.proto.IsStream():
		if rt.SendStream == nil {
			return fmt.Errorf("no %s transport", r.proto)
		}
		return rt.SendStream(r.out, r.proto, r.to, core.SendOpts{})
	case rt.SendFrom != nil:
		return rt.SendFrom(r.local, r.out, core.UDP, r.to)
	case rt.Send != nil:
		return rt.Send(r.out, core.UDP, r.to)
	}
	return errors.New("no sender")
}

// uacTimers retransmits r over UDP and gives up at timer F.
func (t *TM) uacTimers(id uint64, r *uacReq) {
	iv := time.Duration(t.tm.T1)
	giveUp := time.NewTimer(time.Duration(64 * t.tm.T1))
	defer giveUp.Stop()
	retr := time.NewTimer(iv)
	defer retr.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-giveUp.C:
			t.uac.mu.Lock()
			_, ok := t.uac.pending[id]
			delete(t.uac.pending, id)
			t.uac.mu.Unlock()
			if ok && t.rt.Log != nil {
				t.rt.Log.Log(core.LNotice, nil, "tm: local "+r.method+" to "+core.LogValue(r.ruri)+": no final reply (timeout)")
			}
			return
		case <-retr.C:
			if !r.proto.IsStream() {
				_ = t.uacSend(r)
			}
			iv = min(2*iv, time.Duration(t.tm.T2))
			retr.Reset(iv)
		}
	}
}

// uacReply claims a reply to a local request; true when it was one.
func (t *TM) uacReply(ctx *core.Ctx, v *sip.Via) bool {
	u := &t.uac
	if u.token == "" || !bytes.HasPrefix(v.Branch, []byte(uacBranch)) {
		return false
	}
	rest := v.Branch[len(uacBranch):]
	if len(rest) <= len(u.token)+1 || string(rest[:len(u.token)]) != u.token || rest[len(u.token)] != '.' {
		return false
	}
	id, err := strconv.ParseUint(string(rest[len(u.token)+1:]), 16, 64)
	if err != nil {
		return true
	}
	code := ctx.Msg.StatusCode()
	if code < 200 {
		return true
	}
	u.mu.Lock()
	r, ok := u.pending[id]
	if ok && r.to.Addr().Unmap() == ctx.Src.Addr().Unmap() {
		delete(u.pending, id)
	} else {
		ok = false
	}
	u.mu.Unlock()
	if ok {
		close(r.done)
		ctx.Log(core.LInfo, "tm: local "+r.method+" to "+core.LogValue(r.ruri)+": "+strconv.Itoa(code)+" "+core.LogValue(ctx.Msg.Reason())+"\n")
	}
	return true
}
