//go:build unix

package recitaloauth_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/seed9ffb1f9c/recitaloauth"
	"github.com/seed9ffb1f9c/recitaloauth/internal/storetest"
)

// otherUID owns the files of "another user" in the tests that need root.
const otherUID = 65534

// storeDir is a store directory that does not exist yet, in a test's own
// temporary directory.
func storeDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "store")
}

// needRoot skips a test that changes a file's owner, when not root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("making a file another user's needs root (CI runs as root)")
	}
}

// TestFileStoreContract runs the contract of Store and Locker that the
// redis store runs too; the tests below check what only the file store
// promises.
func TestFileStoreContract(t *testing.T) {
	t.Parallel() // real waits and disk writes: overlaps the other slow tests
	storetest.Run(t, func(t *testing.T) (store, peer recitaloauth.Store) {
		dir := storeDir(t)
		return recitaloauth.NewFileStore(dir), recitaloauth.NewFileStore(dir)
	})
}

// Load and Delete find no value without making the directory: only Save
// and TryLock need it.
func TestFileStoreMissingDirectory(t *testing.T) {
	dir := storeDir(t)
	s := recitaloauth.NewFileStore(dir)
	ctx := context.Background()

	got, err := s.Load(ctx, "k")
	if got != nil || err != nil {
		t.Errorf("Load without a directory = %q, %v; want nil, nil", got, err)
	}
	if err := s.Delete(ctx, "k", []byte("v")); err != nil {
		t.Errorf("Delete without a directory: %v", err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load and Delete made the directory (Lstat: %v); only Save and TryLock should", err)
	}
}

func TestFileStoreModes(t *testing.T) {
	dir := filepath.Join(storeDir(t), "nested")
	s := recitaloauth.NewFileStore(dir)
	storetest.Save(t, s, "k", "v")
	unlock, ok, err := s.TryLock(context.Background(), "k", time.Minute)
	if !ok || err != nil {
		t.Fatalf("TryLock = %v, %v; want true, nil", ok, err)
	}
	unlock()

	for _, tt := range []struct {
		path string
		want os.FileMode
	}{
		{filepath.Dir(dir), os.ModeDir | 0o700},
		{dir, os.ModeDir | 0o700},
		{filepath.Join(dir, "k.token"), 0o600},
		{filepath.Join(dir, "k.lock"), 0o600},
		{filepath.Join(dir, "k.mutex"), 0o600},
	} {
		info, err := os.Lstat(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode(); got != tt.want {
			t.Errorf("%s: mode %v, want %v", tt.path, got, tt.want)
		}
	}
}

// A reader that loads while another process replaces the value sees the
// old value or the new one, whole, and no temporary file stays behind.
func TestFileStoreAtomicReplace(t *testing.T) {
	t.Parallel() // real waits and disk writes: overlaps the other slow tests
	dir := storeDir(t)
	values := [][]byte{bytes.Repeat([]byte("a"), 40<<10), bytes.Repeat([]byte("b"), 60<<10)}
	writer := recitaloauth.NewFileStore(dir)
	storetest.Save(t, writer, "k", string(values[0]))

	done := make(chan struct{})
	var wg sync.WaitGroup
	var loads [2]atomic.Int64 // of each value, whole
	var readerFailed atomic.Bool
	wg.Go(func() {
		reader := recitaloauth.NewFileStore(dir)
		defer readerFailed.Store(true) // unless done, which ends the saves first
		for {
			select {
			case <-done:
				return
			default:
			}
			got, err := reader.Load(context.Background(), "k")
			if err != nil {
				t.Errorf("Load during Save: %v", err)
				return
			}
			switch {
			case bytes.Equal(got, values[0]):
				loads[0].Add(1)
			case bytes.Equal(got, values[1]):
				loads[1].Add(1)
			default:
				t.Errorf("Load during Save = %d bytes, %q...; want one of the values whole", len(got), got[:min(len(got), 8)])
				return
			}
		}
	})
	// At least 200 saves, and on until the reader has loaded each value:
	// loads that all ran before or after the saves would prove nothing.
	deadline := time.Now().Add(10 * time.Second)
	saves := 0
	for ; !readerFailed.Load() && (saves < 200 || (loads[0].Load() == 0 || loads[1].Load() == 0) && time.Now().Before(deadline)); saves++ {
		storetest.Save(t, writer, "k", string(values[saves%2]))
	}
	close(done)
	wg.Wait()
	t.Logf("%d and %d loads during %d saves", loads[0].Load(), loads[1].Load(), saves)
	if !t.Failed() && (loads[0].Load() == 0 || loads[1].Load() == 0) {
		t.Errorf("%d loads of one value and %d of the other during %d saves, want some of each", loads[0].Load(), loads[1].Load(), saves)
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"k.mutex", "k.token"}, names); diff != "" {
		t.Errorf("files left in the directory mismatch (-want +got):\n%s", diff)
	}
}

// A directory that is not the user's private one is refused by every
// method, and left as it was.
func TestFileStoreRefusesDirectory(t *testing.T) {
	for _, tt := range []struct {
		name    string
		root    bool
		setup   func(t *testing.T, dir string)
		wantErr string
	}{
		{
			name: "symbolic link",
			setup: func(t *testing.T, dir string) {
				if err := os.Symlink(t.TempDir(), dir); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "is a symbolic link",
		},
		{
			name:    "open to group",
			setup:   func(t *testing.T, dir string) { mkdirMode(t, dir, 0o750) },
			wantErr: "open to group or others",
		},
		{
			name:    "open to others",
			setup:   func(t *testing.T, dir string) { mkdirMode(t, dir, 0o701) },
			wantErr: "open to group or others",
		},
		{
			name: "another user's",
			root: true,
			setup: func(t *testing.T, dir string) {
				mkdirMode(t, dir, 0o700)
				chown(t, dir, otherUID)
			},
			wantErr: "belongs to uid 65534",
		},
		{
			name: "not a directory",
			setup: func(t *testing.T, dir string) {
				if err := os.WriteFile(dir, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "not a directory",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root {
				needRoot(t)
			}
			dir := storeDir(t)
			tt.setup(t, dir)
			before, err := os.Lstat(dir)
			if err != nil {
				t.Fatal(err)
			}
			s := recitaloauth.NewFileStore(dir)
			ctx := context.Background()
			_, loadErr := s.Load(ctx, "k")
			_, _, lockErr := s.TryLock(ctx, "k", time.Minute)
			for op, err := range map[string]error{
				"Load":    loadErr,
				"Save":    s.Save(ctx, "k", []byte("v"), time.Now().Add(time.Hour)),
				"Delete":  s.Delete(ctx, "k", []byte("v")),
				"TryLock": lockErr,
			} {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("%s: error %v, want one saying %q", op, err, tt.wantErr)
				}
			}

			after, err := os.Lstat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if before.Mode() != after.Mode() || owner(before) != owner(after) {
				t.Errorf("the store changed %s: mode %v uid %d, now mode %v uid %d",
					dir, before.Mode(), owner(before), after.Mode(), owner(after))
			}
			if after.Mode()&os.ModeSymlink != 0 {
				if entries, err := os.ReadDir(dir); len(entries) != 0 || err != nil {
					t.Errorf("the store wrote %d files through the link (%v)", len(entries), err)
				}
			}
		})
	}
}

// A file in the directory that is not the user's private regular file is
// refused, and left as it was.
func TestFileStoreRefusesFile(t *testing.T) {
	planted := filepath.Join(t.TempDir(), "planted")
	if err := os.WriteFile(planted, []byte("planted"), 0o600); err != nil {
		t.Fatal(err)
	}
	symlink := func(name string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.Symlink(planted, filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	load := func(s *recitaloauth.FileStore) error { _, err := s.Load(context.Background(), "k"); return err }
	deleteOp := func(s *recitaloauth.FileStore) error { return s.Delete(context.Background(), "k", []byte("planted")) }
	save := func(s *recitaloauth.FileStore) error {
		return s.Save(context.Background(), "k", []byte("v"), time.Now().Add(time.Hour))
	}
	tryLock := func(s *recitaloauth.FileStore) error {
		_, _, err := s.TryLock(context.Background(), "k", time.Minute)
		return err
	}

	for _, tt := range []struct {
		name    string
		root    bool
		setup   func(t *testing.T, dir string)
		ops     map[string]func(*recitaloauth.FileStore) error
		wantErr string
	}{
		{
			name:    "value is a symbolic link",
			setup:   symlink("k.token"),
			ops:     map[string]func(*recitaloauth.FileStore) error{"Load": load, "Delete": deleteOp},
			wantErr: "is a symbolic link",
		},
		{
			name:    "value is open to group",
			setup:   func(t *testing.T, dir string) { writeMode(t, filepath.Join(dir, "k.token"), "planted", 0o640) },
			ops:     map[string]func(*recitaloauth.FileStore) error{"Load": load, "Delete": deleteOp},
			wantErr: "open to group or others",
		},
		{
			name: "value is another user's",
			root: true,
			setup: func(t *testing.T, dir string) {
				path := filepath.Join(dir, "k.token")
				writeMode(t, path, "planted", 0o600)
				chown(t, path, otherUID)
			},
			ops:     map[string]func(*recitaloauth.FileStore) error{"Load": load, "Delete": deleteOp},
			wantErr: "belongs to uid 65534",
		},
		{
			name: "value is larger than 64 KiB",
			setup: func(t *testing.T, dir string) {
				writeMode(t, filepath.Join(dir, "k.token"), strings.Repeat("x", 64<<10+1), 0o600)
			},
			ops:     map[string]func(*recitaloauth.FileStore) error{"Load": load, "Delete": deleteOp},
			wantErr: "larger than 65536 bytes",
		},
		{
			name: "value is a FIFO", // and opening it does not hang
			setup: func(t *testing.T, dir string) {
				if err := syscall.Mkfifo(filepath.Join(dir, "k.token"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			ops:     map[string]func(*recitaloauth.FileStore) error{"Load": load, "Delete": deleteOp},
			wantErr: "not a regular file",
		},
		{
			name:    "lock file is a symbolic link",
			setup:   symlink("k.lock"),
			ops:     map[string]func(*recitaloauth.FileStore) error{"TryLock": tryLock},
			wantErr: "is a symbolic link",
		},
		{
			name: "lock file is another user's",
			root: true,
			setup: func(t *testing.T, dir string) {
				path := filepath.Join(dir, "k.lock")
				writeMode(t, path, "", 0o600)
				chown(t, path, otherUID)
			},
			ops:     map[string]func(*recitaloauth.FileStore) error{"TryLock": tryLock},
			wantErr: "belongs to uid 65534",
		},
		{
			name:    "mutex file is a symbolic link",
			setup:   symlink("k.mutex"),
			ops:     map[string]func(*recitaloauth.FileStore) error{"Save": save},
			wantErr: "is a symbolic link",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root {
				needRoot(t)
			}
			dir := storeDir(t)
			mkdirMode(t, dir, 0o700)
			tt.setup(t, dir)
			s := recitaloauth.NewFileStore(dir)
			for op, f := range tt.ops {
				done := make(chan error, 1)
				go func() { done <- f(s) }()
				select {
				case err := <-done:
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Errorf("%s: error %v, want one saying %q", op, err, tt.wantErr)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("%s hung", op)
				}
			}
			if got, err := os.ReadFile(planted); string(got) != "planted" || err != nil {
				t.Errorf("the file a link points to now holds %q (%v); want it untouched", got, err)
			}
		})
	}
}

// Save replaces a value file it would not read, and never writes through
// a link.
func TestFileStoreSaveReplacesBadValue(t *testing.T) {
	planted := filepath.Join(t.TempDir(), "planted")
	writeMode(t, planted, "planted", 0o600)
	dir := storeDir(t)
	mkdirMode(t, dir, 0o700)
	if err := os.Symlink(planted, filepath.Join(dir, "k.token")); err != nil {
		t.Fatal(err)
	}
	s := recitaloauth.NewFileStore(dir)
	storetest.Save(t, s, "k", "mine")
	if got := storetest.Load(t, s, "k"); string(got) != "mine" {
		t.Errorf("Load after Save over a link = %q, want %q", got, "mine")
	}
	if got, err := os.ReadFile(planted); string(got) != "planted" || err != nil {
		t.Errorf("the link's target now holds %q (%v); want it untouched", got, err)
	}
}

func TestFileStoreExpiry(t *testing.T) {
	s := recitaloauth.NewFileStore(storeDir(t))
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		expiry time.Time
		want   []byte
	}{
		{"future expiry saves", time.Now().Add(time.Hour), []byte("new")},
		{"zero expiry saves", time.Time{}, []byte("new")},
		{"past expiry removes the value", time.Now().Add(-time.Second), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Save(t, s, "k", "old")
			if err := s.Save(ctx, "k", []byte("new"), tt.expiry); err != nil {
				t.Fatal(err)
			}
			if got := storetest.Load(t, s, "k"); !bytes.Equal(got, tt.want) {
				t.Errorf("Load = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFileStoreSaveTooLarge(t *testing.T) {
	s := recitaloauth.NewFileStore(storeDir(t))
	err := s.Save(context.Background(), "k", make([]byte, 64<<10+1), time.Now().Add(time.Hour))
	if err == nil || !strings.Contains(err.Error(), "at most 65536") {
		t.Errorf("Save of 64 KiB + 1 = %v, want an error saying at most 65536", err)
	}
}

// Save and Delete wait for the key's mutex file, which another process
// may hold, and stop waiting when their context ends.
func TestFileStoreMutexWaitCancelled(t *testing.T) {
	t.Parallel() // real waits and disk writes: overlaps the other slow tests
	for _, tt := range []struct {
		name string
		op   func(ctx context.Context, s *recitaloauth.FileStore) error
	}{
		{"Save", func(ctx context.Context, s *recitaloauth.FileStore) error {
			return s.Save(ctx, "k", []byte("new"), time.Now().Add(time.Hour))
		}},
		{"Save with a past expiry", func(ctx context.Context, s *recitaloauth.FileStore) error {
			return s.Save(ctx, "k", []byte("new"), time.Now().Add(-time.Hour))
		}},
		{"Delete", func(ctx context.Context, s *recitaloauth.FileStore) error {
			return s.Delete(ctx, "k", []byte("old"))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := storeDir(t)
			s := recitaloauth.NewFileStore(dir)
			storetest.Save(t, s, "k", "old")
			mutex, err := os.OpenFile(filepath.Join(dir, "k.mutex"), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer mutex.Close()
			if err := syscall.Flock(int(mutex.Fd()), syscall.LOCK_EX); err != nil {
				t.Fatal(err)
			}

			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			start := time.Now()
			err = tt.op(ctx, s)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v, want context.Canceled", err)
			}
			if elapsed := time.Since(start); elapsed > time.Second {
				t.Errorf("returned after %v; the context ended after 50ms", elapsed)
			}
			if got := storetest.Load(t, s, "k"); string(got) != "old" {
				t.Errorf("the value is %q while another holds the mutex, want %q", got, "old")
			}
		})
	}
}

// A bad key, refused (see the contract's BadKeys), makes no file in the
// directory nor beside it.
func TestFileStoreBadKeysMakeNoFiles(t *testing.T) {
	dir := storeDir(t)
	s := recitaloauth.NewFileStore(dir)
	storetest.Save(t, s, "good-Key-09", "v")
	ctx := context.Background()
	for _, key := range storetest.BadKeys {
		s.Load(ctx, key)
		s.Save(ctx, key, []byte("v"), time.Now().Add(time.Hour))
		s.Delete(ctx, key, []byte("v"))
		if unlock, _, _ := s.TryLock(ctx, key, time.Minute); unlock != nil {
			unlock()
		}
	}
	entries, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("bad keys made files beside the store's directory: %v", entries)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("bad keys made files in the store's directory: %v", entries)
	}
}

// lockChildEnv names the directory in which the child process of
// TestFileStoreLockAcrossProcesses takes the lock.
const lockChildEnv = "RECITALOAUTH_TEST_LOCK_CHILD"

// TestFileStoreLockAcrossProcesses runs this test binary again as a child
// that takes the lock, and checks that this process cannot take it until
// the child unlocks it, or dies without unlocking.
func TestFileStoreLockAcrossProcesses(t *testing.T) {
	if dir := os.Getenv(lockChildEnv); dir != "" {
		lockChild(dir)
		return
	}
	for _, tt := range []struct {
		name    string
		release func(t *testing.T, child *exec.Cmd, stdin io.WriteCloser, stdout *bufio.Scanner)
	}{
		{"child unlocks", func(t *testing.T, child *exec.Cmd, stdin io.WriteCloser, stdout *bufio.Scanner) {
			fmt.Fprintln(stdin, "unlock")
			waitLine(t, stdout, "unlocked") // and the child lives on until stdin closes
		}},
		{"child is killed", func(t *testing.T, child *exec.Cmd, stdin io.WriteCloser, stdout *bufio.Scanner) {
			child.Process.Kill()
			child.Wait()
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := storeDir(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			child := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestFileStoreLockAcrossProcesses$")
			child.Env = append(os.Environ(), lockChildEnv+"="+dir,
				"GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0") // the race detector's 1 s pause at exit
			var stderr bytes.Buffer
			child.Stderr = &stderr
			stdin, err := child.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			pipe, err := child.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := child.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				stdin.Close()
				child.Wait()
				if t.Failed() {
					t.Logf("child's stderr:\n%s", stderr.String())
				}
			}()
			stdout := bufio.NewScanner(pipe)
			waitLine(t, stdout, "locked")

			s := recitaloauth.NewFileStore(dir)
			if _, ok, err := s.TryLock(ctx, "k", time.Minute); ok || err != nil {
				t.Fatalf("TryLock while the child holds the lock = %v, %v; want false, nil", ok, err)
			}
			tt.release(t, child, stdin, stdout)
			unlock, ok, err := s.TryLock(ctx, "k", time.Minute)
			if !ok || err != nil {
				t.Fatalf("TryLock after the child let go = %v, %v; want true, nil", ok, err)
			}
			unlock()
		})
	}
}

// lockChild is the child's side: take the lock, say so, unlock when told,
// say so, and exit when stdin closes.
func lockChild(dir string) {
	stdin := bufio.NewReader(os.Stdin)
	unlock, ok, err := recitaloauth.NewFileStore(dir).TryLock(context.Background(), "k", time.Minute)
	if !ok || err != nil {
		fmt.Fprintf(os.Stderr, "child: TryLock = %v, %v\n", ok, err)
		os.Exit(2)
	}
	fmt.Println("locked")
	if line, _ := stdin.ReadString('\n'); line == "unlock\n" {
		unlock()
		fmt.Println("unlocked")
	}
	io.Copy(io.Discard, stdin)
	os.Exit(0)
}

// waitLine reads stdout until a line that is want.
func waitLine(t *testing.T, stdout *bufio.Scanner, want string) {
	t.Helper()
	for stdout.Scan() {
		if stdout.Text() == want {
			return
		}
	}
	t.Fatalf("the child ended without saying %q (%v)", want, stdout.Err())
}

func mkdirMode(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func writeMode(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func chown(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.Lchown(path, uid, -1); err != nil {
		t.Fatal(err)
	}
}

func owner(info os.FileInfo) uint32 {
	return info.Sys().(*syscall.Stat_t).Uid
}
