package core

import (
	"crypto/tls"
	"errors"
	"net/netip"

	"kemi/sip"
)

// Proto is a transport protocol.
type Proto uint8

const (
	UDP Proto = iota + 1
	TCP
	TLS
	WS
	WSS
)

var protoNames = [...]string{"", "udp", "tcp", "tls", "ws", "wss"}

func (p Proto) String() string {
	if int(p) < len(protoNames) {
		return protoNames[p]
	}
	return "proto?"
}

// viaStarts are the Via sent-protocols (RFC 3261, RFC 7118) by Proto.
var viaStarts = [...]string{"SIP/2.0/UDP ", "SIP/2.0/UDP ", "SIP/2.0/TCP ", "SIP/2.0/TLS ", "SIP/2.0/WS ", "SIP/2.0/WSS "}

// AppendViaStart appends the start of a Via value for a request sent
// over p: "SIP/2.0/TCP " and the like (UDP for an unknown p).
func AppendViaStart(dst []byte, p Proto) []byte {
	if int(p) < len(viaStarts) {
		return append(dst, viaStarts[p]...)
	}
	return append(dst, viaStarts[UDP]...)
}

// SendOpts are the connection controls of a TCP or TLS send (see
// Runtime.SendStream).
type SendOpts struct {
	ConnID     uint64 // the connection to use first (a request's, a contact's)
	NoConnect  bool   // fail rather than open a connection
	CloseAfter bool   // close the connection once written
	ServerName string // TLS SNI for a new connection
}

// Connection controls (Ctx.ConnFlags), Kamailio's set_reply_no_connect,
// set_reply_close, set_forward_no_connect and set_forward_close.
const (
	ConnReplyNoConnect uint8 = 1 << iota
	ConnReplyClose
	ConnForwardNoConnect
	ConnForwardClose
)

// ReplyOpts are the SendOpts of a reply on connection id under flags.
func ReplyOpts(id uint64, flags uint8) SendOpts {
	return SendOpts{ConnID: id, NoConnect: flags&ConnReplyNoConnect != 0, CloseAfter: flags&ConnReplyClose != 0}
}

// ForwardOpts are the SendOpts of a forwarded request under flags.
func ForwardOpts(flags uint8, serverName string) SendOpts {
	return SendOpts{NoConnect: flags&ConnForwardNoConnect != 0, CloseAfter: flags&ConnForwardClose != 0, ServerName: serverName}
}

// StreamConn is what a Ctx knows of its message's connection.
type StreamConn interface {
	// TLSState is the TLS connection's state; false for TCP.
	TLSState() (tls.ConnectionState, bool)
}

// IsStream reports whether p is a connection-oriented transport.
func (p Proto) IsStream() bool { return p == TCP || p == TLS || p == WS || p == WSS }

// ProtoOfTransport maps sip.URINextHop's transport (sip.TransportUDP,
// TransportTCP, TransportTLS) to a Proto.
func ProtoOfTransport(tr int) Proto {
	switch tr {
	case sip.TransportTCP:
		return TCP
	case sip.TransportTLS:
		return TLS
	case sip.TransportWS:
		return WS
	case sip.TransportWSS:
		return WSS
	}
	return UDP
}

// Sender writes a serialized message to the network.
type Sender interface {
	SendTo(b []byte, proto Proto, to netip.AddrPort) error
}

// Flusher is a Sender that may hold UDP datagrams back until its worker
// has handled the whole batch they came from. Flush sends them now: tm
// calls it where another worker's next send must not overtake what it
// has just sent.
type Flusher interface {
	Flush()
}

// RouteKind says which routing block is running.
type RouteKind uint8

const (
	RequestRoute RouteKind = iota + 1
	ReplyRoute
	OnReplyRoute
	FailureRoute
	BranchRoute
	OnSendRoute
	EventRoute
)

