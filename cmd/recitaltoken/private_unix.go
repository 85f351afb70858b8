//go:build unix

package main

import (
	"io/fs"
	"os"
	"syscall"
)

// private reports whether info is of a file the user owns and nobody else
// may read or write: a file another user could have written, or could
// read, is not one to trust or to keep a token in.
func private(info fs.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid() && info.Mode().Perm()&0o077 == 0
}
