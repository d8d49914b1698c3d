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
