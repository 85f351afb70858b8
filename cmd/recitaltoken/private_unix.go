//go:build unix

package main

import (
	"io/fs"
	"os"
	"syscall"
)

// openNoFollow opens path for reading, but not through a symbolic link, and
// without blocking on a FIFO swapped in after the Lstat.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}

// lockFile waits for an exclusive lock on f, held until f is closed (or
// the process ends, however it ends). The wait is bounded by the login of
// the run holding it.
func lockFile(f *os.File) bool {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) == nil
}

// private reports whether info is of a file the user owns and nobody else
// may read or write: a file another user could have written, or could
// read, is not one to trust or to keep a token in.
func private(info fs.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid() && info.Mode().Perm()&0o077 == 0
}
