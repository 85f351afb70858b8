//go:build unix

package filestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// errPlatform is nil: Unix has what the store needs.
var errPlatform error

// openExisting opens name in dir with flag, without blocking on a FIFO
// put in its place (os.Root adds O_NOFOLLOW; checkOpened catches a link
// it followed inside the directory).
func openExisting(dir *os.Root, name string, flag int) (*os.File, error) {
	return dir.OpenFile(name, flag|syscall.O_NONBLOCK, 0)
}

// createPrivate opens name in dir for reading and writing, creating it
// with mode 0600 if it is missing, or only creating it when excl is set.
func createPrivate(dir *os.Root, name string, excl bool) (*os.File, error) {
	flag := os.O_RDWR | os.O_CREATE | syscall.O_NONBLOCK
	if excl {
		flag |= os.O_EXCL
	}
	return dir.OpenFile(name, flag, 0o600)
}

// mkdirPrivate makes the store's directory name in parent, mode 0700.
func mkdirPrivate(parent *os.Root, name string) error {
	return parent.Mkdir(name, 0o700)
}

// isLink reports whether info, from an Lstat, is a symbolic link.
func isLink(info fs.FileInfo) bool { return info.Mode()&fs.ModeSymlink != 0 }

// renameOver renames old over new in dir, atomically.
func renameOver(_ context.Context, dir *os.Root, old, new string) error {
	return dir.Rename(old, new)
}

// removeAt removes name in dir.
func removeAt(dir *os.Root, name string) error { return dir.Remove(name) }

// syncDir flushes dir's entries, so that a rename survives a crash.
func syncDir(dir *os.Root) error {
	d, err := dir.Open(".")
	if err != nil {
		return fmt.Errorf("recitaloauth: file store: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("recitaloauth: file store: %w", err)
	}
	return nil
}

// tryLock takes an exclusive flock on f without waiting, and reports
// whether it did. The lock is held until f is closed or the process ends.
func tryLock(f *os.File) (bool, error) {
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

// checkParent returns an error if others can rename entries in the store
// directory's parent, described by info: unless it is owned by root or
// the user, and writable by group or others only when sticky (a sticky
// directory lets only an entry's owner rename it).
func checkParent(path string, _ *os.File, info fs.FileInfo) error {
	uid, err := ownerUID(path, info)
	if err != nil {
		return err
	}
	if euid := os.Geteuid(); uid != 0 && uid != euid {
		return fmt.Errorf("recitaloauth: file store: %s, the store's parent, belongs to uid %d, not to root or this user (uid %d)", path, uid, euid)
	}
	if perm := info.Mode().Perm(); perm&0o022 != 0 && info.Mode()&fs.ModeSticky == 0 {
		return fmt.Errorf("recitaloauth: file store: %s, the store's parent, is writable by group or others and not sticky (mode %#o)", path, perm)
	}
	return nil
}

// checkDir returns an error unless the store's directory, described by
// info, belongs to the effective user and is closed to writes by group
// and others: its files are sealed and private, so reading the list of
// their names gives nothing away.
func checkDir(path string, _ *os.File, info fs.FileInfo) error {
	if err := ownedByUser(path, info); err != nil {
		return err
	}
	if perm := info.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("recitaloauth: file store: %s is writable by group or others (mode %#o)", path, perm)
	}
	return nil
}

// checkFile returns an error unless the file described by info belongs to
// the effective user and is closed to group and others: the values are
// sealed, but one that others can read is a target for guessing the
// password offline.
func checkFile(path string, _ *os.File, info fs.FileInfo) error {
	if err := ownedByUser(path, info); err != nil {
		return err
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("recitaloauth: file store: %s is open to group or others (mode %#o)", path, perm)
	}
	return nil
}

func ownedByUser(path string, info fs.FileInfo) error {
	uid, err := ownerUID(path, info)
	if err != nil {
		return err
	}
	if euid := os.Geteuid(); uid != euid {
		return fmt.Errorf("recitaloauth: file store: %s belongs to uid %d, not to this user (uid %d)", path, uid, euid)
	}
	return nil
}

func ownerUID(path string, info fs.FileInfo) (int, error) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("recitaloauth: file store: %s has no owner", path)
	}
	return int(st.Uid), nil
}
