package recitaloauth

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth/internal/event"
	"golang.org/x/oauth2"
)

// TestTokenLasting: a process about to exit gets a token with at least
// the life it asks for, and never leaves a login to the background: a
// stale token with enough life is handed out without one, a token with
// less waits for one, and exactly enough is enough.
func TestTokenLasting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login := newLoginServer()
		src := newTestSource(login)
		start := time.Now()
		step := func(at time.Duration, wantToken string, wantLogins int) {
			t.Helper()
			time.Sleep(time.Until(start.Add(at)))
			tok, err := TokenLasting(context.Background(), src, time.Minute)
			synctest.Wait()
			if err != nil || tok.AccessToken != wantToken || login.count() != wantLogins {
				t.Errorf("at %v: got %v, %v after %d logins; want %s after %d", at, tok, err, login.count(), wantToken, wantLogins)
			}
		}
		step(0, "token-1", 1)                             // cold: a login
		step(50*time.Minute, "token-1", 1)                // fresh
		step(57*time.Minute, "token-1", 1)                // stale, 3 min left: no login, even in the background
		step(59*time.Minute, "token-1", 1)                // a minute left, to the nanosecond: enough
		step(59*time.Minute+30*time.Second, "token-2", 2) // 30 s left: waits for a login
	})
}

// TestTokenLastingPastTheLifetime: a life no token of the server's can
// meet gets the freshest token there is, with no more logins than the
// tokens' lifetime asks for, never one per call. Calls every 10 minutes
// for 3 hours against one-hour tokens, asking for an hour and for 61
// minutes, make 3 logins (at 0, 60 and 120 min), and every token handed
// out is fresh (more than the 5 minutes of an early refresh left).
func TestTokenLastingPastTheLifetime(t *testing.T) {
	for _, d := range []time.Duration{time.Hour, 61 * time.Minute} {
		t.Run(d.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				login := newLoginServer()
				src := newTestSource(login)
				for range 18 {
					tok, err := TokenLasting(context.Background(), src, d)
					if err != nil {
						t.Fatal(err)
					}
					if left := time.Until(tok.Expiry); left <= refreshLead {
						t.Errorf("a token with %v left, want a fresh one (over %v)", left, refreshLead)
					}
					time.Sleep(10 * time.Minute)
				}
				if n := login.count(); n != 3 {
					t.Errorf("%d logins in 3 h of calls, want 3: at 0, 60 and 120 min", n)
				}
			})
		})
	}
}

// TestTokenLastingShortLived: against tokens that live less than asked,
// a first call makes one login and gets its token, rather than logging
// in again for a longer one that never comes. The caller gives up after
// a minute, so that a loop fails the test instead of hanging it.
func TestTokenLastingShortLived(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login := newLoginServer()
		login.expiresIn = 30 // seconds, less than the minute asked for
		login.delay = time.Second
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		tok, err := TokenLasting(ctx, newTestSource(login), time.Minute)
		synctest.Wait()
		if err != nil || tok.AccessToken != "token-1" || login.count() != 1 {
			t.Errorf("got %v, %v after %d logins; want token-1 after 1", tok, err, login.count())
		}
	})
}

// TestTokenLastingAtTheReach: a life a new token can give is met by a
// login, at the edge too, and the token of the login made for the caller
// ends the wait even when the login's own time left it a little short.
// Against one-hour tokens (a hard limit 5 s before expiry): asking for
// 59m55s, exactly what a new token gives, logs in again once the token
// has less; asking for 59m50s with logins that take 20 s gets the
// login's token (59m40s left), not a loop of logins.
func TestTokenLastingAtTheReach(t *testing.T) {
	t.Run("exactly a new token's life", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			login := newLoginServer()
			src := newTestSource(login)
			const d = time.Hour - expiryMargin
			for _, want := range []string{"token-1", "token-2"} {
				tok, err := TokenLasting(context.Background(), src, d)
				if err != nil || tok.AccessToken != want {
					t.Fatalf("got %v, %v; want %s", tok, err, want)
				}
				time.Sleep(10 * time.Second)
			}
		})
	})
	t.Run("a slow login's token", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			login := newLoginServer()
			login.delay = 20 * time.Second
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			tok, err := TokenLasting(ctx, newTestSource(login), time.Hour-10*time.Second)
			if err != nil || tok.AccessToken != "token-1" || login.count() != 1 {
				t.Errorf("got %v, %v after %d logins; want token-1 after 1", tok, err, login.count())
			}
		})
	})
}

