package recitaloauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/seed9ffb1f9c/recitaloauth/internal/storekey"
	"golang.org/x/oauth2"
)

// memStore is a Store and Locker in memory, shared by the sources of a
// test as a file or Redis store is by processes. It counts its calls, and
// can be made to fail or to hang (ignoring its context) on every call.
type memStore struct {
	mu           sync.Mutex
	values       map[string][]byte
	locks        map[string]time.Time // key → when the lock lapses
	saves        int
	calls        int // every call but unlock
	fail         error
	delay        time.Duration // each call takes this long
	hang         chan struct{} // calls block until it is closed
	stuck        chan struct{} // unlock blocks until it is closed
	slowUnlock   time.Duration // unlock takes this long
	panics       any           // if set, Load panics with it
	unlockPanics any           // if set, unlock panics with it
}

func newMemStore() *memStore {
	return &memStore{values: map[string][]byte{}, locks: map[string]time.Time{}}
}

func (m *memStore) enter() error {
	m.mu.Lock()
	m.calls++
	hang, fail, delay := m.hang, m.fail, m.delay
	m.mu.Unlock()
	if hang != nil {
		<-hang
	}
	time.Sleep(delay)
	return fail
}

func (m *memStore) Load(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	p := m.panics
	m.mu.Unlock()
	if p != nil {
		panic(p)
	}
	if err := m.enter(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.values[key]), nil
}

func (m *memStore) Save(_ context.Context, key string, value []byte, _ time.Time) error {
	if err := m.enter(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saves++
	m.values[key] = bytes.Clone(value)
	return nil
}

func (m *memStore) Delete(_ context.Context, key string, value []byte) error {
	if err := m.enter(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if bytes.Equal(m.values[key], value) {
		delete(m.values, key)
	}
	return nil
}

func (m *memStore) TryLock(_ context.Context, key string, ttl time.Duration) (func(), bool, error) {
	if err := m.enter(); err != nil {
		return nil, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if time.Now().Before(m.locks[key]) {
		return nil, false, nil
	}
	m.locks[key] = time.Now().Add(ttl)
	stuck, slow, p := m.stuck, m.slowUnlock, m.unlockPanics
	return func() {
		if p != nil {
			panic(p)
		}
		if stuck != nil {
			<-stuck
		}
		time.Sleep(slow)
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.locks, key)
	}, true, nil
}

// only returns the one value in the store, failing the test otherwise.
func (m *memStore) only(t *testing.T) (key string, value []byte) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.values) != 1 {
		t.Fatalf("the store holds %d values, want 1", len(m.values))
	}
	for key, value = range m.values {
	}
	return key, value
}

func (m *memStore) set(key string, value []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.values[key] = value
}

// storeSource is a source as a new process would make it: its own cache,
// on the shared store and login server.
func storeSource(store Store, login http.Handler, change ...func(*Config)) oauth2.TokenSource {
	cfg := testConfig()
	cfg.Store = store
	for _, c := range change {
		c(cfg)
	}
	return cfg.TokenSource(withHandler(login))
}

// TestStoreReuse: a second process finds the first one's token in the
// store and logs in not at all; it hands the token out on its remaining
// life, so both processes refresh at the same moment, once between them.
func TestStoreReuse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login, store := newLoginServer(), newMemStore()
		first, err := storeSource(store, login).Token()
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Minute)
		second, err := storeSource(store, login).Token()
		if err != nil {
			t.Fatal(err)
		}
		if second.AccessToken != first.AccessToken || !second.Expiry.Equal(first.Expiry) || login.count() != 1 {
			t.Errorf("second process got %s expiring %v after %d logins; want %s expiring %v, 1 login",
				second.AccessToken, second.Expiry, login.count(), first.AccessToken, first.Expiry)
		}
	})
}

