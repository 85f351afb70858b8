package recitaloauth

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
)

// newTestSource returns a cached source that logs in to login in memory.
func newTestSource(login *loginServer) *cachedSource {
	return testConfig().TokenSource(withHandler(login)).(*cachedSource)
}

// tokenAt calls Token and reports how long it waited, in bubble time.
func tokenAt(t *testing.T, src oauth2.TokenSource) (string, time.Duration, error) {
	t.Helper()
	start := time.Now()
	tok, err := src.Token()
	if err != nil {
		return "", time.Since(start), err
	}
	return tok.AccessToken, time.Since(start), nil
}

// TestSingleFlight: 200 goroutines on a cold source share one login and
// all get the same token, each in a *oauth2.Token of its own.
func TestSingleFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login := newLoginServer()
		login.delay = 300 * time.Millisecond
		src := newTestSource(login)

		const callers = 200
		tokens := make([]*oauth2.Token, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				tok, err := src.Token()
				if err != nil {
					t.Errorf("Token: %v", err)
				}
				tokens[i] = tok
			})
		}
		wg.Wait()
		if n := login.count(); n != 1 {
			t.Errorf("%d goroutines made %d logins, want 1", callers, n)
		}
		seen := map[*oauth2.Token]bool{}
		for _, tok := range tokens {
			if tok == nil || tok.AccessToken != "token-1" {
				t.Fatalf("got token %v, want token-1", tok)
			}
			if seen[tok] {
				t.Fatal("two callers got the same *oauth2.Token: oauth2.ReuseTokenSource writes into it")
			}
			seen[tok] = true
		}
	})
}

// TestRefreshTimeline walks a token's life for several lifetimes L: cached
// until min(5 min, L/4) before expiry, then served at once while one
// background login runs, and a caller waits only from min(5 s, L/20)
// before expiry.
func TestRefreshTimeline(t *testing.T) {
	tests := []struct {
		lifetime          time.Duration
		refresh, hardStop time.Duration // before expiry
	}{
		{time.Hour, 5 * time.Minute, 5 * time.Second},
		{8 * time.Minute, 2 * time.Minute, 5 * time.Second},
		{time.Minute, 15 * time.Second, 3 * time.Second},
		{2 * time.Second, 500 * time.Millisecond, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.lifetime.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				login := newLoginServer()
				login.expiresIn = int(tt.lifetime / time.Second)
				if tt.lifetime < time.Second {
					t.Fatal("lifetime must be whole seconds")
				}
				src := newTestSource(login)
				start := time.Now()
				if _, err := src.Token(); err != nil {
					t.Fatal(err)
				}
				expiry := start.Add(tt.lifetime)

				// Just before the early-refresh point: cached, no login.
				time.Sleep(time.Until(expiry.Add(-tt.refresh)) - time.Millisecond)
				if tok, waited, _ := tokenAt(t, src); tok != "token-1" || waited != 0 || login.count() != 1 {
					t.Fatalf("before refresh: got %s after %v with %d logins, want token-1 at once, 1 login", tok, waited, login.count())
				}

				// Past it: the old token at once, one background login, however
				// many callers, while it is in flight (it takes 10 ms).
				login.set(func(s *loginServer) { s.delay = 10 * time.Millisecond })
				time.Sleep(2 * time.Millisecond)
				for range 50 {
					if tok, waited, _ := tokenAt(t, src); tok != "token-1" || waited != 0 {
						t.Fatalf("in the refresh window: got %s after %v, want token-1 at once", tok, waited)
					}
				}
				synctest.Wait()
				if n := login.count(); n != 2 {
					t.Fatalf("%d logins after the refresh point, want 2", n)
				}
				time.Sleep(10 * time.Millisecond)
				synctest.Wait()
				if tok, waited, _ := tokenAt(t, src); tok != "token-2" || waited != 0 {
					t.Errorf("after the background login: got %s after %v, want token-2 at once", tok, waited)
				}
			})
		})
		t.Run(tt.lifetime.String()+"/hard limit", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				login := newLoginServer()
				login.expiresIn = int(tt.lifetime / time.Second)
				cfg := testConfig()
				cfg.LoginTimeout = 2 * time.Hour
				src := cfg.TokenSource(withHandler(login))
				start := time.Now()
				if _, err := src.Token(); err != nil {
					t.Fatal(err)
				}
				expiry := start.Add(tt.lifetime)

				// The background login takes half the lifetime, past the
				// hard limit: the old token is served until then, and then
				// callers wait for the new one.
				delay := tt.lifetime / 2
				login.set(func(s *loginServer) { s.delay = delay })
				time.Sleep(time.Until(expiry.Add(-tt.refresh)) + time.Millisecond)
				loginStarted := time.Now()
				if tok, waited, _ := tokenAt(t, src); tok != "token-1" || waited != 0 {
					t.Fatalf("in the refresh window: got %s after %v, want token-1 at once", tok, waited)
				}
				time.Sleep(time.Until(expiry.Add(-tt.hardStop)) - time.Millisecond)
				if tok, waited, _ := tokenAt(t, src); tok != "token-1" || waited != 0 {
					t.Fatalf("just before the hard limit: got %s after %v, want token-1 at once", tok, waited)
				}
				time.Sleep(time.Millisecond)
				wantWait := time.Until(loginStarted.Add(delay))
				tok, waited, err := tokenAt(t, src)
				if err != nil || tok != "token-2" {
					t.Fatalf("at the hard limit: got %q, %v; want token-2", tok, err)
				}
				if waited != wantWait {
					t.Errorf("at the hard limit waited %v, want %v, until the login ended", waited, wantWait)
				}
				if n := login.count(); n != 2 {
					t.Errorf("%d logins, want 2", n)
				}
			})
		})
	}
}

