//go:build unix

package filestore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth/filestore"
	"github.com/seed9ffb1f9c/recitaloauth/internal/storetest"
)

// otherUID owns the files of "another user" in the tests that need root.
const otherUID = 65534

// needRoot skips a test that changes a file's owner, when not root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("making a file another user's needs root (CI runs as root)")
	}
}

func TestModes(t *testing.T) {
	dir := filepath.Join(storeDir(t), "nested")
	storeWithFiles(t, dir)

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

// A directory that is not the user's, or that others can write, is
// refused by every method, and left as it was.
func TestRefusesDirectory(t *testing.T) {
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
			name:    "writable by group",
			setup:   func(t *testing.T, dir string) { mkdirMode(t, dir, 0o770) },
			wantErr: "writable by group or others",
		},
		{
			name:    "writable by others",
			setup:   func(t *testing.T, dir string) { mkdirMode(t, dir, 0o702) },
			wantErr: "writable by group or others",
		},
		{
			name:    "writable by all, as mkdir makes it under umask 0",
			setup:   func(t *testing.T, dir string) { mkdirMode(t, dir, 0o777) },
			wantErr: "writable by group or others",
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
			s := filestore.New(dir)
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
func TestRefusesFile(t *testing.T) {
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
	othersFile := func(name, content string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			path := filepath.Join(dir, name)
			writeMode(t, path, content, 0o600)
			chown(t, path, otherUID)
		}
	}
	load := func(s *filestore.Store) error { _, err := s.Load(context.Background(), "k"); return err }
	deleteOp := func(s *filestore.Store) error { return s.Delete(context.Background(), "k", []byte("planted")) }
	save := func(s *filestore.Store) error {
		return s.Save(context.Background(), "k", []byte("v"), time.Now().Add(time.Hour))
	}
	tryLock := func(s *filestore.Store) error {
		_, _, err := s.TryLock(context.Background(), "k", time.Minute)
		return err
	}

	for _, tt := range []struct {
		name    string
		root    bool
		setup   func(t *testing.T, dir string)
		ops     map[string]func(*filestore.Store) error
		wantErr string
	}{
		{
			name:    "value is a symbolic link",
			setup:   symlink("k.token"),
			ops:     map[string]func(*filestore.Store) error{"Load": load, "Delete": deleteOp},
			wantErr: "is a symbolic link",
		},
		{
			name: "value is a symbolic link within the directory",
			setup: func(t *testing.T, dir string) {
				writeMode(t, filepath.Join(dir, "other.token"), "planted", 0o600)
				if err := os.Symlink("other.token", filepath.Join(dir, "k.token")); err != nil {
					t.Fatal(err)
				}
			},
			ops:     map[string]func(*filestore.Store) error{"Load": load, "Delete": deleteOp},
			wantErr: "is a symbolic link",
		},
		{
			name:    "value is open to group",
			setup:   func(t *testing.T, dir string) { writeMode(t, filepath.Join(dir, "k.token"), "planted", 0o640) },
			ops:     map[string]func(*filestore.Store) error{"Load": load, "Delete": deleteOp},
			wantErr: "open to group or others",
		},
		{
			name:    "value is another user's",
			root:    true,
			setup:   othersFile("k.token", "planted"),
			ops:     map[string]func(*filestore.Store) error{"Load": load, "Delete": deleteOp},
			wantErr: "belongs to uid 65534",
		},
		{
			name: "value is larger than 64 KiB",
			setup: func(t *testing.T, dir string) {
				writeMode(t, filepath.Join(dir, "k.token"), strings.Repeat("x", 64<<10+1), 0o600)
			},
			ops:     map[string]func(*filestore.Store) error{"Load": load, "Delete": deleteOp},
			wantErr: "larger than 65536 bytes",
		},
		{
			name: "value is a FIFO", // and opening it does not hang
			setup: func(t *testing.T, dir string) {
				if err := syscall.Mkfifo(filepath.Join(dir, "k.token"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			ops:     map[string]func(*filestore.Store) error{"Load": load, "Delete": deleteOp},
			wantErr: "not a regular file",
		},
		{
			name:    "lock file is a symbolic link",
			setup:   symlink("k.lock"),
			ops:     map[string]func(*filestore.Store) error{"TryLock": tryLock},
			wantErr: "is a symbolic link",
		},
		{
			name:    "lock file is another user's",
			root:    true,
			setup:   othersFile("k.lock", ""),
			ops:     map[string]func(*filestore.Store) error{"TryLock": tryLock},
			wantErr: "belongs to uid 65534",
		},
		{
			name:    "mutex file is a symbolic link",
			setup:   symlink("k.mutex"),
			ops:     map[string]func(*filestore.Store) error{"Save": save},
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
			s := filestore.New(dir)
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
func TestSaveReplacesBadValue(t *testing.T) {
	planted := filepath.Join(t.TempDir(), "planted")
	writeMode(t, planted, "planted", 0o600)
	dir := storeDir(t)
	mkdirMode(t, dir, 0o700)
	if err := os.Symlink(planted, filepath.Join(dir, "k.token")); err != nil {
		t.Fatal(err)
	}
	s := filestore.New(dir)
	storetest.Save(t, s, "k", "mine")
	if got := storetest.Load(t, s, "k"); string(got) != "mine" {
		t.Errorf("Load after Save over a link = %q, want %q", got, "mine")
	}
	if got, err := os.ReadFile(planted); string(got) != "planted" || err != nil {
		t.Errorf("the link's target now holds %q (%v); want it untouched", got, err)
	}
}

// A directory of the user's that others cannot write is accepted, as
// mkdir makes it under the usual umasks: the values are sealed and the
// files 0600, so others reading the names in it learn nothing.
func TestAcceptsDirectory(t *testing.T) {
	for _, mode := range []os.FileMode{0o700, 0o755, 0o750, 0o711} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			dir := storeDir(t)
			mkdirMode(t, dir, mode)
			s := filestore.New(dir)
			ctx := context.Background()
			if err := s.Save(ctx, "k", []byte("v"), time.Now().Add(time.Hour)); err != nil {
				t.Fatalf("Save: %v", err)
			}
			if got, err := s.Load(ctx, "k"); string(got) != "v" || err != nil {
				t.Errorf("Load = %q, %v; want %q, nil", got, err, "v")
			}
			unlock, ok, err := s.TryLock(ctx, "k", time.Minute)
			if !ok || err != nil {
				t.Fatalf("TryLock = %v, %v; want true, nil", ok, err)
			}
			unlock()
			if err := s.Delete(ctx, "k", []byte("v")); err != nil {
				t.Errorf("Delete: %v", err)
			}
			if info, err := os.Lstat(dir); err != nil || info.Mode().Perm() != mode {
				t.Errorf("the directory's mode is now %v (%v), want %v: the store never changes it", info.Mode().Perm(), err, mode)
			}
		})
	}
}

// The store's directory's parent must not let others rename the
// directory away and put a link in its place: it is accepted when only
// root or the user may write it, or when it is sticky (as /tmp is) and
// root's or the user's. The tests run as root, so "another user" is uid
// 65534.
func TestParent(t *testing.T) {
	needRoot(t)
	for _, tt := range []struct {
		name    string
		mode    os.FileMode
		uid     int
		wantErr string // "" when accepted
	}{
		{"0700, the user's", 0o700, 0, ""},
		{"0755, the user's", 0o755, 0, ""},
		{"1777, root's, like /tmp", 0o777 | os.ModeSticky, 0, ""},
		{"1770, root's", 0o770 | os.ModeSticky, 0, ""},
		{"0777, not sticky", 0o777, 0, "writable by group or others and not sticky"},
		{"0775, not sticky", 0o775, 0, "writable by group or others and not sticky"},
		{"0757, not sticky", 0o757, 0, "writable by group or others and not sticky"},
		{"0755, another user's", 0o755, otherUID, "belongs to uid 65534, not to root or this user"},
		{"1777, another user's", 0o777 | os.ModeSticky, otherUID, "belongs to uid 65534, not to root or this user"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			parent := filepath.Join(t.TempDir(), "parent")
			mkdirMode(t, parent, tt.mode)
			chown(t, parent, tt.uid)
			dir := filepath.Join(parent, "store")
			s := filestore.New(dir)
			ctx := context.Background()
			saveErr := s.Save(ctx, "k", []byte("v"), time.Now().Add(time.Hour))
			_, loadErr := s.Load(ctx, "k")
			unlock, _, lockErr := s.TryLock(ctx, "k", time.Minute)
			if unlock != nil {
				unlock()
			}
			deleteErr := s.Delete(ctx, "k", []byte("v"))
			for op, err := range map[string]error{"Save": saveErr, "Load": loadErr, "TryLock": lockErr, "Delete": deleteErr} {
				switch {
				case tt.wantErr == "" && err != nil:
					t.Errorf("%s: %v; want it to work", op, err)
				case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
					t.Errorf("%s: error %v, want one saying %q", op, err, tt.wantErr)
				}
			}
			if _, err := os.Lstat(dir); tt.wantErr != "" && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the store made its directory in a parent it refused (Lstat: %v)", err)
			}
		})
	}
}

// parentChildEnv names the store directory in which the child process of
// TestParentForUser saves and loads.
const parentChildEnv = "RECITALOAUTH_TEST_PARENT_CHILD"

// A user who is not root may keep the store in a sticky directory of
// root's, as /tmp is, but not in one that is not sticky, nor in a sticky
// one of another user's. The test runs itself again as uid 65534, from a
// copy of its binary that user may run, to be that user.
func TestParentForUser(t *testing.T) {
	if dir := os.Getenv(parentChildEnv); dir != "" {
		parentChild(dir)
		return
	}
	needRoot(t)
	bin := filepath.Join(worldReadableDir(t), "store.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	base := worldReadableDir(t)
	coverDir := worldReadableDir(t)
	chown(t, coverDir, otherUID)
	for _, tt := range []struct {
		name string
		mode os.FileMode
		uid  int
		want string // the child's last line
	}{
		{"1777, root's, like /tmp", 0o777 | os.ModeSticky, 0, "ok"},
		{"0755, root's, holding a directory of the user's", 0o755, 0, "ok"},
		{"0777, root's, not sticky", 0o777, 0, "writable by group or others and not sticky"},
		{"1777, another user's", 0o777 | os.ModeSticky, otherUID - 1, "belongs to uid 65533, not to root or this user (uid 65534)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			parent, err := os.MkdirTemp(base, "parent-")
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(parent, "store")
			if tt.mode&os.ModeSticky == 0 && tt.mode&0o002 == 0 {
				mkdirMode(t, dir, 0o700) // the user could not make it here
				chown(t, dir, otherUID)
			}
			if err := os.Chmod(parent, tt.mode); err != nil {
				t.Fatal(err)
			}
			chown(t, parent, tt.uid)
			child := exec.Command(bin, "-test.run=^TestParentForUser$")
			// GOCOVERDIR, set under go test -cover, is the parent's and
			// closed to the child: the child writes its counters (unused)
			// to a directory of its own, or fails at exit.
			child.Env = append(os.Environ(), parentChildEnv+"="+dir, "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0",
				"GOCOVERDIR="+coverDir)
			child.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: otherUID, Gid: otherUID}}
			out, err := child.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if got := lines[len(lines)-1]; !strings.Contains(got, tt.want) {
				t.Errorf("the child, as uid %d, said %q; want %q", otherUID, got, tt.want)
			}
		})
	}
}

