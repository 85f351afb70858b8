package recitaloauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/seed9ffb1f9c/recitaloauth/internal/storekey"
	"golang.org/x/oauth2"
)

// StoredToken returns the token [Config.Store] holds for c's username and
// login URL, without logging in: what a status command shows ("logged in
// as ana until 14:05"). The value is opened with c's password, as a source
// would open it; nil and no error mean there is none, or none that opens
// with this password (another password's, or damaged), which a source
// would ignore too. The token may have expired: the caller judges its
// Expiry. ctx bounds the store call, even one that ignores it. Safe for
// concurrent use.
func (c *Config) StoredToken(ctx context.Context) (*oauth2.Token, error) {
	_, tok, err := c.stored(ctx)
	return tok, err
}

// ForgetStoredToken removes the token [Config.Store] holds for c's
// username and login URL, if it opens with c's password: a logout. It
// deletes with the store's compare-and-delete, the value it opened, so
// that a token another process saved meanwhile stays; it reports whether
// it found one to delete. A source of this process that holds the token
// in memory still hands it out: the next process logs in. Safe for
// concurrent use.
func (c *Config) ForgetStoredToken(ctx context.Context) (bool, error) {
	value, tok, err := c.stored(ctx)
	if err != nil || tok == nil {
		return false, err
	}
	_, err = storeCall(ctx, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, c.Store.Delete(ctx, storeKey(c.authURL(), c.Username), value)
	})
	if err != nil {
		return false, fmt.Errorf("recitaloauth: token store: %w", err)
	}
	return true, nil
}

var errNoStore = errors.New("recitaloauth: Config.Store is nil")

// stored loads and opens c's value.
func (c *Config) stored(ctx context.Context) ([]byte, *oauth2.Token, error) {
	if c.Store == nil {
		return nil, nil, errNoStore
	}
	if ctx == nil {
		ctx = context.Background()
	}
	authURL := c.authURL()
	value, err := storeCall(ctx, func(ctx context.Context) ([]byte, error) {
		return c.Store.Load(ctx, storeKey(authURL, c.Username))
	})
	if err != nil {
		return nil, nil, fmt.Errorf("recitaloauth: token store: %w", err)
	}
	if value == nil || len(value) > storekey.MaxValue {
		return nil, nil, nil
	}
	cred, err := newSealer(authURL, c.Username, c.Password).open(value)
	if err != nil {
		return nil, nil, nil
	}
	return value, cred.copyToken(), nil
}

// storeCall runs call, and returns when ctx ends even if the store
// ignores its context.
func storeCall[T any](ctx context.Context, call func(context.Context) (T, error)) (T, error) {
	type result struct {
		value T
		err   error
	}
	results := make(chan result, 1)
	go func() {
		value, err := call(ctx)
		results <- result{value, err}
	}()
	select {
	case r := <-results:
		return r.value, r.err
	case <-ctx.Done():
		var zero T
		return zero, context.Cause(ctx)
	}
}
