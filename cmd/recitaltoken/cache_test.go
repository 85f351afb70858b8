package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/oauth2"
)

func TestHundredRunsOneLogin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	first := f.token()
	for i := range 99 {
		if got := f.token(); got != first {
			t.Fatalf("run %d printed another token than the first", i+2)
		}
	}
	f.wantLogins(1)
}

func TestCacheFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token := f.token()
	path := f.tokenFile()

	if runtime.GOOS != "windows" {
		for name, want := range map[string]fs.FileMode{f.cacheDir(): 0o700 | fs.ModeDir, path: 0o600} {
			info, err := os.Stat(name)
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Mode(); got != want {
				t.Errorf("%s: mode %v, want %v", name, got, want)
			}
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{token, password, username} {
		for _, spelling := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret))} {
			if bytes.Contains(data, []byte(spelling)) || strings.Contains(path, spelling) {
				t.Errorf("cache file %s holds %q in clear:\n%s", path, secret, data)
			}
		}
	}
	var file map[string]any
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatalf("cache file is not JSON: %v\n%s", err, data)
	}
	var keys []string
	for k := range file {
		keys = append(keys, k)
	}
	if diff := cmp.Diff([]string{"iterations", "nonce", "salt", "sealed", "version"}, keys, sortStrings); diff != "" {
		t.Errorf("cache file fields (-want +got):\n%s", diff)
	}
}

var sortStrings = cmpopts.SortSlices(func(a, b string) bool { return a < b })

// TestCacheBadFile damages the cache file in every way we know: each time,
// the command must log in once, print a good token, and replace the file
// with one the next run uses.
func TestCacheBadFile(t *testing.T) {
	t.Parallel()
	rewrite := func(change func([]byte) []byte) func(*testing.T, string) {
		return func(t *testing.T, path string) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, change(data), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	field := func(name string, value any) func(*testing.T, string) {
		return rewrite(func(data []byte) []byte {
			var file map[string]any
			if err := json.Unmarshal(data, &file); err != nil {
				t.Fatal(err)
			}
			file[name] = value
			out, _ := json.Marshal(file)
			return out
		})
	}
	chmod := func(mode fs.FileMode) func(*testing.T, string) {
		return func(t *testing.T, path string) {
			if runtime.GOOS == "windows" {
				t.Skip("mode bits mean nothing on Windows")
			}
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"garbage", rewrite(func([]byte) []byte { return []byte("\x00\xff garbage \x1b[31m") })},
		{"empty", rewrite(func([]byte) []byte { return nil })},
		{"truncated", rewrite(func(data []byte) []byte { return data[:len(data)/2] })},
		{"JSON null", rewrite(func([]byte) []byte { return []byte("null") })},
		{"JSON of another shape", rewrite(func([]byte) []byte { return []byte(`{"access_token":"forged","expiry":"2999-01-01T00:00:00Z"}`) })},
		{"one bit flipped", rewrite(func(data []byte) []byte {
			var file cacheFile
			if err := json.Unmarshal(data, &file); err != nil {
				t.Fatal(err)
			}
			file.Sealed[0] ^= 1
			out, _ := json.Marshal(file)
			return out
		})},
		{"other version", field("version", 2)},
		{"fewer iterations", field("iterations", 1)},
		{"huge iteration count", field("iterations", 1<<40)},
		{"short salt", field("salt", "AAAA")},
		{"over 64 KiB", rewrite(func(data []byte) []byte { return append(data, bytes.Repeat([]byte(" "), 64<<10)...) })},
		{"readable by the group", chmod(0o640)},
		{"readable by everyone", chmod(0o644)},
		{"writable by everyone", chmod(0o622)},
		{"symbolic link", func(t *testing.T, path string) {
			// The link leads to a perfectly good file: still not trusted.
			target := filepath.Join(t.TempDir(), "elsewhere.json")
			if err := os.Rename(path, target); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, path); err != nil {
				t.Skipf("cannot make a symbolic link: %v", err)
			}
		}},
		{"owned by another user", func(t *testing.T, path string) {
			if runtime.GOOS == "windows" || os.Geteuid() != 0 {
				t.Skip("only root can give a file away")
			}
			if err := os.Chown(path, 4242, 4242); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			first := f.token()
			path := f.tokenFile()
			tt.damage(t, path)

			token := f.token()
			if token == first {
				t.Errorf("the token from the damaged file was used")
			}
			if status, user := f.configUser(token); status != 200 || user != username {
				t.Errorf("GET /config/ with the new token: %d as %q, want 200 as %q", status, user, username)
			}
			f.wantLogins(2)

			if f.tokenFile() != path {
				t.Errorf("the new file has another name")
			}
			if info, err := os.Lstat(path); err != nil || !info.Mode().IsRegular() {
				t.Fatalf("the damaged file was not replaced by a regular file: %v, %v", info, err)
			}
			if got := f.token(); got != token {
				t.Errorf("the run after the replacement did not use the new file")
			}
			f.wantLogins(2)
		})
	}
}

