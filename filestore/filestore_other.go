//go:build !unix && !windows

package filestore

import (
	"context"
	"errors"
	"io/fs"
	"os"
)

// errPlatform is what every Store call returns on a system that is
// neither Unix nor Windows (plan9, js/wasm, wasip1): without a file lock
// that dies with its process the store could not keep processes apart,
// and without file owners and modes or ACLs it could not tell a private
// directory from a shared one.
var errPlatform = errors.New("recitaloauth: file store: needs a Unix system or Windows (file locks, owners and permissions)")

func openExisting(*os.Root, string, int) (*os.File, error) { return nil, errPlatform }

func createPrivate(*os.Root, string, bool) (*os.File, error) { return nil, errPlatform }

func mkdirPrivate(*os.Root, string) error { return errPlatform }

func isLink(fs.FileInfo) bool { return false }

func renameOver(context.Context, *os.Root, string, string) error { return errPlatform }

func removeAt(*os.Root, string) error { return errPlatform }

func syncDir(*os.Root) error { return errPlatform }

func tryLock(*os.File) (bool, error) { return false, errPlatform }

func checkParent(string, *os.File, fs.FileInfo) error { return errPlatform }

func checkDir(string, *os.File, fs.FileInfo) error { return errPlatform }

func checkFile(string, *os.File, fs.FileInfo) error { return errPlatform }
