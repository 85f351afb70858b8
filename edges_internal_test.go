package recitaloauth

// Edges of unexported code that a one-statement mistake crosses and no
// other test noticed (found by mutation testing, .ci/mutation); the public
// ones are in edges_test.go.

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/seed9ffb1f9c/recitaloauth/internal/storekey"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
	"golang.org/x/oauth2"
)

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

// firstLoadMisses is a store whose first Load finds nothing, as if another
// process saved its token just after that look.
type firstLoadMisses struct {
	*memStore
	looked atomic.Bool
}

func (s *firstLoadMisses) Load(ctx context.Context, key string) ([]byte, error) {
	if !s.looked.Swap(true) {
		return nil, nil
	}
	return s.memStore.Load(ctx, key)
}

// lateLock is a store whose TryLock answers only after delay, ignoring its
// context.
type lateLock struct {
	*memStore
	delay time.Duration
}

func (s *lateLock) TryLock(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	time.Sleep(s.delay)
	return s.memStore.TryLock(ctx, key, ttl)
}

// TestStoreSharingEdges: what a process does around the store's lock and
// a stored token it cannot use.
func TestStoreSharingEdges(t *testing.T) {
	t.Run("a refresh logs in rather than take the stale stored token", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			login, store := newLoginServer(), newMemStore()
			src := storeSource(store, login)
			if _, err := src.Token(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(56 * time.Minute) // stale: its refresh starts
			src.Token()
			synctest.Wait()
			tok, err := src.Token()
			if err != nil || tok.AccessToken != "token-2" || login.count() != 2 {
				t.Errorf("after the refresh: %v, %v after %d logins; want token-2 after 2", tok, err, login.count())
			}
		})
	})
	t.Run("a second look in the store once the lock is taken", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			login, store := newLoginServer(), newMemStore()
			first, err := storeSource(store, login).Token()
			if err != nil {
				t.Fatal(err)
			}
			// This process looks before the first one saved, and takes the
			// lock after the first one let go of it.
			tok, err := storeSource(&firstLoadMisses{memStore: store}, login).Token()
			if err != nil || tok.AccessToken != first.AccessToken || login.count() != 1 {
				t.Errorf("got %v, %v after %d logins; want %s after 1", tok, err, login.count(), first.AccessToken)
			}
		})
	})
	t.Run("a lock taken too late is released", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			login, store := newLoginServer(), newMemStore()
			if _, err := storeSource(&lateLock{store, 2 * storeBudget}, login).Token(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * storeBudget) // the lock is taken, long after the source gave up on it
			synctest.Wait()
			key := storeKey(testConfig().AuthURL, testConfig().Username)
			unlock, ok, err := store.TryLock(context.Background(), key, time.Minute)
			if err != nil || !ok {
				t.Fatalf("the lock the source gave up on is still held: TryLock = %v, %v", ok, err)
			}
			unlock()
		})
	})
}

