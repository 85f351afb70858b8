// Package storetest holds the contract of [recitaloauth.Store] and
// [recitaloauth.Locker] as one suite of tests, which every store of this
// module runs, so that the stores are held to one reading of the doc
// comments in store.go, written once. What a store documents beyond that
// (the file store's modes, Redis's time to live) its own tests check.
package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth"
	"github.com/seed9ffb1f9c/recitaloauth/internal/storekey"
)

// BadKeys are keys that break the rule of internal/storekey, which every
// store of this module applies: each would name a file elsewhere, reach
// into a lock's name, or be no key at all.
var BadKeys = []string{
	"", ".", "..", "../k", "a/b", `a\b`, "a.token", "a:lock", "{a}",
	"a b", "ä", "a\x00", strings.Repeat("k", storekey.MaxLen+1),
}

// Run runs, as subtests of t, a check of each behaviour that
// [recitaloauth.Store] promises, and of each that [recitaloauth.Locker]
// promises when the store implements it (the Locker subtests skip when it
// does not). Each subtest calls newStore once; newStore returns a store
// over new, empty storage, and a peer: a second store over the same
// storage, opened as another process would open it.
func Run(t *testing.T, newStore func(t *testing.T) (store, peer recitaloauth.Store)) {
	t.Run("LoadMissing", func(t *testing.T) { testLoadMissing(t, newStore) })
	t.Run("SaveThenLoad", func(t *testing.T) { testSaveThenLoad(t, newStore) })
	t.Run("SaveReplaces", func(t *testing.T) { testSaveReplaces(t, newStore) })
	t.Run("SavePastExpiry", func(t *testing.T) { testSavePastExpiry(t, newStore) })
	t.Run("KeysApart", func(t *testing.T) { testKeysApart(t, newStore) })
	t.Run("DeleteRemovesSame", func(t *testing.T) { testDeleteRemovesSame(t, newStore) })
	t.Run("DeleteKeepsNewer", func(t *testing.T) { testDeleteKeepsNewer(t, newStore) })
	t.Run("DeleteMissing", func(t *testing.T) { testDeleteMissing(t, newStore) })
	t.Run("BadKeys", func(t *testing.T) { testBadKeys(t, newStore) })
	t.Run("ConcurrentUse", func(t *testing.T) { testConcurrentUse(t, newStore) })
	t.Run("Locker", func(t *testing.T) {
		t.Run("TryLockExcludes", func(t *testing.T) { testTryLockExcludes(t, newStore) })
		t.Run("TryLockAfterUnlock", func(t *testing.T) { testTryLockAfterUnlock(t, newStore) })
		t.Run("TryLockKeysApart", func(t *testing.T) { testTryLockKeysApart(t, newStore) })
		t.Run("LockLeavesValue", func(t *testing.T) { testLockLeavesValue(t, newStore) })
		t.Run("TryLockConcurrent", func(t *testing.T) { testTryLockConcurrent(t, newStore) })
	})
}

// Load returns nil and no error when there is no value: on storage never
// written, and beside another key's value.
func testLoadMissing(t *testing.T, newStore func(t *testing.T) (store, peer recitaloauth.Store)) {
	s, _ := newStore(t)
	ctx := context.Background()
	if got, err := s.Load(ctx, "k"); got != nil || err != nil {
		t.Errorf("Load from empty storage = %q, %v; want nil, nil", got, err)
	}
	Save(t, s, "other-key", "v")
	if got, err := s.Load(ctx, "k"); got != nil || err != nil {
		t.Errorf("Load of a missing key beside another = %q, %v; want nil, nil", got, err)
	}
}

// Load returns what Save saved, through the store that saved it and
// through a peer, as another process sharing the store would.
func testSaveThenLoad(t *testing.T, newStore func(t *testing.T) (store, peer recitaloauth.Store)) {
	s, peer := newStore(t)
	Save(t, s, "k", "sealed-value")
	for name, store := range map[string]recitaloauth.Store{"the store": s, "a peer": peer} {
		if got := Load(t, store, "k"); string(got) != "sealed-value" {
			t.Errorf("Load through %s after Save = %q, want %q", name, got, "sealed-value")
		}
	}
}