// sealedAs is value's content sealed again under the key value's salt
// gives, with version and salt in the header and in the associated data
// they make: a value whose only fault is its version, or (with another
// salt) a key that is not the one its salt derives.
func sealedAs(t *testing.T, value []byte, version byte, salt []byte) []byte {
	t.Helper()
	cfg := testConfig()
	s := newSealer(cfg.AuthURL, cfg.Username, cfg.Password)
	s.newLogin()
	if _, err := s.open(value); err != nil { // s now holds value's key
		t.Fatal(err)
	}
	nonce := value[1+saltSize : headerSize]
	plain, err := s.aead.Open(nil, nonce, value[headerSize:], s.additional(value[:1+saltSize]))
	if err != nil {
		t.Fatal(err)
	}
	header := append(append([]byte{version}, salt...), nonce...)
	return s.aead.Seal(header, nonce, plain, s.additional(header[:1+saltSize]))
}

// TestStoreSealed: the store sees neither the token nor the password nor
// the username, and a value that does not open (another password or
// user, tampered, truncated, another format) is ignored and replaced,
// never trusted and never fatal.
func TestStoreSealed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login, store := newLoginServer(), newMemStore()
		tok, err := storeSource(store, login).Token()
		if err != nil {
			t.Fatal(err)
		}
		key, value := store.only(t)
		cfg := testConfig()
		for _, secret := range []string{tok.AccessToken, cfg.Password, cfg.Username, "ana"} {
			if bytes.Contains(value, []byte(secret)) || strings.Contains(key, secret) {
				t.Errorf("the store sees %q", secret)
			}
		}

		store.set(key, sealedAs(t, value, sealVersion, value[1:1+saltSize]))
		if got, err := storeSource(store, login).Token(); err != nil || got.AccessToken != tok.AccessToken || login.count() != 1 {
			t.Fatalf("the value sealed again as it was: got %v, %v after %d logins, want the same token from none: sealedAs is wrong", got, err, login.count()-1)
		}

		tests := []struct {
			name   string
			value  func([]byte) []byte
			change func(*Config)
		}{
			{"another password", nil, func(c *Config) { c.Password = "another" }},
			{"tampered", func(v []byte) []byte { v[len(v)-1] ^= 1; return v }, nil},
			{"truncated", func(v []byte) []byte { return v[:len(v)/2] }, nil},
			{"tampered version", func(v []byte) []byte { v[0] = sealVersion + 1; return v }, nil},
			{"tampered salt", func(v []byte) []byte { v[1] ^= 1; return v }, nil},
			// Sealed whole, but only the version check refuses it.
			{"another format", func(v []byte) []byte { return sealedAs(t, v, sealVersion+1, v[1:1+saltSize]) }, nil},
			// Sealed whole under the key of v's salt: only a key derived
			// from the salt in the header refuses it.
			{"another salt", func(v []byte) []byte { return sealedAs(t, v, sealVersion, bytes.Repeat([]byte{1}, saltSize)) }, nil},
			{"empty", func([]byte) []byte { return []byte{} }, nil},
		}
		for _, tt := range tests {
			store.set(key, value)
			if tt.value != nil {
				store.set(key, tt.value(bytes.Clone(value)))
			}
			before := login.count()
			var change []func(*Config)
			if tt.change != nil {
				change = append(change, tt.change)
			}
			got, err := storeSource(store, login, change...).Token()
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if got.AccessToken == tok.AccessToken || login.count() != before+1 {
				t.Errorf("%s: got %s after %d logins, want a new token from 1 login", tt.name, got.AccessToken, login.count()-before)
			}
			if _, replaced := store.only(t); bytes.Equal(replaced, value) {
				t.Errorf("%s: the value was not replaced", tt.name)
			}
		}
	})
}

