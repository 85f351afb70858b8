package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth/internal/syncio"

	"github.com/seed9ffb1f9c/recitaloauth/internal/tempdir"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
)

// Most tests call run in process; the exec tests build the command once,
// into buildDir, to check what only a process shows: exit codes, signals,
// runs started together.
var (
	buildDir  string
	buildOnce sync.Once
	binary    string
	buildErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "recitaltoken-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	tempdir.RemoveAll(dir)
	os.Exit(code)
}

// built returns the command's binary, building it on first use; or the
// one RECITALTOKEN_BINARY names, built beforehand where go build cannot
// run (.ci/wine-test: Windows test binaries under wine).
func built(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binary = os.Getenv("RECITALTOKEN_BINARY"); binary != "" {
			return
		}
		binary = filepath.Join(buildDir, "recitaltoken")
		if runtime.GOOS == "windows" {
			binary += ".exe"
		}
		out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

const (
	username = "alice@example.com"
	password = "correct horse battery staple"
)

// fixture is a fake recital server, the variables for it, and a home
// directory of the test's own: the token store is under it, never in the
// developer's cache.
type fixture struct {
	t            *testing.T
	server       *recitaltest.Server
	home         string
	env          map[string]string // the whole environment; nothing is inherited
	loginTimeout time.Duration     // 0: the library's default
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
		home:   tempdir.New(t),
		env: map[string]string{
			"RECITAL_USERNAME": username,
			"RECITAL_PASSWORD": password,
			"RECITAL_AUTH_URL": s.AuthURL(),
			"RECITAL_API_URL":  s.APIURL(),
		},
	}
}

// storeDir is the token store's directory: filestore.New("")'s under
// XDG_CACHE_HOME (LocalAppData on Windows) for the exec tests, given to
// run by the others.
func (f *fixture) storeDir() string { return filepath.Join(f.home, "cache", "recitaloauth") }

// result is what a run of the command did.
type result struct {
	Code   int
	Stdout string
	Stderr string
}

// run calls the command in process with stdin and args.
func (f *fixture) run(stdin string, args ...string) result {
	f.t.Helper()
	return f.runContext(f.t.Context(), stdin, args...)
}

func (f *fixture) runContext(ctx context.Context, stdin string, args ...string) result {
	f.t.Helper()
	env := make(map[string]string, len(f.env))
	for k, v := range f.env {
		env[k] = v
	}
	var stdout bytes.Buffer
	var stderr syncio.Buffer // the source's login goroutine may write late
	code := run(ctx, args, surroundings{
		stdin:    strings.NewReader(stdin),
		stdout:   &stdout,
		stderr:   &stderr,
		getenv:   func(name string) string { return env[name] },
		storeDir: f.storeDir(),
		timeout:  f.loginTimeout,
	})
	return f.checked(result{Code: code, Stdout: stdout.String(), Stderr: stderr.String()}, stdin, args)
}

// exec runs the built command as a process, the way a shell would.
func (f *fixture) exec(stdin string, args ...string) result {
	f.t.Helper()
	cmd := f.command(stdin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			f.t.Fatalf("running recitaltoken %s: %v", strings.Join(args, " "), err)
		}
	}
	return f.checked(result{Code: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String()}, stdin, args)
}

func (f *fixture) command(stdin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(f.t.Context(), built(f.t), args...)
	cache := filepath.Join(f.home, "cache")
	cmd.Env = []string{"HOME=" + f.home, "XDG_CACHE_HOME=" + cache, "LocalAppData=" + cache}
	for name, value := range f.env {
		cmd.Env = append(cmd.Env, name+"="+value)
	}
	cmd.Stdin = strings.NewReader(stdin)
	return cmd
}

// checked fails the test if stderr holds the password, or the token the
// run printed.
func (f *fixture) checked(r result, stdin string, args []string) result {
	f.t.Helper()
	secrets := []string{password, f.env["RECITAL_PASSWORD"], strings.TrimSpace(stdin)}
	if token := strings.TrimSpace(r.Stdout); !strings.HasPrefix(token, "{") {
		secrets = append(secrets, token)
	} else {
		var out struct {
			AccessToken string `json:"access_token"`
		}
		json.Unmarshal([]byte(token), &out)
		secrets = append(secrets, out.AccessToken)
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

// storedTokens lists the token files in the store; its lock and mutex
// files are empty and hold nothing.
func (f *fixture) storedTokens() []string {
	f.t.Helper()
	names, err := filepath.Glob(filepath.Join(f.storeDir(), "*.token"))
	if err != nil {
		f.t.Fatal(err)
	}
	return names
}

// wantLogins fails the test unless the server has seen n logins.
func (f *fixture) wantLogins(n int) {
	f.t.Helper()
	if got := f.server.Logins(); got != n {
		f.t.Errorf("%d logins, want %d", got, n)
	}
}
