package recitaloauth

import (
	"bytes"
	"context"
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
	// maxFileValue bounds a value, saved or read: a sealed token is a few
	// hundred bytes, and a larger file is not one of ours.
	maxFileValue = 64 << 10

	// maxMutexWait bounds the wait for a key's mutex file, which Save and
	// Delete hold only for a rename or a read-compare-remove: a longer
	// wait means a holder stopped in the middle, and the caller is better
	// off going on without the store.
	maxMutexWait = 2 * time.Second

	tokenExt = ".token"
	lockExt  = ".lock"
	mutexExt = ".mutex"
)

// FileStore is a [Store] and a [Locker] that keeps each value in a file of
// its own, for the processes of one user on one machine. It is safe for
// concurrent use by goroutines and by processes.
//
// # Files
//
// For a key k, the directory holds k.token (the value), k.lock (the lock
// of [FileStore.TryLock]) and k.mutex (held for an instant by Save and
// Delete); the last two are empty and stay, because a lock file removed
// while another process waits on it would let two processes lock two
// different files of the same name.
//
// # Trust
//
// The directory must be the user's own, not a symbolic link, and closed to
// group and others (0700); each file in it must be a regular file of the
// user's, closed to group and others (0600). Whatever is not is refused
// with an error, so that the source goes on without the store; the store
// never changes its mode and never takes it over. A file or directory
// that someone else can write is one where they can swap or remove tokens
// and hold the locks for ever; one that they can read gives them the
// sealed tokens, against which to guess the password offline; a symbolic
// link would send the store's writes, and its reads, wherever its maker
// chose. A missing directory is created with mode 0700 (as are missing
// parents), and files are opened without following links.
//
// # Atomicity
//
// Save writes a new file, flushes it to disk and renames it over k.token,
// so that a reader, or a crash, sees the old value or the new one, never
// half of one. Save's rename and Delete's read-compare-remove both hold
// k.mutex (an flock taken with a poll that gives up after 2 s or when the
// context ends), so that a Delete never removes a value another process
// has just saved.
//
// Locks and owners are Unix matters: on other systems every method
// returns an error.
type FileStore struct {
	dir string
	err error // returned by every call: the directory is unknown
}

// Compile-time checks that FileStore is what its documentation says.
var (
	_ Store  = (*FileStore)(nil)
	_ Locker = (*FileStore)(nil)
)

// NewFileStore returns a FileStore keeping its files in dir, which is
// created when a Save or TryLock needs it. An empty dir means the
// directory "recitaloauth" in [os.UserCacheDir]; when that is unknown, or
// dir cannot be made absolute, every call returns the error.
func NewFileStore(dir string) *FileStore {
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return &FileStore{err: fmt.Errorf("recitaloauth: file store: %w", err)}
		}
		dir = filepath.Join(cache, "recitaloauth")
	}
	// Absolute, so that a later os.Chdir does not move the store; clean,
	// so that a trailing slash does not make Lstat follow a link.
	abs, err := filepath.Abs(dir)
	if err != nil {
		return &FileStore{err: fmt.Errorf("recitaloauth: file store: %w", err)}
	}
	return &FileStore{dir: abs}
}

// Load returns the value saved under key, or nil and no error when there
// is none (nor a directory yet). A file that breaks the rules of trust
// above, or is larger than 64 KiB, is an error; the next Save replaces it.
func (s *FileStore) Load(ctx context.Context, key string) ([]byte, error) {
	if err := s.check(ctx, key); err != nil {
		return nil, err
	}
	if exists, err := s.openDir(false); !exists || err != nil {
		return nil, err
	}
	return readPrivate(s.path(key, tokenExt))
}

// Save replaces key's value with value, atomically (see Atomicity above),
// and flushes it to disk. A value larger than 64 KiB is refused. The file
// store does not expire values (a caller ignores an expired one), except
// that an expiry already past removes key's value, as a store that drops
// values at expiry would have done at once; a zero expiry never expires.
func (s *FileStore) Save(ctx context.Context, key string, value []byte, expiry time.Time) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	if len(value) > maxFileValue {
		return fmt.Errorf("recitaloauth: file store: value of %d bytes: want at most %d", len(value), maxFileValue)
	}
	if _, err := s.openDir(true); err != nil {
		return err
	}
	path := s.path(key, tokenExt)
	if !expiry.IsZero() && !time.Now().Before(expiry) {
		unlock, err := s.lockMutex(ctx, key)
		if err != nil {
			return err
		}
		defer unlock()
		return removeFile(path)
	}

	tmp, err := writeTemp(s.dir, key, value) // before the mutex, to hold it for the rename only
	if err != nil {
		return err
	}
	unlock, err := s.lockMutex(ctx, key)
	if err != nil {
		os.Remove(tmp)
		return err
	}
	err = os.Rename(tmp, path)
	unlock()
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("recitaloauth: file store: %w", err)
	}
	return syncDir(s.dir)
}

// Delete removes key's value if it is still value, and otherwise leaves
// it; reading, comparing and removing are one step for every process
// using the directory (see Atomicity above). No value is not an error.
func (s *FileStore) Delete(ctx context.Context, key string, value []byte) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	if exists, err := s.openDir(false); !exists || err != nil {
		return err
	}
	unlock, err := s.lockMutex(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()
	path := s.path(key, tokenExt)
	current, err := readPrivate(path)
	if err != nil || current == nil || !bytes.Equal(current, value) {
		return err
	}
	return removeFile(path)
}