// TestTokenLastingContextEnds: the caller's context bounds its wait for
// a login that hangs.
func TestTokenLastingContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login := newLoginServer()
		login.delay = time.Hour
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		if _, err := TokenLasting(ctx, newTestSource(login), time.Minute); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want the context's deadline", err)
		}
		if took := time.Since(start); took != time.Second {
			t.Errorf("TokenLasting returned after %v, want the context's second", took)
		}
		time.Sleep(DefaultLoginTimeout) // the login ends at its timeout
	})
}

// stallOnce is a log handler that stalls the first "callers waited"
// record: a slow log sink, or a pause of the machine, between a login's
// end and its caller's look at the token.
type stallOnce struct {
	records *atomic.Int32
	stall   time.Duration
}

func (h stallOnce) Enabled(context.Context, slog.Level) bool { return true }
func (h stallOnce) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == event.Key && a.Value.String() == event.Waited && h.records.Add(1) == 1 {
			time.Sleep(h.stall)
		}
		return true
	})
	return nil
}
func (h stallOnce) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h stallOnce) WithGroup(string) slog.Handler      { return h }

// TestTokenLastingAfterAStall: when the token of the login TokenLasting
// waited for has expired by the time it looks (a stall of the machine in
// between), it waits for one more login and returns that token: never an
// expired token, and no loop.
func TestTokenLastingAfterAStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login := newLoginServer()
		login.expiresIn = 1
		cfg := testConfig()
		cfg.Logger = slog.New(stallOnce{records: new(atomic.Int32), stall: 1100 * time.Millisecond})
		tok, err := TokenLasting(context.Background(), cfg.TokenSource(withHandler(login)), time.Minute)
		if err != nil || tok.AccessToken != "token-2" || login.count() != 2 {
			t.Errorf("got %v, %v after %d logins; want token-2 after 2", tok, err, login.count())
		}
	})
}

// TestTokenLastingFromStore: a process about to exit takes no token from
// the store with less than the life it asks for, even a fresh one (short
// lifetimes): it logs in instead.
func TestTokenLastingFromStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login, store := newLoginServer(), newMemStore()
		login.expiresIn = 180
		if _, err := storeSource(store, login).Token(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(130 * time.Second) // 50 s left: still fresh, refresh is at 45 s
		tok, err := TokenLasting(context.Background(), storeSource(store, login), time.Minute)
		if err != nil || tok.AccessToken != "token-2" || login.count() != 2 {
			t.Errorf("got %v, %v after %d logins; want token-2 from a second login", tok, err, login.count())
		}
	})
}

// countingSource counts its Token calls, and hands out tok.
type countingSource struct {
	calls int
	tok   *oauth2.Token
}

func (c *countingSource) Token() (*oauth2.Token, error) {
	c.calls++
	return c.tok, nil
}

// TestTokenLastingOtherSources: a source of another kind is asked once
// and its token returned as it is, however short its life; a nil source,
// or one that returns neither a token nor an error, is an error, not a
// panic.
func TestTokenLastingOtherSources(t *testing.T) {
	theirs := &countingSource{tok: &oauth2.Token{AccessToken: "theirs", Expiry: time.Now().Add(time.Second)}}
	tok, err := TokenLasting(context.Background(), theirs, time.Hour)
	if err != nil || tok.AccessToken != "theirs" || theirs.calls != 1 {
		t.Errorf("TokenLasting(their source) = %v, %v after %d calls; want their token after 1", tok, err, theirs.calls)
	}
	if tok, err := TokenLasting(context.Background(), nil, time.Hour); !errors.Is(err, errNilSource) {
		t.Errorf("TokenLasting(nil) = %v, %v; want errNilSource", tok, err)
	}
	if tok, err := TokenLasting(context.Background(), &countingSource{}, time.Hour); !errors.Is(err, errNilToken) {
		t.Errorf("TokenLasting(a source returning nil, nil) = %v, %v; want errNilToken", tok, err)
	}
}
