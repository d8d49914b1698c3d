package sip

import (
	"net/netip"
	"strconv"
	"sync/atomic"
)

// ReplyOptions adds to what AppendReply writes. A nil *ReplyOptions is the
// same as the zero value.
type ReplyOptions struct {
	// ServerHeader is a whole header line without CRLF, written as it is
	// (core.Runtime.ServerHeader: server_header and server_signature);
	// skipped when empty. When set, Server is not used.
	ServerHeader string
	Server       string // Server header value; skipped when empty
	ExtraHeaders []byte // raw header lines, each ending in CRLF
	Body         []byte
	ContentType  string // written when Body is not empty
	// Src, when valid, is where the request came from: the top Via of the
	// reply then gets received= and rport= as RFC 3261 §18.2.1 and
	// RFC 3581 ask (ForceRport fills rport even if the client did not ask).
	Src        netip.AddrPort
	ForceRport bool
	// ToTag, when not empty, is the To-tag to add instead of the derived one.
	ToTag []byte
}

// ToTagFor derives the To-tag for a reply to req: a hash of the
// Call-ID, From-tag, top Via branch and CSeq number, as 16 hex digits. A
// retransmission of the request gets the same tag.
func ToTagFor(dst []byte, req *Msg) []byte {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	mix := func(b []byte) {
		for _, c := range b {
			h ^= uint64(c)
			h *= prime
		}
		h ^= 0xff // field separator
		h *= prime
	}
	mix(req.CallID())
	mix(req.FromTag())
	mix(req.ViaBranch())
	n, _, _ := req.CSeq()
	var nb [10]byte
	mix(strconv.AppendUint(nb[:0], uint64(n), 10))
	const hex = "0123456789abcdef"
	for s := 60; s >= 0; s -= 4 {
		dst = append(dst, hex[(h>>uint(s))&15])
	}
	return dst
}

// AppendStatelessBranch appends a Via branch (with the z9hG4bK cookie) for
// forwarding req statelessly as branch number n. RFC 3261 §16.11 wants the
// same branch for a retransmission, and for the CANCEL or non-2xx ACK of a
// forwarded INVITE, so the hash covers the incoming top Via branch when it
// has the cookie, and otherwise Request-URI, From-tag, To-tag, Call-ID,
// CSeq number and the top Via; never the method.
func AppendStatelessBranch(dst []byte, req *Msg, n int) []byte {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset) ^ 0x5bd1e995
	mix := func(b []byte) {
		for _, c := range b {
			h ^= uint64(c)
			h *= prime
		}
		h ^= 0xff
		h *= prime
	}
	v, err := req.TopVia()
	if err == nil && len(v.Branch) > 7 && string(v.Branch[:7]) == "z9hG4bK" {
		mix(v.Branch)
		mix(v.Host)
	} else {
		mix(req.OriginalRequestURI())
		mix(req.FromTag())
		mix(req.ToTag())
		mix(req.CallID())
		num, _, _ := req.CSeq()
		var nb [10]byte
		mix(strconv.AppendUint(nb[:0], uint64(num), 10))
		mix(v.Raw)
	}
	dst = append(dst, "z9hG4bK"...)
	const hex = "0123456789abcdef"
	for s := 60; s >= 0; s -= 4 {
		dst = append(dst, hex[(h>>uint(s))&15])
	}
	dst = append(dst, '.')
	return strconv.AppendInt(dst, int64(n), 10)
}

