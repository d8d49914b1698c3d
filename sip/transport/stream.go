package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync/atomic"
	"time"
)

// StreamProto is a stream transport.
type StreamProto uint8

const (
	TCP StreamProto = iota + 1
	TLS
)

func (p StreamProto) String() string {
	switch p {
	case TCP:
		return "tcp"
	case TLS:
		return "tls"
	case WS:
		return "ws"
	case WSS:
		return "wss"
	}
	return fmt.Sprintf("StreamProto(%d)", uint8(p))
}

// Defaults for zero StreamConfig fields; they are Kamailio's where it has
// the same setting.
const (
	DefaultMaxMessage     = MaxDatagram      // as UDP (Kamailio's BUF_SIZE)
	DefaultMessageTimeout = 20 * time.Second // tcp_msg_read_timeout
	DefaultFirstData      = 20 * time.Second // tcp_msg_data_timeout
	DefaultIdleTimeout    = 120 * time.Second
	DefaultMaxConns       = 2048 // tcp_max_connections, tls_max_connections
	DefaultConnectTimeout = 10 * time.Second
	DefaultSendTimeout    = 10 * time.Second
	DefaultWriteQueue     = 256 << 10
	// streamReadBuf is a connection's first read buffer; it grows (up to
	// MaxMessage) for a larger message and goes back to a shared pool when
	// the connection has nothing pending.
	streamReadBuf = 4096
)

// StreamConfig holds the limits shared by every TCP and TLS connection of a
// Streams. Zero fields take defaults; a negative duration turns that limit
// off.
type StreamConfig struct {
	// MaxMessage is the largest message, headers and body. A peer that
	// sends a longer one loses its connection. Default DefaultMaxMessage.
	MaxMessage int
	// MessageTimeout bounds the time from a message's first byte to its
	// last, headers and body (Kamailio's tcp_msg_read_timeout). A TLS
	// handshake gets the same time. Default DefaultMessageTimeout.
	MessageTimeout time.Duration
	// FirstDataTimeout closes an accepted connection that sends nothing
	// this long after it was opened (Kamailio's tcp_msg_data_timeout), so
	// silent connections do not hold a slot for the whole IdleTimeout.
	// Default DefaultFirstData.
	FirstDataTimeout time.Duration
	// IdleTimeout closes a connection that carried nothing, in either
	// direction, for this long (Kamailio's tcp_connection_lifetime).
	// Default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxLifetime closes a connection this long after it was opened,
	// however busy. Default: off (kemi's own; Kamailio has none).
	MaxLifetime time.Duration
	// MaxTCP and MaxTLS are the most open connections, accepted and
	// opened together (tcp_max_connections, tls_max_connections). Default
	// DefaultMaxConns each.
	MaxTCP, MaxTLS int
	// ConnectTimeout bounds opening a connection, TLS handshake included
	// (tcp_connect_timeout). Default DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// SendTimeout bounds how long queued data may wait for the peer to
	// read it; a peer that does not read loses its connection
	// (tcp_send_timeout). Writes never block the writer: see WriteQueue.
	// Default DefaultSendTimeout.
	SendTimeout time.Duration
	// WriteQueue is the most bytes queued on one connection when the
	// kernel's send buffer is full (Kamailio's tcp_conn_wq_max); past it
	// the connection is closed. Default DefaultWriteQueue.
	WriteQueue int
	// AcceptNoCL takes a message without Content-Length as having no body
	// (tcp_accept_no_cl); otherwise the connection is closed.
	AcceptNoCL bool
	// NoCRLFPong stops answering CRLFCRLF keepalives (tcp_crlf_ping=no).
	NoCRLFPong bool
	// Workers is the number of handlers messages are shared among.
	// Default GOMAXPROCS.
	Workers int
	// TLS gives the TLS configurations; required for ListenTLS and for
	// opening TLS connections.
	TLS TLSConfigs
}

