//go:build !linux

package transport

import (
	"net"
	"syscall"
	"time"
)

func (c *Conn) peek(fd uintptr) bool { return true }

// canPeek: elsewhere an idle connection keeps its buffer while it waits.
const canPeek = false

func (s *sock) rawWriteFn(fd uintptr) bool { return true }

// usePollLoops: elsewhere every connection has its own goroutine.
const usePollLoops = false

type pollLoop struct{}

func (p *pollLoop) stop()                                        {}
func (s *Streams) startLoops() error                             { return nil }
func (l *StreamListener) takeListener(ln *net.TCPListener) error { return nil }
func (l *StreamListener) closeListenerFd()                       {}
func (p *pollLoop) addListener(l *StreamListener) error          { return nil }
func sendNow(fd int, b []byte) (int, syscall.Errno)              { return 0, syscall.EINVAL }
func shutdownFd(fd int)                                          {}
func closeFd(fd int)                                             {}
func waitWritable(fd int, d time.Duration) bool                  { return false }