// AppendReply appends a reply to req to dst: the status line, every Via
// line in order (the top one with received/rport when opt.Src is set),
// From, To (with a To-tag added when it has none and code > 100), Call-ID,
// CSeq, Server (opt.ServerHeader as it is, else opt.Server), the caller's
// extra headers, Content-Type and Content-Length, and the body. An empty
// reason, or one with CR, LF or NUL, uses the RFC 3261 phrase.
func AppendReply(dst []byte, req *Msg, code int, reason string, opt *ReplyOptions) []byte {
	var zero ReplyOptions
	if opt == nil {
		opt = &zero
	}
	if reason == "" || !oneLine(reason) {
		// A line break would end the status line and start a header;
		// script values are checked before they get here, this is the
		// last guard for any other caller.
		reason = ReasonPhrase(code)
	}
	dst = append(dst, "SIP/2.0 "...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	dst = append(dst, reason...)
	dst = append(dst, "\r\n"...)
	top := true
	for it := req.LinesID(HdrVia); it.Next(); {
		dst = append(dst, "Via: "...)
		v := it.Value()
		if top && opt.Src.IsValid() {
			dst = appendViaWithReceived(dst, v, opt.Src, opt.ForceRport)
		} else {
			dst = append(dst, v...)
		}
		dst = append(dst, "\r\n"...)
		top = false
	}
	if v := req.HeaderID(HdrFrom); v != nil {
		dst = append(dst, "From: "...)
		dst = append(dst, v...)
		dst = append(dst, "\r\n"...)
	}
	if v := req.HeaderID(HdrTo); v != nil {
		dst = append(dst, "To: "...)
		dst = append(dst, v...)
		if code > 100 && (!containsTag(v) || req.ToTag() == nil) {
			dst = append(dst, ";tag="...)
			if len(opt.ToTag) > 0 {
				dst = append(dst, opt.ToTag...)
			} else {
				dst = ToTagFor(dst, req)
			}
		}
		dst = append(dst, "\r\n"...)
	}
	if v := req.HeaderID(HdrCallID); v != nil {
		dst = append(dst, "Call-ID: "...)
		dst = append(dst, v...)
		dst = append(dst, "\r\n"...)
	}
	if v := req.HeaderID(HdrCSeq); v != nil {
		dst = append(dst, "CSeq: "...)
		dst = append(dst, v...)
		dst = append(dst, "\r\n"...)
	}
	if opt.ServerHeader != "" {
		dst = append(dst, opt.ServerHeader...)
		dst = append(dst, "\r\n"...)
	} else if opt.Server != "" {
		dst = append(dst, "Server: "...)
		dst = append(dst, opt.Server...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, opt.ExtraHeaders...)
	if len(opt.Body) > 0 && opt.ContentType != "" {
		dst = append(dst, "Content-Type: "...)
		dst = append(dst, opt.ContentType...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(opt.Body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, opt.Body...)
}

// oneLine reports whether s holds no CR, LF or NUL.
func oneLine(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}

// containsTag reports whether "tag" appears in v, any case: when it does
// not, the To header has no tag and need not be parsed.
func containsTag(v []byte) bool {
	for i := 0; i+3 <= len(v); i++ {
		if LowerASCII(v[i]) == 't' && LowerASCII(v[i+1]) == 'a' && LowerASCII(v[i+2]) == 'g' {
			return true
		}
	}
	return false
}

// appendViaWithReceived writes a Via line value whose first via-parm gets
// received/rport as a server adds them for a request from src.
func appendViaWithReceived(dst, line []byte, src netip.AddrPort, force bool) []byte {
	sp := SplitCommas(line)
	first, ok := sp.Next()
	if !ok {
		return append(dst, line...)
	}
	var v Via
	if v.parse(first, 0) != nil {
		return append(dst, line...)
	}
	fs := sp.Offset()
	dst = append(dst, line[:fs]...)
	rport := v.RportSet || force
	recv := rport || NeedsReceived(&v, src.Addr())
	// Copy the via-parm, leaving out received and (when refilled) rport.
	cur := 0
	if v.Params != nil {
		for it := v.Params.Iter(); it.Next(); {
			if eqFold(it.Name(), "received") && recv || eqFold(it.Name(), "rport") && rport {
				dst = append(dst, first[cur:v.paramsOff+it.start]...)
				cur = v.paramsOff + it.end
			}
		}
	}
	dst = append(dst, first[cur:]...)
	if recv {
		dst = append(dst, ";received="...)
		dst = appendIP(dst, src.Addr())
	}
	if rport {
		dst = append(dst, ";rport="...)
		dst = strconv.AppendUint(dst, uint64(src.Port()), 10)
	}
	return append(dst, line[fs+len(first):]...)
}

var replyToViaMaddr atomic.Bool

// SetReplyToViaMaddr turns on replies to the top Via's maddr (RFC 3261
// §18.2.2), for ReplyAddr and for MaddrDestination. It is off by default:
// maddr is whatever the sender wrote, so honouring it lets anyone aim
// kemi's replies (a 401, a 200 listing every binding, tm's 408) at a third
// party without spoofing a packet. The loader sets it from the core
// parameter reply_to_via_maddr, once per load.
func SetReplyToViaMaddr(on bool) { replyToViaMaddr.Store(on) }

// ReplyToViaMaddr reports whether replies follow the top Via's maddr.
func ReplyToViaMaddr() bool { return replyToViaMaddr.Load() }

// ReplyAddr returns where a reply to req goes, per RFC 3261 §18.2.2 and
// RFC 3581: for a reliable transport (TCP, TLS, SCTP, WS, WSS), back to
// src over the same connection. Otherwise to the source address (which is
// the received= a server would add, or the sent-by address itself), to
// the source port when the Via has rport or forceRport is set, else to the
// sent-by port (default 5060). The Via's maddr is ignored unless
// SetReplyToViaMaddr(true): then a maddr that is an IP address wins, with
// the sent-by port.
func ReplyAddr(req *Msg, src netip.AddrPort, forceRport bool) netip.AddrPort {
	v, err := req.TopVia()
	if err != nil {
		return src
	}
	t := v.Transport
	if !eqFold(t, "udp") {
		return src
	}
	port := uint16(5060)
	if v.Port != 0 {
		port = uint16(v.Port)
	}
	if a, ok := MaddrDestination(&v); ok {
		return netip.AddrPortFrom(a, port)
	}
	if v.RportSet || forceRport {
		return src
	}
	return netip.AddrPortFrom(src.Addr(), port)
}

// MaddrDestination returns the Via's maddr as an address when replies
// follow maddr (SetReplyToViaMaddr) and it is an IP; ok is false
// otherwise, and always by default.
func MaddrDestination(v *Via) (netip.Addr, bool) {
	if len(v.Maddr) == 0 || !replyToViaMaddr.Load() {
		return netip.Addr{}, false
	}
	return hostAddr(v.Maddr)
}

// ReasonPhrase returns the RFC 3261 reason phrase of a status code, or a
// generic one for its class.
func ReasonPhrase(code int) string {
	switch code {
	case 100:
		return "Trying"
	case 180:
		return "Ringing"
	case 181:
		return "Call Is Being Forwarded"
	case 182:
		return "Queued"
	case 183:
		return "Session Progress"
	case 200:
		return "OK"
	case 202:
		return "Accepted"
	case 300:
		return "Multiple Choices"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Moved Temporarily"
	case 305:
		return "Use Proxy"
	case 380:
		return "Alternative Service"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 402:
		return "Payment Required"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 406:
		return "Not Acceptable"
	case 407:
		return "Proxy Authentication Required"
	case 408:
		return "Request Timeout"
	case 410:
		return "Gone"
	case 413:
		return "Request Entity Too Large"
	case 414:
		return "Request-URI Too Long"
	case 415:
		return "Unsupported Media Type"
	case 416:
		return "Unsupported URI Scheme"
	case 420:
		return "Bad Extension"
	case 421:
		return "Extension Required"
	case 423:
		return "Interval Too Brief"
	case 480:
		return "Temporarily Unavailable"
	case 481:
		return "Call/Transaction Does Not Exist"
	case 482:
		return "Loop Detected"
	case 483:
		return "Too Many Hops"
	case 484:
		return "Address Incomplete"
	case 485:
		return "Ambiguous"
	case 486:
		return "Busy Here"
	case 487:
		return "Request Terminated"
	case 488:
		return "Not Acceptable Here"
	case 491:
		return "Request Pending"
	case 493:
		return "Undecipherable"
	case 500:
		return "Server Internal Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Server Time-out"
	case 505:
		return "Version Not Supported"
	case 513:
		return "Message Too Large"
	case 600:
		return "Busy Everywhere"
	case 603:
		return "Decline"
	case 604:
		return "Does Not Exist Anywhere"
	case 606:
		return "Not Acceptable"
	}
	switch code / 100 {
	case 1:
		return "Trying"
	case 2:
		return "OK"
	case 3:
		return "Redirect"
	case 4:
		return "Client Error"
	case 5:
		return "Server Error"
	}
	return "Global Failure"
}
