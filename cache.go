package recitaloauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth/internal/event"
	"golang.org/x/oauth2"
)

// The cache's timings, for a token of lifetime L (its Expiry minus the
// start of the login that made it). The package documentation is their
// spec.
const (
	// refreshLead: once less than min(refreshLead, L/4) remains, the token
	// is stale: Token still answers at once, and starts a login in the
	// background.
	refreshLead = 5 * time.Minute
	// expiryMargin: once less than min(expiryMargin, L/20) remains, the
	// token is no longer handed out and callers wait for the new one. The
	// margin covers the request's own journey and clock skew.
	expiryMargin = 5 * time.Second

	// After a failed login, no new one for firstBackoff, doubling with each
	// further failure up to maxBackoff. Callers get the failure meanwhile:
	// a wrong password must not become a storm of logins.
	firstBackoff = time.Second
	maxBackoff   = time.Minute

	// A token of this source's own login refused with 401 sooner than
	// rejectGap after its login is kept: if a fresh token is refused at
	// once, a new login will not help and would only hammer the login
	// endpoint. A borrowed token (from the store) is never kept: a login
	// of our own may well succeed where it failed. rejectGap starts at zero,
	// goes from firstRejectGap doubling to maxRejectGap while refusals keep
	// coming, and falls back to zero once a token lasts 2×maxRejectGap. It
	// is not the failure back-off: it counts from the refused token's
	// login, and the token stays in use meanwhile.
	firstRejectGap = time.Second
	maxRejectGap   = time.Minute
)

// tokenState is what the cached token is good for at a given time; one
// switch in refresh decides what each state makes a caller do.
type tokenState int

const (
	missing  tokenState = iota // no token: wait for a login
	fresh                      // hand it out
	stale                      // hand it out, and start a login in the background
	expiring                   // past its hard limit: wait for the new login
)

func stateOf(cred *credential, now time.Time) tokenState {
	switch {
	case cred == nil:
		return missing
	case now.Before(cred.refreshAt):
		return fresh
	case now.Before(cred.hardLimit):
		return stale
	}
	return expiring
}

// Why a login happens, as the logs say it.
const (
	reasonFirstUse = "first use"
	reasonRefresh  = "early refresh"
	reasonExpired  = "expired"
	reasonRefused  = "after a 401"
)

// cachedSource is Config.TokenSource. Token's fast path is one atomic load
// and one clock read; the mutex guards the slow path's state and is never
// held during a login, so waiting callers block on a channel instead.
type cachedSource struct {
	ctx    context.Context
	config *Config
	log    *slog.Logger // never nil
	store  *sharedStore // nil without Config.Store

	current atomic.Pointer[credential] // nil before the first login and after a 401

	mu        sync.Mutex
	flight    *flight       // the login in progress, or nil
	failure   error         // the last login's error, returned until retryAt
	failures  int           // failed logins in a row
	retryAt   time.Time     // no login before then
	rejectGap time.Duration // see firstRejectGap
	refused   *credential   // the token last refused with 401, until a login replaces it
	// refusedUpTo is the latest login start of a token refused with 401:
	// no stored token obtained at or before it is used, so that a store
	// writer putting back an older value (revoked too) does not win.
	refusedUpTo time.Time
	sharing     sharing // see binding.go
}

// flight is one login, shared by everyone who waits for it.
type flight struct {
	reason   string
	refused  *credential   // the token this login replaces after a 401, or nil
	minLeft  time.Duration // the least life a token from the store must have (tokenFor)
	waiters  int           // callers that wait for it; guarded by cachedSource.mu
	attempts int           // POSTs the login made, for the log

	// limits says what the store may give it (storeLimits), when it
	// looks: a 401 during the login narrows them.
	limits func() storeLimits

	done chan struct{} // closed when cred or err is set
	cred *credential
	err  error
}

