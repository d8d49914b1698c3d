//go:build linux

package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// How a reader waits for datagrams. Development knob, settled by measurement.
const (
	modeBlock = iota // blocking socket, recvmmsg(MSG_WAITFORONE) in Syscall
	modeTry          // blocking socket, first a MSG_DONTWAIT RawSyscall, then block
	modePoll         // nonblocking socket, RawConn.Read (Go netpoller)
)

var devMode = func() int {
	switch os.Getenv("KEMI_UDP_MODE") {
	case "try":
		return modeTry
	case "poll":
		return modePoll
	}
	return modeBlock
}()

var devLock = os.Getenv("KEMI_UDP_LOCK") != ""

// UDP is a UDP listener. See the package doc.
type UDP struct {
	cfg   UDPConfig
	local netip.AddrPort
	sock  udpSocket
	stats stats
	// maxData is MaxDatagram except in tests of the oversize path.
	maxData int

	mu      sync.Mutex // guards serving and closed transitions
	serving bool
	closed  atomic.Bool
	readers sync.WaitGroup

	directMu sync.Mutex // guards direct and, in block mode, the fd's life
	direct   *sendQueue
}

// udpSocket is the one socket all readers share.
type udpSocket struct {
	mode int
	v6   bool
	fd   int          // block modes: owned here
	pc   *net.UDPConn // poll mode: owns the fd
	rc   syscall.RawConn
}

// ListenUDP opens and binds the socket. Serve starts reading.
func ListenUDP(cfg UDPConfig) (*UDP, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	bind, err := resolveUDP(cfg.Addr)
	if err != nil {
		return nil, err
	}
	u := &UDP{cfg: cfg, maxData: MaxDatagram}
	u.sock.mode = devMode
	if err := u.open(bind); err != nil {
		return nil, fmt.Errorf("transport: UDP listen %s: %w", cfg.Addr, err)
	}
	u.direct = newSendQueue(u, 1)
	return u, nil
}

func (u *UDP) open(bind netip.AddrPort) error {
	v6 := bind.Addr().Is6()
	family := unix.AF_INET
	if v6 {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	if v6 && bind.Addr().IsUnspecified() {
		// "[::]" serves IPv4 peers too, whatever net.ipv6.bindv6only says.
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0); err != nil {
			return fmt.Errorf("IPV6_V6ONLY: %w", err)
		}
	}
	// No SO_REUSEADDR: on UDP it would let a second server bind the same
	// address and silently take part of the traffic.
	if err := setBuffer(fd, unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, u.cfg.RecvBuffer); err != nil {
		return err
	}
	if err := setBuffer(fd, unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, u.cfg.SendBuffer); err != nil {
		return err
	}
	sa, err := toSockaddr(bind, v6)
	if err != nil {
		return err
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		return fmt.Errorf("getsockname: %w", err)
	}
	u.local = fromSockaddr(got)
	u.sock.v6 = v6
	u.sock.fd = fd
	if u.sock.mode == modePoll {
		f := os.NewFile(uintptr(fd), "udp")
		pc, err := net.FilePacketConn(f) // dups fd and makes it nonblocking
		f.Close()
		ok = true // f.Close closed fd
		if err != nil {
			return fmt.Errorf("FilePacketConn: %w", err)
		}
		u.sock.pc = pc.(*net.UDPConn)
		if u.sock.rc, err = u.sock.pc.SyscallConn(); err != nil {
			pc.Close()
			return fmt.Errorf("SyscallConn: %w", err)
		}
		u.sock.fd = -1
	}
	ok = true
	return nil
}

