//go:build unix

package recitaloauth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// errPlatform is nil: Unix has what FileStore needs.
var errPlatform error

// openNoFollow opens path, but not through a symbolic link, and without
// blocking on a FIFO put in its place.
func openNoFollow(path string, flag int) (*os.File, error) {
	return os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
}

// tryFlock takes an exclusive flock on f without waiting, and reports
// whether it did. The lock is held until f is closed or the process ends.
func tryFlock(f *os.File) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		case errors.Is(err, syscall.EINTR):
			continue
		default:
			return false, fmt.Errorf("recitaloauth: file store: lock %s: %w", f.Name(), err)
		}
	}
}

// private returns an error unless info, of path, belongs to the effective
// user and is closed to group and others.
func private(path string, info fs.FileInfo) error {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("recitaloauth: file store: %s has no owner", path)
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return fmt.Errorf("recitaloauth: file store: %s belongs to uid %d, not to this user (uid %d)", path, st.Uid, uid)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("recitaloauth: file store: %s is open to group or others (mode %#o)", path, perm)
	}
	return nil
}
