package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRunsShareStore(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	first := f.token()
	for i := range 2 {
		if got := f.token(); got != first {
			t.Fatalf("run %d printed another token than the first", i+2)
		}
	}
	f.wantLogins(1)
	if names := f.storedTokens(); len(names) != 1 {
		t.Errorf("store holds %q, want one token", names)
	}
}

// TestStoreAccounts checks that each user, login URL and password has a
// token of its own.
func TestStoreAccounts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.server.AddUser("bob@example.com", password)
	alice := f.token()

	f.env["RECITAL_USERNAME"] = "bob@example.com"
	bob := f.token()
	f.wantLogins(2)
	if _, user := f.configUser(bob); user != "bob@example.com" {
		t.Errorf("bob's run printed a token for %q", user)
	}
	f.env["RECITAL_USERNAME"] = username
	if got := f.token(); got != alice {
		t.Errorf("alice's second run did not reuse alice's token")
	}
	f.wantLogins(2)

	f.env["RECITAL_AUTH_URL"] = f.server.AuthURL() + "&v=2" // the server ignores it
	if got := f.token(); got == alice {
		t.Errorf("a run at another login URL reused the first URL's token")
	}
	f.wantLogins(3)

	// Another password never gets the token the right one stored.
	f.env["RECITAL_AUTH_URL"] = f.server.AuthURL()
	f.env["RECITAL_PASSWORD"] = "a new password"
	want := result{Code: 1, Stderr: "recitaltoken: recitaloauth: login refused: 401 Unauthorized: Incorrect username or password\n"}
	if diff := cmp.Diff(want, f.run("")); diff != "" {
		t.Errorf("run with another password (-want +got):\n%s", diff)
	}
	f.wantLogins(4)
}

func TestNoCache(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cached := f.token()
	files := f.storedTokens()
	if len(files) != 1 {
		t.Fatalf("store holds %q after a run, want one token", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 2 {
		r := f.run("", "-no-cache")
		if r.Code != 0 || r.Stderr != "" {
			t.Fatalf("exit %d, stderr %q; want 0 and nothing", r.Code, r.Stderr)
		}
		seen[oneLine(t, r.Stdout)] = true
	}
	f.wantLogins(3)
	if len(seen) != 2 || seen[cached] {
		t.Errorf("-no-cache runs printed %d different tokens, the stored one among them: %v; want 2 new ones", len(seen), seen[cached])
	}
	after, err := os.ReadFile(files[0])
	if err != nil || !bytes.Equal(data, after) {
		t.Errorf("-no-cache changed the stored token (%v)", err)
	}
}

// TestLongTokenKept: a stored token with more than a minute left is
// printed as is. (A token about to expire is TokenLasting's
// business, tested there.)
func TestLongTokenKept(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.server.SetTokenLifetime(2 * time.Minute)
	first := f.token()
	if got := f.token(); got != first {
		t.Errorf("second run did not reuse a token with 2 min left")
	}
	f.wantLogins(1)
}

// TestHangingLogin starts runs together against a login that hangs: the
// one that logs in gives up after the login timeout, and the others, who
// wait for it (and, after a third of it, try a login of their own, in
// case the holder is stuck rather than its login), end with it instead of
// starting a timeout of their own. The timeout is long enough that a
// run ending late by a loaded machine's delays (a second or so) is told
// from one starting a timeout of its own (a third of it later).
func TestHangingLogin(t *testing.T) {
	t.Parallel()
	const runs, timeout = 3, 6 * time.Second
	const late = timeout + timeout/4 // before timeout + timeout/3: a timeout of its own after the wait
	f := newFixture(t)
	f.loginTimeout = timeout
	f.server.SetLoginDelay(time.Hour)
	results := make([]result, runs)
	took := make([]time.Duration, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() {
			start := time.Now()
			results[i] = f.run("")
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.Code != 1 || r.Stdout != "" || !strings.HasPrefix(r.Stderr, "recitaltoken: ") {
			t.Errorf("run %d: exit %d, stdout %q, stderr %q; want 1, nothing, a message", i, r.Code, r.Stdout, r.Stderr)
		}
		if took[i] > late {
			t.Errorf("run %d took %v, want about one login timeout (%v), under %v", i, took[i].Round(time.Millisecond), timeout, late)
		}
	}
	if n := f.server.Logins(); n < 1 || n > runs {
		t.Errorf("%d logins, want 1 to %d", n, runs)
	}
}

// TestCancelWhileWaiting: a run waiting for another's login, and the run
// in that login, each end as soon as its context does (Ctrl-C), not when
// the login times out; and the cancelled login lets go of the store's
// lock. The login timeout is a minute, so that a run that ignored its
// cancel would wait for the lock a third of it, 20 s: the bound, 12 s,
// still tells the two, and leaves a loaded machine its delays (a run
// derives its key before it waits, and argon2id under -race on two busy
// cores took 5 s).
func TestCancelWhileWaiting(t *testing.T) {
	t.Parallel()
	const promptly = 12 * time.Second
	f := newFixture(t)
	f.loginTimeout = time.Minute
	f.server.SetLoginDelay(time.Hour)

	holderCtx, stopHolder := context.WithCancel(t.Context())
	holder := make(chan result, 1)
	go func() { holder <- f.runContext(holderCtx, "") }()
	for f.server.Logins() == 0 { // the holder is in its login, lock held
		time.Sleep(5 * time.Millisecond)
	}

	const waitFor = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	timer := time.AfterFunc(waitFor, cancel)
	defer timer.Stop()
	start := time.Now()
	r := f.runContext(ctx, "")
	took := time.Since(start)
	if took < waitFor || took > waitFor+promptly {
		t.Errorf("cancelled run ended after %v, want after the cancel at %v, within %v of it", took.Round(time.Millisecond), waitFor, promptly)
	}
	if r.Code != 1 || !strings.Contains(r.Stderr, "context canceled") {
		t.Errorf("cancelled run: exit %d, stderr %q; want 1 and a message that it was cancelled", r.Code, r.Stderr)
	}
	f.wantLogins(1) // it waited, it did not log in

	// The run's context is its source's too: cancelling it ends the
	// login itself, not only the wait for it.
	stopHolder()
	select {
	case r := <-holder:
		if r.Code != 1 {
			t.Errorf("cancelled holder: exit %d, stderr %q; want 1", r.Code, r.Stderr)
		}
	case <-time.After(promptly):
		t.Fatalf("the run in its login did not end within %v of its cancel", promptly)
	}
	// Its login let go of the lock: the next run logs in without waiting
	// for it. One that found it held would wait a third of its minute,
	// and say so at Warn.
	f.server.SetLoginDelay(0)
	f.env["RECITAL_LOG"] = "warn"
	start = time.Now()
	if r := f.run(""); r.Code != 0 || r.Stderr != "" || time.Since(start) > promptly {
		t.Errorf("next run: exit %d, stderr %q, after %v; want 0, nothing, within %v: the cancelled login still holds the lock",
			r.Code, r.Stderr, time.Since(start).Round(time.Millisecond), promptly)
	}
}