// TestStoreAnotherUser: another username or login URL never reads this
// user's value: it has a key of its own, and the value itself is bound to
// the user and login URL, so even copied under the other's key, with the
// same password, it does not open: the other logs in instead.
func TestStoreAnotherUser(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(*Config)
	}{
		{"another username", func(c *Config) { c.Username = "bob@example.com" }},
		{"another login URL", func(c *Config) { c.AuthURL = "http://127.0.0.1/other/login/" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				login, store := newLoginServer(), newMemStore()
				tok, err := storeSource(store, login).Token()
				if err != nil {
					t.Fatal(err)
				}
				key, value := store.only(t)
				if _, err := storeSource(store, login, tt.change).Token(); err != nil {
					t.Fatal(err)
				}
				if n := len(store.values); n != 2 {
					t.Fatalf("the store holds %d values, want one per user: 2", n)
				}
				var otherKey string
				for k := range store.values {
					if k != key {
						otherKey = k
					}
				}
				store.set(otherKey, value) // this user's value, under the other's key
				got, err := storeSource(store, login, tt.change).Token()
				if err != nil {
					t.Fatal(err)
				}
				if got.AccessToken == tok.AccessToken {
					t.Errorf("the other user took this user's token from the store")
				}
				if n := login.count(); n != 3 {
					t.Errorf("%d logins, want 3: this user's, and two of the other's, the second because this user's value did not open", n)
				}
			})
		})
	}
}

// TestStoreOneLoginForMany: 8 processes that start together log in once
// between them: one takes the store's lock and logs in, the others find
// its token. So too when every store call takes 100 ms (a busy machine,
// Windows) and the login outlasts the store's budget: the looks of a
// process waiting for another's login are the wait's cost, not the
// store's, so the waiters do not give up on the store and log in too.
func TestStoreOneLoginForMany(t *testing.T) {
	for _, tt := range []struct {
		name             string
		storeCall, login time.Duration
	}{
		{"quick store", 0, 300 * time.Millisecond},
		{"slow store, long login", 100 * time.Millisecond, 3 * storeBudget},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				login, store := newLoginServer(), newMemStore()
				login.delay, store.delay = tt.login, tt.storeCall
				var wg sync.WaitGroup
				for range 8 {
					src := storeSource(store, login)
					wg.Go(func() {
						if _, err := src.Token(); err != nil {
							t.Error(err)
						}
					})
				}
				wg.Wait()
				if n := login.count(); n != 1 {
					t.Errorf("8 processes made %d logins, want 1", n)
				}
			})
		})
	}
}

// loadFailing is a store whose Loads fail after 200 ms, while its lock
// works.
type loadFailing struct{ *lockWatcher }

func (l loadFailing) Load(ctx context.Context, key string) ([]byte, error) {
	l.lockWatcher.Load(ctx, key)
	time.Sleep(200 * time.Millisecond)
	return nil, errors.New("read error")
}

// TestStoreWaitEndsWhenLoadsFail: a process waiting for another's login
// stops waiting once a look in the store fails, since it could not take
// the holder's token: the failing store costs its budget and a login,
// not a wait of a third of the login timeout.
func TestStoreWaitEndsWhenLoadsFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login, watcher := newLoginServer(), &lockWatcher{memStore: newMemStore()}
		key := storekey.For(testConfig().LoginURL(), testConfig().Username)
		unlock, _, _ := watcher.memStore.TryLock(context.Background(), key, time.Hour) // another process's
		defer unlock()
		start := time.Now()
		if _, err := storeSource(loadFailing{watcher}, login).Token(); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > storeBudget+lockPoll {
			t.Errorf("Token took %v, want at most the store budget and a poll, %v", took, storeBudget+lockPoll)
		}
		if watcher.loads != 2 {
			t.Errorf("%d Loads, want 2 (before the lock, and the look that failed)", watcher.loads)
		}
	})
}

// TestStoreSharedRefresh: 4 processes over 3 token lifetimes log in about
// once per lifetime between them, not 4 times: they refresh together, and
// take turns.
func TestStoreSharedRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login, store := newLoginServer(), newMemStore()
		login.delay = 200 * time.Millisecond
		var sources []oauth2.TokenSource
		for range 4 {
			sources = append(sources, storeSource(store, login))
		}
		for start := time.Now(); time.Since(start) < 3*time.Hour; time.Sleep(10 * time.Second) {
			for _, src := range sources {
				if _, err := src.Token(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if n := login.count(); n < 3 || n > 4 {
			t.Errorf("4 processes made %d logins over 3 lifetimes, want 3 or 4", n)
		}
	})
}

