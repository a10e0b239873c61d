//go:build !unix

package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// lockDir creates path exclusively and removes it on Close. Without flock
// a crash leaves the file behind, and the error says to remove it.
func lockDir(path string) (*lockFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w: %s exists; remove it if no server is running", ErrLocked, path)
	}
	if err != nil {
		return nil, fmt.Errorf("audit: lock: %w", err)
	}
	return &lockFile{f: f, path: path}, nil
}

type lockFile struct {
	f    *os.File
	path string
}

func (l *lockFile) Close() error {
	return errors.Join(l.f.Close(), os.Remove(l.path))
}