// Ctx is the per-message context a worker reuses for every message it
// handles. Exported functions get it as their first argument. Nothing in it
// is safe to keep after the route returns.
type Ctx struct {
	Msg   *sip.Msg
	Src   netip.AddrPort // where the message came from
	Local netip.AddrPort // the socket it arrived on
	Proto Proto
	// ConnID is the stream connection the message came on ($conid), 0
	// for UDP: replies to Src go back on it.
	ConnID uint64
	// ConnFlags are the connection controls the script set for this
	// message (set_reply_no_connect and friends): ConnReplyNoConnect...
	ConnFlags uint8
	// Conn is the TCP or TLS connection the message came on; nil for
	// UDP. The tls module reads the peer's certificate from it.
	Conn  StreamConn
	Out   Sender
	RT    *Runtime
	Route RouteKind
	// logLevel is SetLogLevel's level plus levelSet; 0 when unset.
	logLevel int
	// Stats is the worker's counters (Count); nil outside a worker.
	Stats *StatBlock

	Flags       uint64 // message flags (setflag)
	BranchFlags uint64 // branch 0 flags (setbflag)
	DstURI      string // the outbound proxy set by setdsturi; "" when unset
	DstConnID   uint64 // the TCP/TLS connection to send branch 0 on (lookup of a binding registered over one); 0 for none
	ForceRport  bool   // force_rport: reply to the source port as if rport were asked
	// SerError is Kamailio's ser_error: why the last relay of this
	// message failed (ESend when it could not be sent), for
	// sl_reply_error's status; 0 when none did.
	SerError int
	// Path is branch 0's route set from a binding registered through
	// edge proxies (lookup, RFC 3327), comma-separated name-addrs: tm and
	// forward send the request with it as Route; "" for none.
	Path string

	// VM is the script VM running this message; modules use it to run
	// named routes (failure, branch, onreply) for the same message.
	VM VM

	// Seq numbers the messages a Ctx has carried; MsgState compares it
	// to clear a module's state when the next message starts.
	Seq uint64

	// Branches are the extra destinations added by append_branch and
	// lookup, beside the Request-URI (branch 0). Reset empties it.
	Branches []Branch

	// Scratch is a worker-owned buffer for building replies; reuse it with
	// Scratch[:0] and store it back when it grew.
	Scratch []byte

	err       error
	stopped   bool
	dropped   bool
	msgStates [maxMsgStates]msgSlot // MsgState handles

	// What the next reply to this message carries besides what its
	// sender builds, and who sends it statefully (see reply.go).
	replyHdrs    []byte
	replyBody    []byte
	replyCType   []byte
	hasReplyBody bool
	txReply      TxReplyFunc
}

// ESend is Kamailio's E_SEND (-477): a request could not be sent to its
// next hop (a TCP connect refused, a stream that failed); sl_reply_error
// answers it with 477.
const ESend = -477

// Branch is one destination of a forking request.
type Branch struct {
	URI    string // Request-URI of the branch
	DstURI string // outbound proxy ($du), "" for none
	Path   string // Path header value to use as Route set, "" for none
	Q      int    // q-value times 1000; -1 when not given
	Flags  uint64 // branch flags
	Socket string // forced send socket, "" for default
	// Instance and RegID identify an RFC 5626 flow, for lookup_branches.
	Instance string
	RegID    int
	// ConnID is the TCP/TLS connection the binding was registered over
	// (lookup); the branch is sent on it while it is open.
	ConnID uint64
}

// Reset prepares the context for the next message.
func (c *Ctx) Reset(msg *sip.Msg, src, local netip.AddrPort, proto Proto) {
	c.Msg, c.Src, c.Local, c.Proto = msg, src, local, proto
	c.ConnID, c.ConnFlags, c.Conn = 0, 0, nil
	c.Route = RequestRoute
	c.Flags, c.BranchFlags = 0, 0
	c.DstURI, c.ForceRport, c.DstConnID, c.SerError = "", false, 0, 0
	c.Path = ""
	c.Branches = c.Branches[:0]
	c.Seq++
	c.err, c.stopped, c.dropped = nil, false, false
	c.resetReply()
}

// Fail records err for the engine to raise and returns ErrorValue().
func (c *Ctx) Fail(err error) Value {
	c.err = err
	return ErrorValue()
}

