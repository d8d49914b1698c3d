package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
)

// MaxDatagram is the largest datagram handed to a Handler or accepted by a
// Writer. The receive buffers are one byte larger, so that a longer datagram
// is seen as longer and dropped instead of being cut silently.
const MaxDatagram = 65535

// Defaults used for zero UDPConfig fields.
const (
	DefaultBatch      = 16
	DefaultRecvBuffer = 8 << 20
	DefaultSendBuffer = 8 << 20
	// MaxBatch bounds UDPConfig.Batch: each slot holds a 64 KiB buffer.
	MaxBatch = 1024
)

// ErrClosed is returned by WriteTo after Close.
var ErrClosed = errors.New("transport: use of closed UDP listener")

// Writer sends datagrams. WriteTo copies b before it returns, so the caller
// may reuse b at once. A Writer handed to a Handler may queue the datagram
// until the handler has seen the whole batch it belongs to; errors known at
// queue time (a bad address, an oversize datagram) are returned, while send
// failures are counted in Stats.SendErrors.
type Writer interface {
	WriteTo(b []byte, to netip.AddrPort) error
}

// Flusher is a Writer that holds datagrams back until the batch ends:
// Flush sends what it holds now. A handler calls it when a datagram must
// leave before one that another reader may send next (tm relaying a
// provisional reply, which a final reply handled by another reader must
// not overtake).
type Flusher interface {
	Flush()
}

// Handler receives datagrams. data is only valid during the call (its buffer
// is reused for the next datagram). from is unmapped: an IPv4 peer of an IPv6
// socket shows as an IPv4 address. Replies written to out are sent in order,
// after the handler has returned for every datagram of the current batch,
// or earlier when the handler flushes out (see Flusher).
// out is only valid during the call; to send later, use UDP.WriteTo.
type Handler interface {
	HandlePacket(data []byte, from netip.AddrPort, out Writer)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(data []byte, from netip.AddrPort, out Writer)

// HandlePacket calls f.
func (f HandlerFunc) HandlePacket(data []byte, from netip.AddrPort, out Writer) {
	f(data, from, out)
}

// UDPConfig configures ListenUDP. Zero fields take defaults.
type UDPConfig struct {
	// Addr is the local address: "127.0.0.1:5060", "[::1]:5060",
	// "0.0.0.0:5060" (every IPv4 address) or ":5060" and "[::]:5060"
	// (every address, IPv4 and IPv6). Port 0 picks a free port (see
	// UDP.LocalAddr).
	Addr string
	// Readers is the number of reader goroutines, each with its own
	// Handler. Default: GOMAXPROCS.
	Readers int
	// Batch is the number of datagrams received per system call, and the
	// number of replies sent per call; 1 turns batching off. Default
	// DefaultBatch, at most MaxBatch.
	Batch int
	// RecvBuffer and SendBuffer are the socket buffer sizes in bytes.
	// Bursts larger than RecvBuffer are lost, so the default is large
	// (DefaultRecvBuffer). When the process may (CAP_NET_ADMIN) the size is
	// forced past net.core.rmem_max / wmem_max; otherwise it is capped there.
	RecvBuffer, SendBuffer int
}

func (c UDPConfig) withDefaults() (UDPConfig, error) {
	if c.Readers == 0 {
		c.Readers = runtime.GOMAXPROCS(0)
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	if c.RecvBuffer == 0 {
		c.RecvBuffer = DefaultRecvBuffer
	}
	if c.SendBuffer == 0 {
		c.SendBuffer = DefaultSendBuffer
	}
	switch {
	case c.Readers < 0:
		return c, fmt.Errorf("transport: UDP %s: Readers must be >= 1, got %d", c.Addr, c.Readers)
	case c.Batch < 0 || c.Batch > MaxBatch:
		return c, fmt.Errorf("transport: UDP %s: Batch must be 1..%d, got %d", c.Addr, MaxBatch, c.Batch)
	case c.RecvBuffer < 0 || c.SendBuffer < 0:
		return c, fmt.Errorf("transport: UDP %s: buffer sizes must be >= 0, got RecvBuffer %d, SendBuffer %d", c.Addr, c.RecvBuffer, c.SendBuffer)
	}
	return c, nil
}

// Stats are a UDP listener's counters since ListenUDP.
type Stats struct {
	Received   uint64 // datagrams handed to handlers
	Sent       uint64 // datagrams the kernel accepted
	Batches    uint64 // receive system calls that returned datagrams
	SendErrors uint64 // datagrams the kernel refused (unreachable, no buffer space, ...)
	Oversize   uint64 // datagrams dropped: larger than MaxDatagram or truncated
}

// stats is the live form of Stats. Readers add once per batch, not once
// per datagram, to keep the shared cache line quiet.
type stats struct {
	received, sent, batches, sendErrors, oversize atomic.Uint64
}

func (s *stats) snapshot() Stats {
	return Stats{
		Received:   s.received.Load(),
		Sent:       s.sent.Load(),
		Batches:    s.batches.Load(),
		SendErrors: s.sendErrors.Load(),
		Oversize:   s.oversize.Load(),
	}
}

// checkSend validates a datagram before it is queued or sent.
func checkSend(b []byte, to netip.AddrPort) error {
	if len(b) > MaxDatagram {
		return fmt.Errorf("transport: UDP send to %s: datagram of %d bytes, want at most %d", to, len(b), MaxDatagram)
	}
	if !to.IsValid() || to.Port() == 0 {
		return fmt.Errorf("transport: UDP send: invalid destination %s", to)
	}
	return nil
}

// network picks the socket family for a listen address. An IPv4 literal,
// 0.0.0.0 included, gets an IPv4 socket: Go would make "0.0.0.0" a
// dual-stack IPv6 socket, and LocalAddr would then say [::]. Anything else
// (a name, an IPv6 literal, no host) is left to Go, which makes a wildcard a
// dual-stack socket.
func network(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
			return "udp4"
		}
	}
	return "udp"
}
