package recitaloauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth/internal/event"
	"github.com/seed9ffb1f9c/recitaloauth/internal/storekey"
	"github.com/seed9ffb1f9c/recitaloauth/internal/telemetry"
)

const (
	// storeBudget bounds the time one login's store calls take together,
	// even calls that ignore their context: a store that is slow or hangs
	// costs a Token call no more than this on top of a login (and of a
	// wait for another's: see takeTurn). Once spent, the login leaves
	// the store alone.
	storeBudget = time.Second
	// lockPoll is how often a process waiting for another's login looks
	// at the store (less up to half, at random, so waiters spread out).
	lockPoll = 50 * time.Millisecond
)

// sharer is a source's side of sharing tokens through Config.Store: it
// reads and writes sealed values, and takes turns with other processes
// at logging in. Its methods run on the source's login goroutine, one
// flight at a time.
type sharer struct {
	store  Store
	locker Locker // nil when the store cannot lock
	sealer *sealer
	limits func() storeLimits // what a login may take now: the source's refusals
	log    *slog.Logger
	tel    *telemetry.Instruments

	// sharedKey is the key every machine shares. machine names this
	// machine (its host name) in the values it seals, so that a token
	// refused here can be told from a revoked one; once tokens are found
	// bound to IP addresses, this machine's processes share under
	// machineKey, without overwriting other machines' tokens.
	sharedKey  string
	machine    string
	machineKey string

	// loginTimeout bounds a wait for another process's login and this
	// one's together; maxLockWait, a third of it, the wait for a lock
	// another process holds: a holder that takes longer (stopped, dead,
	// or on a login that hangs) is not waited for, the source logs in
	// without the lock. lockTTL frees the lock of a holder that died
	// (in stores that need it) once its login would have ended anyway.
	loginTimeout time.Duration
	maxLockWait  time.Duration
	lockTTL      time.Duration

	failing bool          // a failure was logged and no call has worked since
	spent   time.Duration // in store calls, by this login (but a wait's looks); see storeBudget
}

func newSharer(config *Config, log *slog.Logger, tel *telemetry.Instruments, limits func() storeLimits) *sharer {
	authURL := config.LoginURL()
	locker, _ := config.Store.(Locker)
	key := storekey.For(authURL, config.Username)
	machine, _ := os.Hostname()
	return &sharer{
		store:        config.Store,
		locker:       locker,
		sealer:       newSealer(authURL, config.Username, config.Password),
		limits:       limits,
		log:          log,
		tel:          tel,
		sharedKey:    key,
		machine:      machine,
		machineKey:   storekey.ForMachine(key, machine),
		loginTimeout: config.loginTimeout(),
		maxLockWait:  config.loginTimeout() / 3,
		lockTTL:      config.loginTimeout() + 2*storeBudget,
	}
}

// obtain returns a token another process left in the store, or else logs
// in (once for all the processes that take turns on the store's lock) and
// saves the new token. One login timeout bounds both the wait for another
// process's login and this one's: processes waiting on a login that hangs
// all give up together, none starts a full timeout of its own after it.
func (s *sharer) obtain(srcCtx context.Context, f *flight, login func(context.Context, *flight) (*credential, error)) (*credential, error) {
	ctx, cancel := context.WithTimeout(srcCtx, s.loginTimeout)
	defer cancel()
	s.spent = 0
	s.sealer.newLogin()
	if r := f.replaces; r != nil && r.origin != nil && r.origin.sealed != nil {
		_, err := bounded(s, ctx, func(ctx context.Context) (struct{}, error) {
			return struct{}{}, s.store.Delete(ctx, r.origin.key, r.origin.sealed)
		}, nil)
		s.result(ctx, "delete", err)
	}
	if cred := s.borrow(ctx, f); cred != nil {
		return cred, nil
	}
	unlock, cred, err := s.takeTurn(ctx, f)
	if cred != nil || err != nil {
		return cred, err
	}
	defer s.release(unlock)
	if cred, err = login(ctx, f); err != nil {
		return nil, err
	}
	s.save(srcCtx, cred) // before unlock: the waiters look for it then
	return cred, nil
}

// key is the key to share under now.
func (s *sharer) key() string {
	if s.limits().machineOnly {
		return s.machineKey
	}
	return s.sharedKey
}