// TLSConfigs picks the crypto/tls configuration for each new connection.
// It is asked on every handshake, so an implementation that swaps its
// configurations (a certificate reload) affects new connections at once.
// tlscfg.Store implements it from a Kamailio tls.cfg.
type TLSConfigs interface {
	// ServerConfig is for a connection accepted on local. It may pick by
	// SNI through GetConfigForClient.
	ServerConfig(local netip.AddrPort) (*tls.Config, error)
	// ClientConfig is for a connection opened to remote; serverName is
	// the SNI asked for by the sender (may be empty).
	ClientConfig(remote netip.AddrPort, serverName string) (*tls.Config, error)
}

func (c StreamConfig) withDefaults() (StreamConfig, error) {
	dur := func(d *time.Duration, def time.Duration) {
		switch {
		case *d == 0:
			*d = def
		case *d < 0:
			*d = 0
		}
	}
	if c.MaxMessage == 0 {
		c.MaxMessage = DefaultMaxMessage
	}
	dur(&c.MessageTimeout, DefaultMessageTimeout)
	dur(&c.IdleTimeout, DefaultIdleTimeout)
	dur(&c.FirstDataTimeout, DefaultFirstData)
	dur(&c.MaxLifetime, -1)
	dur(&c.ConnectTimeout, DefaultConnectTimeout)
	dur(&c.SendTimeout, DefaultSendTimeout)
	if c.WriteQueue == 0 {
		c.WriteQueue = DefaultWriteQueue
	}
	if c.MaxTCP == 0 {
		c.MaxTCP = DefaultMaxConns
	}
	if c.MaxTLS == 0 {
		c.MaxTLS = DefaultMaxConns
	}
	if c.Workers == 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	switch {
	case c.MaxMessage < 64 || c.MaxMessage > 1<<30:
		return c, fmt.Errorf("transport: stream MaxMessage must be 64..%d, got %d", 1<<30, c.MaxMessage)
	case c.MaxTCP < 0 || c.MaxTLS < 0:
		return c, fmt.Errorf("transport: stream MaxTCP and MaxTLS must be >= 0, got %d and %d", c.MaxTCP, c.MaxTLS)
	case c.Workers < 0:
		return c, fmt.Errorf("transport: stream Workers must be >= 1, got %d", c.Workers)
	}
	return c, nil
}

// StreamStats are a Streams' counters. Every field is updated atomically
// and may be read at any time. The Closed* counters say why connections
// ended; each closed connection counts in exactly one of them.
type StreamStats struct {
	Accepted    atomic.Uint64 // connections accepted
	Opened      atomic.Uint64 // connections opened to a peer
	Open        atomic.Int64  // connections open now (TCP and TLS)
	OpenTCP     atomic.Int64
	OpenTLS     atomic.Int64
	Received    atomic.Uint64 // messages handed to handlers
	Sent        atomic.Uint64 // messages written
	Pings       atomic.Uint64 // CRLFCRLF keepalives received
	RefusedMax  atomic.Uint64 // accepts and opens refused: at MaxTCP/MaxTLS
	ConnectFail atomic.Uint64 // opens that failed (refused, timeout, handshake)

	ClosedByPeer      atomic.Uint64 // the peer closed (or reset) it
	ClosedLocal       atomic.Uint64 // closed here: Close, close-after-send, shutdown
	ClosedIdle        atomic.Uint64 // IdleTimeout
	ClosedSilent      atomic.Uint64 // FirstDataTimeout: accepted, and nothing received
	ClosedLifetime    atomic.Uint64 // MaxLifetime
	ClosedSlow        atomic.Uint64 // MessageTimeout: a message (or handshake) took too long
	ClosedTooBig      atomic.Uint64 // MaxMessage exceeded
	ClosedNoCL        atomic.Uint64 // a message without Content-Length
	ClosedBadCL       atomic.Uint64 // an invalid or contradictory Content-Length
	ClosedHandshake   atomic.Uint64 // TLS handshake failed (bad or missing certificate, ...)
	ClosedSendTimeout atomic.Uint64 // queued data not read by the peer within SendTimeout
	ClosedQueueFull   atomic.Uint64 // more than WriteQueue bytes waiting for the peer
	ClosedSendError   atomic.Uint64 // a write failed
	ClosedReadError   atomic.Uint64 // another read error
	ClosedBadFrame    atomic.Uint64 // a WebSocket frame broke RFC 6455 (unmasked, reserved bits, bad UTF-8...)
	ClosedNoPong      atomic.Uint64 // a WebSocket keepalive ping went unanswered
	ClosedHTTP        atomic.Uint64 // an HTTP request refused (400, 411, 413) before a handler saw it

	Upgraded    atomic.Uint64 // connections upgraded to WebSocket
	WSBadFrames atomic.Uint64 // WebSocket frames refused
	WSPings     atomic.Uint64 // WebSocket keepalive pings sent
}

