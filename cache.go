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
	"github.com/seed9ffb1f9c/recitaloauth/internal/telemetry"
	"go.opentelemetry.io/otel/trace"
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
)

// tokenState is what the cached token is good for, to a caller that needs
// it to last a while (TokenLasting) or not (Token). stateOf decides it for
// every path that asks: Token, TokenLasting, and a login looking in the
// store; the switch in lasting says what each state makes a caller do.
type tokenState int

const (
	missing  tokenState = iota // no token: wait for a login
	fresh                      // hand it out
	stale                      // hand it out; Token starts a login in the background
	short                      // good, but a new login's token would last the caller longer: wait for one
	expiring                   // past its hard limit: wait for a login
)

// stateOf is what cred is good for at now, to a caller that needs it to
// last minLeft more (0: any Token call). A minLeft that reaches into the
// margin before a token's hard limit, where no token is ever handed out,
// cannot be met: it asks for the freshest token there is, and a fresh
// one is that.
func stateOf(cred *credential, now time.Time, minLeft time.Duration) tokenState {
	if cred == nil {
		return missing
	}
	lasts := cred.token.Expiry.Sub(now) >= minLeft ||
		(minLeft > cred.hardLimit.Sub(cred.obtained) && now.Before(cred.refreshAt))
	switch {
	case !now.Before(cred.hardLimit):
		return expiring
	case !lasts:
		return short
	case now.Before(cred.refreshAt):
		return fresh
	}
	return stale
}

// Why a login happens, as the logs say it.
const (
	reasonFirstUse = "first use"
	reasonRefresh  = "early refresh"
	reasonExpired  = "expired"
	reasonRefused  = "after a 401"
)

// cachedSource is Config.TokenSource. Token's fast path is one atomic
// load and one clock read; the mutex guards the rest, and is never held
// during a login: callers waiting for one block on its channel.
type cachedSource struct {
	ctx    context.Context
	config *Config
	log    *slog.Logger // never nil
	tel    *telemetry.Instruments
	sharer *sharer // nil without Config.Store

	current atomic.Pointer[credential] // nil before the first login and after a 401

	mu       sync.Mutex
	flight   *flight // the login in progress, or nil
	failures failures
	refusals refusals
}

// failures is what holds logins back after they failed.
type failures struct {
	last    error     // the last login's error, returned until retryAt
	inARow  int       // failed logins in a row
	retryAt time.Time // no login before then
}

// flight is one login, shared by everyone who waits for it.
type flight struct {
	reason   string
	replaces *credential       // the token this login replaces after its 401, or nil
	minLeft  time.Duration     // the least a token from the store must last (stateOf)
	waiters  int               // callers that wait for it; guarded by cachedSource.mu
	attempts int               // POSTs the login made, for the log
	parent   trace.SpanContext // the span of the caller that started it, if it waits

	done chan struct{} // closed when cred or err is set
	cred *credential
	err  error
}

func newCachedSource(ctx context.Context, config *Config) *cachedSource {
	if ctx == nil {
		ctx = context.Background()
	}
	s := &cachedSource{ctx: ctx, config: config, log: config.logger(),
		tel: telemetry.New(config.MeterProvider, config.TracerProvider, config.LoginURL())}
	if config.Store != nil {
		s.sharer = newSharer(config, s.log, s.tel, s.limits)
	}
	return s
}

// Token returns the cached token, a copy of the caller's own.
func (s *cachedSource) Token() (*oauth2.Token, error) {
	cred, err := s.lasting(context.Background(), 0, true)
	if err != nil {
		return nil, err
	}
	return cred.copyToken(), nil
}

// credential is Token without the copy, for the transport.
func (s *cachedSource) credential(ctx context.Context) (*credential, error) {
	return s.lasting(ctx, 0, true)
}

