package recitaloauth

import (
	"context"
	"errors"
	"time"

	"golang.org/x/oauth2"
)

// TokenLasting returns a token from src with at least d left to live, for
// a program that hands a token on and exits: a credential helper (git's,
// docker's, a kubectl exec plugin) or a command such as recitaltoken. Such
// a program cannot leave a refresh to the background, which would die
// with it, and its caller uses the token after it has gone.
//
// For a source from [Config.TokenSource] (or [DefaultTokenSource]), a
// cached token with d left is handed out as it is, even one due for an
// early refresh, and one with less waits for a login, shared with the
// source's other callers; no login is started in the background. When the
// source's tokens live less than d, no token can meet it, and the call
// gets the freshest there is: the cached token until it is due for an
// early refresh, then a new login's, so that repeated calls make no more
// logins than Token calls would. A call waits for at most one login made
// for it, and returns that login's token even if it lasts less than d.
// ctx bounds the wait, not the login, which goes on for the others.
//
// A source of another kind (a service token, which does not expire, or
// one of the caller's own) is asked once, and its token returned as it
// is. A nil src, or one that returns neither a token nor an error, is an
// error. TokenLasting is safe for concurrent use when src is.
func TokenLasting(ctx context.Context, src oauth2.TokenSource, d time.Duration) (*oauth2.Token, error) {
	switch src := src.(type) {
	case nil:
		return nil, errNilSource
	case *cachedSource:
		if ctx == nil {
			ctx = context.Background()
		}
		cred, err := src.lasting(ctx, max(d, 0), false)
		if err != nil {
			return nil, err
		}
		return cred.copyToken(), nil
	}
	return nonNilSource{src}.Token()
}

var errNilSource = errors.New("recitaloauth: the token source is nil")
