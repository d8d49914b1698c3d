//go:build unix

package store

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// lockFile takes the flock bbolt takes (exclusive to write, shared to
// read) on f, waiting up to timeout. bbolt's own flock on the same file
// description then succeeds at once, so the file is checked under the
// lock bbolt works under: no other kemi process changes it meanwhile.
func lockFile(f *os.File, exclusive bool, timeout time.Duration) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return err
		}
		if timeout > 0 && time.Now().After(deadline) {
			return errLocked
		}
		time.Sleep(20 * time.Millisecond)
	}
}
