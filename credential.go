package recitaloauth

import (
	"context"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth/internal/bearer"

	"golang.org/x/oauth2"
)

// credential is a token made ready for requests: its Authorization header
// value is built once, not on every request, and the cache's timings are
// worked out once, not on every Token call.
type credential struct {
	token  *oauth2.Token // never handed out: callers get copies
	header string        // "Bearer " + token.AccessToken

	obtained  time.Time // when the login that made it started
	refreshAt time.Time // from then on, Token starts a background login
	hardLimit time.Time // from then on, Token waits for a new login

	sealed []byte // its value in the store, for compare-and-delete; nil if none
}

func newCredential(tok *oauth2.Token) *credential {
	return &credential{token: tok, header: "Bearer " + tok.AccessToken}
}

// copyToken returns a token of the caller's own: oauth2.ReuseTokenSource
// writes into the tokens it receives.
func (c *credential) copyToken() *oauth2.Token {
	tok := *c.token
	return &tok
}

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
// would.
type reuseSource struct{ src oauth2.TokenSource }

func (r reuseSource) credential(context.Context) (*credential, error) {
	tok, err := r.src.Token()
	if err != nil {
		return nil, err
	}
	return &credential{token: tok, header: tok.Type() + " " + tok.AccessToken}, nil
}

func (reuseSource) rejected(*credential) bool { return false }

// isBearerToken is the one syntax check of a bearer token: see package
// bearer.
func isBearerToken(s string) bool { return bearer.Valid(s) }