// takeTurn waits until this process may log in: until it holds the
// store's lock, or finds the token another process logged in for
// meanwhile. Without a lock, with one that fails, or after maxLockWait,
// the turn is at once.
func (s *sharer) takeTurn(ctx context.Context, f *flight) (unlock func(), cred *credential, err error) {
	type lock struct {
		unlock func()
		ok     bool
	}
	noop := func() {}
	if s.locker == nil {
		return noop, nil, nil
	}
	for start, spent := time.Now(), s.spent; ; {
		// Looks while another process logs in are the wait's cost
		// (maxLockWait's), not the store's: slow looks (Windows, a busy
		// machine) must not make every waiter log in too.
		s.spent = spent
		held, err := bounded(s, ctx, func(ctx context.Context) (lock, error) {
			unlock, ok, err := s.locker.TryLock(ctx, s.key(), s.lockTTL)
			return lock{unlock, ok}, err
		}, func(l lock) { // taken too late to be used
			if l.ok {
				l.unlock()
			}
		})
		s.result(ctx, "lock", err)
		switch {
		case err != nil:
			return noop, nil, nil
		case held.ok:
			// The holder before us may have saved just before it let go.
			if cred := s.borrow(ctx, f); cred != nil {
				s.release(held.unlock)
				return nil, cred, nil
			}
			return held.unlock, nil, nil
		case time.Since(start) >= s.maxLockWait:
			s.log.Warn("recitaloauth: another process has held the store's lock too long, logging in without it", event.Attr(event.LockHeldLong),
				"waited", time.Since(start).Round(time.Millisecond))
			return noop, nil, nil
		}
		if !sleep(ctx, lockPoll-rand.N(lockPoll/2)) {
			cause := context.Cause(ctx)
			if cause == nil { // the deadline is nearer than the next look
				cause = context.DeadlineExceeded
			}
			return nil, nil, fmt.Errorf("recitaloauth: gave up waiting for another process's login: %w", cause)
		}
		if cred := s.borrow(ctx, f); cred != nil {
			return nil, cred, nil
		}
		if s.failing { // a store that cannot load cannot hand the token over
			return noop, nil, nil
		}
	}
}

// release lets go of a lock, waiting for it within what is left of the
// store budget: a process that exits right after its login (a CLI) must
// not leave the lock held until it lapses, and an unlock that hangs must
// not hold the token back longer.
func (s *sharer) release(unlock func()) {
	done := make(chan error, 1)
	go func() {
		_, err := guarded(func() (struct{}, error) { unlock(); return struct{}{}, nil })
		done <- err
	}()
	timer := time.NewTimer(max(storeBudget-s.spent, 0))
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			s.result(context.Background(), "unlock", err)
		}
	case <-timer.C:
	}
}

// borrow returns the stored token if it opens and serves f (stateOf for
// f.minLeft: fresh, or stale unless f is a refresh, which wants a newer
// token), and the source's refusals admit it.
func (s *sharer) borrow(ctx context.Context, f *flight) *credential {
	key := s.key()
	cred, err := s.read(ctx, key)
	s.result(ctx, "load", err)
	if cred == nil {
		return nil
	}
	if !s.limits().admits(cred, s.machine) { // as they are once the store answered
		s.log.Debug("recitaloauth: ignored a stored token a 401 rules out")
		return nil
	}
	now := time.Now()
	switch stateOf(cred, now, f.minLeft) {
	case fresh:
	case stale:
		if f.reason == reasonRefresh {
			return nil
		}
	default:
		return nil
	}
	o := cred.origin
	o.borrowed, o.foreign = true, o.machine != s.machine
	s.tel.Borrowed(ctx, f.reason, o.foreign)
	s.log.Info("recitaloauth: token from the store", event.Attr(event.FromStore), "reason", f.reason,
		"left", cred.token.Expiry.Sub(now).Round(time.Second), "other_machine", o.foreign)
	return cred
}

// read loads the value under key and opens it: nil and no error when
// there is none, or none that opens (too large to be a token, another
// password's, damaged); an error only when the store failed.
func (s *sharer) read(ctx context.Context, key string) (*credential, error) {
	value, err := bounded(s, ctx, func(ctx context.Context) ([]byte, error) { return s.store.Load(ctx, key) }, nil)
	if err != nil || value == nil {
		return nil, err
	}
	if len(value) > storekey.MaxValue {
		s.log.Debug("recitaloauth: ignored a stored value too large to be a token", "bytes", len(value))
		return nil, nil
	}
	cred, err := s.sealer.open(value)
	if err != nil {
		s.log.Debug("recitaloauth: ignored a stored value that does not open (another password, or damaged)")
		return nil, nil
	}
	cred.origin.key = key
	return cred, nil
}