// TestCacheNotAFile puts a directory where the file goes: it cannot be
// replaced, but the command still works, logging in each time.
func TestCacheNotAFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.token()
	path := f.tokenFile()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		r := f.run("")
		oneLine(t, r.Stdout)
		if r.Code != 0 || !strings.HasPrefix(r.Stderr, "recitaltoken: cannot cache the token, the next run will log in again: ") {
			t.Errorf("exit %d, stderr %q; want 0 and a note that the token is not cached", r.Code, r.Stderr)
		}
	}
	f.wantLogins(3)
}

// TestCacheAccounts checks that the cache is keyed by login URL and
// username, and that a file cannot be passed off as another account's,
// even one with the same password.
func TestCacheAccounts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.server.AddUser("bob@example.com", password)
	alice := f.token()
	aliceFile := f.tokenFile()

	f.env["RECITAL_USERNAME"] = "bob@example.com"
	bob := f.token()
	f.wantLogins(2)
	if names := f.cacheFiles(); len(names) != 2 {
		t.Fatalf("cache directory holds %q, want a file for each user", names)
	}
	var bobFile string
	for _, name := range f.cacheFiles() {
		if p := filepath.Join(f.cacheDir(), name); p != aliceFile {
			bobFile = p
		}
	}
	if got := f.token(); got != bob {
		t.Errorf("bob's second run did not reuse bob's token")
	}
	f.env["RECITAL_USERNAME"] = username
	if got := f.token(); got != alice {
		t.Errorf("alice's second run did not reuse alice's token")
	}
	f.wantLogins(2)

	// Another login URL for the same user is another file.
	f.env["RECITAL_AUTH_URL"] = f.server.AuthURL() + "&v=2" // the server ignores it
	f.token()
	f.wantLogins(3)
	f.env["RECITAL_AUTH_URL"] = f.server.AuthURL()
	if got := f.token(); got != alice {
		t.Errorf("alice's run at the first URL did not reuse her token")
	}
	f.wantLogins(3)
	if names := f.cacheFiles(); len(names) != 3 {
		t.Fatalf("cache directory holds %q, want a file per user and URL", names)
	}

	// Bob's file under alice's name.
	data, err := os.ReadFile(bobFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(aliceFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	token := f.token()
	if status, user := f.configUser(token); token == bob || status != 200 || user != username {
		t.Errorf("alice's run with bob's file: GET /config/ %d as %q, want 200 as %q", status, user, username)
	}
	f.wantLogins(4)
}

// TestCacheOtherPassword checks that a run with another password never
// gets the token a run with the right one cached.
func TestCacheOtherPassword(t *testing.T) {
	t.Parallel()
	const newPassword = "a new password"
	f := newFixture(t)
	old := f.token()

	f.env["RECITAL_PASSWORD"] = newPassword
	r := f.run("")
	want := result{Code: 1, Stderr: "recitaltoken: login refused: 401 Unauthorized: Incorrect username or password\n"}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("run with a wrong password (-want +got):\n%s", diff)
	}
	f.wantLogins(2)

	f.server.AddUser(username, newPassword) // the password changed
	if got := f.token(); got == old {
		t.Errorf("the run with the new password reused the old password's token")
	}
	f.wantLogins(3)

	f.env["RECITAL_PASSWORD"] = password
	if diff := cmp.Diff(want, f.run("")); diff != "" {
		t.Errorf("run with the old password after the change (-want +got):\n%s", diff)
	}
	f.wantLogins(4)
}

func TestNoCache(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	seen := map[string]bool{}
	for range 3 {
		r := f.run("", "-no-cache")
		if r.Code != 0 || r.Stderr != "" {
			t.Fatalf("exit %d, stderr %q; want 0 and nothing", r.Code, r.Stderr)
		}
		seen[oneLine(t, r.Stdout)] = true
	}
	f.wantLogins(3)
	if len(seen) != 3 {
		t.Errorf("%d different tokens in 3 runs, want 3", len(seen))
	}
	if names := f.cacheFiles(); len(names) != 0 {
		t.Errorf("cache directory holds %q after -no-cache runs, want nothing", names)
	}

	// -no-cache neither reads a cached token nor replaces it.
	cached := f.token()
	data, err := os.ReadFile(f.tokenFile())
	if err != nil {
		t.Fatal(err)
	}
	if got := oneLine(t, f.run("", "-no-cache").Stdout); got == cached {
		t.Errorf("-no-cache printed the cached token")
	}
	f.wantLogins(5)
	after, err := os.ReadFile(f.tokenFile())
	if err != nil || !bytes.Equal(data, after) {
		t.Errorf("-no-cache changed the cache file (%v)", err)
	}
}

// TestCacheMinuteLeft checks that a token is reused only while it has more
// than a minute to live.
func TestCacheMinuteLeft(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lifetime   time.Duration
		wantLogins int
	}{
		{30 * time.Second, 3},
		{59 * time.Second, 3},
		{2 * time.Minute, 1},
	}
	for _, tt := range tests {
		t.Run(tt.lifetime.String(), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.server.SetTokenLifetime(tt.lifetime)
			for range 3 {
				f.token()
			}
			f.wantLogins(tt.wantLogins)
		})
	}
}