// TryLock takes an exclusive flock on the file key.lock without waiting,
// and reports whether it did. It excludes every other holder: other
// processes, and other TryLock calls in this process, through this
// FileStore or another one on the same directory (each call opens the file
// anew, and flock locks belong to the open file). unlock closes the file,
// which releases the lock; so does the end of the process, however it
// ends, so that a holder that died never blocks the others. ttl is
// therefore not needed, and ignored: a live holder keeps the lock until
// it calls unlock.
func (s *FileStore) TryLock(ctx context.Context, key string, ttl time.Duration) (unlock func(), ok bool, err error) {
	if err := s.check(ctx, key); err != nil {
		return nil, false, err
	}
	if _, err := s.openDir(true); err != nil {
		return nil, false, err
	}
	f, err := openLockFile(s.path(key, lockExt))
	if err != nil {
		return nil, false, err
	}
	if ok, err := tryFlock(f); !ok || err != nil {
		f.Close()
		return nil, false, err
	}
	var once sync.Once
	return func() { once.Do(func() { f.Close() }) }, true, nil
}

// check returns the error that stops any call before it starts.
func (s *FileStore) check(ctx context.Context, key string) error {
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

func (s *FileStore) path(key, ext string) string {
	return filepath.Join(s.dir, key+ext)
}

// openDir checks that the store's directory is the user's private one,
// creating it first when create is set, and reports whether it exists.
func (s *FileStore) openDir(create bool) (exists bool, err error) {
	if create {
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return false, fmt.Errorf("recitaloauth: file store: %w", err)
		}
	}
	info, err := os.Lstat(s.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !create:
		return false, nil
	case err != nil:
		return false, fmt.Errorf("recitaloauth: file store: %w", err)
	case info.Mode()&fs.ModeSymlink != 0:
		return false, fmt.Errorf("recitaloauth: file store: %s is a symbolic link", s.dir)
	case !info.IsDir():
		return false, fmt.Errorf("recitaloauth: file store: %s is not a directory", s.dir)
	}
	return true, private(s.dir, info)
}

// lockMutex waits for key's mutex file, polling (flock cannot be
// interrupted) until maxMutexWait has passed or ctx ends.
func (s *FileStore) lockMutex(ctx context.Context, key string) (unlock func(), err error) {
	f, err := openLockFile(s.path(key, mutexExt))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, maxMutexWait)
	defer cancel()
	for delay := time.Millisecond; ; delay = min(2*delay, 20*time.Millisecond) {
		ok, err := tryFlock(f)
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

// readPrivate reads path if it is a private regular file of the user's of
// at most maxFileValue bytes; a missing file is nil and no error. The
// checks apply to the file opened, not to the name, so that a file swapped
// in between is caught.
func readPrivate(path string) ([]byte, error) {
	f, err := openNoFollow(path, os.O_RDONLY)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, openError(path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("recitaloauth: file store: %w", err)
	}
	if err := checkFile(path, info); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileValue+1))
	if err != nil {
		return nil, fmt.Errorf("recitaloauth: file store: %w", err)
	}
	if len(data) > maxFileValue {
		return nil, fmt.Errorf("recitaloauth: file store: %s is larger than %d bytes", path, maxFileValue)
	}
	return data, nil
}

// openLockFile opens, creating it if need be, the lock or mutex file at
// path, if it is a private regular file of the user's.
func openLockFile(path string) (*os.File, error) {
	f, err := openNoFollow(path, os.O_RDWR|os.O_CREATE)
	if err != nil {
		return nil, openError(path, err)
	}
	info, err := f.Stat()
	if err == nil {
		err = checkFile(path, info)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// checkFile checks what was opened at path.
func checkFile(path string, info fs.FileInfo) error {
	if !info.Mode().IsRegular() {
		return fmt.Errorf("recitaloauth: file store: %s is not a regular file", path)
	}
	if info.Size() > maxFileValue {
		return fmt.Errorf("recitaloauth: file store: %s is larger than %d bytes", path, maxFileValue)
	}
	return private(path, info)
}

// openError names a symbolic link as such: the error of an open without
// following links differs between systems (ELOOP, EMLINK).
func openError(path string, err error) error {
	if info, lerr := os.Lstat(path); lerr == nil && info.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("recitaloauth: file store: %s is a symbolic link", path)
	}
	return fmt.Errorf("recitaloauth: file store: %w", err)
}

// writeTemp writes value to a new private file in dir, flushed to disk,
// and returns its name. Its name starts with a dot, which no key does.
func writeTemp(dir, key string, value []byte) (name string, err error) {
	f, err := os.CreateTemp(dir, "."+key+"-*.tmp") // mode 0600
	if err != nil {
		return "", fmt.Errorf("recitaloauth: file store: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
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
	return f.Name(), nil
}

// removeFile removes path; a file already gone is no error.
func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("recitaloauth: file store: %w", err)
	}
	return nil
}

// syncDir flushes dir's entries, so that a rename survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("recitaloauth: file store: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("recitaloauth: file store: %w", err)
	}
	return nil
}