// Save replaces what was there, wholly: a shorter value leaves nothing of
// a longer one.
func testSaveReplaces(t *testing.T, newStore func(t *testing.T) (store, peer recitaloauth.Store)) {
	s, _ := newStore(t)
	for _, value := range []string{"first", "second, longer than the first", "3"} {
		Save(t, s, "k", value)
		if got := Load(t, s, "k"); string(got) != value {
			t.Errorf("Load after Save(%q) = %q, want %q", value, got, value)
		}
	}
}

// A Save whose expiry is past still replaces what was there: the store may
// drop the new value at once, but never gives back the old one.
func testSavePastExpiry(t *testing.T, newStore func(t *testing.T) (store, peer recitaloauth.Store)) {
	s, _ := newStore(t)
	Save(t, s, "k", "old")
	if err := s.Save(context.Background(), "k", []byte("new"), time.Now().Add(-time.Second)); err != nil {
		t.Fatalf("Save with a past expiry: %v", err)
	}
	if got := Load(t, s, "k"); got != nil && string(got) != "new" {
		t.Errorf("Load after a Save with a past expiry = %q, want nil or %q", got, "new")
	}
}

// Each key has a value of its own: saving or deleting one leaves another.
func testKeysApart(t *testing.T, newStore func(t *testing.T) (store, peer recitaloauth.Store)) {
	s, _ := newStore(t)
	Save(t, s, "k", "mine")
	Save(t, s, "other-key", "theirs")
	if got := Load(t, s, "k"); string(got) != "mine" {
		t.Errorf("Load after a Save of another key = %q, want %q", got, "mine")
	}
	if err := s.Delete(context.Background(), "other-key", []byte("theirs")); err != nil {
		t.Fatal(err)
	}
	if got := Load(t, s, "k"); string(got) != "mine" {
		t.Errorf("Load after a Delete of another key = %q, want %q", got, "mine")
	}
}