// TestConcurrentRuns starts runs at once: each must succeed, and the file
// they leave must be whole and used by the next run.
func TestConcurrentRuns(t *testing.T) {
	t.Parallel()
	const runs = 8
	f := newFixture(t)
	f.server.SetLoginDelay(50 * time.Millisecond) // so that the runs overlap
	var wg sync.WaitGroup
	results := make([]result, runs)
	for i := range runs {
		wg.Go(func() { results[i] = f.run("") })
	}
	wg.Wait()
	for i, r := range results {
		if r.Code != 0 {
			t.Errorf("run %d: exit %d, stderr %q", i, r.Code, r.Stderr)
		}
		oneLine(t, r.Stdout)
	}
	f.wantLogins(1) // the runs took turns: the first logged in for all
	f.tokenFile()   // one file, and no temporary file left over
	f.token()
	f.wantLogins(1)
}

// FuzzCacheFile checks that no file content makes load panic or hand out
// a token, except the one a store of the same entry wrote.
func FuzzCacheFile(f *testing.F) {
	dir := f.TempDir()
	e := newCacheEntry(dir, "https://auth.example/login/", username, password)
	tok := &oauth2.Token{AccessToken: "access", TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}
	if err := e.store(tok); err != nil {
		f.Fatal(err)
	}
	valid, err := os.ReadFile(e.path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add([]byte{})
	f.Add([]byte(`{"version":1,"iterations":150000,"salt":"AAAAAAAAAAAAAAAAAAAAAA==","nonce":"AAAAAAAAAAAAAAAA","sealed":"AAAA"}`))
	f.Add(valid[:len(valid)-5])
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(e.path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		got := e.load()
		if bytes.Equal(data, valid) {
			if got == nil || got.AccessToken != tok.AccessToken {
				t.Errorf("load of the file store wrote = %v, want the token", got)
			}
			return
		}
		if got != nil && got.AccessToken != tok.AccessToken {
			t.Errorf("load of %q = a token %q nobody stored", data, got.AccessToken)
		}
	})
}

func TestReadPassword(t *testing.T) {
	tests := []struct {
		name    string
		stdin   string
		want    string
		wantErr string
	}{
		{name: "line", stdin: "pw\n", want: "pw"},
		{name: "CRLF", stdin: "pw\r\n", want: "pw"},
		{name: "no line ending", stdin: "pw", want: "pw"},
		{name: "first line only", stdin: "pw\nrest\n", want: "pw"},
		{name: "spaces kept", stdin: " pw \n", want: " pw "},
		{name: "nothing", stdin: "", wantErr: "-password-stdin: standard input holds no password"},
		{name: "empty line", stdin: "\npw\n", wantErr: "-password-stdin: standard input holds no password"},
		{name: "longest", stdin: strings.Repeat("x", maxPasswordLine-1) + "\n", want: strings.Repeat("x", maxPasswordLine-1)},
		{name: "longest with CRLF", stdin: strings.Repeat("x", maxPasswordLine) + "\r\n", want: strings.Repeat("x", maxPasswordLine)},
		{name: "too long", stdin: strings.Repeat("x", maxPasswordLine+1), wantErr: "-password-stdin: the first line is longer than 4096 bytes"},
		{name: "too long with newline", stdin: strings.Repeat("x", maxPasswordLine+1) + "\n", wantErr: "-password-stdin: the first line is longer than 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readPassword(strings.NewReader(tt.stdin))
			var gotErr string
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff([]string{tt.want, tt.wantErr}, []string{got, gotErr}); diff != "" {
				t.Errorf("readPassword (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCacheDirTightened: a cache directory that already exists with looser
// permissions is made private before a token goes into it.
func TestCacheDirTightened(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	t.Parallel()
	f := newFixture(t)
	if err := os.MkdirAll(f.cacheDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f.cacheDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	f.token()
	info, err := os.Stat(f.cacheDir())
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o700 {
		t.Errorf("cache directory mode %v, want 0700", got)
	}
}

// TestCacheMinuteRule: a cached token is handed out only while it has more
// than a minute to live.
func TestCacheMinuteRule(t *testing.T) {
	e := newCacheEntry(t.TempDir(), "https://auth.example/login/", username, password)
	for _, tt := range []struct {
		left time.Duration
		want bool
	}{{-time.Hour, false}, {59 * time.Second, false}, {2 * time.Minute, true}, {time.Hour, true}} {
		tok := &oauth2.Token{AccessToken: "abc", TokenType: "Bearer", Expiry: time.Now().Add(tt.left)}
		if err := e.store(tok); err != nil {
			t.Fatal(err)
		}
		if got := e.load(); (got != nil) != tt.want || got != nil && got.AccessToken != "abc" {
			t.Errorf("with %v left: load = %v, want a token: %v", tt.left, got, tt.want)
		}
	}
}
