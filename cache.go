package recitaloauth

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// The cache's timings, for a token of lifetime L (its Expiry minus the
// start of the login that made it).
const (
	// earlyRefresh: once less than min(earlyRefresh, L/4) remains, Token
	// still answers at once but starts a login in the background.
	earlyRefresh = 5 * time.Minute
	// hardLimit: once less than min(hardLimit, L/20) remains, the token is
	// no longer handed out and callers wait for the new one. The margin
	// covers the request's own journey and clock skew.
	hardLimit = 5 * time.Second

	// After a failed login, no new one for firstBackoff, doubling with each
	// further failure up to maxBackoff. Callers get the failure meanwhile:
	// a wrong password must not become a storm of logins.
	firstBackoff = time.Second
	maxBackoff   = time.Minute

	// A token refused with 401 sooner than rejectGap after its login is
	// kept: if a fresh token is refused at once, a new login will not help
	// and would only hammer the login endpoint. rejectGap starts at zero,
	// goes from firstRejectGap doubling to maxRejectGap while refusals keep
	// coming, and falls back to zero once a token lasts 2×maxRejectGap.
	firstRejectGap = time.Second
	maxRejectGap   = time.Minute
)

// cachedSource is Config.TokenSource. Token's fast path is one atomic load
// and one clock read; the mutex guards the slow path's state and is never
// held during a login, so waiting callers block on a channel instead.
type cachedSource struct {
	ctx    context.Context
	config *Config

	current atomic.Pointer[credential] // nil before the first login and after a 401

	mu        sync.Mutex
	flight    *flight       // the login in progress, or nil
	failure   error         // the last login's error, returned until retryAt
	failures  int           // failed logins in a row
	retryAt   time.Time     // no login before then
	rejectGap time.Duration // see firstRejectGap
}

// flight is one login, shared by everyone who waits for it.
type flight struct {
	done chan struct{} // closed when cred or err is set
	cred *credential
	err  error
}

func newCachedSource(ctx context.Context, config *Config) *cachedSource {
	if ctx == nil {
		ctx = context.Background()
	}
	return &cachedSource{ctx: ctx, config: config}
}

// Token returns the cached token, a copy of the caller's own.
func (s *cachedSource) Token() (*oauth2.Token, error) {
	if cred := s.current.Load(); cred != nil && time.Now().Before(cred.refreshAt) {
		return cred.copyToken(), nil // the fast path of credential, inlined
	}
	cred, err := s.refresh(context.Background())
	if err != nil {
		return nil, err
	}
	return cred.copyToken(), nil
}

// credential is Token without the copy. A caller that must wait for a
// login stops waiting when ctx ends (the login goes on for the others).
func (s *cachedSource) credential(ctx context.Context) (*credential, error) {
	if cred := s.current.Load(); cred != nil && time.Now().Before(cred.refreshAt) {
		return cred, nil
	}
	return s.refresh(ctx)
}

// refresh is the slow path: the token is missing or getting old.
func (s *cachedSource) refresh(ctx context.Context) (*credential, error) {
	s.mu.Lock()
	now := time.Now()
	if cred := s.current.Load(); cred != nil && now.Before(cred.hardLimit) {
		if now.After(cred.refreshAt) && s.flight == nil && !now.Before(s.retryAt) {
			s.startLogin()
		}
		s.mu.Unlock()
		return cred, nil
	}
	f := s.flight
	if f == nil {
		if now.Before(s.retryAt) {
			err := s.failure
			s.mu.Unlock()
			return nil, err
		}
		f = s.startLogin()
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.cred, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("recitaloauth: gave up waiting for the login: %w", context.Cause(ctx))
	}
}

// startLogin starts a login in its own goroutine, so that callers who do
// not need to wait for it (early refresh) do not, and those who do wait on
// a channel, not on s.mu. s.mu must be held.
func (s *cachedSource) startLogin() *flight {
	f := &flight{done: make(chan struct{})}
	s.flight = f
	go s.run(f)
	return f
}

func (s *cachedSource) run(f *flight) {
	started := time.Now()
	tok, err := s.config.login(s.ctx)
	var cred *credential
	if err == nil {
		cred = cachedCredential(tok, started)
		if !time.Now().Before(cred.hardLimit) {
			// Handing it out would make every caller log in again at once:
			// a failure, with its back-off.
			err = fmt.Errorf("recitaloauth: the login's token expired before the login ended (it lives %v)",
				tok.Expiry.Sub(started).Round(time.Millisecond))
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	defer close(f.done)
	s.flight = nil
	if err != nil {
		f.err = err
		// A login cut short because the source's context ended says nothing
		// about the server or the password: do not hold it against them.
		if s.ctx.Err() == nil {
			s.failures++
			s.failure = err
			s.retryAt = time.Now().Add(backoff(s.failures))
		}
		return
	}
	f.cred = cred
	s.current.Store(cred)
	s.failures, s.failure, s.retryAt = 0, nil, time.Time{}
}

// cachedCredential works out when the cache should refresh tok.
func cachedCredential(tok *oauth2.Token, started time.Time) *credential {
	cred := newCredential(tok)
	lifetime := tok.Expiry.Sub(started)
	cred.obtained = started
	cred.refreshAt = tok.Expiry.Add(-min(earlyRefresh, lifetime/4))
	cred.hardLimit = tok.Expiry.Add(-min(hardLimit, lifetime/20))
	return cred
}

// backoff is the pause after the given number of failed logins in a row,
// with up to a tenth taken off at random so that many processes sharing an
// account do not retry in step.
func backoff(failures int) time.Duration {
	d := min(firstBackoff<<min(failures-1, 16), maxBackoff)
	return d - rand.N(d/10)
}

// rejected drops cred from the cache after the server refused it with 401,
// so that the next request waits for a new login (one for all the requests
// refused at once). It returns whether a retry may succeed.
func (s *cachedSource) rejected(cred *credential) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current.Load() != cred {
		return true // already replaced, or being replaced
	}
	age := time.Since(cred.obtained)
	switch {
	case age < s.rejectGap:
		return false
	case age >= 2*maxRejectGap:
		s.rejectGap = 0
	default:
		s.rejectGap = min(max(2*s.rejectGap, firstRejectGap), maxRejectGap)
	}
	s.current.Store(nil)
	return true
}

// String keeps the password and tokens out of fmt's %v, %+v and %s.
func (s *cachedSource) String() string {
	return "recitaloauth.TokenSource(" + s.config.String() + ")"
}

// GoString keeps the password and tokens out of fmt's %#v.
func (s *cachedSource) GoString() string { return s.String() }

// Format keeps the password and tokens out of every other fmt verb.
func (s *cachedSource) Format(f fmt.State, verb rune) { io.WriteString(f, s.String()) }

// LogValue keeps the password and tokens out of log/slog output.
func (s *cachedSource) LogValue() slog.Value { return s.config.LogValue() }
