package transport

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// errQueueFull: more is waiting to be sent on a connection than
// StreamConfig.WriteQueue allows.
var errQueueFull = errors.New("transport: write queue full: the peer does not read")

// sock is the TCP socket under a connection (under the TLS layer for
// TLS). Writes never block the caller, as with Kamailio's tcp_async: what
// the kernel does not take at once is queued, up to WriteQueue bytes, and a
// goroutine started for the occasion sends the queue, within SendTimeout
// per write, then ends. A peer that does not read fills its queue or lets
// the timeout pass, and loses its connection; the handler that wrote to it
// is never held up.
//
// A connection served by a poll loop (an accepted plain-TCP one, see
// stream_poll_linux.go) has no net.TCPConn: its sock holds the descriptor
// itself, writes to it with nonblocking send(2), and its flusher waits
// with poll(2). The descriptor is closed under mu, and fd is -1 from then
// on, so a write or the flusher never reaches a descriptor number the
// kernel has given to another socket.
type sock struct {
	*net.TCPConn // nil for a poll loop's connection
	fd           int
	rc           syscall.RawConn
	timeout      time.Duration
	max          int

	mu       sync.Mutex
	fail     func(closeReason) // closes the connection
	q, spare []byte            // queued bytes; the flusher's other buffer
	flushing bool
	err      error

	// rawWrite's argument and results (under mu), so its callback is made
	// once and a write allocates nothing.
	wb    []byte
	wn    int
	werr  syscall.Errno
	write func(fd uintptr) bool
}

func newSock(tc *net.TCPConn, cfg *StreamConfig) *sock {
	s := &sock{TCPConn: tc, fd: -1, timeout: cfg.SendTimeout, max: cfg.WriteQueue}
	s.fail = func(closeReason) { tc.Close() } // until a Conn owns it
	if canPeek {
		if rc, err := tc.SyscallConn(); err == nil {
			s.rc = rc
			s.write = s.rawWriteFn
		}
	}
	return s
}

// Write takes all of b or fails; see sock.
func (s *sock) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	n := len(b)
	if len(s.q) == 0 && !s.flushing {
		if s.TCPConn == nil {
			if s.fd < 0 {
				s.err = net.ErrClosed
				return 0, s.err
			}
			wn, e := sendNow(s.fd, b)
			if e != 0 && e != syscall.EAGAIN && e != syscall.EINTR {
				s.err = e
				return 0, e
			}
			b = b[wn:]
		} else if s.rc == nil {
			// No raw access: a plain write within the timeout.
			if s.timeout > 0 {
				s.TCPConn.SetWriteDeadline(time.Now().Add(s.timeout))
			}
			if _, err := s.TCPConn.Write(b); err != nil {
				s.err = err
				return 0, err
			}
			return n, nil
		} else {
			s.wb = b
			err := s.rc.Write(s.write)
			s.wb = nil
			if err == nil && s.werr != 0 && s.werr != syscall.EAGAIN {
				err = s.werr
			}
			if err != nil {
				s.err = err
				return 0, err
			}
			b = b[s.wn:]
		}
		if len(b) == 0 {
			return n, nil
		}
	}
	if len(s.q)+len(b) > s.max {
		s.err = errQueueFull
		return 0, errQueueFull
	}
	s.q = append(s.q, b...)
	if !s.flushing {
		s.flushing = true
		if s.TCPConn == nil {
			go s.flushFd()
		} else {
			go s.flush()
		}
	}
	return n, nil
}

// flush sends the queue until it is empty, then ends.
func (s *sock) flush() {
	for {
		s.mu.Lock()
		if len(s.q) == 0 || s.err != nil {
			s.flushing = false
			// A queue grown by a burst is not kept.
			if cap(s.q) > 16<<10 {
				s.q = nil
			}
			s.spare = nil
			s.mu.Unlock()
			return
		}
		out := s.q
		s.q = s.spare[:0]
		s.mu.Unlock()
		if s.timeout > 0 {
			s.TCPConn.SetWriteDeadline(time.Now().Add(s.timeout))
		}
		_, err := s.TCPConn.Write(out)
		s.mu.Lock()
		s.spare = out[:0]
		if err != nil && s.err == nil {
			s.err = err
		}
		fail := s.fail
		s.mu.Unlock()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				fail(reasonSendTimeout)
			} else {
				fail(reasonSendError)
			}
		}
	}
}

// flushFd is flush for a poll loop's connection: nonblocking sends,
// and poll(2) for room between them, never waiting longer than the
// timeout without progress.
func (s *sock) flushFd() {
	for {
		s.mu.Lock()
		if len(s.q) == 0 || s.err != nil || s.fd < 0 {
			if s.fd < 0 && s.err == nil {
				s.err = net.ErrClosed
			}
			s.flushing = false
			if cap(s.q) > 16<<10 {
				s.q = nil
			}
			s.mu.Unlock()
			return
		}
		fd := s.fd
		n, e := sendNow(fd, s.q)
		if n > 0 {
			s.q = s.q[:copy(s.q, s.q[n:])]
		}
		fail := s.fail
		if e != 0 && e != syscall.EAGAIN && e != syscall.EINTR {
			s.err = e
			s.mu.Unlock()
			fail(reasonSendError)
			continue
		}
		s.mu.Unlock()
		if n > 0 || e == syscall.EINTR {
			continue
		}
		// The descriptor may be closed (and its number reused) while
		// poll waits; the send above rechecks s.fd under mu first.
		if !waitWritable(fd, s.timeout) {
			s.mu.Lock()
			if s.err == nil {
				s.err = os.ErrDeadlineExceeded
			}
			s.mu.Unlock()
			fail(reasonSendTimeout)
		}
	}
}

// shutdown ends a poll loop's connection in both directions without
// closing the descriptor, which the loop owns: the loop sees the end and
// closes it. Any other goroutine closes such a connection this way.
func (s *sock) shutdown() {
	s.mu.Lock()
	if s.fd >= 0 {
		shutdownFd(s.fd)
	}
	s.mu.Unlock()
}

// closeFd closes a poll loop's descriptor (the loop's last act on it). A
// flusher waiting in poll is woken by the shutdown first.
func (s *sock) closeFd() {
	s.mu.Lock()
	if s.fd >= 0 {
		if s.flushing {
			shutdownFd(s.fd)
		}
		closeFd(s.fd)
		s.fd = -1
	}
	s.mu.Unlock()
}

func (s *sock) setFail(f func(closeReason)) {
	s.mu.Lock()
	s.fail = f
	s.mu.Unlock()
}

// queued is the number of bytes waiting to be sent.
func (s *sock) queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.q)
}
