package filestore

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth/internal/storekey"
)

const (
	// maxMutexWait bounds the wait for a key's mutex file, which Save and
	// Delete hold only for a rename or a read-compare-remove: a longer
	// wait means a holder stopped in the middle, and the caller is better
	// off going on without the store.
	maxMutexWait = 2 * time.Second

	tokenExt = ".token"
	lockExt  = ".lock"
	mutexExt = ".mutex"
)

// Store is a [github.com/seed9ffb1f9c/recitaloauth.Store] and a
// [github.com/seed9ffb1f9c/recitaloauth.Locker] that keeps each value in a
// file of its own, for the processes of one user on one machine; the
// package documentation says which files, whom it trusts and how it
// writes. It is safe for concurrent use by goroutines and by processes.
type Store struct {
	dir string
	err error // returned by every call: the directory is unknown
}

// New returns a Store keeping its files in dir, which is created when a
// Save or TryLock needs it. An empty dir means the directory
// "recitaloauth" in [os.UserCacheDir] (%LocalAppData% on Windows); when
// that is unknown, or dir cannot be made absolute, every call returns the
// error.
func New(dir string) *Store {
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return &Store{err: fmt.Errorf("recitaloauth: file store: %w", err)}
		}
		dir = filepath.Join(cache, "recitaloauth")
	}
	// Absolute, so that a later os.Chdir does not move the store; clean,
	// so that the last element is the directory's own name.
	abs, err := filepath.Abs(dir)
	if err != nil {
		return &Store{err: fmt.Errorf("recitaloauth: file store: %w", err)}
	}
	return &Store{dir: abs}
}

// Load returns the value saved under key, or nil and no error when there
// is none (nor a directory yet). A file that breaks the rules of Trust in
// the package documentation, or is larger than 64 KiB, is an error; the
// next Save replaces it.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	if err := s.check(ctx, key); err != nil {
		return nil, err
	}
	dir, err := s.openDir(false)
	if dir == nil || err != nil {
		return nil, err
	}
	defer dir.Close()
	return readPrivate(dir, key+tokenExt)
}

// Save replaces key's value with value, atomically (see Atomicity in the
// package documentation), and flushes it to disk. A value larger than
// 64 KiB is refused. The file store does not expire values (a caller
// ignores an expired one), except that an expiry already past removes
// key's value, as a store that drops values at expiry would have done at
// once; a zero expiry never expires.
func (s *Store) Save(ctx context.Context, key string, value []byte, expiry time.Time) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	if len(value) > storekey.MaxValue {
		return fmt.Errorf("recitaloauth: file store: value of %d bytes: want at most %d", len(value), storekey.MaxValue)
	}
	dir, err := s.openDir(true)
	if err != nil {
		return err
	}
	defer dir.Close()
	name := key + tokenExt
	if !expiry.IsZero() && !time.Now().Before(expiry) {
		unlock, err := lockMutex(ctx, dir, key)
		if err != nil {
			return err
		}
		defer unlock()
		return removeFile(dir, name)
	}

	tmp, err := writeTemp(dir, key, value) // before the mutex, to hold it for the rename only
	if err != nil {
		return err
	}
	unlock, err := lockMutex(ctx, dir, key)
	if err != nil {
		removeAt(dir, tmp)
		return err
	}
	err = renameOver(ctx, dir, tmp, name)
	unlock()
	if err != nil {
		removeAt(dir, tmp)
		return fmt.Errorf("recitaloauth: file store: %w", err)
	}
	return syncDir(dir)
}

// Delete removes key's value if it is still value, and otherwise leaves
// it; reading, comparing and removing are one step for every process
// using the directory (see Atomicity in the package documentation). No
// value is not an error.
func (s *Store) Delete(ctx context.Context, key string, value []byte) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	dir, err := s.openDir(false)
	if dir == nil || err != nil {
		return err
	}
	defer dir.Close()
	unlock, err := lockMutex(ctx, dir, key)
	if err != nil {
		return err
	}
	defer unlock()
	name := key + tokenExt
	current, err := readPrivate(dir, name)
	if err != nil || current == nil || !bytes.Equal(current, value) {
		return err
	}
	return removeFile(dir, name)
}