// save seals cred's token into the store. A failure costs other processes
// a login, never this one its token.
func (s *sharer) save(ctx context.Context, cred *credential) {
	key := s.key()
	cred.origin = &origin{key: key, machine: s.machine}
	value, err := s.sealer.seal(cred, s.machine)
	if err != nil {
		s.result(ctx, "seal", err)
		return
	}
	cred.origin.sealed = value
	_, err = bounded(s, ctx, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.store.Save(ctx, key, value, cred.token.Expiry)
	}, nil)
	s.result(ctx, "save", err)
}

// result logs a store failure once, until a call works again. A call cut
// short because ctx ended (the login's time is up, or the source's
// context ended) is no fault of the store's.
func (s *sharer) result(ctx context.Context, op string, err error) {
	switch {
	case err != nil && ctx.Err() != nil:
	case err != nil:
		s.tel.StoreFailed(ctx, op)
		if !s.failing {
			s.failing = true
			s.log.Warn("recitaloauth: token store failed, going on without it", event.Attr(event.StoreFailed), "op", op, "error", err.Error())
		}
	case s.failing:
		s.failing = false
		s.log.Info("recitaloauth: token store works again", event.Attr(event.StoreWorks))
	}
}

var errNoAnswer = fmt.Errorf("no answer within %v, the store's share of a login", storeBudget)

// bounded runs one store call within what is left of s's storeBudget,
// and returns when that ends even if the store ignores its context; once
// the budget is spent, it makes no call. A result that comes too late
// goes to abandoned, if set, so that a lock taken late is let go.
func bounded[T any](s *sharer, ctx context.Context, call func(context.Context) (T, error), abandoned func(T)) (T, error) {
	var zero T
	left := storeBudget - s.spent
	if left <= 0 {
		return zero, errNoAnswer
	}
	started := time.Now()
	defer func() { s.spent += time.Since(started) }()
	ctx, cancel := context.WithTimeout(ctx, left)
	defer cancel()
	type result struct {
		value T
		err   error
	}
	results := make(chan result, 1)
	go func() {
		value, err := guarded(func() (T, error) { return call(ctx) })
		results <- result{value, err}
	}()
	select {
	case r := <-results:
		switch {
		case errors.Is(r.err, errPanicked):
			s.spent = storeBudget // a store that panics is broken: leave it alone
		case r.err != nil && ctx.Err() != nil && !errors.Is(r.err, context.Canceled):
			r.err = errNoAnswer // the store gave up at our bound
		}
		return r.value, r.err
	case <-ctx.Done():
		if abandoned != nil {
			go func() {
				if r := <-results; r.err == nil {
					guarded(func() (struct{}, error) { abandoned(r.value); return struct{}{}, nil })
				}
			}()
		}
		return zero, errNoAnswer
	}
}

// guarded makes a store call that panics fail instead: the call runs in a
// goroutine of the source's, where a panic would end the process, and a
// store (or its client: go-redis, on a reply announcing a value of 2^62
// bytes) must not be able to crash it.
func guarded[T any](call func() (T, error)) (value T, err error) {
	defer func() {
		if p := recover(); p != nil {
			var zero T
			value, err = zero, panicError(p)
		}
	}()
	return call()
}

// panicError is the error for a store call that panicked with p. Only the
// runtime's own words are kept ("makeslice: len out of range"): they hold
// types and numbers, nothing of the caller's. Any other value is the
// store's own, which may quote what it holds (a connection string with
// its password), so only its type is named.
func panicError(p any) error {
	if re, ok := p.(runtime.Error); ok {
		return fmt.Errorf("%w: %v", errPanicked, re)
	}
	return fmt.Errorf("%w (with a %T)", errPanicked, p)
}

// errPanicked is in the error of every store call that panicked: the
// login leaves such a store alone for the rest of it, as one that used up
// its budget.
var errPanicked = errors.New("recitaloauth: the store panicked")
