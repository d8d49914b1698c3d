//go:build linux

package transport

import (
	"syscall"
	"testing"
)

// raiseFDLimit lifts the soft descriptor limit to the hard one, for tests
// that open thousands of connections.
func raiseFDLimit(t testing.TB) uint64 {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
	}
	return lim.Cur
}