// parentChild is the child's side: save and load in dir, and say "ok" or
// the error.
func parentChild(dir string) {
	s := filestore.New(dir)
	err := s.Save(context.Background(), "k", []byte("v"), time.Now().Add(time.Hour))
	if err == nil {
		var got []byte
		if got, err = s.Load(context.Background(), "k"); err == nil && string(got) != "v" {
			err = fmt.Errorf("Load = %q, want %q", got, "v")
		}
	}
	if err != nil {
		fmt.Println("error:", err)
	} else {
		fmt.Println("ok")
	}
	os.Exit(0)
}

// worldReadableDir is a new directory that every user may enter, removed
// at the end of the test (t.TempDir's are 0700, in a 0700 directory).
func worldReadableDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "recitaloauth-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Another process swaps the store's directory for a symbolic link and
// back, again and again, while the store saves: whatever each call
// does, nothing lands in the link's target. (TestDirectorySwapped
// puts the swap at the worst moment; this one races it for real.)
func TestDirectorySwappedConcurrently(t *testing.T) {
	base := t.TempDir()
	dir, moved, target := filepath.Join(base, "store"), filepath.Join(base, "moved"), filepath.Join(base, "target")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	s := filestore.New(dir)
	storetest.Save(t, s, "k", "mine")

	done := make(chan struct{})
	var wg sync.WaitGroup
	swaps := 0
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if os.Rename(dir, moved) != nil {
				continue
			}
			os.Symlink(target, dir)
			os.Remove(dir)
			if os.Rename(moved, dir) != nil { // the store made a new one meanwhile
				os.RemoveAll(moved)
			}
			swaps++
		}
	})
	ctx := context.Background()
	for range 100 {
		s.Save(ctx, "k", []byte("new"), time.Now().Add(time.Hour))
		if unlock, _, _ := s.TryLock(ctx, "k", time.Minute); unlock != nil {
			unlock()
		}
	}
	close(done)
	wg.Wait()
	entries, err := os.ReadDir(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d swaps during 100 saves and locks", swaps)
	if len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("the store wrote %v into the link's target", names)
	}
}

// holdLock takes the flock the store takes on path, as another process
// would, until release.
func holdLock(t *testing.T, path string) (release func()) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	return func() { f.Close() }
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

// TestMutexWaitSleeps: a Save waiting for a key's mutex that
// another process holds sleeps between its looks (up to 20 ms apart), so
// that a wait of up to 2 s does not keep a core busy: over 400 ms of
// waiting, the process uses less than a tenth of that in CPU time (a
// few milliseconds; a loop that looks without sleeping, several times
// more even on a loaded machine).
func TestMutexWaitSleeps(t *testing.T) {
	dir := storeDir(t)
	s := filestore.New(dir)
	storetest.Save(t, s, "k", "old")
	defer holdLock(t, filepath.Join(dir, "k.mutex"))()
	const wait = 400 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	before := cpuTime(t)
	if err := s.Save(ctx, "k", []byte("new"), time.Now().Add(time.Hour)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Save = %v, want context.DeadlineExceeded", err)
	}
	if used := cpuTime(t) - before; used > wait/10 {
		t.Errorf("waiting %v for the mutex used %v of CPU time, want less than %v", wait, used, wait/10)
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
