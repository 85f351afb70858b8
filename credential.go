package recitaloauth

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth/internal/bearer"

	"golang.org/x/oauth2"
)

// credential is a token as the cache holds it, with the times its state
// is decided by (stateOf), worked out once per token rather than on every
// Token call. Nothing in it changes once it is in use but the two marks
// of its origin.
type credential struct {
	token *oauth2.Token // never handed out: callers get copies (copyToken)

	obtained  time.Time // when the login that made it started
	refreshAt time.Time // from then on it is stale
	hardLimit time.Time // from then on it is no longer handed out

	origin *origin // nil for a token no store has seen
}

// newCredential works out the cache's times for tok, a token whose login
// started at obtained (see the timings in cache.go).
func newCredential(tok *oauth2.Token, obtained time.Time) *credential {
	lifetime := tok.Expiry.Sub(obtained)
	return &credential{
		token:     tok,
		obtained:  obtained,
		refreshAt: tok.Expiry.Add(-min(refreshLead, lifetime/4)),
		hardLimit: tok.Expiry.Add(-min(expiryMargin, lifetime/20)),
	}
}

// copyToken returns a copy of c's token, the caller's own:
// oauth2.ReuseTokenSource writes into the tokens it receives, so two
// callers must never share one.
func (c *credential) copyToken() *oauth2.Token {
	tok := *c.token
	return &tok
}

// authorization is the Authorization header value that sends c's token,
// made as oauth2.Token.SetAuthHeader makes it.
func (c *credential) authorization() string { return c.token.Type() + " " + c.token.AccessToken }

// origin is what a store has to do with a token: where its sealed value
// is, and where the token came from, which is what its refusal means
// (refusal.go).
type origin struct {
	sealed []byte // its value in the store, for compare-and-delete; nil if none
	key    string // the store key sealed is under

	borrowed bool   // taken from the store, not made by this source's login
	machine  string // the machine that saved it
	foreign  bool   // borrowed, and saved by another machine

	worked  atomic.Bool // foreign, and a request with it got an answer other than 401
	counted atomic.Bool // its refusal was counted: once per token (refusals.count)
}

// isBorrowed reports whether c's token was taken from the store (nil: no).
func (c *credential) isBorrowed() bool { return c != nil && c.origin != nil && c.origin.borrowed }

// markWorked records that a request with c got an answer other than 401:
// a foreign token that works travels between machines, so a later 401 of
// it is a revocation, not binding to an IP address.
func (c *credential) markWorked() {
	if o := c.origin; o != nil && o.foreign && !o.worked.Load() {
		o.worked.Store(true)
	}
}

// credentialSource is what the transport needs of a token source: a
// credential for a request, and somewhere to report its 401.
type credentialSource interface {
	// credential returns the credential to send now; ctx bounds a wait.
	credential(ctx context.Context) (*credential, error)

	// refuse reports that the API answered a request sent with c with
	// 401, and returns whether a new credential may be worth a resend.
	refuse(c *credential) bool
}

// reuseSource is a token source of another kind (the caller's own), cached
// with oauth2.ReuseTokenSource just as oauth2.NewClient does. Its 401s
// are the caller's: it cannot be told of them.
type reuseSource struct{ src oauth2.TokenSource }

func newReuseSource(src oauth2.TokenSource) *reuseSource {
	return &reuseSource{oauth2.ReuseTokenSource(nil, nonNilSource{src})}
}

func (r *reuseSource) credential(context.Context) (*credential, error) {
	tok, err := r.src.Token()
	if err != nil {
		return nil, err
	}
	return &credential{token: tok}, nil
}

func (*reuseSource) refuse(*credential) bool { return false }

// nonNilSource turns a nil token with a nil error (a source with a bug,
// or oauth2.StaticTokenSource(nil)) into an error, where
// oauth2.ReuseTokenSource would panic on it.
type nonNilSource struct{ oauth2.TokenSource }

var errNilToken = errors.New("recitaloauth: the token source returned neither a token nor an error")

func (s nonNilSource) Token() (*oauth2.Token, error) {
	tok, err := s.TokenSource.Token()
	if tok == nil && err == nil {
		return nil, errNilToken
	}
	return tok, err
}

// isBearerToken is the one syntax check of a bearer token: see package
// bearer.
func isBearerToken(s string) bool { return bearer.Valid(s) }
