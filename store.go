package recitaloauth

import (
	"context"
	"time"
)

// Store keeps tokens so that they outlive the process: a source with a
// [Config.Store] looks there before it logs in, and saves each new token
// there, so that processes (and, with a shared store, machines) that log
// in as the same user share one login. The filestore package is the store
// for one machine; the redisstore package is the store for a fleet.
//
// A store only ever sees sealed values: opaque bytes encrypted under a key
// derived from the password, which it cannot read and cannot forge. Keys
// are short strings of letters, digits and '-' derived from the login URL
// and the username (and, where tokens are bound to IP addresses, the host
// name); they name, they do not reveal. Whoever can write the store is not
// trusted: a value that does not open is ignored and never chooses the
// salt, it buys at most two key derivations per login, and a value put
// back after a 401 is not used.
//
// A source bounds the store calls of one login together (about a second
// in all, shared by its loads, lock, save and delete, not a second each)
// and goes on without the store when a call fails, hangs or panics: a
// store never fails a Token call that a login would serve. Implementations must be safe for concurrent use.
type Store interface {
	// Load returns the value saved under key, or nil and no error when
	// there is none.
	Load(ctx context.Context, key string) ([]byte, error)

	// Save saves value under key, replacing what was there; the store may
	// drop it after expiry.
	Save(ctx context.Context, key string, value []byte, expiry time.Time) error

	// Delete removes key's value only if it is still value
	// (compare-and-delete), so that a token another process saved
	// meanwhile stays.
	Delete(ctx context.Context, key string, value []byte) error
}

// Locker is implemented by a [Store] that lets processes take turns at
// logging in, so that processes needing a token at the same moment log in
// once between them: one takes the lock and logs in, the others wait and
// find its token in the store. The filestore and redisstore packages
// implement it. A store without it still works: each process that finds
// no token logs in.
type Locker interface {
	// TryLock takes the lock named key if nobody holds it, without
	// waiting, and reports whether it did. A lock taken is held until
	// unlock is called, or for at most ttl, so that a holder that died does
	// not block the others for ever. unlock is called once, and is nil when
	// ok is false.
	TryLock(ctx context.Context, key string, ttl time.Duration) (unlock func(), ok bool, err error)
}
