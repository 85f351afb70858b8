package recitaloauth

import (
	"context"
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
// source's other callers; no login is started in the background. A server
// whose tokens live less than d gets two logins, not a loop, and the
// second token is returned. ctx bounds the wait, not the login, which
// goes on for the others.
//
// A source of another kind (a service token, which does not expire, or
// one of the caller's own) is asked once, and its token returned as it
// is. TokenLasting is safe for concurrent use when src is.
func TokenLasting(ctx context.Context, src oauth2.TokenSource, d time.Duration) (*oauth2.Token, error) {
	if s, ok := src.(*cachedSource); ok {
		return s.tokenFor(ctx, d)
	}
	return src.Token()
}