// TestStoreRefusedToken: a token refused with 401 leaves the store (so no
// process picks it up again), but only if it is still the stored one: a
// newer token another process saved stays, and is used.
func TestStoreRefusedToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login, store := newLoginServer(), newMemStore()
		a := storeSource(store, login).(*cachedSource)
		b := storeSource(store, login).(*cachedSource)
		credA, err := a.credential(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		credB, _ := b.credential(context.Background())
		if credA.token.AccessToken != "token-1" || credB.token.AccessToken != "token-1" {
			t.Fatalf("got %s and %s, want token-1 for both", credA.token.AccessToken, credB.token.AccessToken)
		}
		time.Sleep(5 * time.Minute) // past the reject gap

		// a is refused: it deletes token-1 from the store, even though its
		// own login then fails, so that no process picks token-1 up again.
		login.set(func(s *loginServer) { s.status = http.StatusServiceUnavailable })
		a.refuse(credA)
		if _, err := a.credential(context.Background()); err == nil {
			t.Fatal("a logged in against a server answering 503")
		}
		if n := len(store.values); n != 0 {
			t.Fatalf("the store holds %d values after the 401, want token-1 deleted", n)
		}
		login.set(func(s *loginServer) { s.status = http.StatusOK })
		time.Sleep(time.Minute) // past a's back-off
		newA, err := a.credential(context.Background())
		if err != nil || newA.token.AccessToken == "token-1" {
			t.Fatalf("a after its 401: got %v, %v; want a new token", newA, err)
		}
		// b is refused too: a's new token is in the store, so no login.
		b.refuse(credB)
		if newB, err := b.credential(context.Background()); err != nil || newB.token.AccessToken != newA.token.AccessToken {
			t.Fatalf("b after its 401: got %v, %v; want a's %s from the store", newB, err, newA.token.AccessToken)
		}
		if n := login.count(); n != 1+3+1 {
			t.Errorf("%d logins, want 5: one first, 3 attempts answered 503, one for the whole fleet after the 401", n)
		}
		if _, value := store.only(t); !bytes.Equal(value, newA.origin.sealed) {
			t.Error("the store does not hold a's new token")
		}
	})
}

// TestStoreNeverWorse: a store that fails, answers garbage, is slow,
// hangs, never lets go of its lock or hangs in its unlock never fails a
// Token call that a login serves, and costs it at most a second (a login's
// store budget), or, for a lock held by another process that stopped, a
// third of the login timeout.
func TestStoreNeverWorse(t *testing.T) {
	key := storekey.For(testConfig().LoginURL(), testConfig().Username)
	tests := []struct {
		name     string
		break_   func(*memStore)
		maxDelay time.Duration
	}{
		{"failing", func(m *memStore) { m.fail = errors.New("disk full") }, 0},
		{"garbage", func(m *memStore) { m.values[key] = []byte("garbage") }, 0},
		{"slow", func(m *memStore) { m.delay = 900 * time.Millisecond }, storeBudget},
		{"hanging", func(m *memStore) { m.hang = make(chan struct{}) }, storeBudget},
		{"lock held by a stopped process", func(m *memStore) { m.locks[key] = time.Now().Add(time.Hour) }, DefaultLoginTimeout / 3},
		{"unlock hanging", func(m *memStore) { m.stuck = make(chan struct{}) }, storeBudget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				login, store := newLoginServer(), newMemStore()
				login.delay = 300 * time.Millisecond
				tt.break_(store)
				start := time.Now()
				tok, err := storeSource(store, login).Token()
				if err != nil {
					t.Fatal(err)
				}
				if waited := time.Since(start); waited > tt.maxDelay+login.delay+lockPoll {
					t.Errorf("Token took %v, want at most %v", waited, tt.maxDelay+login.delay+lockPoll)
				}
				if tok.AccessToken != "token-1" {
					t.Errorf("got %s, want token-1", tok.AccessToken)
				}
				for _, c := range []chan struct{}{store.hang, store.stuck} {
					if c != nil {
						close(c)
					}
				}
				time.Sleep(time.Second) // the calls given up on end
				synctest.Wait()
			})
		})
	}
}