// lasting returns a credential that lasts minLeft more (see stateOf; 0
// for Token), or waits for a login that gives one. A stale token starts a
// login in the background when early is set, never for TokenLasting,
// whose process is about to exit: the login would die with it, wasted. A
// caller that waits stops when ctx ends; the login goes on for the others.
func (s *cachedSource) lasting(ctx context.Context, minLeft time.Duration, early bool) (*credential, error) {
	if cred := s.current.Load(); stateOf(cred, time.Now(), minLeft) == fresh {
		return cred, nil
	}
	for {
		s.mu.Lock()
		now := time.Now()
		cred := s.current.Load()
		var f *flight
		var err error
		switch state := stateOf(cred, now, minLeft); state {
		case fresh: // a login ended since the fast path looked
		case stale:
			if early && s.flight == nil && !now.Before(s.failures.retryAt) && s.ctx.Err() == nil {
				s.startLogin(context.Background(), reasonRefresh, 0) // no one waits: a trace of its own
			}
		default: // missing, short, expiring
			f, err = s.join(ctx, s.reasonFor(state), minLeft, now)
		}
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if f == nil {
			return cred, nil
		}
		if cred, err = wait(ctx, f); err != nil {
			return nil, err
		}
		// The token of a login made for this caller's need is the best a
		// login gives, even if it lasts less. Look again only when it is
		// no longer good (a stall) or the login was someone else's.
		if st := stateOf(cred, time.Now(), 0); (st == fresh || st == stale) && f.minLeft >= minLeft {
			return cred, nil
		}
	}
}

// join returns the login in progress, or one it starts for reason (and a
// token that lasts minLeft) as a child of ctx's span, and counts the
// caller among its waiters; during a back-off, or once the source's
// context has ended, it returns an error instead, without a login. s.mu
// must be held.
func (s *cachedSource) join(ctx context.Context, reason string, minLeft time.Duration, now time.Time) (*flight, error) {
	f := s.flight
	if f == nil {
		if now.Before(s.failures.retryAt) {
			return nil, s.failures.last
		}
		// A login could only fail: no flight, so no store call (a store
		// that ignores its context would leave a goroutine per call).
		if s.ctx.Err() != nil {
			return nil, fmt.Errorf("recitaloauth: the source's context ended: %w", context.Cause(s.ctx))
		}
		f = s.startLogin(ctx, reason, minLeft)
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

// reasonFor says why callers wait for a login in state. s.mu must be
// held.
func (s *cachedSource) reasonFor(state tokenState) string {
	switch {
	case state == short:
		return reasonRefresh
	case state == expiring:
		return reasonExpired
	case s.refusals.dropped != nil:
		return reasonRefused
	}
	return reasonFirstUse
}

// startLogin starts a login in its own goroutine, so that callers who do
// not need to wait for it (a stale token) do not, and those who do wait on
// a channel, not on s.mu. Its span's parent is ctx's span; the login runs
// on s.ctx, never ended by ctx. s.mu must be held.
func (s *cachedSource) startLogin(ctx context.Context, reason string, minLeft time.Duration) *flight {
	f := &flight{reason: reason, replaces: s.refusals.dropped, minLeft: minLeft, done: make(chan struct{}),
		parent: trace.SpanContextFromContext(ctx)}
	s.flight = f
	go s.run(f)
	return f
}

// limits is what the store may give a login of s now.
func (s *cachedSource) limits() storeLimits {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refusals.limits()
}

func (s *cachedSource) run(f *flight) {
	started := time.Now()
	ctx, tel := s.tel.StartLogin(s.ctx, f.parent, f.reason)
	var cred *credential
	var err error
	if s.sharer != nil {
		cred, err = s.sharer.obtain(ctx, f, s.login)
	} else {
		cred, err = s.login(ctx, f)
	}
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
	tel.End(f.attempts, f.waiters, cred.isBorrowed(), err)
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
			s.failures.inARow++
			s.failures.last = err
			pause = backoff(s.failures.inARow)
			s.failures.retryAt = time.Now().Add(pause)
		}
		return pause
	}
	f.cred = cred
	s.refusals.settled(s.current.Load(), f.replaces)
	s.current.Store(cred)
	s.failures = failures{}
	return 0
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
	cred := newCredential(tok, started)
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

// backoff is the pause after the given number of failed logins in a row,
// with up to a tenth taken off at random so that many processes sharing an
// account do not retry in step.
func backoff(failures int) time.Duration {
	d := min(firstBackoff<<min(failures-1, 16), maxBackoff)
	return d - rand.N(d/10)
}

// String keeps the password and tokens out of fmt's %v, %+v, %s and %#v.
func (s *cachedSource) String() string {
	return "recitaloauth.TokenSource(" + s.config.String() + ")"
}

// Format keeps the password and tokens out of every other fmt verb.
func (s *cachedSource) Format(f fmt.State, verb rune) { io.WriteString(f, s.String()) }

// LogValue keeps the password and tokens out of log/slog output.
func (s *cachedSource) LogValue() slog.Value { return s.config.LogValue() }