// Delete of the value that is there removes it, for the peer too.
func testDeleteRemovesSame(t *testing.T, newStore func(t *testing.T) (store, peer recitaloauth.Store)) {
	s, peer := newStore(t)
	Save(t, s, "k", "v")
	if err := s.Delete(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	for name, store := range map[string]recitaloauth.Store{"the store": s, "a peer": peer} {
		if got := Load(t, store, "k"); got != nil {
			t.Errorf("Load through %s after Delete of the value = %q, want nil", name, got)
		}
	}
}

// Delete is compare-and-delete: a value saved after the one deleted (by a
// peer, as by another process) stays.
func testDeleteKeepsNewer(t *testing.T, newStore func(t *testing.T) (store, peer recitaloauth.Store)) {
	s, peer := newStore(t)
	Save(t, s, "k", "old")
	Save(t, peer, "k", "new")
	if err := s.Delete(context.Background(), "k", []byte("old")); err != nil {
		t.Fatal(err)
	}
	if got := Load(t, s, "k"); string(got) != "new" {
		t.Errorf("Delete of the old value left %q, want the newer %q", got, "new")
	}
}

// Delete of no value is not an error, on storage never written and after
// the value is gone.
func testDeleteMissing(t *testing.T, newStore func(t *testing.T) (store, peer recitaloauth.Store)) {
	s, _ := newStore(t)
	ctx := context.Background()
	if err := s.Delete(ctx, "k", []byte("v")); err != nil {
		t.Errorf("Delete on empty storage: %v", err)
	}
	Save(t, s, "k", "v")
	for i := range 2 {
		if err := s.Delete(ctx, "k", []byte("v")); err != nil {
			t.Errorf("Delete #%d: %v", i+1, err)
		}
	}
}

// Every method refuses a key that breaks the rule of internal/storekey,
// with an error that says so.
func testBadKeys(t *testing.T, newStore func(t *testing.T) (store, peer recitaloauth.Store)) {
	s, _ := newStore(t)
	ctx := context.Background()
	locker, _ := s.(recitaloauth.Locker)
	for _, key := range BadKeys {
		_, loadErr := s.Load(ctx, key)
		errs := map[string]error{
			"Load":   loadErr,
			"Save":   s.Save(ctx, key, []byte("v"), time.Now().Add(time.Hour)),
			"Delete": s.Delete(ctx, key, []byte("v")),
		}
		if locker != nil {
			unlock, _, err := locker.TryLock(ctx, key, time.Minute)
			if unlock != nil {
				unlock()
			}
			errs["TryLock"] = err
		}
		for op, err := range errs {
			if err == nil || !strings.Contains(err.Error(), "store key") {
				t.Errorf("%s(%.20q): error %v, want one about the store key", op, key, err)
			}
		}
	}
}

// The store is safe for concurrent use: goroutines saving, loading and
// deleting their own keys, and one key they share, each see their own
// values whole.
func testConcurrentUse(t *testing.T, newStore func(t *testing.T) (store, peer recitaloauth.Store)) {
	s, _ := newStore(t)
	ctx := context.Background()
	const n = 8
	shared := make(map[string]bool, n)
	for i := range n {
		shared[fmt.Sprintf("shared-%d", i)] = true
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			key, value := fmt.Sprintf("k-%d", i), fmt.Sprintf("v-%d", i)
			for range 10 {
				if err := s.Save(ctx, key, []byte(value), time.Now().Add(time.Hour)); err != nil {
					t.Errorf("Save(%q): %v", key, err)
					return
				}
				if err := s.Save(ctx, "shared", fmt.Appendf(nil, "shared-%d", i), time.Now().Add(time.Hour)); err != nil {
					t.Errorf("Save(shared): %v", err)
					return
				}
				if got, err := s.Load(ctx, key); string(got) != value || err != nil {
					t.Errorf("Load(%q) = %q, %v; want %q", key, got, err, value)
					return
				}
				if got, err := s.Load(ctx, "shared"); !shared[string(got)] || err != nil {
					t.Errorf("Load(shared) = %q, %v; want one of the values saved", got, err)
					return
				}
				if err := s.Delete(ctx, key, []byte(value)); err != nil {
					t.Errorf("Delete(%q): %v", key, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// A held lock excludes every other TryLock, through the same store and
// through a peer; a TryLock that fails says so with a nil unlock and no
// error.
func testTryLockExcludes(t *testing.T, newStore func(t *testing.T) (store, peer recitaloauth.Store)) {
	s, peer := lockers(t, newStore)
	unlock := mustLock(t, s, "k")
	defer unlock()
	for name, l := range map[string]recitaloauth.Locker{"the same store": s, "a peer": peer} {
		u, ok, err := l.TryLock(context.Background(), "k", time.Minute)
		if ok || err != nil || u != nil {
			t.Errorf("TryLock through %s while held = %v, %v (unlock nil: %v); want false, nil, nil", name, ok, err, u == nil)
		}
		if u != nil {
			u()
		}
	}
}

// unlock frees the lock for the next TryLock, a peer's too.
func testTryLockAfterUnlock(t *testing.T, newStore func(t *testing.T) (store, peer recitaloauth.Store)) {
	s, peer := lockers(t, newStore)
	mustLock(t, s, "k")()
	mustLock(t, peer, "k")()
	mustLock(t, s, "k")()
}

// Each key names a lock of its own.
func testTryLockKeysApart(t *testing.T, newStore func(t *testing.T) (store, peer recitaloauth.Store)) {
	s, peer := lockers(t, newStore)
	unlock := mustLock(t, s, "k")
	defer unlock()
	mustLock(t, peer, "other-key")()
}

// A lock and the value under the same key leave each other alone: a
// source holds its key's lock while it logs in and saves its token there.
// Taking the lock makes no value, hides none, and a Save while held does
// not free the lock.
func testLockLeavesValue(t *testing.T, newStore func(t *testing.T) (store, peer recitaloauth.Store)) {
	s, peer := lockers(t, newStore)
	store := s.(recitaloauth.Store)
	unlockEmpty := mustLock(t, s, "empty")
	defer unlockEmpty()
	if got := Load(t, store, "empty"); got != nil {
		t.Errorf("Load of a key whose lock alone was taken = %q, want nil", got)
	}

	Save(t, store, "k", "before")
	unlock := mustLock(t, s, "k")
	if got := Load(t, store, "k"); string(got) != "before" {
		t.Errorf("Load while the key's lock is held = %q, want %q", got, "before")
	}
	Save(t, store, "k", "during")
	if u, ok, err := peer.TryLock(context.Background(), "k", time.Minute); ok || err != nil {
		t.Errorf("a peer's TryLock after the holder saved the key's value = %v, %v; want false, nil", ok, err)
		if u != nil {
			u()
		}
	}
	unlock()
	if got := Load(t, store, "k"); string(got) != "during" {
		t.Errorf("Load after the lock's holder saved and unlocked = %q, want %q", got, "during")
	}
}

// Of goroutines that try the same lock at once, through a store and a
// peer, exactly one takes it.
func testTryLockConcurrent(t *testing.T, newStore func(t *testing.T) (store, peer recitaloauth.Store)) {
	s, peer := lockers(t, newStore)
	const n = 8
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		unlocks  []func()
		attempts sync.WaitGroup // the winner holds the lock until all have tried
	)
	attempts.Add(n)
	for i := range n {
		l := s
		if i%2 == 1 {
			l = peer
		}
		wg.Go(func() {
			unlock, ok, err := l.TryLock(context.Background(), "k", time.Minute)
			attempts.Done()
			if err != nil {
				t.Errorf("TryLock: %v", err)
				return
			}
			if ok {
				mu.Lock()
				unlocks = append(unlocks, unlock)
				mu.Unlock()
				attempts.Wait()
			}
		})
	}
	wg.Wait()
	if len(unlocks) != 1 {
		t.Errorf("%d of %d concurrent TryLock calls took the lock, want 1", len(unlocks), n)
	}
	for _, unlock := range unlocks {
		unlock()
	}
}

// lockers returns a new store and its peer as Lockers, and skips the test
// when the store is not one.
func lockers(t *testing.T, newStore func(t *testing.T) (store, peer recitaloauth.Store)) (s, peer recitaloauth.Locker) {
	t.Helper()
	store, p := newStore(t)
	s, ok := store.(recitaloauth.Locker)
	if !ok {
		t.Skipf("%T is not a recitaloauth.Locker", store)
	}
	peer, ok = p.(recitaloauth.Locker)
	if !ok {
		t.Fatalf("%T is a recitaloauth.Locker, but its peer %T is not", store, p)
	}
	return s, peer
}

// mustLock takes key's lock, failing the test unless it does.
func mustLock(t *testing.T, l recitaloauth.Locker, key string) (unlock func()) {
	t.Helper()
	unlock, ok, err := l.TryLock(context.Background(), key, time.Minute)
	if !ok || err != nil || unlock == nil {
		t.Fatalf("TryLock(%q) of a free lock = %v, %v (unlock nil: %v); want true, nil, an unlock", key, ok, err, unlock == nil)
	}
	return unlock
}

// Save saves value under key for an hour, failing the test on an error.
func Save(t *testing.T, s recitaloauth.Store, key, value string) {
	t.Helper()
	if err := s.Save(context.Background(), key, []byte(value), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Save(%q): %v", key, err)
	}
}

// Load returns key's value, failing the test on an error.
func Load(t *testing.T, s recitaloauth.Store, key string) []byte {
	t.Helper()
	got, err := s.Load(context.Background(), key)
	if err != nil {
		t.Fatalf("Load(%q): %v", key, err)
	}
	return got
}