// TestStorePanics: a store call that panics, in the goroutine the store
// budget runs it in or in the one that lets go of a lock, does not end
// the process: it is a store failure, logged once at Warn, and the source
// logs in without the store. A panic value that is not the runtime's own
// may quote what the store holds, so the record names its type only. A
// store that panicked is left alone for the rest of the login: no call
// after a Load that panics.
func TestStorePanics(t *testing.T) {
	const secret = "redis://:hunter2@cache:6379"
	tests := []struct {
		name      string
		break_    func(*memStore)
		wantErr   string
		wantCalls int // that the store saw, a Load that panics not counted
	}{
		{"load panics in the runtime", func(m *memStore) { m.panics = runtimeError() },
			"recitaloauth: the store panicked: runtime error: index out of range [3] with length 0", 0},
		{"load panics with its own words", func(m *memStore) { m.panics = "cannot reach " + secret },
			"recitaloauth: the store panicked (with a string)", 0},
		{"unlock panics", func(m *memStore) { m.unlockPanics = errors.New(secret) },
			"recitaloauth: the store panicked (with a *errors.errorString)", 4}, // load, lock, load, save
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				login, store, logs := newLoginServer(), newMemStore(), &logRecorder{}
				tt.break_(store)
				tok, err := storeSource(store, login, func(c *Config) { c.Logger = logs.logger() }).Token()
				if err != nil || tok.AccessToken != "token-1" {
					t.Fatalf("Token = %v, %v; want token-1 from a login", tok, err)
				}
				var warnings []string
				for line := range strings.Lines(logs.text()) {
					var rec struct{ Level, Msg, Error string }
					if err := json.Unmarshal([]byte(line), &rec); err != nil {
						t.Fatal(err)
					}
					if rec.Level == "WARN" {
						warnings = append(warnings, rec.Msg+": "+rec.Error)
					}
				}
				want := []string{"recitaloauth: token store failed, going on without it: " + tt.wantErr}
				if diff := cmp.Diff(want, warnings); diff != "" {
					t.Errorf("warnings mismatch (-want +got):\n%s", diff)
				}
				if strings.Contains(logs.text(), "hunter2") {
					t.Errorf("the log holds the panic's secret:\n%s", logs.text())
				}
				synctest.Wait()
				store.mu.Lock()
				calls := store.calls
				store.mu.Unlock()
				if calls != tt.wantCalls {
					t.Errorf("the store saw %d calls, want %d", calls, tt.wantCalls)
				}
			})
		})
	}
}

// runtimeError returns the value an index out of range panics with.
func runtimeError() (p any) {
	defer func() { p = recover() }()
	var s []int
	i := 3
	_ = s[i]
	return nil
}

// TestStoreWaitBounded: processes waiting for another's login that hangs
// end with it, within one login timeout, instead of each starting a full
// timeout of its own after it: 3 processes end by 30 s, not 30, 60 and
// 90 s. (After a third of it they stop waiting for the lock and log in
// themselves, in case the holder is stuck rather than its login.)
func TestStoreWaitBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login, store := newLoginServer(), newMemStore()
		login.delay = time.Hour
		start := time.Now()
		var wg sync.WaitGroup
		for range 3 {
			src := storeSource(store, login)
			wg.Go(func() {
				if _, err := src.Token(); err == nil {
					t.Error("Token succeeded against a login that hangs")
				} else if strings.Contains(err.Error(), "%!") {
					t.Errorf("malformed error: %v", err)
				}
				if took := time.Since(start); took > DefaultLoginTimeout+time.Second {
					t.Errorf("a process gave up after %v, want within one login timeout (%v)", took, DefaultLoginTimeout)
				}
			})
		}
		wg.Wait()
		if n := login.count(); n > 3 {
			t.Errorf("%d logins, want at most 3", n)
		}
	})
}

// TestStoreLockReleased: when Token returns, the login's lock is let go,
// even by a store whose unlock takes a while: a process that exits right
// after (a CLI) must not leave the lock to lapse, making the next
// processes wait for it.
func TestStoreLockReleased(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login, store := newLoginServer(), newMemStore()
		store.slowUnlock = 10 * time.Millisecond
		if _, err := storeSource(store, login).Token(); err != nil {
			t.Fatal(err)
		}
		store.mu.Lock()
		held := len(store.locks)
		store.mu.Unlock()
		if held != 0 {
			t.Error("Token returned with its lock still held")
		}
		time.Sleep(time.Second)
	})
}

