//go:build linux

package transport

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A pollLoop serves accepted plain-TCP connections without a goroutine
// each. It owns an epoll set holding the TCP listeners and its
// connections, level-triggered, and waits for it in Go's netpoller: the
// epoll descriptor is itself registered there (through an os.File), so
// the loop's goroutine parks like any network wait and costs no thread
// while idle. When the set has events the loop takes them with a
// nonblocking epoll_wait and accepts, reads, frames and dispatches
// itself, on its own goroutine, as Kamailio's tcp readers do.
//
// Why: with a goroutine per connection, a connection that carries one
// request (sipp -t tn, phones that reconnect) cost kemi more CPU than
// Kamailio: the Go scheduler woke and parked threads for every new
// goroutine and every netpoll wait, and paid about 27 system calls per
// connection; here a connection costs about ten (accept4, epoll_ctl, the
// reads, the send, close, and the waits), and the scheduler one wake-up
// per batch of events. Every system call on the loop's path is a raw one
// (nonblocking), so none of them wakes the runtime's monitor thread.
//
// A loop lends a handler from the Streams pool per message, as a
// connection goroutine does; Serve starts Workers loops (Kamailio's
// tcp_children readers) and each new connection goes to the loop the
// kernel wakes (EPOLLEXCLUSIVE on the listeners), staying there. Timeouts
// are checked by a sweep over the loop's connections when the earliest
// may have passed (at most every sweepEvery), not by a timer per
// connection. TLS connections, and connections kemi opens, keep a
// goroutine each (crypto/tls reads through a blocking net.Conn).
type pollLoop struct {
	s     *Streams
	epfd  int
	wake  int // eventfd: Close asks the loop to end
	file  *os.File
	rc    syscall.RawConn
	waitF func(fd uintptr) bool // rc.Read callback, made once

	events [64]unix.EpollEvent
	nev    int
	sa     sockaddr // accept4's peer address

	conns     []*Conn // by descriptor
	live      []*Conn // open connections; Conn.plSlot is the index
	nextSweep int64   // when the earliest limit may pass; MaxInt64: none
	lastSweep int64
	deadline  int64 // the wait's deadline as set on file (0: none), passed or not
	paused    []pausedListener
}

// pausedListener: accepting on it failed for want of descriptors or
// memory; it is out of the loop's set until acceptPause has passed.
type pausedListener struct {
	l     *StreamListener
	until int64
}

// acceptPause: how long a loop stops accepting on a listener after
// accept4 failed for want of descriptors or memory, instead of spinning.
const acceptPause = int64(100 * time.Millisecond)

// Event kinds, in EpollEvent.Pad.
const (
	pollConn int32 = iota
	pollListener
	pollWake
)

// sweepEvery is the least time between two sweeps of a loop's
// connections: limits are enforced to within it.
const sweepEvery = int64(50 * time.Millisecond)

// usePollLoops: accepted plain-TCP connections are served by poll loops.
const usePollLoops = true

// takeListener moves a TCP listener's socket out of Go's netpoller into
// kemi's loops: a duplicate of the descriptor is kept and the
// net.TCPListener closed, so a connection coming in wakes one loop only,
// not also the netpoller's thread. TCP_NODELAY is set on the listener;
// accepted sockets inherit it.
func (l *StreamListener) takeListener(ln *net.TCPListener) error {
	rc, err := ln.SyscallConn()
	if err != nil {
		return err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return err
	}
	if derr != nil {
		return derr
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		unix.Close(fd)
		return err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return err
	}
	ln.Close()
	l.fd = fd
	a := l.local.Addr()
	l.wildcard = !a.IsValid() || a.IsUnspecified()
	return nil
}

// closeListenerFd closes a listener taken by takeListener, once no loop
// runs.
func (l *StreamListener) closeListenerFd() {
	if l.fd >= 0 {
		unix.Close(l.fd)
		l.fd = -1
	}
}

func newPollLoop(s *Streams) (*pollLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("transport: epoll_create1: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("transport: eventfd: %w", err)
	}
	p := &pollLoop{s: s, epfd: epfd, wake: wake, nextSweep: math.MaxInt64}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake), Pad: pollWake}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		p.closeFds()
		return nil, fmt.Errorf("transport: epoll_ctl: %w", err)
	}
	// The netpoller takes a descriptor only when it is nonblocking.
	if err := unix.SetNonblock(epfd, true); err != nil {
		p.closeFds()
		return nil, err
	}
	p.file = os.NewFile(uintptr(epfd), "epoll")
	if p.rc, err = p.file.SyscallConn(); err != nil {
		p.file.Close()
		unix.Close(wake)
		return nil, err
	}
	p.waitF = p.take
	return p, nil
}

func (p *pollLoop) closeFds() {
	unix.Close(p.epfd)
	unix.Close(p.wake)
}

// addListener puts l in the loop's set. Any goroutine may call it.
func (p *pollLoop) addListener(l *StreamListener) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE, Fd: int32(l.fd), Pad: pollListener}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, l.fd, &ev); err != nil {
		return fmt.Errorf("transport: listen %s: epoll_ctl: %w", l.local, err)
	}
	return nil
}

