//go:build linux

package usrloc

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// blockingConn is the connection of the pub/sub subscriber: a socket in
// blocking mode, read by a plain read(2), outside Go's network poller.
//
// Why: the poller watches its sockets edge-triggered, so every message
// the server pushes wakes a thread of the process, even while the
// subscriber rests (redisPace) and nobody reads. Measured on three nodes
// with db_mode 1, that was about a quarter of a node's CPU per REGISTER:
// each node receives one message per REGISTER of any node. A blocking
// socket wakes nobody until it is read; the messages wait in the socket
// and one read takes them all.
type blockingConn struct {
	fd     int
	laddr  net.Addr
	raddr  net.Addr
	mu     sync.Mutex
	closed bool
}

// blockingDialer dials TCP or a Unix socket in blocking mode; with tlsc,
// TLS runs over it.
func blockingDialer(tlsc *tls.Config, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialBlocking(ctx, network, addr, timeout)
		if err != nil || tlsc == nil {
			return c, err
		}
		cfg := tlsc.Clone()
		if cfg.ServerName == "" {
			if h, _, err := net.SplitHostPort(addr); err == nil {
				cfg.ServerName = h
			}
		}
		tc := tls.Client(c, cfg)
		hctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		c.SetDeadline(time.Now().Add(timeout))
		if err := tc.HandshakeContext(hctx); err != nil {
			c.Close()
			return nil, err
		}
		c.SetDeadline(time.Time{})
		return tc, nil
	}
}

func dialBlocking(ctx context.Context, network, addr string, timeout time.Duration) (net.Conn, error) {
	var sa syscall.Sockaddr
	var family int
	var raddr net.Addr
	switch network {
	case "unix":
		family, sa, raddr = syscall.AF_UNIX, &syscall.SockaddrUnix{Name: addr}, &net.UnixAddr{Name: addr, Net: "unix"}
	case "tcp", "tcp4", "tcp6":
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", hostOf(addr))
		if err != nil {
			return nil, err
		}
		ta, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			return nil, err
		}
		ip := ips[0].Unmap()
		raddr = &net.TCPAddr{IP: ip.AsSlice(), Port: ta.Port}
		if ip.Is4() {
			family, sa = syscall.AF_INET, &syscall.SockaddrInet4{Addr: ip.As4(), Port: ta.Port}
		} else {
			family, sa = syscall.AF_INET6, &syscall.SockaddrInet6{Addr: ip.As16(), Port: ta.Port}
		}
	default:
		return nil, errors.New("usrloc: subscriber: network " + network + " not supported")
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	c := &blockingConn{fd: fd, raddr: raddr}
	// connect(2) on a blocking socket honours the send timeout.
	if err := c.setTimeout(syscall.SO_SNDTIMEO, timeout); err != nil {
		c.Close()
		return nil, err
	}
	for {
		err = syscall.Connect(fd, sa)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		c.Close()
		if err == syscall.EINPROGRESS || err == syscall.EAGAIN {
			err = timeoutError{}
		}
		return nil, &net.OpError{Op: "dial", Net: network, Addr: raddr, Err: err}
	}
	c.setTimeout(syscall.SO_SNDTIMEO, 0)
	if family != syscall.AF_UNIX {
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
	}
	if la, err := syscall.Getsockname(fd); err == nil {
		switch a := la.(type) {
		case *syscall.SockaddrInet4:
			c.laddr = &net.TCPAddr{IP: a.Addr[:], Port: a.Port}
		case *syscall.SockaddrInet6:
			c.laddr = &net.TCPAddr{IP: a.Addr[:], Port: a.Port}
		}
	}
	if c.laddr == nil {
		c.laddr = &net.UnixAddr{Net: network}
	}
	return c, nil
}

func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func (c *blockingConn) Read(p []byte) (int, error) {
	for {
		n, err := syscall.Read(c.fd, p)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return 0, &net.OpError{Op: "read", Net: "tcp", Addr: c.raddr, Err: timeoutError{}}
		case err != nil:
			return 0, &net.OpError{Op: "read", Net: "tcp", Addr: c.raddr, Err: err}
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (c *blockingConn) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := syscall.Write(c.fd, p[done:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return done, &net.OpError{Op: "write", Net: "tcp", Addr: c.raddr, Err: timeoutError{}}
		case err != nil:
			return done, &net.OpError{Op: "write", Net: "tcp", Addr: c.raddr, Err: err}
		}
		done += n
	}
	return done, nil
}

// Close shuts the socket down first: that ends a read blocked in
// another goroutine.
func (c *blockingConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	syscall.Shutdown(c.fd, syscall.SHUT_RDWR)
	return syscall.Close(c.fd)
}

func (c *blockingConn) LocalAddr() net.Addr  { return c.laddr }
func (c *blockingConn) RemoteAddr() net.Addr { return c.raddr }

func (c *blockingConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

func (c *blockingConn) SetReadDeadline(t time.Time) error {
	return c.setTimeout(syscall.SO_RCVTIMEO, until(t))
}

func (c *blockingConn) SetWriteDeadline(t time.Time) error {
	return c.setTimeout(syscall.SO_SNDTIMEO, until(t))
}

// until turns a deadline into a socket timeout: 0 is none, a deadline
// already passed is the shortest timeout.
func until(t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return max(time.Until(t), time.Microsecond)
}

func (c *blockingConn) setTimeout(opt int, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	tv := syscall.NsecToTimeval(d.Nanoseconds())
	return syscall.SetsockoptTimeval(c.fd, syscall.SOL_SOCKET, opt, &tv)
}