// firstLoadMisses is a store whose first Load finds nothing, as if another
// process saved its token just after that look.
type firstLoadMisses struct {
	*memStore
	looked atomic.Bool
}

func (s *firstLoadMisses) Load(ctx context.Context, key string) ([]byte, error) {
	if !s.looked.Swap(true) {
		return nil, nil
	}
	return s.memStore.Load(ctx, key)
}

// lateLock is a store whose TryLock answers only after delay, ignoring its
// context.
type lateLock struct {
	*memStore
	delay time.Duration
}

func (s *lateLock) TryLock(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	time.Sleep(s.delay)
	return s.memStore.TryLock(ctx, key, ttl)
}

// TestStoreSharingEdges: what a process does around the store's lock and
// a stored token it cannot use.
func TestStoreSharingEdges(t *testing.T) {
	t.Run("a refresh logs in rather than take the stale stored token", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			login, store := newLoginServer(), newMemStore()
			src := storeSource(store, login)
			if _, err := src.Token(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(56 * time.Minute) // stale: its refresh starts
			src.Token()
			synctest.Wait()
			tok, err := src.Token()
			if err != nil || tok.AccessToken != "token-2" || login.count() != 2 {
				t.Errorf("after the refresh: %v, %v after %d logins; want token-2 after 2", tok, err, login.count())
			}
		})
	})
	t.Run("a second look in the store once the lock is taken", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			login, store := newLoginServer(), newMemStore()
			first, err := storeSource(store, login).Token()
			if err != nil {
				t.Fatal(err)
			}
			// This process looks before the first one saved, and takes the
			// lock after the first one let go of it.
			tok, err := storeSource(&firstLoadMisses{memStore: store}, login).Token()
			if err != nil || tok.AccessToken != first.AccessToken || login.count() != 1 {
				t.Errorf("got %v, %v after %d logins; want %s after 1", tok, err, login.count(), first.AccessToken)
			}
		})
	})
	t.Run("a lock taken too late is released", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			login, store := newLoginServer(), newMemStore()
			if _, err := storeSource(&lateLock{store, 2 * storeBudget}, login).Token(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * storeBudget) // the lock is taken, long after the source gave up on it
			synctest.Wait()
			key := storekey.For(testConfig().AuthURL, testConfig().Username)
			unlock, ok, err := store.TryLock(context.Background(), key, time.Minute)
			if err != nil || !ok {
				t.Fatalf("the lock the source gave up on is still held: TryLock = %v, %v", ok, err)
			}
			unlock()
		})
	})
}

// deleteCounter is a store that counts its Delete calls.
type deleteCounter struct {
	*memStore
	deletes atomic.Int32
}

func (d *deleteCounter) Delete(ctx context.Context, key string, value []byte) error {
	d.deletes.Add(1)
	return d.memStore.Delete(ctx, key, value)
}

// TestRefusedTokenDeletedOnce: a token refused with 401 is deleted from
// the store by the login that replaces it, and only by that one: the
// logins after it (a refresh, then one past expiry) make no Delete call.
func TestRefusedTokenDeletedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login, store := newLoginServer(), &deleteCounter{memStore: newMemStore()}
		src := storeSource(store, login)
		first, err := src.Token()
		if err != nil {
			t.Fatal(err)
		}
		Invalidate(src, first)
		if _, err := src.Token(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(56 * time.Minute) // stale: a refresh starts
		src.Token()
		synctest.Wait()
		time.Sleep(2 * time.Hour) // past expiry: callers wait for a login
		tok, err := src.Token()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([3]any{"token-4", 4, int32(1)}, [3]any{tok.AccessToken, login.count(), store.deletes.Load()}); diff != "" {
			t.Errorf("token, logins and Delete calls mismatch (-want +got):\n%s", diff)
		}
	})
}

// lockWatcher is a store that counts its Loads and records the ttl of
// each TryLock.
type lockWatcher struct {
	*memStore
	mu    sync.Mutex
	loads int
	ttls  []time.Duration
}