// TryLock takes an exclusive lock (flock; LockFileEx on Windows) on the
// file key.lock without waiting, and reports whether it did. It excludes
// every other holder: other processes, and other TryLock calls in this
// process, through this Store or another one on the same directory
// (each call opens the file anew, and these locks belong to the open
// file). unlock closes the file, which releases the lock; so does the end
// of the process, however it ends, so that a holder that died never
// blocks the others. ttl is therefore not needed, and ignored: a live
// holder keeps the lock until it calls unlock.
func (s *Store) TryLock(ctx context.Context, key string, ttl time.Duration) (unlock func(), ok bool, err error) {
	if err := s.check(ctx, key); err != nil {
		return nil, false, err
	}
	dir, err := s.openDir(true)
	if err != nil {
		return nil, false, err
	}
	defer dir.Close() // the lock file stays open without it
	f, err := openLockFile(dir, key+lockExt)
	if err != nil {
		return nil, false, err
	}
	if ok, err := tryLock(f); !ok || err != nil {
		f.Close()
		return nil, false, err
	}
	var once sync.Once
	return func() { once.Do(func() { f.Close() }) }, true, nil
}

// check returns the error that stops any call before it starts.
func (s *Store) check(ctx context.Context, key string) error {
	if errPlatform != nil {
		return errPlatform
	}
	if s.err != nil {
		return s.err
	}
	if err := storekey.Check(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("recitaloauth: file store: %w", err)
	}
	return nil
}

// testHookDirOpened, when set by a test, runs once the store's directory
// is opened and checked, before any file in it is touched: the moment at
// which someone who could rename the directory would swap it.
var testHookDirOpened func(dir string)

// openDir opens the store's directory, creating it first when create is
// set, and checks it and its parent (see Trust in the package
// documentation); the calls then work relative to the directory opened.
// It returns nil and no error when the directory does not exist and
// create is not set.
func (s *Store) openDir(create bool) (*os.Root, error) {
	parentPath, name := filepath.Dir(s.dir), filepath.Base(s.dir)
	if create {
		if err := os.MkdirAll(parentPath, 0o700); err != nil {
			return nil, fmt.Errorf("recitaloauth: file store: %w", err)
		}
	}
	parent, err := os.OpenRoot(parentPath)
	if errors.Is(err, fs.ErrNotExist) && !create {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("recitaloauth: file store: %w", err)
	}
	defer parent.Close()
	if err := checkRoot(parent, checkParent); err != nil {
		return nil, err
	}
	if create {
		if err := mkdirPrivate(parent, name); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("recitaloauth: file store: %w", err)
		}
	}

	// Lstat first, for a clear message; the open may still follow a link
	// swapped in since, which the comparison below catches.
	link, err := parent.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !create:
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("recitaloauth: file store: %w", err)
	case isLink(link):
		return nil, fmt.Errorf("recitaloauth: file store: %s is a symbolic link", s.dir)
	case !link.IsDir():
		return nil, fmt.Errorf("recitaloauth: file store: %s is not a directory", s.dir)
	}
	dir, err := parent.OpenRoot(name)
	if err != nil {
		return nil, fmt.Errorf("recitaloauth: file store: %w", err)
	}
	err = checkRoot(dir, func(path string, f *os.File, info fs.FileInfo) error {
		if !os.SameFile(info, link) {
			return fmt.Errorf("recitaloauth: file store: %s was replaced while being opened", path)
		}
		return checkDir(path, f, info)
	})
	if err != nil {
		dir.Close()
		return nil, err
	}
	if testHookDirOpened != nil {
		testHookDirOpened(s.dir)
	}
	return dir, nil
}

