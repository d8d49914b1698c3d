//go:build !linux

package transport

func (c *Conn) peek(fd uintptr) bool { return true }

// canPeek: elsewhere an idle connection keeps its buffer while it waits.
const canPeek = false

func (s *sock) rawWriteFn(fd uintptr) bool { return true }
