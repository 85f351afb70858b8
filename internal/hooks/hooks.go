// Package hooks hands the recitaltoken command the library's own rules,
// so that it never copies them: package recitaloauth sets each variable
// in its init, and the command, which imports recitaloauth, calls them.
// They are not part of the library's API.
package hooks

import (
	"context"
	"time"

	"golang.org/x/oauth2"
)

// TokenFor returns a token from src with at least minLeft to live,
// waiting for a login when the cached one has less (a process about to
// exit cannot leave a refresh to the background). For a source that is
// not the library's, it is src.Token().
var TokenFor func(ctx context.Context, src oauth2.TokenSource, minLeft time.Duration) (*oauth2.Token, error)