// setBuffer sets a socket buffer size, past the sysctl limit when allowed.
func setBuffer(fd, force, plain, size int) error {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, size) == nil {
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, plain, size); err != nil {
		return fmt.Errorf("setsockopt buffer size %d: %w", size, err)
	}
	return nil
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
	rs := make([]*reader, u.cfg.Readers)
	for i := range rs {
		rs[i] = newReader(u, newHandler(i))
	}
	u.readers.Add(len(rs))
	u.mu.Unlock()

	errs := make(chan error, len(rs))
	for _, r := range rs {
		go func() {
			defer u.readers.Done()
			err := r.run()
			if err != nil {
				u.Close()
			}
			errs <- err
		}()
	}
	var first error
	for range rs {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// WriteTo sends one datagram now. It is safe for concurrent use; replies to
// a datagram being handled go through the handler's Writer instead, which
// batches them.
func (u *UDP) WriteTo(b []byte, to netip.AddrPort) error {
	u.directMu.Lock()
	defer u.directMu.Unlock()
	if u.closed.Load() {
		return ErrClosed
	}
	if err := u.direct.WriteTo(b, to); err != nil {
		return err
	}
	if errno := u.direct.flush(); errno != 0 {
		return fmt.Errorf("transport: UDP send to %s: %w", to, errno)
	}
	return nil
}

// Close stops the readers, waits for them to finish their batch, and closes
// the socket. Later calls do nothing.
func (u *UDP) Close() error {
	u.mu.Lock()
	if u.closed.Swap(true) {
		u.mu.Unlock()
		return nil
	}
	u.mu.Unlock()
	var err error
	if u.sock.mode == modePoll {
		err = u.sock.pc.Close()
	} else {
		// shutdown(2) wakes threads blocked in recvmmsg on this socket
		// (they get 0 datagrams); close(2) would not. It reports
		// ENOTCONN for an unconnected socket but does the job anyway.
		unix.Shutdown(u.sock.fd, unix.SHUT_RD)
	}
	u.readers.Wait()
	if u.sock.mode != modePoll {
		u.directMu.Lock()
		err = unix.Close(u.sock.fd)
		u.sock.fd = -1
		u.directMu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("transport: UDP close %s: %w", u.local, err)
	}
	return nil
}

// reader is one reader goroutine's state; everything is allocated once.
type reader struct {
	u     *UDP
	h     Handler
	bufs  [][]byte
	names []sockaddr
	iovs  []unix.Iovec
	hdrs  []unix.Mmsghdr
	out   *sendQueue

	// poll mode: the RawConn.Read callback and its results
	readFn func(fd uintptr) bool
	n      int
	errno  syscall.Errno
}

func newReader(u *UDP, h Handler) *reader {
	n := u.cfg.Batch
	r := &reader{
		u:     u,
		h:     h,
		bufs:  make([][]byte, n),
		names: make([]sockaddr, n),
		iovs:  make([]unix.Iovec, n),
		hdrs:  make([]unix.Mmsghdr, n),
		// A handler may write more than one datagram per request (a
		// provisional reply and a forward), so the send queue holds two per
		// batch slot before it flushes early.
		out: newSendQueue(u, 2*n),
	}
	for i := range n {
		r.bufs[i] = make([]byte, MaxDatagram+1)
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(len(r.bufs[i]))
		h := &r.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Namelen = unix.SizeofSockaddrInet6
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
	}
	r.readFn = r.pollRead
	return r
}

func (r *reader) run() error {
	if devLock {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	u := r.u
	for {
		n, err := r.recv()
		if u.closed.Load() {
			return nil
		}
		if err != nil {
			if transient(err) {
				continue
			}
			return fmt.Errorf("transport: UDP %s: recvmmsg: %w", u.local, err)
		}
		if n == 0 {
			continue
		}
		bad := 0
		for i := range n {
			m := &r.hdrs[i]
			ln := int(m.Len)
			if m.Hdr.Flags&unix.MSG_TRUNC != 0 || ln > u.maxData {
				bad++
			} else {
				r.h.HandlePacket(r.bufs[i][:ln], addrPortOf(&r.names[i]), r.out)
			}
			m.Hdr.Namelen = unix.SizeofSockaddrInet6
		}
		r.out.flush()
		u.stats.batches.Add(1)
		u.stats.received.Add(uint64(n - bad))
		if bad > 0 {
			u.stats.oversize.Add(uint64(bad))
		}
	}
}

func transient(err error) bool {
	return errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) ||
		errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.ENOBUFS) ||
		errors.Is(err, unix.ECONNREFUSED)
}