// closeReason says why a connection ended; the first reason set wins.
type closeReason int32

const (
	reasonNone closeReason = iota
	reasonPeer
	reasonLocal
	reasonIdle
	reasonSilent
	reasonLifetime
	reasonSlow
	reasonTooBig
	reasonNoCL
	reasonBadCL
	reasonHandshake
	reasonSendTimeout
	reasonQueueFull
	reasonSendError
	reasonReadError
	reasonBadFrame
	reasonNoPong
	reasonHTTP
	// reasonPingDue is not a reason to close: armDeadline's way to say a
	// WebSocket keepalive is due.
	reasonPingDue
)

func (s *StreamStats) closed(r closeReason) {
	c := [...]*atomic.Uint64{
		reasonNone: &s.ClosedLocal, reasonPeer: &s.ClosedByPeer, reasonLocal: &s.ClosedLocal,
		reasonIdle: &s.ClosedIdle, reasonSilent: &s.ClosedSilent, reasonLifetime: &s.ClosedLifetime, reasonSlow: &s.ClosedSlow,
		reasonTooBig: &s.ClosedTooBig, reasonNoCL: &s.ClosedNoCL, reasonBadCL: &s.ClosedBadCL,
		reasonHandshake: &s.ClosedHandshake, reasonSendTimeout: &s.ClosedSendTimeout, reasonQueueFull: &s.ClosedQueueFull,
		reasonSendError: &s.ClosedSendError, reasonReadError: &s.ClosedReadError,
		reasonBadFrame: &s.ClosedBadFrame, reasonNoPong: &s.ClosedNoPong, reasonHTTP: &s.ClosedHTTP,
		reasonPingDue: &s.ClosedLocal,
	}
	c[r].Add(1)
}

func frameReason(err error) closeReason {
	switch {
	case errors.Is(err, ErrMessageTooBig):
		return reasonTooBig
	case errors.Is(err, ErrNoContentLength):
		return reasonNoCL
	default:
		return reasonBadCL
	}
}

// StreamHandler receives the messages of every stream connection. data is
// only valid during the call. A reply to data is written with c.Write (or
// Streams.Send with SendOptions.ConnID = c.ID()). Calls come from the
// connections' goroutines, but each handler value is used by one call at a
// time: Streams keeps Workers handlers and lends one per message, so a
// handler may keep per-worker state (a script VM) without locking.
type StreamHandler interface {
	HandleStream(data []byte, c *Conn)
}

// StreamHandlerFunc adapts a function to StreamHandler.
type StreamHandlerFunc func(data []byte, c *Conn)

// HandleStream calls f.
func (f StreamHandlerFunc) HandleStream(data []byte, c *Conn) { f(data, c) }

// SendOptions control Streams.Send. They carry Kamailio's connection
// controls: set_forward_close / set_reply_close (CloseAfter),
// set_forward_no_connect / set_reply_no_connect (NoConnect).
type SendOptions struct {
	// ConnID, when not 0, is the connection to use first: the one a
	// request came in on, for its replies, or the one a contact was
	// registered over. When it is gone, the send falls back to a
	// connection to the same address, then to opening one.
	ConnID uint64
	// NoConnect fails the send with ErrNoConnection instead of opening a
	// new connection.
	NoConnect bool
	// CloseAfter closes the connection once the message is written.
	CloseAfter bool
	// ServerName is the TLS SNI for a new connection (a next hop's host
	// name); it also selects a tls.cfg client section by server_name.
	ServerName string
}

// ErrNoConnection is returned by Send with NoConnect when no open
// connection leads to the destination.
var ErrNoConnection = errors.New("transport: no open connection to the destination")

// ErrStreamsClosed is returned after Streams.Close.
var ErrStreamsClosed = errors.New("transport: streams closed")