func newCachedSource(ctx context.Context, config *Config) *cachedSource {
	if ctx == nil {
		ctx = context.Background()
	}
	s := &cachedSource{ctx: ctx, config: config, log: config.logger()}
	if config.Store != nil {
		s.store = newSharedStore(config, s.log)
	}
	return s
}

// Token returns the cached token, a copy of the caller's own.
func (s *cachedSource) Token() (*oauth2.Token, error) {
	if cred := s.current.Load(); cred != nil && time.Now().Before(cred.refreshAt) {
		return cred.copyToken(), nil // the fresh state, inlined
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

// tokenFor returns a token with at least minLeft to live, for a process
// about to exit, such as the recitaltoken command: its caller needs the
// token to outlive it, and a background refresh would die with it. So it
// never starts one: a token with minLeft to live is handed out as it is,
// even when stale, and one with less waits for a login. A server whose
// tokens live less than minLeft gets two logins, not a loop.
func (s *cachedSource) tokenFor(ctx context.Context, minLeft time.Duration) (*oauth2.Token, error) {
	for logins := 0; ; logins++ {
		now := time.Now()
		cred := s.current.Load()
		state := stateOf(cred, now)
		usable := state == fresh || state == stale
		if usable && (cred.token.Expiry.Sub(now) >= minLeft || logins >= 2) {
			return cred.copyToken(), nil
		}
		s.mu.Lock()
		reason := reasonRefresh
		if !usable {
			reason = s.reasonToWait(state)
		}
		f, failure := s.join(reason, minLeft, now)
		s.mu.Unlock()
		if failure != nil {
			return nil, failure
		}
		if _, err := wait(ctx, f); err != nil {
			return nil, err
		}
	}
}

// refresh is the slow path: the token is missing or getting old.
func (s *cachedSource) refresh(ctx context.Context) (*credential, error) {
	s.mu.Lock()
	now := time.Now()
	cred := s.current.Load()
	switch state := stateOf(cred, now); state {
	case fresh: // a login ended since the fast path looked
		s.mu.Unlock()
		return cred, nil
	case stale:
		if s.flight == nil && !now.Before(s.retryAt) && s.ctx.Err() == nil {
			s.startLogin(reasonRefresh, 0)
		}
		s.mu.Unlock()
		return cred, nil
	default: // missing, expiring
		f, failure := s.join(s.reasonToWait(state), 0, now)
		s.mu.Unlock()
		if failure != nil {
			return nil, failure
		}
		return wait(ctx, f)
	}
}

// join returns the login in progress, or one it starts for reason (and a
// token with at least minLeft to live), and counts the caller among its
// waiters; during a back-off, or once the source's context has ended, it
// returns an error instead, without a login. s.mu must be held.
func (s *cachedSource) join(reason string, minLeft time.Duration, now time.Time) (*flight, error) {
	f := s.flight
	if f == nil {
		if now.Before(s.retryAt) {
			return nil, s.failure
		}
		// A login could only fail: no flight, so no store call (a store
		// that ignores its context would leave a goroutine per call).
		if s.ctx.Err() != nil {
			return nil, fmt.Errorf("recitaloauth: the source's context ended: %w", context.Cause(s.ctx))
		}
		f = s.startLogin(reason, minLeft)
	}
	f.waiters++
	return f, nil
}

// wait waits for f's outcome, or until ctx ends (the login goes on for
// the others).
func wait(ctx context.Context, f *flight) (*credential, error) {
	select {
	case <-f.done:
		return f.cred, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("recitaloauth: gave up waiting for the login: %w", context.Cause(ctx))
	}
}

// reasonToWait says why callers wait for a login in state (missing or
// expiring). s.mu must be held.
func (s *cachedSource) reasonToWait(state tokenState) string {
	switch {
	case state == expiring:
		return reasonExpired
	case s.refused != nil:
		return reasonRefused
	}
	return reasonFirstUse
}

// startLogin starts a login in its own goroutine, so that callers who do
// not need to wait for it (a stale token) do not, and those who do wait on
// a channel, not on s.mu. s.mu must be held.
func (s *cachedSource) startLogin(reason string, minLeft time.Duration) *flight {
	f := &flight{reason: reason, refused: s.refused, minLeft: minLeft, done: make(chan struct{}), limits: s.storeLimits}
	s.flight = f
	go s.run(f)
	return f
}

// storeLimits is what the store may give a login of s now.
type storeLimits struct {
	refusedUpTo time.Time // only tokens obtained after it
	machineOnly bool      // only tokens this machine saved, under its key
}

// storeLimits returns s's limits as they are now, not as they were when
// the login started: a background refresh may still be looking when a
// request's 401 concludes that tokens are bound to IP addresses, and must
// not then take another machine's token.
func (s *cachedSource) storeLimits() storeLimits {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limitsLocked()
}

// limitsLocked is storeLimits with s.mu held.
func (s *cachedSource) limitsLocked() storeLimits {
	return storeLimits{refusedUpTo: s.refusedUpTo, machineOnly: s.sharing == thisMachineOnly}
}

func (s *cachedSource) run(f *flight) {
	started := time.Now()
	cred, err := s.obtain(f)
	pause := s.settle(f, cred, err)
	// Logged once the flight is settled, not under s.mu, but before its
	// callers get the outcome, so that a program that exits on an error
	// has written its record. No caller joins a settled flight, so
	// f.waiters stays as it is.
	if pause > 0 {
		s.logFailure(f, err, pause)
	}
	if f.waiters > 0 {
		s.log.Debug("recitaloauth: callers waited for a token", event.Attr(event.Waited), "callers", f.waiters, "waited", time.Since(started))
	}
	close(f.done)
}

// settle records flight f's outcome, for its callers once f.done is
// closed and for the cache, and returns the back-off a failure starts
// (zero if none).
func (s *cachedSource) settle(f *flight, cred *credential, err error) (pause time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flight = nil
	if err != nil {
		f.err = err
		// A login cut short because the source's context ended says nothing
		// about the server or the password: do not hold it against them.
		if s.ctx.Err() == nil {
			s.failures++
			s.failure = err
			pause = backoff(s.failures)
			s.retryAt = time.Now().Add(pause)
		}
		return pause
	}
	f.cred = cred
	if old := s.current.Load(); old != nil && old.hasWorked() {
		s.sharing = s.sharing.after(foreignWorked)
	}
	s.current.Store(cred)
	s.failures, s.failure, s.retryAt = 0, nil, time.Time{}
	if s.refused == f.refused {
		s.refused = nil
	}
	return 0
}

// obtain gets the credential that replaces the current one: from the
// store when another process left a good one there, else by a login.
func (s *cachedSource) obtain(f *flight) (*credential, error) {
	if s.store != nil {
		return s.store.obtain(s.ctx, f, s.login)
	}
	return s.login(s.ctx, f)
}

// login logs in and makes the credential, on the wall clock: the
// monotonic clock stops while a machine sleeps, so a time read from it
// would keep a long-expired token fresh after a laptop wakes.
func (s *cachedSource) login(ctx context.Context, f *flight) (*credential, error) {
	started := time.Now().Round(0)
	tok, attempts, err := s.config.login(ctx)
	f.attempts += attempts
	if err != nil {
		return nil, err
	}
	cred := cachedCredential(tok, started)
	if !time.Now().Before(cred.hardLimit) {
		// Handing it out would make every caller log in again at once:
		// a failure, with its back-off.
		return nil, fmt.Errorf("recitaloauth: the login's token expired before the login ended (it lives %v)",
			tok.Expiry.Sub(started).Round(time.Millisecond))
	}
	s.log.Info("recitaloauth: logged in", event.Attr(event.LoggedIn), "reason", f.reason, "duration", time.Since(started).Round(time.Millisecond),
		"attempts", attempts, "lifetime", tok.Expiry.Sub(started).Round(time.Second))
	return cred, nil
}

// logFailure says why a login failed and when the next may happen.
func (s *cachedSource) logFailure(f *flight, err error, pause time.Duration) {
	attrs := []any{event.Attr(event.LoginFailed), "reason", f.reason, "error", err.Error(), "attempts", f.attempts, "retry_in", pause.Round(time.Millisecond)}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		attrs = append(attrs, "status", re.Response.StatusCode)
	}
	s.log.Warn("recitaloauth: login failed", attrs...)
}

// cachedCredential works out when the cache should refresh tok, a token
// whose login started at obtained.
func cachedCredential(tok *oauth2.Token, obtained time.Time) *credential {
	cred := newCredential(tok)
	lifetime := tok.Expiry.Sub(obtained)
	cred.obtained = obtained
	cred.refreshAt = tok.Expiry.Add(-min(refreshLead, lifetime/4))
	cred.hardLimit = tok.Expiry.Add(-min(expiryMargin, lifetime/20))
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
// refused at once), which also takes it out of the store. It returns
// whether a retry may succeed. Config.Client and Invalidate both come
// here.
//
// A cred already replaced is not dropped again, but what its 401 says
// still counts, once per token: a background refresh may have put
// another machine's token in its place while the request was out, and
// the refusal may show that one to be of no use too (heedRefusal).
func (s *cachedSource) rejected(cred *credential) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current.Load() == cred {
		age := time.Since(cred.obtained)
		switch {
		case cred.isBorrowed(): // the gap is for our own logins: ours may work where it did not
		case age < s.rejectGap:
			s.log.Debug("recitaloauth: token refused soon after its login, kept", "status", 401, "age", age.Round(time.Millisecond))
			return false
		case age >= 2*maxRejectGap:
			s.rejectGap = 0
		default:
			s.rejectGap = min(max(2*s.rejectGap, firstRejectGap), maxRejectGap)
		}
		s.current.Store(nil)
		s.refused = cred
		s.log.Warn("recitaloauth: token refused, dropped", event.Attr(event.Refused), "status", 401, "age", age.Round(time.Second), "from_store", cred.isBorrowed())
	}
	if !cred.refusalHeeded {
		cred.refusalHeeded = true
		s.heedRefusal(cred)
	}
	return true
}

// heedRefusal records what cred's 401 says: no stored token obtained at
// or before it is used from now on, and whether tokens are bound to IP
// addresses (binding.go). A borrowed token in use that this rules out is
// dropped too. s.mu must be held.
func (s *cachedSource) heedRefusal(cred *credential) {
	// Another machine's clock may run ahead of ours: a time in our
	// future would shut out every stored token until we reached it.
	upTo := cred.obtained
	if now := time.Now().Round(0); upTo.After(now) {
		upTo = now
	}
	if upTo.After(s.refusedUpTo) {
		s.refusedUpTo = upTo
	}
	if e, ok := refusalEvent(cred); ok {
		was := s.sharing
		if s.sharing = was.after(e); s.sharing == thisMachineOnly && was != thisMachineOnly {
			s.log.Warn("recitaloauth: tokens other machines saved are refused: the organisation likely binds access tokens "+
				"to IP addresses (recital's \"Bind Access Tokens to IPs\"); sharing tokens with this machine's processes only",
				event.Attr(event.BoundToIP))
		}
	}
	if cur := s.current.Load(); cur != nil && cur.isBorrowed() && !s.store.admits(s.limitsLocked(), cur) {
		s.current.Store(nil)
	}
}

// String keeps the password and tokens out of fmt's %v, %+v, %s and %#v.
func (s *cachedSource) String() string {
	return "recitaloauth.TokenSource(" + s.config.String() + ")"
}

// Format keeps the password and tokens out of every other fmt verb.
func (s *cachedSource) Format(f fmt.State, verb rune) { io.WriteString(f, s.String()) }

// LogValue keeps the password and tokens out of log/slog output.
func (s *cachedSource) LogValue() slog.Value { return s.config.LogValue() }
