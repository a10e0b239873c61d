//go:build unix

package audit

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// lockDir takes an exclusive, non-blocking flock(2) on path. The kernel
// drops it when the process dies, so a crash never leaves a stale lock, and
// it is per open file, so a second Open in the same process fails too.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is held (by process %s); only the server appends, readers need no lock",
				ErrLocked, path, trimPID(holder))
		}
		return nil, fmt.Errorf("audit: lock %s: %w", path, err)
	}
	// The pid is only for the operator reading the error above.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(strconv.AppendInt(nil, int64(os.Getpid()), 10), 0)
	}
	return f, nil
}

func trimPID(b []byte) string {
	if len(b) == 0 || len(b) > 20 {
		return "unknown"
	}
	return string(b)
}