// stop asks the loop to end; it closes its connections first.
func (p *pollLoop) stop() {
	var one = [8]byte{1}
	unix.Write(p.wake, one[:])
}

// take is the wait's callback: the events ready now, without blocking.
func (p *pollLoop) take(fd uintptr) bool {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_WAIT, fd, uintptr(unsafe.Pointer(&p.events[0])),
		uintptr(len(p.events)), 0, 0, 0)
	if e != 0 {
		p.nev = 0
		return e != unix.EAGAIN && e != unix.EINTR
	}
	p.nev = int(n)
	return n > 0
}

// run is the loop's goroutine.
func (p *pollLoop) run() {
	s := p.s
	defer s.accepting.Done()
	defer p.shutdown()
	for {
		err := p.rc.Read(p.waitF)
		now := time.Now().UnixNano()
		timedOut := false
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				return // cannot happen: the loop closes file itself
			}
			timedOut = true
		}
		for i := 0; i < p.nev; i++ {
			ev := &p.events[i]
			switch ev.Pad {
			case pollConn:
				if c := p.conn(ev.Fd); c != nil {
					p.readable(c, now)
				}
			case pollListener:
				if l := s.pollListener(ev.Fd); l != nil {
					p.accept(l, now)
				}
			case pollWake:
				if s.closed.Load() {
					return
				}
			}
		}
		p.nev = 0
		// The deadline is on the wall clock, as now is: a sweep when it
		// passed, whatever nextSweep says, so it is always moved on.
		if timedOut || now >= p.nextSweep {
			p.sweep(now)
		}
		p.arm()
	}
}

// arm sets the wait's deadline to the next sweep, when that changed.
func (p *pollLoop) arm() {
	want := p.nextSweep
	if want == math.MaxInt64 {
		want = 0
	} else if min := p.lastSweep + sweepEvery; want < min {
		want = min
	}
	if want == p.deadline {
		return
	}
	p.deadline = want
	if want == 0 {
		p.file.SetReadDeadline(time.Time{})
	} else {
		p.file.SetReadDeadline(time.Unix(0, want))
	}
}

func (p *pollLoop) conn(fd int32) *Conn {
	if fd < 0 || int(fd) >= len(p.conns) {
		return nil
	}
	return p.conns[fd]
}

// accept takes one connection from l (more wait in the level-triggered
// set for the next round).
func (p *pollLoop) accept(l *StreamListener, now int64) {
	s := p.s
	salen := uint32(unsafe.Sizeof(p.sa))
	r, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(l.fd), uintptr(unsafe.Pointer(&p.sa)),
		uintptr(unsafe.Pointer(&salen)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	switch e {
	case 0:
	case unix.EAGAIN, unix.EINTR, unix.ECONNABORTED, unix.EPROTO, unix.EPERM:
		return
	default:
		// Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS,
		// ENOMEM): stop accepting on l for a while instead of spinning.
		p.pause(l, now)
		return
	}
	fd := int(r)
	if !s.reserve(TCP) {
		s.Stats.RefusedMax.Add(1)
		// A reset, not a FIN, and raw calls like the rest of the loop's
		// path: a flood past the limit comes through here.
		linger := unix.Linger{Onoff: 1, Linger: 0}
		unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_LINGER,
			uintptr(unsafe.Pointer(&linger)), unsafe.Sizeof(linger), 0)
		closeFd(fd)
		return
	}
	s.Stats.Accepted.Add(1)
	remote := addrPortOf(&p.sa)
	local := l.local
	if l.wildcard {
		salen = uint32(unsafe.Sizeof(p.sa))
		if _, _, e := unix.RawSyscall(unix.SYS_GETSOCKNAME, uintptr(fd), uintptr(unsafe.Pointer(&p.sa)),
			uintptr(unsafe.Pointer(&salen))); e == 0 {
			local = addrPortOf(&p.sa)
		}
	}
	sk := newFdSock(fd, &s.cfg)
	c := s.makeConn(TCP, sk, sk, false, local, remote, now)
	c.pl = p
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd), Pad: pollConn}
	if _, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(p.epfd), unix.EPOLL_CTL_ADD, uintptr(fd),
		uintptr(unsafe.Pointer(&ev)), 0, 0); e != 0 {
		c.markClosed(reasonReadError)
		sk.closeFd()
		c.finish()
		return
	}
	for fd >= len(p.conns) {
		p.conns = append(p.conns, nil)
	}
	p.conns[fd] = c
	c.plSlot = len(p.live)
	p.live = append(p.live, c)
	s.table.add(c)
	p.due(c, now)
}

// due lowers the next sweep to c's next limit.
func (p *pollLoop) due(c *Conn, now int64) {
	if t, _ := c.due(now); t != 0 && t < p.nextSweep {
		p.nextSweep = t
	}
}

