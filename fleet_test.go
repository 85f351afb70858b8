package recitaloauth_test

// Processes sharing a store, as real child processes: internal/fleetchild,
// with its part in the environment.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth/internal/redistest"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
)

// child builds internal/fleetchild once, and returns its path.
var child = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "fleetchild-")
	if err != nil {
		return "", err
	}
	childDir = dir
	path := filepath.Join(dir, "fleetchild")
	out, err := exec.Command("go", "build", "-o", path, "github.com/seed9ffb1f9c/recitaloauth/internal/fleetchild").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build fleetchild: %v\n%s", err, out)
	}
	return path, nil
})

var childDir string // removed by TestMain

func TestMain(m *testing.M) {
	code := m.Run()
	if childDir != "" {
		os.RemoveAll(childDir)
	}
	os.Exit(code)
}

const fleetUser, fleetPassword = "fleet@example.com", "fleet-password-Ω"

// fleet is a recital server and the environment its children share.
type fleet struct {
	t      *testing.T
	server *recitaltest.Server
	store  string
}

// newFleet skips under -short, before spec starts a store: the fleet tests
// build and start child processes, seconds of a mutation run's every test.
func newFleet(t *testing.T, spec func(*testing.T) string) *fleet {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	store := spec(t)
	server := recitaltest.NewServer()
	t.Cleanup(server.Close)
	server.AddUser(fleetUser, fleetPassword)
	return &fleet{t: t, server: server, store: store}
}

// start starts a child that requests for span (0: one Token call).
func (f *fleet) start(span time.Duration) (*exec.Cmd, *bufio.Scanner) {
	f.t.Helper()
	path, err := child()
	if err != nil {
		f.t.Fatal(err)
	}
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(),
		"FLEET_USERNAME="+fleetUser,
		"FLEET_PASSWORD="+fleetPassword,
		"FLEET_AUTH_URL="+f.server.AuthURL(),
		"FLEET_API_URL="+f.server.APIURL(),
		"FLEET_STORE="+f.store,
		"FLEET_FOR="+span.String(),
	)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		f.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	return cmd, bufio.NewScanner(out)
}

// run runs n children at once and waits for them; each must succeed.
func (f *fleet) run(n int, span time.Duration) []string {
	f.t.Helper()
	var mu sync.Mutex
	var lines []string
	var wg sync.WaitGroup
	for range n {
		cmd, out := f.start(span)
		wg.Go(func() {
			for out.Scan() { // the child's lines; the rest is go test's
				if line := out.Text(); strings.HasPrefix(line, "token ") || strings.HasPrefix(line, "refused ") {
					mu.Lock()
					lines = append(lines, line)
					mu.Unlock()
				}
			}
			if err := cmd.Wait(); err != nil {
				f.t.Errorf("child: %v", err)
			}
		})
	}
	wg.Wait()
	return lines
}

// fileStoreSpec names a directory the store makes itself, 0700.
func fileStoreSpec(t *testing.T) string { return "file:" + filepath.Join(t.TempDir(), "store") }

func redisStoreSpec(t *testing.T) string { return "redis:" + redistest.Start(t) }

// TestFleetFileInTurn: 20 processes run one after another on one file
// store log in once between them.
func TestFleetFileInTurn(t *testing.T) {
	f := newFleet(t, fileStoreSpec)
	t.Parallel() // its own server and store; TestFleetRedisLifetimes, which times, runs alone
	for range 20 {
		f.run(1, 0)
	}
	if n := f.server.Logins(); n != 1 {
		t.Errorf("20 processes in turn made %d logins, want 1", n)
	}
}

// TestFleetTogether: 8 processes started together log in once between
// them, on a file store and on Redis.
func TestFleetTogether(t *testing.T) {
	for _, store := range []struct {
		name string
		spec func(*testing.T) string
	}{{"file", fileStoreSpec}, {"redis", redisStoreSpec}} {
		t.Run(store.name, func(t *testing.T) {
			f := newFleet(t, store.spec)
			t.Parallel()
			f.server.SetLoginDelay(200 * time.Millisecond) // all start before it ends
			tokens := f.run(8, 0)
			if n := f.server.Logins(); n != 1 {
				t.Errorf("8 processes started together made %d logins, want 1", n)
			}
			for _, tok := range tokens {
				if tok != tokens[0] {
					t.Errorf("processes got different tokens: %q", tokens)
					break
				}
			}
		})
	}
}

// TestFleetRedisLifetimes: 4 processes requesting for 3 token lifetimes
// log in about once per lifetime between them (4: the first, and one per
// rollover), not 4 times as many, and no request is refused.
func TestFleetRedisLifetimes(t *testing.T) {
	f := newFleet(t, redisStoreSpec)
	const lifetime = time.Second
	f.server.SetTokenLifetime(lifetime)
	lines := f.run(4, 3*lifetime)
	if n := f.server.Logins(); n < 3 || n > 5 {
		t.Errorf("4 processes over 3 lifetimes made %d logins, want about one per lifetime (3 to 5)", n)
	}
	if len(lines) > 0 {
		t.Errorf("requests were refused: %q", lines)
	}
}

// TestFleetRedisRevoked: when the fleet's token is revoked, the whole
// fleet heals with one login: one process deletes it and logs in, the
// others find the new token.
func TestFleetRedisRevoked(t *testing.T) {
	f := newFleet(t, redisStoreSpec)
	t.Parallel()
	first := strings.TrimPrefix(f.run(1, 0)[0], "token ")
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		f.run(4, 2*time.Second)
	}()
	// The revocation waits for the fleet to be at work, but no longer than
	// the fleet's life: a fleet that ends first fails the test, not hangs it.
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for f.server.APIRequests() < 20 {
		select {
		case <-ended:
			t.Fatalf("the fleet ended after %d API requests, before the 20 that start the revocation", f.server.APIRequests())
		case <-poll.C:
		}
	}
	f.server.Revoke(first)
	<-ended
	if n := f.server.Logins(); n != 2 {
		t.Errorf("%d logins, want 2: the first, and one for the whole fleet after the revocation", n)
	}
}
