package recitaloauth_test

// Processes sharing a store, as real child processes: internal/fleetchild,
// with its part in the environment.

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/seed9ffb1f9c/recitaloauth"
	"github.com/seed9ffb1f9c/recitaloauth/internal/redistest"
	"github.com/seed9ffb1f9c/recitaloauth/internal/syncio"
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
	recitaloauth.AfterTests(func() { tempdir.RemoveAll(dir) })
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

// command is a child that does what forSpec says (FLEET_FOR, see
// internal/fleetchild), on m if set, else on this machine.
func (f *fleet) command(forSpec string, m *machine) *exec.Cmd {
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
		"FLEET_FOR="+forSpec,
	)
	if m != nil {
		// A request every 50 ms: 24 children at once must leave the
		// machine to the other tests.
		cmd.Env = append(cmd.Env, "FLEET_HOSTNAME="+m.hostname, "FLEET_LOCAL_ADDR="+m.ip, "FLEET_EVERY=50ms")
		cmd.SysProcAttr = machineAttr()
	}
	return cmd
}

// run runs n children at once that request for span (0: one Token call)
// and waits for them; each must succeed.
func (f *fleet) run(n int, span time.Duration) []string {
	f.t.Helper()
	var mu sync.Mutex
	var lines []string
	var wg sync.WaitGroup
	for range n {
		cmd := f.command(span.String(), nil)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			f.t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			f.t.Fatal(err)
		}
		wg.Go(func() {
			for in := bufio.NewScanner(out); in.Scan(); { // the child's lines; the rest is go test's
				if line := in.Text(); strings.HasPrefix(line, "token ") || strings.HasPrefix(line, "refused ") {
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

// worker is a child that sends requests until told to stop
// (FLEET_FOR=stdin), and answers marks: a test waits for what the fleet
// did, not for what it did in some seconds, which a busy machine
// shortens.
type worker struct {
	on      string // its machine's host name, or "this machine"
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stderr  *syncio.Buffer // written by exec's goroutine
	answers chan string    // the status of each "after MARK STATUS" line
	ended   chan struct{}  // closed when its stdout ended; then:
	// requests it sent, and those answered other than 200 or not at all
	requests int
	failed   []string
	stop     func() // ends it and waits for it; for any number of calls
}

// startWorkers starts machines × processes workers, each machine with a
// host name and an address of its own; machines 0: processes workers on
// this machine. They end with the test, if not before.
func (f *fleet) startWorkers(machines, processes int) []*worker {
	f.t.Helper()
	var ws []*worker
	for m := range max(machines, 1) {
		var on *machine
		if machines > 0 {
			on = &machine{hostname: fmt.Sprintf("machine-%d", m+1), ip: fmt.Sprintf("127.0.0.%d", m+2)}
		}
		for range processes {
			ws = append(ws, f.startWorker(on))
		}
	}
	return ws
}

func (f *fleet) startWorker(m *machine) *worker {
	f.t.Helper()
	w := &worker{on: "this machine", stderr: &syncio.Buffer{}, answers: make(chan string, 100), ended: make(chan struct{})}
	if m != nil {
		w.on = m.hostname
	}
	w.cmd = f.command("stdin", m)
	w.cmd.Env = append(w.cmd.Env, "FLEET_LOG=debug") // shown only when the test fails
	w.cmd.Stderr = w.stderr
	var err error
	if w.stdin, err = w.cmd.StdinPipe(); err != nil {
		f.t.Fatal(err)
	}
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		f.t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	go func() {
		defer close(w.ended)
		for in := bufio.NewScanner(out); in.Scan(); {
			line := in.Text()
			if after, ok := strings.CutPrefix(line, "after "); ok {
				_, status, _ := strings.Cut(after, " ")
				w.answers <- status
			} else if n, ok := strings.CutPrefix(line, "requests "); ok {
				w.requests, _ = strconv.Atoi(n)
			} else if strings.HasPrefix(line, "refused ") || strings.HasPrefix(line, "failed ") {
				w.failed = append(w.failed, w.on+": "+line)
			}
		}
	}()
	w.stop = sync.OnceFunc(func() {
		w.stdin.Close()
		<-w.ended // before Wait, which closes stdout
		if err := w.cmd.Wait(); err != nil {
			f.t.Errorf("child on %s: %v\n%s", w.on, err, w.stderr)
		}
	})
	f.t.Cleanup(w.stop)
	return w
}

// mark sends mark to every worker, and waits until each has answered it:
// each has had a request sent after the mark answered. It returns the
// workers' answers, in their order: the status of that request.
func mark(t *testing.T, ws []*worker, mark string) []string {
	t.Helper()
	for _, w := range ws {
		if _, err := io.WriteString(w.stdin, mark+"\n"); err != nil {
			t.Fatalf("child on %s: mark %s: %v\n%s", w.on, mark, err, w.stderr)
		}
	}
	statuses := make([]string, len(ws))
	for i, w := range ws {
		select {
		case statuses[i] = <-w.answers:
		case <-w.ended:
			t.Fatalf("child on %s ended before it answered mark %s\n%s", w.on, mark, w.stderr)
		}
	}
	return statuses
}

// stopWorkers stops ws, all at once, and returns what they measured.
func stopWorkers(ws []*worker) machineFigures {
	for _, w := range ws {
		w.stdin.Close() // the others stop meanwhile
	}
	var figures machineFigures
	for _, w := range ws {
		w.stop()
		figures.requests += w.requests
		figures.failed = append(figures.failed, w.failed...)
		if len(w.failed) > 0 {
			figures.logs = append(figures.logs, w.on+":\n"+w.stderr.String())
		}
		figures.warned = append(figures.warned, strings.Count(w.stderr.String(), "binds access tokens to IP addresses"))
	}
	return figures
}

// machineFigures is what a fleet of workers measured.
type machineFigures struct {
	requests int      // sent by the children's callers
	failed   []string // answered other than 200, or not at all
	logs     []string // the library's records in the children of failed
	warned   []int    // per child, its Warns of IP binding
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
	t.Parallel() // its own server and store; TestFleetRedisLifetimes, which counts logins per lifetime, runs alone
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

// TestFleetRedisLifetimes: 4 processes requesting through 3 token
// lifetimes, each sending a request in each, log in about once per
// lifetime between them, not 4 times as many, and no request is refused.
// The lifetimes count from the moment every process is at work: a busy
// machine's slow start (each process derives its key) takes none of
// them, nor do its logins.
func TestFleetRedisLifetimes(t *testing.T) {
	f := newFleet(t, redisStoreSpec)
	const lifetime, lifetimes = time.Second, 3
	f.server.SetTokenLifetime(lifetime)
	ws := f.startWorkers(0, 4)
	statuses := mark(t, ws, "working")
	start, before := time.Now(), f.server.Logins()
	for n := 1; n <= lifetimes; n++ {
		time.Sleep(time.Until(start.Add(time.Duration(n) * lifetime)))
		statuses = append(statuses, mark(t, ws, fmt.Sprintf("lifetime-%d", n))...)
	}
	logins := f.server.Logins() - before
	figures := stopWorkers(ws)
	t.Logf("%d requests, %d failed, %d logins over %d lifetimes (%d before)", figures.requests, len(figures.failed), logins, lifetimes, before)
	// A token is replaced when a quarter of its life is left: 4 logins in
	// 3 lifetimes, 3 when a loaded machine lags, 5 when a token a process
	// found in the store had too little life left to be used; one login
	// per process makes about 16.
	if logins < 3 || logins > 5 {
		t.Errorf("4 processes over 3 lifetimes made %d logins, want about one per lifetime (3 to 5)\nthe library's records:\n%s", logins, records(ws))
	}
	if diff := cmp.Diff(slices.Repeat([]string{"200"}, len(statuses)), statuses); diff != "" {
		t.Errorf("the first request after each mark, status mismatch (-want +got):\n%s", diff)
	}
	if len(figures.failed) > 0 {
		t.Errorf("%d of %d requests failed, want 0: %q\nthe library's records in their processes:\n%s",
			len(figures.failed), figures.requests, figures.failed, strings.Join(figures.logs, "\n"))
	}
}

// records is what the library logged in the workers, each after its
// machine's name.
func records(ws []*worker) string {
	var b strings.Builder
	for _, w := range ws {
		fmt.Fprintf(&b, "%s:\n%s", w.on, w.stderr)
	}
	return b.String()
}

// TestFleetRedisRevoked: when the fleet's token is revoked, the whole
// fleet heals with one login: one process deletes it and logs in, the
// others find the new token; and no caller sees the 401.
func TestFleetRedisRevoked(t *testing.T) {
	f := newFleet(t, redisStoreSpec)
	t.Parallel()
	first := strings.TrimPrefix(f.run(1, 0)[0], "token ")
	ws := f.startWorkers(0, 4)
	mark(t, ws, "working") // every process at work, on first from the store
	f.server.Revoke(first)
	healed := mark(t, ws, "revoked") // every process had a request after the revocation
	figures := stopWorkers(ws)
	if n := f.server.Logins(); n != 2 {
		t.Errorf("%d logins, want 2: the first, and one for the whole fleet after the revocation", n)
	}
	if diff := cmp.Diff(slices.Repeat([]string{"200"}, len(ws)), healed); diff != "" {
		t.Errorf("each process's first request after the revocation, status mismatch (-want +got):\n%s", diff)
	}
	if len(figures.failed) > 0 {
		t.Errorf("%d of %d requests failed, want 0: %q\nthe library's records in their processes:\n%s",
			len(figures.failed), figures.requests, figures.failed, strings.Join(figures.logs, "\n"))
	}
}

// TestFleetIPBound is issue 13's fleet, with real parts: 4 machines (child
// processes, each with a host name and a loopback address of its own) of
// 2 processes, one redis-server, 3 s tokens, requests through
// Config.Client for 3 lifetimes once every process is at work, each
// process sending one in each lifetime at least. Where the server binds
// tokens to IP addresses, the fleet sharing a store loses nothing by it:
// no caller gets a 401 or a failure, it logs in no more than the same
// fleet without a store (run beside it, stopped with it), and each
// process has at most 2 tokens refused for use from another address.
// Without binding, a revocation of every token (twice, a lifetime apart,
// each once every process has healed from the one before) costs the
// fleet one login each time, with no caller failing: a revocation is not
// taken for binding, sharing goes on. The three fleets run at once, on
// servers of their own.
func TestFleetIPBound(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("machines are Linux UTS namespaces: needs Linux")
	}
	if os.Geteuid() != 0 {
		t.Skip("a UTS namespace and a host name for each machine need root")
	}
	t.Parallel()
	const machines, processes, lifetime, lifetimes, revocations = 4, 2, 3 * time.Second, 3, 2
	shared, alone, revoked := newFleet(t, redisStoreSpec), newFleet(t, noStoreSpec), newFleet(t, redisStoreSpec)
	for _, f := range []*fleet{shared, alone} {
		f.server.SetTokenLifetime(lifetime)
		f.server.SetBindTokensToIP(true)
	}
	sharedWorkers, aloneWorkers, revokedWorkers := shared.startWorkers(machines, processes), alone.startWorkers(machines, processes), revoked.startWorkers(machines, processes)
	all := slices.Concat(sharedWorkers, aloneWorkers, revokedWorkers)
	statuses := mark(t, all, "working") // every process at work
	start := time.Now()
	for n := 1; n <= lifetimes; n++ {
		time.Sleep(time.Until(start.Add(time.Duration(n) * lifetime)))
		if n <= revocations {
			revoked.server.RevokeAll()
		}
		statuses = append(statuses, mark(t, all, fmt.Sprintf("lifetime-%d", n))...)
	}
	// Stopped together: the bound fleets' logins are over the same time.
	sharedFigures, aloneFigures, revokedFigures := stopWorkers(sharedWorkers), stopWorkers(aloneWorkers), stopWorkers(revokedWorkers)

	t.Logf("bound, shared: %d requests, %d failed, %d logins, %d tokens refused from another address, Warns %v",
		sharedFigures.requests, len(sharedFigures.failed), shared.server.Logins(), shared.server.RefusedFromOtherAddress(), sharedFigures.warned)
	t.Logf("bound, no store: %d requests, %d failed, %d logins", aloneFigures.requests, len(aloneFigures.failed), alone.server.Logins())
	t.Logf("not bound, %d revocations: %d requests, %d failed, %d logins",
		revocations, revokedFigures.requests, len(revokedFigures.failed), revoked.server.Logins())
	for name, figures := range map[string]machineFigures{"bound, shared": sharedFigures, "bound, no store": aloneFigures, "revoked": revokedFigures} {
		if len(figures.failed) > 0 {
			t.Errorf("%s: %d of %d requests failed, want 0: %q\nthe library's records in their processes:\n%s",
				name, len(figures.failed), figures.requests, figures.failed[:min(len(figures.failed), 5)], strings.Join(figures.logs, "\n"))
		}
	}
	if diff := cmp.Diff(slices.Repeat([]string{"200"}, len(statuses)), statuses); diff != "" {
		t.Errorf("the first request after each mark, status mismatch (-want +got):\n%s", diff)
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
	if n := revoked.server.Logins(); n != 1+revocations {
		t.Errorf("revoked: %d logins, want %d: the first, and one for the whole fleet per revocation", n, 1+revocations)
	}
}
