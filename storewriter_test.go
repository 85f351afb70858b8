package recitaloauth

// What whoever can write the store must not be able to do.

import (
	"bytes"
	"context"
	"crypto/rand"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth/internal/storekey"
)

// TestStoreWriterCannotChooseSalt: a value that does not open (a store
// writer planted it) does not choose the salt the source seals under; one
// that opens does, so that processes converge on one salt.
func TestStoreWriterCannotChooseSalt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login, store := newLoginServer(), newMemStore()
		key := storekey.For(testConfig().LoginURL(), testConfig().Username)
		planted := make([]byte, headerSize+64)
		rand.Read(planted)
		planted[0] = sealVersion
		store.set(key, planted)
		if _, err := storeSource(store, login).Token(); err != nil {
			t.Fatal(err)
		}
		_, saved := store.only(t)
		if bytes.Equal(saved[1:1+saltSize], planted[1:1+saltSize]) {
			t.Error("the source sealed under the salt of a value that did not open")
		}
		// A value that opens gives its salt to the next process's seals.
		time.Sleep(time.Hour) // the token expired: the next process logs in
		if _, err := storeSource(store, login).Token(); err != nil {
			t.Fatal(err)
		}
		_, resaved := store.only(t)
		if bytes.Equal(resaved, saved) || !bytes.Equal(resaved[1:1+saltSize], saved[1:1+saltSize]) {
			t.Error("a process that opened the stored value did not seal its new token under that value's salt")
		}
	})
}

// TestKDFBindsAccount: one derivation tests a password guess for one
// account only: the same password and salt give another key for another
// username or login URL.
func TestKDFBindsAccount(t *testing.T) {
	salt := bytes.Repeat([]byte{7}, saltSize)
	keyOf := func(authURL, username string) string {
		return string(newSealer(authURL, username, "same password").key(salt))
	}
	base := keyOf("https://a.example/login/", "ana@example.com")
	for name, other := range map[string]string{
		"another user":      keyOf("https://a.example/login/", "bob@example.com"),
		"another login URL": keyOf("https://b.example/login/", "ana@example.com"),
	} {
		if other == base {
			t.Errorf("%s: the same key from the same password and salt", name)
		}
	}
}

// rotatingStore answers every Load with a value under a new salt, that
// does not open, and never lets go of its lock: a writer trying to make
// a login derive a key per look.
type rotatingStore struct{ *memStore }

func (r rotatingStore) Load(ctx context.Context, key string) ([]byte, error) {
	r.memStore.Load(ctx, key)
	value := make([]byte, headerSize+64)
	rand.Read(value)
	value[0] = sealVersion
	return value, nil
}

func (r rotatingStore) TryLock(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	r.memStore.enter()
	return nil, false, nil
}

// TestStoreWriterBoundsDerivations: however many values under new salts
// the store returns (here one per look, while a lock it holds makes the
// source look again every 50 ms), one login derives at most two keys:
// one to open a value, one to seal its own.
func TestStoreWriterBoundsDerivations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login, store := newLoginServer(), rotatingStore{newMemStore()}
		src := storeSource(store, login, func(c *Config) { c.LoginTimeout = 3 * time.Second }).(*cachedSource)
		if _, err := src.Token(); err != nil {
			t.Fatal(err)
		}
		store.mu.Lock()
		looks := store.calls
		store.mu.Unlock()
		if looks < 10 {
			t.Fatalf("the source looked at the store %d times, want many: the test does not test", looks)
		}
		if n := src.sharer.sealer.derivations; n < 1 || n > 2 {
			t.Errorf("one login derived %d keys over %d store calls, want 1 (to seal its own) or 2", n, looks)
		}
	})
}

// TestStoreWriterCannotRollBack: after the API refuses a token, a store
// writer putting back a recorded older value (revoked too) does not win:
// no stored token obtained at or before the refused one is used.
func TestStoreWriterCannotRollBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login, store := newLoginServer(), newMemStore()
		src := storeSource(store, login).(*cachedSource)
		first, err := src.credential(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		key, recorded := store.only(t)
		time.Sleep(5 * time.Minute)
		src.refuse(first)
		second, err := src.credential(context.Background())
		if err != nil || second.token.AccessToken != "token-2" {
			t.Fatalf("after the first 401: %v, %v; want token-2", second, err)
		}
		time.Sleep(5 * time.Minute)
		store.set(key, recorded) // the writer puts token-1 back
		src.refuse(second)
		third, err := src.credential(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if third.token.AccessToken != "token-3" || login.count() != 3 {
			t.Errorf("after the second 401 got %s after %d logins, want token-3 from a third login", third.token.AccessToken, login.count())
		}
	})
}

// TestNoStoreCallAfterContextEnds: once the source's context has ended,
// Token calls start no flight, so no store call, and leave no goroutine:
// a store that ignores its context would otherwise pile them up.
func TestNoStoreCallAfterContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login, store := newLoginServer(), newMemStore()
		ctx, cancel := context.WithCancel(withHandler(login))
		cfg := testConfig()
		cfg.Store = store
		src := cfg.TokenSource(ctx)
		if _, err := src.Token(); err != nil {
			t.Fatal(err)
		}
		cancel()
		time.Sleep(2 * time.Hour) // the token expired
		store.mu.Lock()
		before := store.calls
		store.hang = make(chan struct{}) // a store that ignores its context
		store.mu.Unlock()
		goroutines := runtime.NumGoroutine()
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				if _, err := src.Token(); err == nil {
					t.Error("Token succeeded after the source's context ended")
				}
			})
		}
		wg.Wait()
		synctest.Wait()
		store.mu.Lock()
		calls := store.calls - before
		store.mu.Unlock()
		if n := runtime.NumGoroutine(); calls != 0 || n > goroutines {
			t.Errorf("50 Token calls after the context ended made %d store calls and left %d goroutines, want none",
				calls, n-goroutines)
		}
		close(store.hang)
	})
}