// recv fills r.hdrs with up to Batch datagrams and returns how many.
func (r *reader) recv() (int, error) {
	s := &r.u.sock
	hdrs := uintptr(unsafe.Pointer(&r.hdrs[0]))
	vlen := uintptr(len(r.hdrs))
	switch s.mode {
	case modeTry:
		n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(s.fd), hdrs, vlen, unix.MSG_DONTWAIT, 0, 0)
		if e == 0 {
			return int(n), nil
		}
		if e != unix.EAGAIN {
			return 0, e
		}
		fallthrough
	case modeBlock:
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(s.fd), hdrs, vlen, unix.MSG_WAITFORONE, 0, 0)
		if e != 0 {
			return 0, e
		}
		return int(n), nil
	}
	if err := s.rc.Read(r.readFn); err != nil {
		return 0, err
	}
	if r.errno != 0 {
		return 0, r.errno
	}
	return r.n, nil
}

func (r *reader) pollRead(fd uintptr) bool {
	n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)), 0, 0, 0)
	if e == unix.EAGAIN {
		return false
	}
	r.n, r.errno = int(n), e
	return true
}

// sendQueue is the Writer handed to handlers: datagrams are copied into an
// arena and sent with one sendmmsg(2) by flush.
type sendQueue struct {
	u     *UDP
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []sockaddr
	arena []byte // fixed capacity, never reallocated: iovecs point into it
	n     int

	// poll mode: the RawConn.Write callback and its progress
	writeFn func(fd uintptr) bool
	done    int
	failed  int
	errno   syscall.Errno
}

// sendArena holds the queued datagrams; a queue that fills it flushes early.
// It is at least MaxDatagram so that any single datagram fits.
const sendArena = 256 << 10

func newSendQueue(u *UDP, slots int) *sendQueue {
	size := sendArena
	if slots == 1 {
		size = MaxDatagram
	}
	q := &sendQueue{
		u:     u,
		hdrs:  make([]unix.Mmsghdr, slots),
		iovs:  make([]unix.Iovec, slots),
		names: make([]sockaddr, slots),
		arena: make([]byte, 0, size),
	}
	for i := range q.hdrs {
		h := &q.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&q.names[i]))
		h.Iov = &q.iovs[i]
		h.SetIovlen(1)
	}
	q.writeFn = q.pollWrite
	return q
}

// WriteTo queues a copy of b for the next flush.
func (q *sendQueue) WriteTo(b []byte, to netip.AddrPort) error {
	if err := checkSend(b, to); err != nil {
		return err
	}
	if q.n == len(q.hdrs) || len(q.arena)+len(b) > cap(q.arena) {
		q.flush()
	}
	i := q.n
	nl, err := putSockaddr(&q.names[i], to, q.u.sock.v6)
	if err != nil {
		return err
	}
	off := len(q.arena)
	q.arena = append(q.arena, b...)
	q.iovs[i].Base = unsafe.SliceData(q.arena[off:cap(q.arena)])
	q.iovs[i].SetLen(len(b))
	q.hdrs[i].Hdr.Namelen = nl
	q.n++
	return nil
}

// flush sends the queued datagrams, skipping any the kernel refuses, and
// returns the last refusal's errno.
func (q *sendQueue) flush() syscall.Errno {
	if q.n == 0 {
		return 0
	}
	q.done, q.failed, q.errno = 0, 0, 0
	s := &q.u.sock
	if s.mode == modePoll {
		if err := s.rc.Write(q.writeFn); err != nil {
			q.failed = q.n - q.done
			q.errno = unix.EBADF
		}
	} else {
		for q.done < q.n {
			n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&q.hdrs[q.done])), uintptr(q.n-q.done), 0, 0, 0)
			q.account(int(n), e)
		}
	}
	st := &q.u.stats
	st.sent.Add(uint64(q.done - q.failed))
	if q.failed > 0 {
		st.sendErrors.Add(uint64(q.failed))
	}
	q.n = 0
	q.arena = q.arena[:0]
	return q.errno
}

// account records one sendmmsg result: n sent, or e refusing the first.
func (q *sendQueue) account(n int, e syscall.Errno) {
	switch e {
	case 0:
		q.done += n
	case unix.EINTR:
	default:
		// sendmmsg reports an error only for the first datagram it was
		// given; skip that one and send the rest.
		q.done++
		q.failed++
		q.errno = e
	}
}

func (q *sendQueue) pollWrite(fd uintptr) bool {
	for q.done < q.n {
		n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&q.hdrs[q.done])), uintptr(q.n-q.done), 0, 0, 0)
		if e == unix.EAGAIN {
			return false
		}
		q.account(int(n), e)
	}
	return true
}