// TestAnswerLifetimeBounds: the edges of the lifetimes a login answer may
// claim: expires_in from 1 s to 366 days; a JWT's exp − iat when above 0
// and at most 366 days, else the default; a claim outside NumericDate's
// range (0, 4×MaxInt32] is ignored; exp read on our clock is the end
// when it falls short of exp − iat by at most min(clockAgreement, half).
func TestAnswerLifetimeBounds(t *testing.T) {
	started := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const year = 366 * 24 * time.Hour
	unix := func(d time.Duration) int64 { return started.Add(d).Unix() }
	for _, tt := range []struct {
		name string
		body string
		want time.Duration // 0: an error
	}{
		{"expires_in 0", `{"access_token":"tok","expires_in":0}`, 0},
		{"expires_in 1 s", `{"access_token":"tok","expires_in":1}`, time.Second},
		{"expires_in 366 days", fmt.Sprintf(`{"access_token":"tok","expires_in":%d}`, int64(year.Seconds())), year},
		{"expires_in over 366 days", fmt.Sprintf(`{"access_token":"tok","expires_in":%d}`, int64(year.Seconds())+1), 0},
		{"JWT of 366 days", jwtAnswer(t, map[string]any{"iat": unix(0), "exp": unix(year)}), year - time.Second}, // less the claims' resolution
		{"JWT of over 366 days", jwtAnswer(t, map[string]any{"iat": unix(0), "exp": unix(year + time.Second)}), DefaultTokenLifetime},
		{"JWT of 0 s", jwtAnswer(t, map[string]any{"iat": unix(0), "exp": unix(0)}), DefaultTokenLifetime},
		{"JWT of 1 s", jwtAnswer(t, map[string]any{"iat": unix(0), "exp": unix(time.Second)}), 0}, // nothing left once the resolution counts
		{"JWT with iat 0: ignored", jwtAnswer(t, map[string]any{"iat": 0, "exp": unix(2 * time.Hour)}), 2 * time.Hour},
		{"JWT with iat at the range's end", jwtAnswer(t, map[string]any{"iat": int64(math.MaxInt32) * 4, "exp": unix(2 * time.Hour)}), DefaultTokenLifetime},
		{"JWT with iat past the range: ignored", jwtAnswer(t, map[string]any{"iat": int64(math.MaxInt32)*4 + 1, "exp": unix(2 * time.Hour)}), 2 * time.Hour},
		// exp read on our clock ends the token sooner than exp − iat does:
		// it is the end if it falls short by no more than clockAgreement
		// and half the lifetime, else the clocks are not taken for one.
		{"JWT whose exp on our clock is clockAgreement short: the end", jwtAnswer(t, map[string]any{"iat": unix(-61 * time.Second), "exp": unix(time.Hour - clockAgreement)}), time.Hour - clockAgreement},
		{"JWT whose exp on our clock is over clockAgreement short: not the end", jwtAnswer(t, map[string]any{"iat": unix(-62 * time.Second), "exp": unix(time.Hour - clockAgreement - time.Second)}), time.Hour},
		{"JWT of 1 min whose exp on our clock is half of it short: the end", jwtAnswer(t, map[string]any{"iat": unix(-31 * time.Second), "exp": unix(30 * time.Second)}), 30 * time.Second},
		{"JWT of 1 min whose exp on our clock is over half of it short: not the end", jwtAnswer(t, map[string]any{"iat": unix(-41 * time.Second), "exp": unix(20 * time.Second)}), time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := parseAnswer([]byte(tt.body), started, time.Time{}, "s3cret")
			switch {
			case tt.want == 0:
				if err == nil {
					t.Errorf("accepted, with a lifetime of %v; want an error", tok.Expiry.Sub(started))
				}
			case err != nil:
				t.Errorf("error %v; want a lifetime of %v", err, tt.want)
			case tok.Expiry.Sub(started) != tt.want:
				t.Errorf("lifetime %v, want %v", tok.Expiry.Sub(started), tt.want)
			}
		})
	}
}

func jwtAnswer(t *testing.T, claims map[string]any) string {
	return fmt.Sprintf(`{"access_token":%q}`, jwt(t, claims))
}

// deleteCounter is a store that counts its Delete calls.
type deleteCounter struct {
	*memStore
	deletes atomic.Int32
}

func (d *deleteCounter) Delete(ctx context.Context, key string, value []byte) error {
	d.deletes.Add(1)
	return d.memStore.Delete(ctx, key, value)
}

// TestRefusedTokenDeletedOnce: a token refused with 401 is deleted from
// the store by the login that replaces it, and only by that one: the
// logins after it (a refresh, then one past expiry) make no Delete call.
func TestRefusedTokenDeletedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login, store := newLoginServer(), &deleteCounter{memStore: newMemStore()}
		src := storeSource(store, login)
		first, err := src.Token()
		if err != nil {
			t.Fatal(err)
		}
		Invalidate(src, first)
		if _, err := src.Token(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(56 * time.Minute) // stale: a refresh starts
		src.Token()
		synctest.Wait()
		time.Sleep(2 * time.Hour) // past expiry: callers wait for a login
		tok, err := src.Token()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([3]any{"token-4", 4, int32(1)}, [3]any{tok.AccessToken, login.count(), store.deletes.Load()}); diff != "" {
			t.Errorf("token, logins and Delete calls mismatch (-want +got):\n%s", diff)
		}
	})
}

// TestLoginCutShortNotRetried: a login POST cut short because the login's
// context ended (its timeout, or the caller's cancel) is not retried, and
// no record says it is: one POST, and no "retrying" record.
func TestLoginCutShortNotRetried(t *testing.T) {
	for _, tt := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"the login timeout", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
		{"the caller's cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(time.Second, cancel)
			return ctx, cancel
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				login := newLoginServer()
				login.delay = time.Hour // answers only once its request is cut short
				logs := &logRecorder{}
				cfg := testConfig()
				cfg.LoginTimeout, cfg.Logger = 5*time.Second, logs.logger()
				ctx, cancel := tt.ctx()
				defer cancel()
				hc := &http.Client{Transport: recitaltest.InMemoryTransport(login)}
				if _, err := cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, hc)); err == nil {
					t.Fatal("Token succeeded, want an error")
				}
				if diff := cmp.Diff([2]any{1, false}, [2]any{login.count(), strings.Contains(logs.text(), "retrying")}); diff != "" {
					t.Errorf("POSTs and a retrying record mismatch (-want +got):\n%s\n%s", diff, logs.text())
				}
			})
		})
	}
}

