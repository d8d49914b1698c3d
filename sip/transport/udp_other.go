//go:build !linux

package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// UDP is a UDP listener. This portable version reads and writes one
// datagram per system call; see udp_linux.go for the batched one.
type UDP struct {
	cfg     UDPConfig
	local   netip.AddrPort
	conn    *net.UDPConn
	stats   stats
	maxData int

	mu      sync.Mutex
	serving bool
	closed  atomic.Bool
	readers sync.WaitGroup
}

// ListenUDP opens and binds the socket. Serve starts reading.
func ListenUDP(cfg UDPConfig) (*UDP, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	pc, err := net.ListenPacket(network(cfg.Addr), cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("transport: UDP listen %s: %w", cfg.Addr, err)
	}
	c := pc.(*net.UDPConn)
	// Best effort: the OS caps these at its own limit.
	c.SetReadBuffer(cfg.RecvBuffer)
	c.SetWriteBuffer(cfg.SendBuffer)
	la := c.LocalAddr().(*net.UDPAddr).AddrPort()
	return &UDP{cfg: cfg, conn: c, maxData: MaxDatagram,
		local: netip.AddrPortFrom(la.Addr().Unmap(), la.Port())}, nil
}

// LocalAddr is the bound address, with the port the kernel picked for 0.
func (u *UDP) LocalAddr() netip.AddrPort { return u.local }

// Stats returns the counters.
func (u *UDP) Stats() Stats { return u.stats.snapshot() }

// Serve runs cfg.Readers readers, each with the handler newHandler returns
// for its index, and blocks until Close. It returns nil after Close, or the
// first error that stopped a reader (after closing the listener).
func (u *UDP) Serve(newHandler func(reader int) Handler) error {
	u.mu.Lock()
	if u.closed.Load() {
		u.mu.Unlock()
		return nil
	}
	if u.serving {
		u.mu.Unlock()
		return fmt.Errorf("transport: UDP %s: Serve called twice", u.local)
	}
	u.serving = true
	hs := make([]Handler, u.cfg.Readers)
	for i := range hs {
		hs[i] = newHandler(i)
	}
	u.readers.Add(len(hs))
	u.mu.Unlock()
	errs := make(chan error, len(hs))
	for _, h := range hs {
		go func() {
			err := u.read(h)
			// Done before Close, which waits for every reader.
			u.readers.Done()
			if err != nil {
				u.Close()
			}
			errs <- err
		}()
	}
	var first error
	for range hs {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (u *UDP) read(h Handler) error {
	buf := make([]byte, MaxDatagram+1)
	for {
		n, from, err := u.conn.ReadFromUDPAddrPort(buf)
		if u.closed.Load() {
			return nil
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("transport: UDP %s: read: %w", u.local, err)
		}
		u.stats.batches.Add(1)
		if n > u.maxData {
			u.stats.oversize.Add(1)
			continue
		}
		u.stats.received.Add(1)
		h.HandlePacket(buf[:n], netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), u)
	}
}

// Flush implements Flusher. WriteTo sends at once, so nothing is held.
func (u *UDP) Flush() {}

// WriteTo sends one datagram now. It is safe for concurrent use.
func (u *UDP) WriteTo(b []byte, to netip.AddrPort) error {
	if u.closed.Load() {
		return ErrClosed
	}
	if err := checkSend(b, to); err != nil {
		return err
	}
	if u.local.Addr().Is6() && to.Addr().Is4() {
		to = netip.AddrPortFrom(netip.AddrFrom16(to.Addr().As16()), to.Port())
	}
	if _, err := u.conn.WriteToUDPAddrPort(b, to); err != nil {
		u.stats.sendErrors.Add(1)
		return fmt.Errorf("transport: UDP send to %s: %w", to, err)
	}
	u.stats.sent.Add(1)
	return nil
}

// Close stops the readers and closes the socket. Later calls do nothing.
func (u *UDP) Close() error {
	u.mu.Lock()
	if u.closed.Swap(true) {
		u.mu.Unlock()
		return nil
	}
	u.mu.Unlock()
	err := u.conn.Close()
	u.readers.Wait()
	if err != nil {
		return fmt.Errorf("transport: UDP close %s: %w", u.local, err)
	}
	return nil
}
