package recitaloauth

import (
	"context"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth/internal/hooks"
	"golang.org/x/oauth2"
)

// The command's view of the library's rules; see package hooks.
func init() {
	hooks.TokenFor = func(ctx context.Context, src oauth2.TokenSource, minLeft time.Duration) (*oauth2.Token, error) {
		if s, ok := src.(*cachedSource); ok {
			return s.tokenFor(ctx, minLeft)
		}
		return src.Token()
	}
}