// TestFailureBackoff: a wrong password gives its error to every caller
// without a new login until the back-off ends; the back-off doubles from
// 1 s to 1 min, and a success resets it.
func TestFailureBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login := newLoginServer()
		login.status = http.StatusUnauthorized
		src := newTestSource(login)

		wantErr := "recitaloauth: login refused: 401 Unauthorized: Incorrect username or password"
		check := func(when string, wantLogins int) {
			t.Helper()
			_, err := src.Token()
			if err == nil || err.Error() != wantErr {
				t.Fatalf("%s: err = %v, want %q", when, err, wantErr)
			}
			if n := login.count(); n != wantLogins {
				t.Fatalf("%s: %d logins, want %d", when, n, wantLogins)
			}
		}
		check("first call", 1)
		for range 100 {
			check("right after the failure", 1)
		}
		// The n-th back-off lasts between 90% and 100% of min(2ⁿ⁻¹ s, 1 min).
		logins := 1
		for _, nominal := range []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60} {
			nominal *= time.Second
			time.Sleep(nominal * 89 / 100)
			check("before 90% of the back-off "+nominal.String(), logins)
			time.Sleep(nominal * 11 / 100)
			logins++
			check("after the back-off "+nominal.String(), logins)
		}

		// A success resets the back-off: the next failure waits 1 s again.
		login.set(func(s *loginServer) { s.status, s.expiresIn = http.StatusOK, 2 })
		time.Sleep(time.Minute)
		if tok, _, err := tokenAt(t, src); err != nil {
			t.Fatalf("after the password was fixed: %v", err)
		} else if tok == "" {
			t.Fatal("empty token")
		}
		logins++
		login.set(func(s *loginServer) { s.status = http.StatusUnauthorized })
		time.Sleep(2 * time.Second) // the token has expired
		logins++
		check("the token expired, login fails", logins)
		time.Sleep(time.Second)
		logins++
		check("1 s later", logins)
	})
}

// TestBackgroundFailureInvisible: while the cached token is good, a failed
// background login is not seen, and is tried again after the back-off.
func TestBackgroundFailureInvisible(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login := newLoginServer()
		src := newTestSource(login)
		if _, err := src.Token(); err != nil {
			t.Fatal(err)
		}
		login.set(func(s *loginServer) { s.status = http.StatusUnauthorized })
		time.Sleep(55*time.Minute + time.Second) // past the refresh point

		want := []int{2, 2, 3} // logins after each step
		for i, step := range []time.Duration{0, 800 * time.Millisecond, 200 * time.Millisecond} {
			time.Sleep(step)
			tok, waited, err := tokenAt(t, src)
			if err != nil || tok != "token-1" || waited != 0 {
				t.Fatalf("step %d: got %q after %v, %v; want token-1 at once", i, tok, waited, err)
			}
			synctest.Wait()
			if n := login.count(); n != want[i] {
				t.Fatalf("step %d: %d logins, want %d", i, n, want[i])
			}
		}
		// The server is back: the next try after the back-off succeeds.
		login.set(func(s *loginServer) { s.status = http.StatusOK })
		time.Sleep(2 * time.Second)
		src.Token()
		synctest.Wait()
		if tok, _, err := tokenAt(t, src); err != nil || tok != "token-4" {
			t.Errorf("after the server came back: got %q, %v; want token-4", tok, err)
		}
	})
}

