//go:build linux

package transport

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// peek is the RawConn.Read callback of an idle connection: it reads
// what the socket has into a buffer from the pool, taken only for the
// read and given back when there is nothing (EAGAIN), so an idle
// connection holds no buffer while it waits; one syscall per message
// instead of a MSG_PEEK and a read. c.buf, c.w and c.idleErr carry what
// it got to the reader loop (0 bytes and no error: end of file).
func (c *Conn) peek(fd uintptr) bool {
	b := c.s.getBuf()
	n, _, e := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN || e == unix.EINTR {
		c.s.putBuf(b)
		return false
	}
	c.buf, c.r, c.w, c.idleErr = b, 0, 0, nil
	if e != 0 {
		c.idleErr = e
	} else {
		c.w = int(n)
	}
	return true
}

// canPeek: idle TCP connections wait without a buffer.
const canPeek = true

// rawWriteFn writes s.wb without waiting: the RawConn.Write callback
// returns true whatever happened, and EAGAIN leaves the rest to the queue.
func (s *sock) rawWriteFn(fd uintptr) bool {
	s.wn, s.werr = 0, 0
	if len(s.wb) == 0 {
		return true
	}
	n, _, e := unix.Syscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&s.wb[0])), uintptr(len(s.wb)),
		unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
	if e != 0 {
		s.werr = e
		return true
	}
	s.wn = int(n)
	return true
}
