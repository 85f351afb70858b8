package filestore_test

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
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/seed9ffb1f9c/recitaloauth"
	"github.com/seed9ffb1f9c/recitaloauth/filestore"
	"github.com/seed9ffb1f9c/recitaloauth/internal/storetest"
	"github.com/seed9ffb1f9c/recitaloauth/internal/tempdir"
)

// Compile-time checks that Store is what its documentation says. They
// live in the tests because the package itself does not import
// recitaloauth: recitaloauth's own tests import it, which would be a
// cycle.
var (
	_ recitaloauth.Store  = (*filestore.Store)(nil)
	_ recitaloauth.Locker = (*filestore.Store)(nil)
)

// storeDir is a store directory that does not exist yet, in a test's own
// temporary directory.
func storeDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(tempdir.New(t), "store")
}

// storeWithFiles is a Store in dir that has made every file it makes
// for key "k": the value, the lock and the lock's mutex.
func storeWithFiles(t *testing.T, dir string) *filestore.Store {
	t.Helper()
	s := filestore.New(dir)
	storetest.Save(t, s, "k", "v")
	unlock, ok, err := s.TryLock(context.Background(), "k", time.Minute)
	if !ok || err != nil {
		t.Fatalf("TryLock = %v, %v; want true, nil", ok, err)
	}
	unlock()
	return s
}

// TestContract runs the contract of recitaloauth's Store and Locker that
// the redis store runs too; the tests below check what only the file
// store promises.
func TestContract(t *testing.T) {
	t.Parallel() // real waits and disk writes: overlaps the other slow tests
	storetest.Run(t, func(t *testing.T) (store, peer recitaloauth.Store) {
		dir := storeDir(t)
		return filestore.New(dir), filestore.New(dir)
	})
}

// New("") keeps its files in "recitaloauth" in the user's cache
// directory: $XDG_CACHE_HOME or ~/.cache on Linux, %LocalAppData% on
// Windows, ~/Library/Caches on macOS.
func TestDefaultDirectory(t *testing.T) {
	cache := tempdir.New(t)
	switch runtime.GOOS {
	case "windows":
		t.Setenv("LocalAppData", cache)
	case "darwin", "ios":
		t.Setenv("HOME", cache)
		cache = filepath.Join(cache, "Library", "Caches")
		if err := os.MkdirAll(cache, 0o700); err != nil {
			t.Fatal(err)
		}
	default:
		t.Setenv("XDG_CACHE_HOME", cache)
	}
	storetest.Save(t, filestore.New(""), "k", "v")
	if got, err := os.ReadFile(filepath.Join(cache, "recitaloauth", "k.token")); string(got) != "v" || err != nil {
		t.Errorf("the default store's value file holds %q (%v), want %q", got, err, "v")
	}
}

// Load and Delete find no value without making the directory: only Save
// and TryLock need it.
func TestMissingDirectory(t *testing.T) {
	dir := storeDir(t)
	s := filestore.New(dir)
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

// A reader that loads while another process replaces the value sees the
// old value or the new one, whole, and no temporary file stays behind.
func TestAtomicReplace(t *testing.T) {
	t.Parallel() // real waits and disk writes: overlaps the other slow tests
	dir := storeDir(t)
	values := [][]byte{bytes.Repeat([]byte("a"), 40<<10), bytes.Repeat([]byte("b"), 60<<10)}
	writer := filestore.New(dir)
	storetest.Save(t, writer, "k", string(values[0]))

	done := make(chan struct{})
	var wg sync.WaitGroup
	var loads [2]atomic.Int64 // of each value, whole
	var readerFailed atomic.Bool
	wg.Go(func() {
		reader := filestore.New(dir)
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
	minSaves := 200
	if runtime.GOOS == "windows" {
		minSaves = 40 // a file operation under wine costs tens of milliseconds
	}
	saves := 0
	for ; !readerFailed.Load() && (saves < minSaves || (loads[0].Load() == 0 || loads[1].Load() == 0) && time.Now().Before(deadline)); saves++ {
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

func TestExpiry(t *testing.T) {
	s := filestore.New(storeDir(t))
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

// TestValueLimit: a value of 64 KiB is saved and loaded back
// whole; one byte more is refused.
func TestValueLimit(t *testing.T) {
	s := filestore.New(storeDir(t))
	limit := bytes.Repeat([]byte("v"), 64<<10)
	if err := s.Save(context.Background(), "k", limit, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Save of 64 KiB: %v", err)
	}
	if got := storetest.Load(t, s, "k"); !bytes.Equal(got, limit) {
		t.Errorf("Load after a Save of 64 KiB: %d bytes, want the 64 KiB saved", len(got))
	}
	err := s.Save(context.Background(), "k", make([]byte, 64<<10+1), time.Now().Add(time.Hour))
	if err == nil || !strings.Contains(err.Error(), "at most 65536") {
		t.Errorf("Save of 64 KiB + 1 = %v, want an error saying at most 65536", err)
	}
}

// Save and Delete wait for the key's mutex file, which another process
// may hold, and stop waiting when their context ends.
func TestMutexWaitCancelled(t *testing.T) {
	t.Parallel() // real waits and disk writes: overlaps the other slow tests
	for _, tt := range []struct {
		name string
		op   func(ctx context.Context, s *filestore.Store) error
	}{
		{"Save", func(ctx context.Context, s *filestore.Store) error {
			return s.Save(ctx, "k", []byte("new"), time.Now().Add(time.Hour))
		}},
		{"Save with a past expiry", func(ctx context.Context, s *filestore.Store) error {
			return s.Save(ctx, "k", []byte("new"), time.Now().Add(-time.Hour))
		}},
		{"Delete", func(ctx context.Context, s *filestore.Store) error {
			return s.Delete(ctx, "k", []byte("old"))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := storeDir(t)
			s := filestore.New(dir)
			storetest.Save(t, s, "k", "old")
			defer holdLock(t, filepath.Join(dir, "k.mutex"))()

			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			start := time.Now()
			err := tt.op(ctx, s)
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
func TestBadKeysMakeNoFiles(t *testing.T) {
	dir := storeDir(t)
	s := filestore.New(dir)
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
// TestLockAcrossProcesses takes the lock.
const lockChildEnv = "RECITALOAUTH_TEST_LOCK_CHILD"

// TestLockAcrossProcesses runs this test binary again as a child
// that takes the lock, and checks that this process cannot take it until
// the child unlocks it, or dies without unlocking.
func TestLockAcrossProcesses(t *testing.T) {
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
			child := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestLockAcrossProcesses$")
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

			s := filestore.New(dir)
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
	unlock, ok, err := filestore.New(dir).TryLock(context.Background(), "k", time.Minute)
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
