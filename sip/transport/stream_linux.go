//go:build linux

package transport

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// peek is the RawConn.Read callback of an idle connection: it reports
// whether the socket has something to read (data, end of file or an error)
// without taking it, so the connection needs no buffer while it waits.
func (c *Conn) peek(fd uintptr) bool {
	var b [1]byte
	_, _, e := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
		unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
	return e != unix.EAGAIN
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
