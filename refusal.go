package recitaloauth

import (
	"time"

	"github.com/seed9ffb1f9c/recitaloauth/internal/event"
)

// What a token the API refused with 401 means, all in one place: whether
// the request goes again (resendable), whether the token is dropped (the
// reject gap), what the store may still serve (storeLimits), and whether
// tokens are bound to IP addresses (binding). The transport and
// Invalidate report each 401 to cachedSource.refuse. "Refused tokens" in
// the package documentation is the spec.

const (
	// maxSends bounds how often one request is sent: once, again with a
	// new token after a 401, and a third time only if that token, too,
	// was borrowed from the store and refused: the source then logs in
	// itself.
	maxSends = 3

	// The reject gap: a token of this source's own login refused sooner
	// than the gap after its login is kept, since if fresh tokens are
	// refused at once, a new login will not help and would only hammer
	// the login endpoint. See nextGap.
	firstRejectGap = time.Second
	maxRejectGap   = time.Minute
)

// resendable reports whether a request sent sends times, refused with 401
// the last time with cred, goes again once the source has taken cred
// back (refuse returned true).
func resendable(sends int, cred *credential) bool {
	return sends < maxSends && (sends == 1 || cred.isBorrowed())
}

// refusals is what a source has learned from the tokens the API refused.
// It is guarded by cachedSource.mu.
type refusals struct {
	gap     time.Duration // the reject gap
	dropped *credential   // the token last dropped, until a login replaces it
	// upTo is the latest login start of a refused token: no stored token
	// obtained at or before it is used, so that a store writer putting
	// back an older value (revoked too) does not win.
	upTo    time.Time
	binding binding
}

// refuse takes back cred, which the API refused with 401: the current
// token is dropped (unless the reject gap keeps it), so that the next
// caller waits for one new login, which also deletes it from the store.
// It returns whether a new credential may be worth a resend.
//
// A cred already replaced is not dropped again, but what its 401 says
// still counts, once per token: a background refresh may have put
// another machine's token in its place while the request was out, and
// the refusal may show that one to be of no use either.
func (s *cachedSource) refuse(cred *credential) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &s.refusals
	if s.current.Load() == cred {
		age := time.Since(cred.obtained)
		if !cred.isBorrowed() {
			if age < r.gap {
				s.tel.Refused(false, false)
				s.log.Debug("recitaloauth: token refused soon after its login, kept", "status", 401, "age", age.Round(time.Millisecond))
				return false
			}
			r.gap = nextGap(r.gap, age)
		}
		s.current.Store(nil)
		r.dropped = cred
		s.tel.Refused(cred.isBorrowed(), true)
		s.log.Warn("recitaloauth: token refused, dropped", event.Attr(event.Refused), "status", 401, "age", age.Round(time.Second), "from_store", cred.isBorrowed())
	}
	if cred.origin == nil || !cred.origin.counted.CompareAndSwap(false, true) {
		return true // no store, or counted already
	}
	if r.count(cred, time.Now().Round(0)) {
		s.log.Warn("recitaloauth: tokens other machines saved are refused: the organisation likely binds access tokens "+
			"to IP addresses (recital's \"Bind Access Tokens to IPs\"); sharing tokens with this machine's processes only",
			event.Attr(event.BoundToIP))
	}
	if cur := s.current.Load(); cur != nil && cur.isBorrowed() && !r.limits().admits(cur, s.sharer.machine) {
		s.current.Store(nil) // a borrowed token the refusal rules out
	}
	return true
}

// nextGap is the reject gap after a token of the source's own login was
// refused at age, past the gap.
func nextGap(gap, age time.Duration) time.Duration {
	if age >= 2*maxRejectGap {
		return 0
	}
	return min(max(2*gap, firstRejectGap), maxRejectGap)
}

// count records what cred's refusal says of the store's tokens, and
// reports whether it has just concluded that tokens are bound to IP
// addresses.
func (r *refusals) count(cred *credential, now time.Time) (concluded bool) {
	// Another machine's clock may run ahead of ours: a time in our
	// future would shut out every stored token until we reached it.
	upTo := cred.obtained
	if upTo.After(now) {
		upTo = now
	}
	if upTo.After(r.upTo) {
		r.upTo = upTo
	}
	e, ok := refusalEvent(cred)
	if !ok {
		return false
	}
	was := r.binding
	r.binding = was.after(e)
	return r.binding == bound && was != bound
}

// settled records what a login that replaced old says: a foreign token
// that worked until then travels between machines. replaced is the token
// the login was started to replace after its 401, if any.
func (r *refusals) settled(old, replaced *credential) {
	if old != nil && old.origin != nil && old.origin.worked.Load() {
		r.binding = r.binding.after(foreignWorked)
	}
	if r.dropped == replaced {
		r.dropped = nil
	}
}

// storeLimits is what the store may give a login. A login reads them when
// the store answers, not when it starts: a request's 401 meanwhile may
// have narrowed them.
type storeLimits struct {
	upTo        time.Time // only tokens obtained after it
	machineOnly bool      // only tokens this machine saved, under its key
}

func (r *refusals) limits() storeLimits {
	return storeLimits{upTo: r.upTo, machineOnly: r.binding == bound}
}

// admits reports whether a login within l may use cred, a stored token,
// on machine.
func (l storeLimits) admits(cred *credential, machine string) bool {
	return cred.obtained.After(l.upTo) && (!l.machineOnly || cred.origin.machine == machine)
}

// binding is what a source knows of whether tokens travel between
// machines, or are bound to the IP address that logged in (recital's "Bind
// Access Tokens to IPs"); "Refused tokens" in the package documentation
// says how it is concluded, and why so.
type binding int

const (
	travels binding = iota // as far as we know
	doubted                // a token another machine saved was refused before it ever worked
	bound                  // twice: tokens are bound to IP addresses
)

// bindingEvent is what a token's fate says about binding.
type bindingEvent int

const (
	ownRefused     bindingEvent = iota // this source's own login's token refused: a revocation, or a server refusing all
	foreignWorked                      // a token another machine saved was accepted: tokens travel
	foreignRefused                     // a token another machine saved was refused before it ever worked
)

// after is the one rule for how binding changes: once concluded, it is
// kept for the source's life.
func (b binding) after(e bindingEvent) binding {
	switch {
	case b == bound:
		return bound
	case e == foreignRefused && b == doubted:
		return bound
	case e == foreignRefused:
		return doubted
	default:
		return travels
	}
}

// refusalEvent is what the 401 of cred says about binding, if anything.
func refusalEvent(cred *credential) (bindingEvent, bool) {
	switch o := cred.origin; {
	case !o.borrowed:
		return ownRefused, true
	case !o.foreign: // a sibling process's token: a revocation, no clue about addresses
		return 0, false
	case o.worked.Load():
		return foreignWorked, true // it worked here before: revoked since
	}
	return foreignRefused, true
}
