package recitaloauth

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth/internal/bearer"

	"golang.org/x/oauth2"
)

// credential is a token made ready for requests: the cache's timings are
// worked out once, not on every Token call, and its Authorization header
// value once, by the first request that needs it.
type credential struct {
	token  *oauth2.Token          // never handed out: callers get copies (copies.go)
	header atomic.Pointer[string] // see authorization

	obtained  time.Time // when the login that made it started
	refreshAt time.Time // from then on, Token starts a background login
	hardLimit time.Time // from then on, Token waits for a new login

	*storeCopy // nil until it is saved to or taken from the store

	refusalHeeded bool // its 401 was taken into account (cachedSource.rejected); guarded by cachedSource.mu

	copies // where copyToken takes the callers' copies from
}

// storeCopy is what a credential has to do with the store: apart, so that
// a source without a store (or before it saves) does not carry it. Its
// methods answer for a nil one: a token the store never saw.
type storeCopy struct {
	sealed []byte // its value in the store, for compare-and-delete; nil if none
	key    string // the store key sealed is under

	// Where it came from, for what a 401 means (cachedSource.rejected).
	borrowed bool         // taken from the store, not this source's own login
	foreign  bool         // borrowed, and saved by another machine
	machine  string       // the machine that saved it, for a borrowed one
	worked   *atomic.Bool // for a foreign one: a request with it got an answer other than 401
}

// isBorrowed reports whether the token was taken from the store, not made
// by this source's own login.
func (c *storeCopy) isBorrowed() bool { return c != nil && c.borrowed }

// isForeign reports whether the token was borrowed, and saved by another
// machine.
func (c *storeCopy) isForeign() bool { return c != nil && c.foreign }

// sealedValue is the token's value in the store, or nil if none.
func (c *storeCopy) sealedValue() []byte {
	if c == nil {
		return nil
	}
	return c.sealed
}

// hasWorked reports whether a request with a foreign c got an answer
// other than 401.
func (c *storeCopy) hasWorked() bool { return c != nil && c.worked != nil && c.worked.Load() }

// answered records that a request with c got an answer other than 401:
// then a foreign token travels, and a later 401 is a revocation, not
// binding to an IP address. Only the first answer writes.
func (c *storeCopy) answered() {
	if c != nil && c.worked != nil && !c.worked.Load() {
		c.worked.Store(true)
	}
}

func newCredential(tok *oauth2.Token) *credential {
	return &credential{token: tok}
}

// authorization returns the Authorization header value for c's token. It
// is made on first use, not with the credential: a source that is only
// asked for tokens (through oauth2.NewClient, or by gRPC) never needs
// it, and it is as large as the token (a JWT of a few hundred bytes).
// Requests that make it at once each make one; the first kept is used
// from then on.
func (c *credential) authorization() string {
	if h := c.header.Load(); h != nil {
		return *h
	}
	h := authorizationOf(c.token)
	if !c.header.CompareAndSwap(nil, &h) {
		return *c.header.Load()
	}
	return h
}

// authorizationOf is the Authorization header value that sends tok.
func authorizationOf(tok *oauth2.Token) string { return tok.Type() + " " + tok.AccessToken }

// credentialSource is what the transport needs from a token source: a
// credential, and a way to report that the server refused one.
type credentialSource interface {
	// credential returns the credential to use now; ctx bounds a wait.
	credential(ctx context.Context) (*credential, error)

	// rejected reports that a request sent with c got 401. It returns
	// whether a retry with a new credential may succeed.
	rejected(c *credential) bool
}

// reuseSource adapts a token source of another kind (the caller's own) to
// the transport, cached with oauth2.ReuseTokenSource just as oauth2.NewClient
// would. ReuseTokenSource hands out its one token until it replaces it,
// so the credential made for that token is kept and used again while the
// token is the same one, unchanged: a request then costs no credential
// and no header of its own. A source may change a token in place (the
// same pointer with a new AccessToken): that makes a new credential.
type reuseSource struct {
	src  oauth2.TokenSource
	last atomic.Pointer[seenToken] // the token src gave last
}

// seenToken is a token reuseSource made a credential for, as it was then.
type seenToken struct {
	cred              *credential
	access, tokenType string
}

func (r *reuseSource) credential(context.Context) (*credential, error) {
	tok, err := r.src.Token()
	if err != nil {
		return nil, err
	}
	if last := r.last.Load(); last != nil && last.cred.token == tok && last.access == tok.AccessToken && last.tokenType == tok.TokenType {
		return last.cred, nil
	}
	seen := &seenToken{cred: newCredential(tok), access: tok.AccessToken, tokenType: tok.TokenType}
	seen.cred.header.Store(new(authorizationOf(tok))) // as seen: tok may change later
	r.last.Store(seen)
	return seen.cred, nil
}

func (*reuseSource) rejected(*credential) bool { return false }

// isBearerToken is the one syntax check of a bearer token: see package
// bearer.
func isBearerToken(s string) bool { return bearer.Valid(s) }