// TestFailureGoesToAllWaiters: every caller waiting for a failed login gets
// its error.
func TestFailureGoesToAllWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login := newLoginServer()
		login.status, login.delay = http.StatusUnauthorized, time.Second
		src := newTestSource(login)
		errs := make([]error, 20)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() { _, errs[i] = src.Token() })
		}
		wg.Wait()
		for i, err := range errs {
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.Response.StatusCode != http.StatusUnauthorized {
				t.Errorf("caller %d: err = %v, want a 401 *oauth2.RetrieveError", i, err)
			}
		}
		if n := login.count(); n != 1 {
			t.Errorf("%d logins, want 1", n)
		}
	})
}

// TestTimeoutIsRemembered: a login that timed out because the server hung
// counts as a failure (back-off), but one cut short because the source's
// context ended does not.
func TestTimeoutIsRemembered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login := newLoginServer()
		login.delay = time.Hour
		src := newTestSource(login)
		if _, err := src.Token(); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
		if _, err := src.Token(); !errors.Is(err, context.DeadlineExceeded) || login.count() != 1 {
			t.Fatalf("second call: %v after %d logins, want the same error and no new login", err, login.count())
		}
	})
	synctest.Test(t, func(t *testing.T) {
		login := newLoginServer()
		login.delay = time.Hour
		ctx, cancel := context.WithCancel(withHandler(login))
		src := testConfig().TokenSource(ctx).(*cachedSource)
		go func() {
			time.Sleep(time.Second)
			cancel()
		}()
		if _, err := src.Token(); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		src.mu.Lock()
		failures := src.failures
		src.mu.Unlock()
		if diff := cmp.Diff(struct {
			InARow  int
			RetryAt time.Time
		}{}, struct {
			InARow  int
			RetryAt time.Time
		}{failures.inARow, failures.retryAt}); diff != "" {
			t.Errorf("a cancelled login was remembered (-want +got):\n%s", diff)
		}
	})
}

// TestIdleSourceCostsNothing: after a login, the source leaves no goroutine
// and no timer behind: the bubble holds as many goroutines as before the
// source was made, and a day later, with no call, it has made no login.
func TestIdleSourceCostsNothing(t *testing.T) {
	// goroutines counts the goroutines of the caller's synctest bubble, as
	// the runtime's traceback marks them.
	goroutines := func() (int, string) {
		buf := make([]byte, 1<<20)
		own := string(buf[:runtime.Stack(buf, false)])
		bubble := regexp.MustCompile(`, synctest bubble \d+\]`).FindString(own)
		if bubble == "" {
			t.Fatalf("no synctest bubble in the traceback header %q", strings.SplitN(own, "\n", 2)[0])
		}
		all := string(buf[:runtime.Stack(buf, true)])
		return strings.Count(all, bubble), all
	}
	synctest.Test(t, func(t *testing.T) {
		before, _ := goroutines()
		login := newLoginServer()
		src := newTestSource(login)
		if _, err := src.Token(); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if after, stacks := goroutines(); after != before {
			t.Errorf("%d goroutines in the bubble after the login, %d before:\n%s", after, before, stacks)
		}
		time.Sleep(24 * time.Hour) // the token lives an hour
		if n := login.count(); n != 1 {
			t.Errorf("%d logins a day later, with no call, want 1: a timer outlived the login", n)
		}
	})
}

// TestTokenExpiredOnArrival: a token that expires before its login ends
// (a login slower than the token's lifetime) is a failed login, with its
// back-off, not a token that sends every caller to log in again at once.
func TestTokenExpiredOnArrival(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login := newLoginServer()
		login.delay, login.expiresIn = 2*time.Second, 1
		src := newTestSource(login)
		want := "recitaloauth: the login's token expired before the login ended (it lives 1s)"
		for i := range 3 {
			if _, err := src.Token(); err == nil || err.Error() != want {
				t.Fatalf("call %d: err = %v, want %q", i, err, want)
			}
		}
		if n := login.count(); n != 1 {
			t.Errorf("%d logins, want 1 (then the back-off)", n)
		}
	})
}