// checkRoot applies check to the directory r has open.
func checkRoot(r *os.Root, check func(path string, f *os.File, info fs.FileInfo) error) error {
	f, err := r.Open(".")
	if err != nil {
		return fmt.Errorf("recitaloauth: file store: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("recitaloauth: file store: %w", err)
	}
	return check(r.Name(), f, info)
}

// lockMutex waits for key's mutex file in dir, polling (a lock cannot be
// waited for with a context) until maxMutexWait has passed or ctx ends.
func lockMutex(ctx context.Context, dir *os.Root, key string) (unlock func(), err error) {
	f, err := openLockFile(dir, key+mutexExt)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, maxMutexWait)
	defer cancel()
	for delay := time.Millisecond; ; delay = min(2*delay, 20*time.Millisecond) {
		ok, err := tryLock(f)
		if ok {
			return func() { f.Close() }, nil
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("recitaloauth: file store: waiting for %s: %w", f.Name(), ctx.Err())
		case <-time.After(delay):
		}
	}
}

// readPrivate reads name in dir if it is a private regular file of the
// user's of at most storekey.MaxValue bytes; a missing file is nil and no
// error. The checks apply to the file opened, not to the name, so that a
// file swapped in between is caught.
func readPrivate(dir *os.Root, name string) ([]byte, error) {
	f, err := openChecked(dir, name, func() (*os.File, error) { return openExisting(dir, name, os.O_RDONLY) })
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, storekey.MaxValue+1))
	if err != nil {
		return nil, fmt.Errorf("recitaloauth: file store: %w", err)
	}
	if len(data) > storekey.MaxValue {
		return nil, fmt.Errorf("recitaloauth: file store: %s is larger than %d bytes", f.Name(), storekey.MaxValue)
	}
	return data, nil
}

// openLockFile opens, creating it if need be, the lock or mutex file name
// in dir, if it is a private regular file of the user's.
func openLockFile(dir *os.Root, name string) (*os.File, error) {
	return openChecked(dir, name, func() (*os.File, error) { return createPrivate(dir, name, false) })
}

// openChecked opens name in dir with open and checks what it opened: not
// a link, a regular file of at most
// storekey.MaxValue bytes, private to the user. A missing file is an error
// that wraps fs.ErrNotExist.
func openChecked(dir *os.Root, name string, open func() (*os.File, error)) (*os.File, error) {
	f, err := open()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		path := filepath.Join(dir.Name(), name)
		if link, lerr := dir.Lstat(name); lerr == nil && isLink(link) {
			return nil, fmt.Errorf("recitaloauth: file store: %s is a symbolic link", path)
		}
		return nil, fmt.Errorf("recitaloauth: file store: %w", err)
	}
	if err := checkOpened(dir, name, f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// checkOpened checks f, opened as name in dir. os.Root refuses a link
// that leads out of dir; one that stays inside it is refused here. (Only
// the user can make one: the directory is closed to others' writes. And
// the file itself is not compared with the name, which a Save may rename
// a new file over at any moment.)
func checkOpened(dir *os.Root, name string, f *os.File) error {
	path := f.Name()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("recitaloauth: file store: %w", err)
	}
	if link, err := dir.Lstat(name); err == nil && isLink(link) {
		return fmt.Errorf("recitaloauth: file store: %s is a symbolic link", path)
	}
	switch {
	case !info.Mode().IsRegular():
		return fmt.Errorf("recitaloauth: file store: %s is not a regular file", path)
	case info.Size() > storekey.MaxValue:
		return fmt.Errorf("recitaloauth: file store: %s is larger than %d bytes", path, storekey.MaxValue)
	}
	return checkFile(path, f, info)
}

// writeTemp writes value to a new private file in dir, flushed to disk,
// and returns its name. Its name starts with a dot, which no key does.
func writeTemp(dir *os.Root, key string, value []byte) (name string, err error) {
	var f *os.File
	for range 10 {
		name = "." + key + "-" + rand.Text() + ".tmp"
		f, err = createPrivate(dir, name, true)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("recitaloauth: file store: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			removeAt(dir, name)
			err = fmt.Errorf("recitaloauth: file store: %w", err)
		}
	}()
	if _, err = f.Write(value); err != nil {
		return "", err
	}
	if err = f.Sync(); err != nil {
		return "", err
	}
	if err = f.Close(); err != nil {
		return "", err
	}
	return name, nil
}

// removeFile removes name in dir; a file already gone is no error.
func removeFile(dir *os.Root, name string) error {
	if err := removeAt(dir, name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("recitaloauth: file store: %w", err)
	}
	return nil
}
