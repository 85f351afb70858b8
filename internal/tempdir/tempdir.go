// Package tempdir gives tests a temporary directory that can also be
// removed when the tests run under wine, where testing.T.TempDir's own
// cleanup fails.
//
// Why: Go 1.26's os.RemoveAll on Windows deletes each entry through
// NtSetInformationFile with FileDispositionInformationEx (POSIX
// semantics). Wine 8 does not implement that class and answers
// STATUS_NOT_IMPLEMENTED, "Invalid function" (ERROR_INVALID_FUNCTION),
// which Go takes for a real failure: it falls back to the older
// FileDispositionInformation only for STATUS_INVALID_INFO_CLASS,
// STATUS_INVALID_PARAMETER and STATUS_NOT_SUPPORTED. So every TempDir
// cleanup fails the test there, even for an empty directory. os.Remove
// (DeleteFile, RemoveDirectory) works under wine, and RemoveAll falls back
// to it.
package tempdir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// New returns a new directory for tb, removed when tb ends. Except on
// Windows it is tb.TempDir(); on Windows it is made here and removed by
// [RemoveAll], and a failure to remove it fails tb, as TempDir's does.
func New(tb testing.TB) string {
	tb.Helper()
	if runtime.GOOS != "windows" {
		return tb.TempDir()
	}
	dir, err := os.MkdirTemp("", pattern(tb.Name()))
	if err != nil {
		tb.Fatalf("tempdir: %v", err)
	}
	tb.Cleanup(func() {
		if err := RemoveAll(dir); err != nil {
			tb.Errorf("tempdir: cleanup: %v", err)
		}
	})
	return dir
}

// errInvalidFunction is Windows' ERROR_INVALID_FUNCTION, what os.RemoveAll
// returns under wine (on Unix, errno 1 is EPERM: it is only looked for on
// Windows).
const errInvalidFunction = syscall.Errno(1)

// RemoveAll is [os.RemoveAll], except that where that fails on Windows with
// ERROR_INVALID_FUNCTION (wine) it removes the tree again with os.Remove,
// one entry at a time, the deepest first. Symbolic links are removed, not
// followed.
func RemoveAll(path string) error {
	err := os.RemoveAll(path)
	if runtime.GOOS != "windows" || !errors.Is(err, errInvalidFunction) {
		return err
	}
	var paths []string
	err = filepath.WalkDir(path, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for i := len(paths) - 1; i >= 0; i-- {
		if err := os.Remove(paths[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// pattern is a MkdirTemp pattern naming the test, as TempDir's do.
func pattern(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '-' || r == '_' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return r
		}
		return '_'
	}, name)
	if len(name) > 64 {
		name = name[:64]
	}
	return name + "-*"
}
