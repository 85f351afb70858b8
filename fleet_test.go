package recitaloauth_test

// Processes sharing a store, as real child processes: internal/fleetchild,
// with its part in the environment.

import (
	"bufio"
	"fmt"
	"github.com/seed9ffb1f9c/recitaloauth/internal/syncio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth/internal/redistest"
	"github.com/seed9ffb1f9c/recitaloauth/internal/tempdir"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
)

// child builds internal/fleetchild once, and returns its path; or the
// path in FLEETCHILD_BINARY, built beforehand where go build cannot run
// (.ci/wine-test: Windows test binaries under wine).
var child = sync.OnceValues(func() (string, error) {
	if path := os.Getenv("FLEETCHILD_BINARY"); path != "" {
		return path, nil
	}
	dir, err := os.MkdirTemp("", "fleetchild-")
	if err != nil {
		return "", err
	}
	childDir = dir
	path := filepath.Join(dir, "fleetchild")
	if runtime.GOOS == "windows" {
		path += ".exe"
	}
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
		tempdir.RemoveAll(childDir)
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

// machine is where a child runs: a host name (in a UTS namespace of its
// own) and a loopback address to dial from, of its own.
type machine struct{ hostname, ip string }

// start starts a child that requests for span (0: one Token call), on m
// if set, else on this machine, its stderr going to stderr.
func (f *fleet) start(span time.Duration, m *machine, stderr io.Writer) (*exec.Cmd, *bufio.Scanner) {
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
	if m != nil {
		// A request every 50 ms: 24 children at once must leave the
		// machine to the other tests.
		cmd.Env = append(cmd.Env, "FLEET_HOSTNAME="+m.hostname, "FLEET_LOCAL_ADDR="+m.ip, "FLEET_EVERY=50ms")
		cmd.SysProcAttr = machineAttr()
	}
	cmd.Stderr = stderr
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
		cmd, out := f.start(span, nil, os.Stderr)
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

// machineFigures is what a fleet of machines measured.
type machineFigures struct {
	requests int      // sent by the children's callers
	failed   []string // answered other than 200, or not at all
	warned   []int    // per child, its Warns of IP binding
}

// runMachines runs machines × processes children at once, each machine
// with a host name and an address of its own, requesting for span.
func (f *fleet) runMachines(machines, processes int, span time.Duration) machineFigures {
	f.t.Helper()
	var mu sync.Mutex
	var figures machineFigures
	var wg sync.WaitGroup
	for m := range machines {
		on := &machine{hostname: fmt.Sprintf("machine-%d", m+1), ip: fmt.Sprintf("127.0.0.%d", m+2)}
		for range processes {
			stderr := &syncio.Buffer{} // written by exec's goroutine
			cmd, out := f.start(span, on, stderr)
			wg.Go(func() {
				var lines []string
				requests := 0
				for out.Scan() {
					line := out.Text()
					if n, ok := strings.CutPrefix(line, "requests "); ok {
						requests, _ = strconv.Atoi(n)
					} else if strings.HasPrefix(line, "refused ") || strings.HasPrefix(line, "failed ") {
						lines = append(lines, on.hostname+": "+line)
					}
				}
				if err := cmd.Wait(); err != nil {
					f.t.Errorf("child on %s: %v\n%s", on.hostname, err, stderr)
				}
				mu.Lock()
				defer mu.Unlock()
				figures.requests += requests
				figures.failed = append(figures.failed, lines...)
				figures.warned = append(figures.warned, strings.Count(stderr.String(), "binds access tokens to IP addresses"))
			})
		}
	}
	wg.Wait()
	return figures
}

// fileStoreSpec names a directory the store makes itself, 0700.
func fileStoreSpec(t *testing.T) string { return "file:" + filepath.Join(tempdir.New(t), "store") }

// noStoreSpec is a fleet whose children share no store.
func noStoreSpec(*testing.T) string { return "" }

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
	t.Parallel() // the fleet tests run at once: their wall time is the longest one's
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

// TestFleetIPBound is issue 13's fleet, with real parts: 4 machines (child
// processes, each with a host name and a loopback address of its own) of
// 2 processes, one redis-server, 3 s tokens, requests through
// Config.Client for 10 s. Where the server binds tokens to IP addresses,
// the fleet sharing a store loses nothing by it: no caller gets a 401 or
// a failure, it logs in no more than the same fleet without a store (run
// beside it), and each process has at most 2 tokens refused for use from
// another address. Without binding, a revocation of every token (twice)
// costs the fleet one login each time, with no caller failing: a
// revocation is not taken for binding, sharing goes on. The three fleets
// run at once, on servers of their own.
func TestFleetIPBound(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("machines are Linux UTS namespaces: needs Linux")
	}
	if os.Geteuid() != 0 {
		t.Skip("a UTS namespace and a host name for each machine need root")
	}
	t.Parallel()
	const machines, processes, lifetime, span = 4, 2, 3 * time.Second, 10 * time.Second
	shared, alone, revoked := newFleet(t, redisStoreSpec), newFleet(t, noStoreSpec), newFleet(t, redisStoreSpec)
	for _, f := range []*fleet{shared, alone} {
		f.server.SetTokenLifetime(lifetime)
		f.server.SetBindTokensToIP(true)
	}
	var sharedFigures, aloneFigures, revokedFigures machineFigures
	var wg sync.WaitGroup
	wg.Go(func() { sharedFigures = shared.runMachines(machines, processes, span) })
	wg.Go(func() { aloneFigures = alone.runMachines(machines, processes, span) })
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		revokedFigures = revoked.runMachines(machines, processes, span)
	})
	revocations := 0
	for _, after := range []int{400, 900} { // API requests, about 3 and 6 s in
		for revoked.server.APIRequests() < after && !isClosed(done) {
			time.Sleep(10 * time.Millisecond)
		}
		if !isClosed(done) {
			revoked.server.RevokeAll()
			revocations++
		}
	}
	wg.Wait()

	t.Logf("bound, shared: %d requests, %d failed, %d logins, %d tokens refused from another address, Warns %v",
		sharedFigures.requests, len(sharedFigures.failed), shared.server.Logins(), shared.server.RefusedFromOtherAddress(), sharedFigures.warned)
	t.Logf("bound, no store: %d requests, %d failed, %d logins", aloneFigures.requests, len(aloneFigures.failed), alone.server.Logins())
	t.Logf("not bound, %d revocations: %d requests, %d failed, %d logins",
		revocations, revokedFigures.requests, len(revokedFigures.failed), revoked.server.Logins())
	for name, figures := range map[string]machineFigures{"bound, shared": sharedFigures, "bound, no store": aloneFigures, "revoked": revokedFigures} {
		if len(figures.failed) > 0 {
			t.Errorf("%s: %d of %d requests failed, want 0: %q", name, len(figures.failed), figures.requests, figures.failed[:min(len(figures.failed), 5)])
		}
	}
	if n, most := shared.server.Logins(), alone.server.Logins(); n > most {
		t.Errorf("bound, shared: %d logins, want at most %d, those of the same fleet without a store", n, most)
	}
	if n := shared.server.RefusedFromOtherAddress(); n > 2*machines*processes {
		t.Errorf("bound, shared: %d tokens refused for use from another address, want at most 2 per process (%d)", n, 2*machines*processes)
	}
	total := 0
	for _, n := range sharedFigures.warned {
		if n > 1 {
			t.Errorf("bound, shared: a process warned of IP binding %d times, want once", n)
		}
		total += n
	}
	if total == 0 {
		t.Error("bound, shared: no process warned of IP binding")
	}
	if revocations != 2 {
		t.Fatalf("the fleet made %d requests, too few for 2 revocations", revokedFigures.requests)
	}
	if n := revoked.server.Logins(); n != 1+revocations {
		t.Errorf("revoked: %d logins, want %d: the first, and one for the whole fleet per revocation", n, 1+revocations)
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
