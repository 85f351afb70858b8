package recitaloauth

import (
	"context"
	"encoding/json"
	"io"
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
	hooks.Env = func(getenv func(string) string, password func() (string, error), passwordFrom string, logTo io.Writer) (string, any, error) {
		service, cfg, err := fromEnv(getenv, password, passwordFrom, logTo)
		if cfg == nil {
			return service, nil, err // no typed nil in the interface
		}
		return service, cfg, err
	}
	hooks.CheckURL = checkAuthURL
	hooks.RedactURL = redactedURL
	hooks.StatusLine = statusLine
	hooks.Detail = func(body []byte, secret string) string {
		var fields map[string]any
		if json.Unmarshal(body, &fields) != nil {
			return ""
		}
		return detailOf(fields, newScrubber(secret))
	}
}