// TestSleepToDeadline: sleep gives up at once on a pause that would end
// after its context's deadline, and waits out one that ends just at it
// (which the context may or may not outlive).
func TestSleepToDeadline(t *testing.T) {
	for _, tt := range []struct {
		name  string
		pause time.Duration
		want  time.Duration // how long sleep takes
	}{
		{"ends before the deadline", time.Second - 1, time.Second - 1},
		{"ends at the deadline", time.Second, time.Second},
		{"ends after it", time.Second + 1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				start := time.Now()
				sleep(ctx, tt.pause)
				if got := time.Since(start); got != tt.want {
					t.Errorf("sleep took %v, want %v", got, tt.want)
				}
			})
		})
	}
}

// lockWatcher is a store that counts its Loads and records the ttl of
// each TryLock.
type lockWatcher struct {
	*memStore
	mu    sync.Mutex
	loads int
	ttls  []time.Duration
}

func (w *lockWatcher) Load(ctx context.Context, key string) ([]byte, error) {
	w.mu.Lock()
	w.loads++
	w.mu.Unlock()
	return w.memStore.Load(ctx, key)
}

func (w *lockWatcher) TryLock(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	w.mu.Lock()
	w.ttls = append(w.ttls, ttl)
	w.mu.Unlock()
	return w.memStore.TryLock(ctx, key, ttl)
}

// TestStoreLockWait: a process waiting for the lock another holds looks
// in the store every 25 to 50 ms (lockPoll, less up to half at random)
// until it gives up on the holder after a third of the login timeout (1 s
// here): 20 to 40 looks, and more than 22 but for a vanishing chance; and
// the lock it asks for lasts through a login timeout and the store's
// budget (a live holder keeps it to its save), and not much longer (a
// dead holder's frees soon).
func TestStoreLockWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login, store := newLoginServer(), &lockWatcher{memStore: newMemStore()}
		const loginTimeout = 3 * time.Second
		key := storeKey(testConfig().AuthURL, testConfig().Username)
		unlock, ok, err := store.memStore.TryLock(context.Background(), key, time.Hour) // another process's
		if !ok || err != nil {
			t.Fatal(ok, err)
		}
		defer unlock()
		if _, err := storeSource(store, login, func(c *Config) { c.LoginTimeout = loginTimeout }).Token(); err != nil {
			t.Fatal(err)
		}
		store.mu.Lock()
		defer store.mu.Unlock()
		if looks := store.loads - 1; looks < 23 || looks > 40 { // the first look is before the lock
			t.Errorf("%d looks in the store while waiting 1 s for the lock, want 23 to 40", looks)
		}
		for _, ttl := range store.ttls {
			if ttl < loginTimeout+storeBudget || ttl > loginTimeout+3*storeBudget {
				t.Fatalf("TryLock asked for a lock of %v, want %v to %v", ttl, loginTimeout+storeBudget, loginTimeout+3*storeBudget)
			}
		}
	})
}

// TestStoreUnlockWithinBudget: an unlock that hangs is waited for only
// within what is left of the login's store budget: with store calls of
// 200 ms each (load, lock, load, save: 800 ms), Token returns once the
// budget's second is spent, not a second after the save.
func TestStoreUnlockWithinBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login, store := newLoginServer(), newMemStore()
		store.delay = 200 * time.Millisecond
		store.stuck = make(chan struct{})
		defer close(store.stuck)
		start := time.Now()
		if _, err := storeSource(store, login).Token(); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took != storeBudget {
			t.Errorf("Token took %v, want the store budget, %v", took, storeBudget)
		}
	})
}

// longTokenServer answers every login with a token of n characters.
func longTokenServer(n int, logins *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logins.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","expires_in":3600}`, strings.Repeat("t", n))
	})
}

// TestStoreValueAtLimit: a sealed value of exactly storekey.MaxValue
// bytes (64 KiB: a long token) is a value like any other: a second
// process takes it from the store instead of logging in. (A value
// shorter by the token's length less 100 measures what the rest takes.)
func TestStoreValueAtLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logins atomic.Int32
		probe := newMemStore()
		if _, err := storeSource(probe, longTokenServer(100, &logins)).Token(); err != nil {
			t.Fatal(err)
		}
		_, value := probe.only(t)
		n := 100 + storekey.MaxValue - len(value)

		logins.Store(0)
		store := newMemStore()
		first, err := storeSource(store, longTokenServer(n, &logins)).Token()
		if err != nil {
			t.Fatal(err)
		}
		if _, value := store.only(t); len(value) != storekey.MaxValue {
			t.Fatalf("the sealed value has %d bytes, want %d: the test does not test", len(value), storekey.MaxValue)
		}
		second, err := storeSource(store, longTokenServer(n, &logins)).Token()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([2]any{true, int32(1)}, [2]any{second.AccessToken == first.AccessToken, logins.Load()}); diff != "" {
			t.Errorf("the second process's token is the first's, and logins, mismatch (-want +got):\n%s", diff)
		}
	})
}