// Err returns the error recorded by Fail and clears it.
func (c *Ctx) Err() error {
	err := c.err
	c.err = nil
	if err == nil {
		err = errors.New("unknown error")
	}
	return err
}

// Stop ends the current route; drop also discards the message (no relay,
// no automatic reply). It returns the KExit value engines unwind on.
func (c *Ctx) Stop(drop bool) Value {
	c.stopped = true
	c.dropped = c.dropped || drop
	return Exit()
}

// SetDrop marks the message dropped without stopping the route.
func (c *Ctx) SetDrop() { c.dropped = true }

// Stopped reports whether exit or drop was called.
func (c *Ctx) Stopped() bool { return c.stopped }

// Dropped reports whether the message is to be dropped.
func (c *Ctx) Dropped() bool { return c.dropped }

// IsMyself reports whether host:port names this server, through the
// runtime's Myself hook (listen addresses and aliases); without one (tests,
// tools) it compares with the socket the message arrived on. Port 0 means
// any port, as Kamailio's check_self does for a URI without one.
func (c *Ctx) IsMyself(host []byte, port int) bool {
	if len(host) == 0 {
		return false
	}
	if c.RT != nil && c.RT.Myself != nil {
		return c.RT.Myself(host, port)
	}
	if port != 0 && port != int(c.Local.Port()) {
		return false
	}
	a, ok := (sip.URI{Host: host}).HostAddr()
	return ok && a.Unmap() == c.Local.Addr().Unmap()
}

// Log is how modules log about the message in hand, with the context's
// log prefix. Error lines (ERROR and above) while a message is in hand share
// one LogLimit per logger: what a peer sends can make a module fail on
// every message, and that must not flood the log. Lines below ERROR
// (NOTICE for a failed authentication, say, which fail2ban-style tools
// read) are never held back. Values from the message go in through
// LogValue or LogQuote.
func (c *Ctx) Log(level int, msg string) {
	if c.RT == nil || c.RT.Log == nil {
		return
	}
	l := c.RT.Log
	if level <= LErr && c.Msg != nil {
		l.LogLimited(&l.errs, level, c, msg)
		return
	}
	l.Log(level, c, msg)
}

// SetLogLevel gives this context (a worker's, kept across its messages)
// its own log level, as Kamailio's setdebug does for one process; the
// lines logged through it follow that level instead of the global one.
func (c *Ctx) SetLogLevel(level int) { c.logLevel = level + levelSet }

// ResetLogLevel goes back to the global level (resetdebug).
func (c *Ctx) ResetLogLevel() { c.logLevel = 0 }

// LogEnabled reports whether a line at level logged through c would be
// written (for some module, when modules have levels of their own).
func (c *Ctx) LogEnabled(level int) bool {
	if c.RT == nil {
		return false
	}
	return c.RT.Log.enabledFor(level, c)
}

// ScriptLog is the script's own logging (KSR.log, KSR.err, xlog, print).
// Lines below ERROR are never held back: what a script logs and how often
// is the operator's choice. ERROR and worse lines about a message go
// through a generous limit (ScriptErrBurst, then ScriptErrPerSec a second),
// because scripts such as Kamailio's examples log an error for every
// malformed request, so a flood of bad datagrams would otherwise write one
// line each. The logger keeps each line one line, cut at MaxLogLine bytes.
func (c *Ctx) ScriptLog(level int, msg string) {
	c.ScriptLogAs("script", level, msg)
}

// ScriptLogAs is ScriptLog for a line a module writes for the script
// (xlog): module names it in the JSON log.
func (c *Ctx) ScriptLogAs(module string, level int, msg string) {
	if c.RT == nil || c.RT.Log == nil {
		return
	}
	l := c.RT.Log
	if level <= LErr && c.Msg != nil {
		l.logLimited(l.scriptErrLimit(), level, c, msg, module)
		return
	}
	l.writeFrom(level, c, msg, nil, module)
}

// The limit on ERROR and worse lines from scripts (see Ctx.ScriptLog).
const (
	ScriptErrBurst  = 200
	ScriptErrPerSec = 50
)
