package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
)

// binary is the command, built once for all the tests, which run it as a
// process the way a shell would.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "recitaltoken-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := buildAndRun(m, dir)
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildAndRun(m *testing.M, dir string) int {
	goTool, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "the tests build the command and need the go tool:", err)
		return 1
	}
	binary = filepath.Join(dir, "recitaltoken")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	build := exec.Command(goTool, "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "go build:", err)
		return 1
	}
	return m.Run()
}

const (
	username = "alice@example.com"
	password = "correct horse battery staple"
)

// fixture is a fake recital server and an isolated home directory for
// the command: its user cache directory is under the test's own
// temporary directory, never the developer's.
type fixture struct {
	t      *testing.T
	server *recitaltest.Server
	home   string
	env    map[string]string // the RECITAL_* variables; nothing is inherited
}

// newFixture starts a server that knows username and password, and sets
// the variables for them.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	s := recitaltest.NewServer()
	t.Cleanup(s.Close)
	s.AddUser(username, password)
	return &fixture{
		t:      t,
		server: s,
		home:   t.TempDir(),
		env: map[string]string{
			"RECITAL_USERNAME": username,
			"RECITAL_PASSWORD": password,
			"RECITAL_AUTH_URL": s.AuthURL(),
			"RECITAL_API_URL":  s.APIURL(),
		},
	}
}

// cacheDir is where the command keeps its tokens in this fixture.
func (f *fixture) cacheDir() string { return filepath.Join(f.home, "cache", "recitaloauth") }

// result is what a run of the command did.
type result struct {
	Code   int
	Stdout string
	Stderr string
}

// run runs the command with stdin and args and returns what it did. It
// fails the test if stderr holds the password, or a token it printed.
func (f *fixture) run(stdin string, args ...string) result {
	f.t.Helper()
	cmd := exec.CommandContext(f.t.Context(), binary, args...)
	cmd.Env = []string{
		"HOME=" + f.home,
		"XDG_CACHE_HOME=" + filepath.Join(f.home, "cache"),
		"LocalAppData=" + filepath.Join(f.home, "cache"),
	}
	for name, value := range f.env {
		cmd.Env = append(cmd.Env, name+"="+value)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			f.t.Fatalf("running recitaltoken %s: %v", strings.Join(args, " "), err)
		}
	}
	r := result{Code: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String()}
	secrets := []string{password, f.env["RECITAL_PASSWORD"], strings.TrimSpace(stdin)}
	if token := strings.TrimSpace(r.Stdout); !strings.HasPrefix(token, "{") {
		secrets = append(secrets, token)
	}
	for _, secret := range secrets {
		if secret != "" && strings.Contains(r.Stderr, secret) {
			f.t.Errorf("recitaltoken %s: stderr holds a secret %q:\n%s", strings.Join(args, " "), secret, r.Stderr)
		}
	}
	return r
}

// token runs the command with no flags and returns the token it printed,
// failing the test unless it printed exactly one line and exited 0.
func (f *fixture) token() string {
	f.t.Helper()
	r := f.run("")
	if r.Code != 0 || r.Stderr != "" {
		f.t.Fatalf("recitaltoken: exit %d, stderr %q; want 0 and nothing", r.Code, r.Stderr)
	}
	return oneLine(f.t, r.Stdout)
}

// oneLine returns the only line of out, failing the test unless out is
// exactly one non-empty line.
func oneLine(t *testing.T, out string) string {
	t.Helper()
	line, ok := strings.CutSuffix(out, "\n")
	if !ok || line == "" || strings.Contains(line, "\n") {
		t.Fatalf("stdout %q, want exactly one non-empty line", out)
	}
	return line
}

// configUser calls GET /config/ with token and returns the status and the
// user the server took the token for.
func (f *fixture) configUser(token string) (int, string) {
	f.t.Helper()
	req, err := http.NewRequestWithContext(f.t.Context(), http.MethodGet, f.server.APIURL()+"/config/", nil)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := f.server.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ User string }
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.User
}

// cacheFiles lists the names of the files in the cache directory but the
// lock file, which is empty and holds nothing.
func (f *fixture) cacheFiles() []string {
	f.t.Helper()
	entries, err := os.ReadDir(f.cacheDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != ".lock" {
			names = append(names, e.Name())
		}
	}
	return names
}

// tokenFile returns the path of the only cache file, failing the test
// unless there is exactly one and nothing else.
func (f *fixture) tokenFile() string {
	f.t.Helper()
	names := f.cacheFiles()
	if len(names) != 1 || !strings.HasPrefix(names[0], "token-") || !strings.HasSuffix(names[0], ".json") {
		f.t.Fatalf("cache directory holds %q, want one token-*.json file", names)
	}
	return filepath.Join(f.cacheDir(), names[0])
}

// wantLogins fails the test unless the server has seen n logins.
func (f *fixture) wantLogins(n int) {
	f.t.Helper()
	if got := f.server.Logins(); got != n {
		f.t.Errorf("%d logins, want %d", got, n)
	}
}
