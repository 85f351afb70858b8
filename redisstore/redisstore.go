// Package redisstore keeps recitaloauth's tokens in Redis, so that the
// processes of a fleet, on any number of machines, that log in as the same
// user share one login between them:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	cfg := &recitaloauth.Config{
//		Username: username,
//		Password: password,
//		Store:    redisstore.New(rdb),
//	}
//	client := cfg.Client(ctx) // an *http.Client for recital's API
//
// The store holds only sealed tokens, which whoever reads Redis can neither
// open nor forge (see [recitaloauth.Store]); its lock lets one process log
// in while the others wait for its token. Keys start with "recitaloauth:".
//
// The Redis server itself must be trusted not to exhaust the process's
// memory, and reached over TLS or on loopback so that nobody between can
// answer for it: whatever it announces, go-redis allocates before it
// reads. A reply announcing an impossible size (2^62 bytes) panics inside
// go-redis, which the source recovers from (it goes on without the store),
// but one announcing a possible size (a TiB) exhausts memory before there
// is anything to recover. A stored value is read only up to the 64 KiB a
// token could need.
//
// Only programs that import this package build go-redis, though the
// module's go.mod names it (as golang.org/x/oauth2's does for its google
// package's dependencies).
package redisstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/seed9ffb1f9c/recitaloauth"
	"github.com/seed9ffb1f9c/recitaloauth/internal/storekey"
)

// keyPrefix starts every key the store writes.
const keyPrefix = "recitaloauth:"

// unlockTimeout bounds the release of a lock: unlock has no context, and a
// release that fails only leaves the lock to expire after its ttl.
const unlockTimeout = time.Second

// deleteIfEqual deletes KEYS[1] if it holds ARGV[1]: reading, comparing
// and deleting in one step, which no other client's SET can come between.
// It is Delete's compare-and-delete, and the release of a lock, which must
// delete the lock only while it holds the holder's own token.
var deleteIfEqual = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// loadBounded returns KEYS[1]'s value if it is at most ARGV[1] bytes, its
// size (an integer) if it is larger, and nil if there is none: Redis sends
// no more than a token could need, so that a huge value planted in it
// costs this process nothing.
var loadBounded = redis.NewScript(`
local size = redis.call("STRLEN", KEYS[1])
if size > tonumber(ARGV[1]) then
	return size
end
return redis.call("GET", KEYS[1])`)

// Store is a [recitaloauth.Store] and a [recitaloauth.Locker] in Redis.
// It is safe for concurrent use, as its client is.
//
// A value is kept under "recitaloauth:<key>" with a time to live that ends
// at the token's expiry, so that Redis drops expired tokens itself. A lock
// is "recitaloauth:<key>:lock", holding a random token of its holder's.
type Store struct {
	client redis.UniversalClient
}

// Compile-time checks that Store is what its documentation says.
var (
	_ recitaloauth.Store  = (*Store)(nil)
	_ recitaloauth.Locker = (*Store)(nil)
)

// New returns a Store that keeps its values and locks in client: a
// *redis.Client, a *redis.ClusterClient (each key is used alone, so keys
// may live on any shard), a failover client or a *redis.Ring.
func New(client redis.UniversalClient) *Store {
	return &Store{client: client}
}

// Load returns the value saved under key, or nil and no error when there
// is none, or it has expired. A value larger than 64 KiB is an error, and
// is not read: a Lua script checks its size first.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	if err := storekey.Check(key); err != nil {
		return nil, err
	}
	reply, err := loadBounded.Run(ctx, s.client, []string{keyPrefix + key}, storekey.MaxValue).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("recitaloauth: redis store: load: %w", err)
	}
	switch reply := reply.(type) {
	case string:
		return []byte(reply), nil
	case int64:
		return nil, fmt.Errorf("recitaloauth: redis store: load: a value of %d bytes, larger than the %d a token could need", reply, storekey.MaxValue)
	}
	return nil, fmt.Errorf("recitaloauth: redis store: load: unexpected reply of type %T", reply)
}

// Save replaces key's value with value, for Redis to drop at expiry. The
// time to live is counted from now on this machine's clock (SET with PX),
// so that a Redis server whose clock differs keeps the token as long. An
// expiry already past (or less than a millisecond away) deletes key's
// value, as Redis would at once; a zero expiry never expires.
func (s *Store) Save(ctx context.Context, key string, value []byte, expiry time.Time) error {
	if err := storekey.Check(key); err != nil {
		return err
	}
	var err error
	switch ttl := time.Until(expiry).Truncate(time.Millisecond); {
	case expiry.IsZero():
		err = s.client.Set(ctx, keyPrefix+key, value, 0).Err()
	case ttl <= 0:
		err = s.client.Del(ctx, keyPrefix+key).Err()
	default:
		err = s.client.Set(ctx, keyPrefix+key, value, ttl).Err()
	}
	if err != nil {
		return fmt.Errorf("recitaloauth: redis store: save: %w", err)
	}
	return nil
}

// Delete removes key's value if it is still value, and otherwise leaves
// it; a Lua script compares and deletes in one step, so that a value
// another client saved meanwhile stays. No value is not an error.
func (s *Store) Delete(ctx context.Context, key string, value []byte) error {
	if err := storekey.Check(key); err != nil {
		return err
	}
	if err := deleteIfEqual.Run(ctx, s.client, []string{keyPrefix + key}, value).Err(); err != nil {
		return fmt.Errorf("recitaloauth: redis store: delete: %w", err)
	}
	return nil
}

// TryLock takes the lock named key, if nobody holds it, by setting
// "recitaloauth:<key>:lock" to a random token of its own with SET NX PX
// ttl, and reports whether it did. Redis frees the lock after ttl, so that
// a holder that died does not block the others; ttl must therefore be at
// least a millisecond. A holder that outlives its ttl loses the lock, and
// its unlock then leaves alone whoever holds it since: unlock deletes the
// key only while it holds the holder's token. unlock waits at most a
// second for Redis; when it fails, the lock expires after its ttl.
func (s *Store) TryLock(ctx context.Context, key string, ttl time.Duration) (unlock func(), ok bool, err error) {
	if err := storekey.Check(key); err != nil {
		return nil, false, err
	}
	if ttl < time.Millisecond {
		return nil, false, fmt.Errorf("recitaloauth: redis store: lock ttl %v: want at least 1ms", ttl)
	}
	lockKey := keyPrefix + key + ":lock"
	token := rand.Text()
	ok, err = s.client.SetNX(ctx, lockKey, token, ttl.Truncate(time.Millisecond)).Result()
	if err != nil {
		return nil, false, fmt.Errorf("recitaloauth: redis store: lock: %w", err)
	}
	if !ok {
		return nil, false, nil
	}
	// The release keeps ctx's values (tracing, say), not its end: the
	// caller's context may well have ended by the time it lets go.
	release := context.WithoutCancel(ctx)
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(release, unlockTimeout)
			defer cancel()
			deleteIfEqual.Run(ctx, s.client, []string{lockKey}, token)
		})
	}, true, nil
}