func (w *lockWatcher) Load(ctx context.Context, key string) ([]byte, error) {
	w.mu.Lock()
	w.loads++
	w.mu.Unlock()
	return w.memStore.Load(ctx, key)
}

func (w *lockWatcher) TryLock(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	w.mu.Lock()
	w.ttls = append(w.ttls, ttl)
	w.mu.Unlock()
	return w.memStore.TryLock(ctx, key, ttl)
}

// TestStoreLockWait: a process waiting for the lock another holds looks
// in the store every 25 to 50 ms (lockPoll, less up to half at random)
// until it gives up on the holder after a third of the login timeout (1 s
// here): 20 to 40 looks, and more than 22 but for a vanishing chance; and
// the lock it asks for lasts through a login timeout and the store's
// budget (a live holder keeps it to its save), and not much longer (a
// dead holder's frees soon).
func TestStoreLockWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login, store := newLoginServer(), &lockWatcher{memStore: newMemStore()}
		const loginTimeout = 3 * time.Second
		key := storekey.For(testConfig().AuthURL, testConfig().Username)
		unlock, ok, err := store.memStore.TryLock(context.Background(), key, time.Hour) // another process's
		if !ok || err != nil {
			t.Fatal(ok, err)
		}
		defer unlock()
		if _, err := storeSource(store, login, func(c *Config) { c.LoginTimeout = loginTimeout }).Token(); err != nil {
			t.Fatal(err)
		}
		store.mu.Lock()
		defer store.mu.Unlock()
		if looks := store.loads - 1; looks < 23 || looks > 40 { // the first look is before the lock
			t.Errorf("%d looks in the store while waiting 1 s for the lock, want 23 to 40", looks)
		}
		for _, ttl := range store.ttls {
			if ttl < loginTimeout+storeBudget || ttl > loginTimeout+3*storeBudget {
				t.Fatalf("TryLock asked for a lock of %v, want %v to %v", ttl, loginTimeout+storeBudget, loginTimeout+3*storeBudget)
			}
		}
	})
}

// TestStoreUnlockWithinBudget: an unlock that hangs is waited for only
// within what is left of the login's store budget: with store calls of
// 200 ms each (load, lock, load, save: 800 ms), Token returns once the
// budget's second is spent, not a second after the save.
func TestStoreUnlockWithinBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login, store := newLoginServer(), newMemStore()
		store.delay = 200 * time.Millisecond
		store.stuck = make(chan struct{})
		defer close(store.stuck)
		start := time.Now()
		if _, err := storeSource(store, login).Token(); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took != storeBudget {
			t.Errorf("Token took %v, want the store budget, %v", took, storeBudget)
		}
	})
}

// longTokenServer answers every login with a token of n characters.
func longTokenServer(n int, logins *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logins.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","expires_in":3600}`, strings.Repeat("t", n))
	})
}

// TestStoreValueAtLimit: a sealed value of exactly storekey.MaxValue
// bytes (64 KiB: a long token) is a value like any other: a second
// process takes it from the store instead of logging in. (A value
// shorter by the token's length less 100 measures what the rest takes.)
func TestStoreValueAtLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logins atomic.Int32
		probe := newMemStore()
		if _, err := storeSource(probe, longTokenServer(100, &logins)).Token(); err != nil {
			t.Fatal(err)
		}
		_, value := probe.only(t)
		n := 100 + storekey.MaxValue - len(value)

		logins.Store(0)
		store := newMemStore()
		first, err := storeSource(store, longTokenServer(n, &logins)).Token()
		if err != nil {
			t.Fatal(err)
		}
		if _, value := store.only(t); len(value) != storekey.MaxValue {
			t.Fatalf("the sealed value has %d bytes, want %d: the test does not test", len(value), storekey.MaxValue)
		}
		second, err := storeSource(store, longTokenServer(n, &logins)).Token()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([2]any{true, int32(1)}, [2]any{second.AccessToken == first.AccessToken, logins.Load()}); diff != "" {
			t.Errorf("the second process's token is the first's, and logins, mismatch (-want +got):\n%s", diff)
		}
	})
}
