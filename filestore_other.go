//go:build !unix

package recitaloauth

import (
	"errors"
	"io/fs"
	"os"
)

// errPlatform is what every FileStore call returns here: without flock
// the store could not keep processes apart, and without Unix owners and
// modes it could not tell a private directory from a shared one.
var errPlatform = errors.New("recitaloauth: FileStore needs a Unix system (flock, file owners and modes)")

func openNoFollow(string, int) (*os.File, error) { return nil, errPlatform }

func tryFlock(*os.File) (bool, error) { return false, errPlatform }

func private(string, fs.FileInfo) error { return errPlatform }