// TestSingleFlightOverSockets is TestSingleFlight against recitaltest over
// real sockets: 200 goroutines on a cold source, one login.
func TestSingleFlightOverSockets(t *testing.T) {
	srv, cfg := newRecital(t)
	srv.SetLoginDelay(100 * time.Millisecond)
	src := cfg.TokenSource(context.Background())
	const callers = 200
	tokens := make([]string, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			tok, err := src.Token()
			if err != nil {
				t.Errorf("Token: %v", err)
				return
			}
			tokens[i] = tok.AccessToken
		})
	}
	wg.Wait()
	if n := srv.Logins(); n != 1 {
		t.Errorf("%d goroutines made %d logins, want 1", callers, n)
	}
	for i, tok := range tokens {
		if tok == "" || tok != tokens[0] {
			t.Fatalf("caller %d got %q, caller 0 %q: want one token for all", i, tok, tokens[0])
		}
	}
}

// TestJitter: the pauses after failures vary, within their bounds, so
// that many processes failing together do not retry in step: the
// back-off between logins takes up to a tenth off, the pause between a
// login's attempts up to half. 100 draws all equal would mean no jitter
// (with jitter, the chance is nil).
func TestJitter(t *testing.T) {
	for _, tt := range []struct {
		name   string
		pause  func() time.Duration
		lo, hi time.Duration
	}{
		{"back-off after 1 failure", func() time.Duration { return backoff(1) }, firstBackoff * 9 / 10, firstBackoff},
		{"back-off after 3 failures", func() time.Duration { return backoff(3) }, 4 * firstBackoff * 9 / 10, 4 * firstBackoff},
		{"back-off at its cap", func() time.Duration { return backoff(40) }, maxBackoff * 9 / 10, maxBackoff},
		{"first retry", func() time.Duration { return retryPause(1) }, firstRetryPause / 2, firstRetryPause},
		{"second retry", func() time.Duration { return retryPause(2) }, firstRetryPause, 2 * firstRetryPause},
	} {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[time.Duration]bool{}
			for range 100 {
				d := tt.pause()
				if d < tt.lo || d > tt.hi {
					t.Fatalf("pause %v, want %v to %v", d, tt.lo, tt.hi)
				}
				seen[d] = true
			}
			if len(seen) < 2 {
				t.Errorf("100 pauses were all %v: no jitter", tt.pause())
			}
		})
	}
}

// TestCachedTokenAllocations: a cached Token call makes exactly one
// allocation, the caller's own copy of the token: nothing else on the
// path allocates.
func TestCachedTokenAllocations(t *testing.T) {
	src := newTestSource(newLoginServer())
	if _, err := src.Token(); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := src.Token(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 1 {
		t.Errorf("%v allocations per cached Token call, want 1: the copy", allocs)
	}
}

// TestCopiesAreTheCallersOwn: goroutines taking tokens at once each get
// tokens no one else got, equal to the source's, and may write into them
// (as oauth2.ReuseTokenSource does) without the race detector or the next
// caller noticing.
func TestCopiesAreTheCallersOwn(t *testing.T) {
	src := newTestSource(newLoginServer())
	want, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, calls = 4, 100
	got := make([][]*oauth2.Token, goroutines)
	var wg sync.WaitGroup
	for g := range got {
		wg.Go(func() {
			for range calls {
				tok, err := src.Token()
				if err != nil {
					t.Error(err)
					return
				}
				if tok.AccessToken != want.AccessToken || !tok.Expiry.Equal(want.Expiry) || tok.Extra("expires_in") == nil {
					t.Errorf("Token() = %q expiring %v, want a copy of %q expiring %v, with its Extra",
						tok.AccessToken, tok.Expiry, want.AccessToken, want.Expiry)
					return
				}
				tok.AccessToken = "scribbled"
				got[g] = append(got[g], tok)
			}
		})
	}
	wg.Wait()
	seen := map[*oauth2.Token]bool{want: true}
	for _, toks := range got {
		for _, tok := range toks {
			seen[tok] = true
		}
	}
	if len(seen) != goroutines*calls+1 {
		t.Errorf("%d calls handed out %d distinct tokens, want each its own", goroutines*calls+1, len(seen))
	}
	if tok, _ := src.Token(); tok.AccessToken != want.AccessToken {
		t.Errorf("after callers wrote into their tokens, Token() = %q, want %q", tok.AccessToken, want.AccessToken)
	}
}
