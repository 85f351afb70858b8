package recitaloauth

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestStoredToken: StoredToken returns the token a source saved, opened
// with the password, without a login; nothing for an empty store or
// another password; an error for no store, and for a store that hangs
// once ctx ends.
func TestStoredToken(t *testing.T) {
	login := newLoginServer()
	store := newMemStore()
	saved, err := storeSource(store, login).Token()
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Store = store
	ctx := withHandler(login)
	got, err := cfg.StoredToken(ctx)
	if err != nil || got == nil || got.AccessToken != saved.AccessToken || !got.Expiry.Equal(saved.Expiry) {
		t.Errorf("StoredToken = %v, %v; want the saved token %q, expiring %v", got, err, saved.AccessToken, saved.Expiry)
	}
	if n := login.count(); n != 1 {
		t.Errorf("%d logins, want the source's 1 only", n)
	}

	other := testConfig()
	other.Password = "another password"
	other.Store = store
	if got, err := other.StoredToken(ctx); got != nil || err != nil {
		t.Errorf("StoredToken with another password = %v, %v; want nil, nil", got, err)
	}
	empty := testConfig()
	empty.Store = newMemStore()
	if got, err := empty.StoredToken(ctx); got != nil || err != nil {
		t.Errorf("StoredToken on an empty store = %v, %v; want nil, nil", got, err)
	}
	if _, err := testConfig().StoredToken(ctx); !errors.Is(err, errNoStore) {
		t.Errorf("StoredToken without a store: %v, want %v", err, errNoStore)
	}

	hanging := newMemStore()
	hanging.hang = make(chan struct{})
	defer close(hanging.hang)
	cfg.Store = hanging
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := cfg.StoredToken(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("StoredToken on a hanging store: %v, want a deadline error", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("StoredToken on a hanging store took %v, want about 50ms", took)
	}
}

// raceStore is a memStore on which another process saves a new value
// right after each Load of a key that holds one.
type raceStore struct {
	*memStore
	newer []byte
}

func (r raceStore) Load(ctx context.Context, key string) ([]byte, error) {
	value, err := r.memStore.Load(ctx, key)
	if value != nil {
		r.set(key, r.newer)
	}
	return value, err
}

// TestForgetStoredToken: ForgetStoredToken deletes the value it opened,
// by compare-and-delete: a value another process saved meanwhile stays;
// it reports whether it found one.
func TestForgetStoredToken(t *testing.T) {
	login := newLoginServer()
	ctx := withHandler(login)
	cfg := testConfig()

	store := newMemStore()
	if _, err := storeSource(store, login).Token(); err != nil {
		t.Fatal(err)
	}
	cfg.Store = store
	if forgot, err := cfg.ForgetStoredToken(ctx); !forgot || err != nil {
		t.Errorf("ForgetStoredToken = %v, %v; want true, nil", forgot, err)
	}
	if got, err := cfg.StoredToken(ctx); got != nil || err != nil {
		t.Errorf("after ForgetStoredToken, StoredToken = %v, %v; want nil, nil", got, err)
	}
	if forgot, err := cfg.ForgetStoredToken(ctx); forgot || err != nil {
		t.Errorf("ForgetStoredToken on an empty store = %v, %v; want false, nil", forgot, err)
	}

	racing := raceStore{memStore: newMemStore(), newer: []byte("another process's value")}
	if _, err := storeSource(racing.memStore, login).Token(); err != nil {
		t.Fatal(err)
	}
	cfg.Store = racing
	if _, err := cfg.ForgetStoredToken(ctx); err != nil {
		t.Fatal(err)
	}
	if _, value := racing.only(t); string(value) != string(racing.newer) {
		t.Errorf("the store holds %q, want the value saved meanwhile", value)
	}
}

// TestStoredTokenIsWhatARunUses: with a value under this machine's key
// (left by a process that found tokens bound to IP addresses) and one
// under the shared key, StoredToken (-status) reports the one a new
// process uses, the shared one.
func TestStoredTokenIsWhatARunUses(t *testing.T) {
	login := newLoginServer()
	ctx := withHandler(login)
	store := newMemStore()
	if _, err := storeSource(store, login).Token(); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Store = store
	s := newSharer(cfg, cfg.logger(), nil, func() storeLimits { return storeLimits{machineOnly: true} })
	s.sealer.newLogin()
	now := time.Now().Round(0)
	s.save(ctx, newCredential(&oauth2.Token{AccessToken: "machine-token", TokenType: "Bearer", Expiry: now.Add(30 * time.Second)}, now.Add(-time.Hour)))

	stored, err := cfg.StoredToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	used, err := TokenLasting(ctx, cfg.TokenSource(ctx), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if stored.AccessToken != used.AccessToken {
		t.Errorf("StoredToken reports %q, a new process uses %q", stored.AccessToken, used.AccessToken)
	}
}