func (p *pollLoop) pause(l *StreamListener, now int64) {
	for _, q := range p.paused {
		if q.l == l {
			return
		}
	}
	unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, l.fd, nil)
	p.paused = append(p.paused, pausedListener{l: l, until: now + acceptPause})
	p.nextSweep = min(p.nextSweep, now+acceptPause)
}

// readable reads what c has, frames it and hands its messages over.
func (p *pollLoop) readable(c *Conn, now int64) {
	if c.closed.Load() {
		p.release(c)
		return
	}
	if !c.readRoom() {
		c.markClosed(reasonTooBig)
		p.release(c)
		return
	}
	b := c.buf[c.w:]
	n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(c.sk.fd), uintptr(unsafe.Pointer(&b[0])),
		uintptr(len(b)), unix.MSG_DONTWAIT, 0, 0)
	switch {
	case e == unix.EAGAIN || e == unix.EINTR:
	case e == unix.ECONNRESET || (e == 0 && n == 0):
		c.markClosed(reasonPeer)
		p.release(c)
		return
	case e != 0:
		c.markClosed(reasonReadError)
		p.release(c)
		return
	default:
		c.gotData = true
		c.w += int(n)
		c.lastIO.Store(now)
		if !c.frames() {
			p.release(c)
			return
		}
	}
	if c.r == c.w {
		c.r, c.w = 0, 0
		if !c.pending() {
			c.releaseBuf()
		}
	}
	p.due(c, now)
}

// release closes c's descriptor, which leaves the loop's set with it,
// and ends the connection.
func (p *pollLoop) release(c *Conn) {
	c.markClosed(reasonLocal)
	fd := c.sk.fd
	if fd >= 0 && fd < len(p.conns) && p.conns[fd] == c {
		p.conns[fd] = nil
	}
	last := p.live[len(p.live)-1]
	p.live[c.plSlot] = last
	last.plSlot = c.plSlot
	p.live[len(p.live)-1] = nil
	p.live = p.live[:len(p.live)-1]
	c.sk.closeFd()
	c.finish()
}

// sweep closes the connections whose limit has passed, sends the
// WebSocket keepalives that are due, puts paused listeners back, and
// finds the next time to look.
func (p *pollLoop) sweep(now int64) {
	p.lastSweep = now
	next := int64(math.MaxInt64)
	for i := 0; i < len(p.live); {
		c := p.live[i]
		if c.closed.Load() {
			p.release(c) // live[i] is now another connection
			continue
		}
		t, why := c.due(now)
		if t != 0 && t <= now {
			if why != reasonPingDue || !c.wsPing(now) {
				c.markClosed(why)
				p.release(c)
				continue
			}
			t, _ = c.due(now)
		}
		if t != 0 && t < next {
			next = t
		}
		i++
	}
	for i := 0; i < len(p.paused); {
		q := p.paused[i]
		if q.until > now {
			next = min(next, q.until)
			i++
			continue
		}
		p.paused = append(p.paused[:i], p.paused[i+1:]...)
		p.addListener(q.l)
	}
	p.nextSweep = next
}

// shutdown ends the loop: its connections close, then its descriptors.
func (p *pollLoop) shutdown() {
	for len(p.live) > 0 {
		p.release(p.live[len(p.live)-1])
	}
	p.file.Close()
	unix.Close(p.wake)
}

// startLoops makes the Workers poll loops and starts them; s.mu is held.
func (s *Streams) startLoops() error {
	for i := 0; i < s.cfg.Workers; i++ {
		p, err := newPollLoop(s)
		if err != nil {
			return err
		}
		s.loops = append(s.loops, p)
		s.accepting.Add(1)
		go p.run()
	}
	return nil
}

// pollListener is the listener with descriptor fd.
func (s *Streams) pollListener(fd int32) *StreamListener {
	for _, l := range *s.pollLns.Load() {
		if int32(l.fd) == fd {
			return l
		}
	}
	return nil
}

func newFdSock(fd int, cfg *StreamConfig) *sock {
	return &sock{fd: fd, timeout: cfg.SendTimeout, max: cfg.WriteQueue, fail: func(closeReason) {}}
}

// sendNow writes what the kernel takes of b at once.
func sendNow(fd int, b []byte) (int, syscall.Errno) {
	if len(b) == 0 {
		return 0, 0
	}
	n, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}

// waitWritable waits up to d (forever when 0) for room to write on fd;
// it is false when d passed first.
func waitWritable(fd int, d time.Duration) bool {
	end := time.Now().Add(d)
	for {
		ms := -1
		if d > 0 {
			left := time.Until(end)
			if left <= 0 {
				return false
			}
			ms = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(pfd, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n > 0 {
			return true // writable, or an error the next send reports
		}
	}
}

// shutdownFd and closeFd are raw system calls: neither blocks on a
// socket without SO_LINGER, and through syscall.Syscall each would wake
// the runtime's monitor thread (sysmon) from its idle sleep, a futex
// wake and its polling loop per connection.
func shutdownFd(fd int) { unix.RawSyscall(unix.SYS_SHUTDOWN, uintptr(fd), unix.SHUT_RDWR, 0) }
func closeFd(fd int)    { unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0) }
