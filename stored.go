package recitaloauth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/oauth2"
)

// StoredToken returns the token [Config.Store] holds for c's username and
// login URL, without logging in: what a status command shows ("logged in
// as ana until 14:05"). The value is opened with c's password, as a source
// would open it; nil and no error mean there is none, or none that opens
// with this password (another password's, or damaged), which a source
// would ignore too. The token may have expired: the caller judges its
// Expiry. The store calls are bounded as a source's are (see [Store]), even
// calls that ignore ctx. Safe for concurrent use.
func (c *Config) StoredToken(ctx context.Context) (*oauth2.Token, error) {
	_, creds, err := c.storedCredentials(ctx)
	if err != nil || len(creds) == 0 {
		return nil, err
	}
	return creds[0].copyToken(), nil
}

// ForgetStoredToken removes the token [Config.Store] holds for c's
// username and login URL, if it opens with c's password: a logout. It
// deletes with the store's compare-and-delete, the value it opened, so
// that a token another process saved meanwhile stays; it reports whether
// it found one to delete. A source of this process that holds the token
// in memory still hands it out: the next process logs in. The store calls
// are bounded as a source's are (see [Store]). Safe for concurrent use.
func (c *Config) ForgetStoredToken(ctx context.Context) (bool, error) {
	s, creds, err := c.storedCredentials(ctx)
	for _, cred := range creds {
		_, err = bounded(s, ctx, func(ctx context.Context) (struct{}, error) {
			return struct{}{}, s.store.Delete(ctx, cred.origin.key, cred.origin.sealed)
		}, nil)
		if err != nil {
			return false, storeError(ctx, err)
		}
	}
	return len(creds) > 0, err
}

var errNoStore = errors.New("recitaloauth: Config.Store is nil")

// storedCredentials loads and opens c's values, as a new source would:
// under the key every machine shares, then under this machine's key
// (used once tokens proved bound to IP addresses).
func (c *Config) storedCredentials(ctx context.Context) (*sharer, []*credential, error) {
	if c.Store == nil {
		return nil, nil, errNoStore
	}
	if ctx == nil {
		ctx = context.Background()
	}
	s := newSharer(c, discardLogger, nil, func() storeLimits { return storeLimits{} })
	var creds []*credential
	for _, key := range []string{s.sharedKey, s.machineKey} {
		s.sealer.newLogin() // each value may have a salt of its own
		cred, err := s.read(ctx, key)
		if err != nil {
			return nil, nil, storeError(ctx, err)
		}
		if cred != nil {
			creds = append(creds, cred)
		}
	}
	return s, creds, nil
}

// storeError is a failed store call as the caller sees it: the end of its
// own ctx when that is why the call was cut short.
func storeError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	if strings.HasPrefix(err.Error(), "recitaloauth: ") {
		return err // a store of this module's: its message says what it is
	}
	return fmt.Errorf("recitaloauth: token store: %w", err)
}
