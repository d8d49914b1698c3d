//go:build linux

package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDP is a UDP listener. See the package doc.
type UDP struct {
	cfg   UDPConfig
	local netip.AddrPort
	pc    *net.UDPConn // owns the socket
	rc    syscall.RawConn
	v6    bool // the socket is AF_INET6 (IPv4 peers are then v4-mapped)
	stats stats
	// maxData is MaxDatagram except in tests of the oversize path.
	maxData int

	mu      sync.Mutex // guards serving and the closed transition
	serving bool
	closed  atomic.Bool
	readers sync.WaitGroup

	directMu sync.Mutex // guards direct
	direct   *sendQueue
}

// ListenUDP opens and binds the socket. Serve starts reading.
func ListenUDP(cfg UDPConfig) (*UDP, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	u := &UDP{cfg: cfg, maxData: MaxDatagram}
	var domain int
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		cerr := c.Control(func(fd uintptr) {
			if err = setBuffer(int(fd), unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, cfg.RecvBuffer); err != nil {
				return
			}
			if err = setBuffer(int(fd), unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, cfg.SendBuffer); err != nil {
				return
			}
			domain, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
		})
		if cerr != nil {
			return cerr
		}
		return err
	}}
	// The Go net package sets up the socket as its own UDPConn does
	// (nonblocking, in the netpoller, dual-stack for a wildcard address);
	// the readers then bypass its per-datagram methods through RawConn.
	pc, err := lc.ListenPacket(context.Background(), network(cfg.Addr), cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("transport: UDP listen %s: %w", cfg.Addr, err)
	}
	u.pc = pc.(*net.UDPConn)
	if u.rc, err = u.pc.SyscallConn(); err != nil {
		pc.Close()
		return nil, fmt.Errorf("transport: UDP listen %s: %w", cfg.Addr, err)
	}
	u.v6 = domain == unix.AF_INET6
	la := u.pc.LocalAddr().(*net.UDPAddr).AddrPort()
	u.local = netip.AddrPortFrom(la.Addr().Unmap(), la.Port())
	u.direct = newSendQueue(u, 1)
	return u, nil
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
			err := r.run()
			// Done before Close, which waits for every reader.
			u.readers.Done()
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
	// Closing the UDPConn wakes readers parked in the netpoller; the
	// descriptor is released once no RawConn call is using it.
	err := u.pc.Close()
	u.readers.Wait()
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

	// the RawConn.Read callback and its results
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

// recv fills r.hdrs with up to Batch datagrams and returns how many. The
// RawConn calls pollRead at once, and again each time the netpoller reports
// the socket readable, until it has datagrams.
func (r *reader) recv() (int, error) {
	if err := r.u.rc.Read(r.readFn); err != nil {
		return 0, err
	}
	if r.errno != 0 {
		return 0, r.errno
	}
	return r.n, nil
}

// pollRead is the RawConn.Read callback. The socket is nonblocking, so the
// raw syscall (no scheduler hand-off) cannot block.
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

	// the RawConn.Write callback and its progress
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
	nl, err := putSockaddr(&q.names[i], to, q.u.v6)
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

// Flush implements Flusher: the queued datagrams go now, in one
// sendmmsg, and the queue starts again empty.
func (q *sendQueue) Flush() { q.flush() }

// flush sends the queued datagrams, skipping any the kernel refuses, and
// returns the last refusal's errno.
func (q *sendQueue) flush() syscall.Errno {
	if q.n == 0 {
		return 0
	}
	q.done, q.failed, q.errno = 0, 0, 0
	if err := q.u.rc.Write(q.writeFn); err != nil {
		// Closed under us: what was not sent is lost.
		q.failed += q.n - q.done
		q.done = q.n
		q.errno = unix.EBADF
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

// pollWrite is the RawConn.Write callback: it waits in the netpoller only
// when the socket's send buffer is full.
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
