package recitaloauth_test

// Processes sharing a store, as real child processes: the test binary runs
// itself as a child (TestFleetChild) with its part in the environment.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/seed9ffb1f9c/recitaloauth"
	"github.com/seed9ffb1f9c/recitaloauth/internal/redistest"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
	"github.com/seed9ffb1f9c/recitaloauth/redisstore"
)

// The child's part, from its environment.
const (
	childRole    = "RECITALOAUTH_FLEET_CHILD" // "1" in a child
	childAuthURL = "RECITALOAUTH_FLEET_AUTH_URL"
	childAPIURL  = "RECITALOAUTH_FLEET_API_URL"
	childStore   = "RECITALOAUTH_FLEET_STORE" // file:DIR or redis:ADDR
	childFor     = "RECITALOAUTH_FLEET_FOR"   // keep requesting this long; else one Token call
)

const fleetUser, fleetPassword = "fleet@example.com", "fleet-password-Ω"

// TestFleetChild is a child process's part: one Token call, printing the
// token, or GET requests through Config.Client for a while, printing each
// new token it sees used.
func TestFleetChild(t *testing.T) {
	if os.Getenv(childRole) != "1" {
		t.Skip("run by the fleet tests as a child process")
	}
	cfg := &recitaloauth.Config{
		Username: fleetUser,
		Password: fleetPassword,
		AuthURL:  os.Getenv(childAuthURL),
		Store:    childStoreOf(t, os.Getenv(childStore)),
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	ctx := context.Background()
	span, _ := time.ParseDuration(os.Getenv(childFor))
	if span == 0 {
		tok, err := cfg.TokenSource(ctx).Token()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("token", tok.AccessToken)
		return
	}
	client := cfg.Client(ctx)
	for end := time.Now().Add(span); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		resp, err := client.Get(os.Getenv(childAPIURL) + "/config/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			fmt.Println("refused", resp.StatusCode)
		}
	}
}

func childStoreOf(t *testing.T, spec string) recitaloauth.Store {
	kind, where, _ := strings.Cut(spec, ":")
	switch kind {
	case "file":
		return recitaloauth.NewFileStore(where)
	case "redis":
		client := redis.NewClient(&redis.Options{Addr: where})
		t.Cleanup(func() { client.Close() })
		return redisstore.New(client)
	}
	t.Fatalf("unknown store %q", spec)
	return nil
}

// fleet is a recital server and the environment its children share.
type fleet struct {
	t      *testing.T
	server *recitaltest.Server
	store  string
}

func newFleet(t *testing.T, store string) *fleet {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	server := recitaltest.NewServer()
	t.Cleanup(server.Close)
	server.AddUser(fleetUser, fleetPassword)
	return &fleet{t: t, server: server, store: store}
}

// start starts a child that requests for span (0: one Token call).
func (f *fleet) start(span time.Duration) (*exec.Cmd, *bufio.Scanner) {
	f.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFleetChild$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		childRole+"=1",
		childAuthURL+"="+f.server.AuthURL(),
		childAPIURL+"="+f.server.APIURL(),
		childStore+"="+f.store,
		childFor+"="+span.String(),
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
	f := newFleet(t, fileStoreSpec(t))
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
			f := newFleet(t, store.spec(t))
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
	f := newFleet(t, redisStoreSpec(t))
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
	spec := redisStoreSpec(t)
	f := newFleet(t, spec)
	first := strings.TrimPrefix(f.run(1, 0)[0], "token ")
	var wg sync.WaitGroup
	wg.Go(func() { f.run(4, 2*time.Second) })
	for f.server.APIRequests() < 20 {
		time.Sleep(10 * time.Millisecond)
	}
	f.server.Revoke(first)
	wg.Wait()
	if n := f.server.Logins(); n != 2 {
		t.Errorf("%d logins, want 2: the first, and one for the whole fleet after the revocation", n)
	}
}
