package redisstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/seed9ffb1f9c/recitaloauth"
	"github.com/seed9ffb1f9c/recitaloauth/internal/redistest"
	"github.com/seed9ffb1f9c/recitaloauth/internal/storekey"
	"github.com/seed9ffb1f9c/recitaloauth/internal/storetest"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
	"github.com/seed9ffb1f9c/recitaloauth/redisstore"
)

// The tests run against a redis-server of their own on 127.0.0.1 (see
// internal/redistest): they skip without one, except in CI.

// newStore returns a store on an empty database, and a client to look at
// it with.
func newStore(t *testing.T) (*redisstore.Store, *redis.Client) {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { client.Close() })
	if err := client.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	return redisstore.New(client), client
}

// TestContract runs the contract of Store and Locker that the file store
// runs too, on one server whose database each subtest empties; the peer is
// a client of its own, as another process's would be. The tests below
// check what only the redis store promises.
func TestContract(t *testing.T) {
	addr := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) (store, peer recitaloauth.Store) {
		clients := make([]*redis.Client, 2)
		for i := range clients {
			clients[i] = redis.NewClient(&redis.Options{Addr: addr})
			t.Cleanup(func() { clients[i].Close() })
		}
		if err := clients[0].FlushDB(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		return redisstore.New(clients[0]), redisstore.New(clients[1])
	})
}

// A value is kept under "recitaloauth:<key>", and nothing else.
func TestKeyNames(t *testing.T) {
	s, client := newStore(t)
	storetest.Save(t, s, "k", "v")
	keys, err := client.Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"recitaloauth:k"}, keys); diff != "" {
		t.Errorf("keys in Redis mismatch (-want +got):\n%s", diff)
	}
}

func TestSaveTTL(t *testing.T) {
	s, client := newStore(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		expiry  time.Time
		wantTTL time.Duration // -1: no expiry, -2: no key
	}{
		{"expiry in an hour", time.Now().Add(time.Hour), time.Hour},
		{"expiry in 1.5 s", time.Now().Add(1500 * time.Millisecond), 1500 * time.Millisecond},
		{"zero expiry", time.Time{}, -1},
		{"expiry past", time.Now().Add(-time.Second), -2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Save(t, s, "k", "old")
			if err := s.Save(ctx, "k", []byte("new"), tt.expiry); err != nil {
				t.Fatal(err)
			}
			pttl, err := client.PTTL(ctx, "recitaloauth:k").Result()
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.wantTTL < 0:
				if pttl != tt.wantTTL {
					t.Errorf("PTTL = %v, want %d", pttl, tt.wantTTL)
				}
			case pttl > tt.wantTTL || pttl < tt.wantTTL-time.Second:
				t.Errorf("PTTL = %v, want at most %v and within a second of it", pttl, tt.wantTTL)
			}
			want := "new"
			if tt.wantTTL == -2 {
				want = ""
			}
			if got := storetest.Load(t, s, "k"); string(got) != want {
				t.Errorf("Load = %q, want %q", got, want)
			}
		})
	}
}

// A lock is "recitaloauth:<key>:lock", set for the lock's ttl, and unlock
// deletes it.
func TestLockKey(t *testing.T) {
	s, client := newStore(t)
	ctx := context.Background()
	unlock, ok, err := s.TryLock(ctx, "k", time.Minute)
	if !ok || err != nil {
		t.Fatalf("TryLock = %v, %v; want true, nil", ok, err)
	}
	pttl, err := client.PTTL(ctx, "recitaloauth:k:lock").Result()
	if err != nil {
		t.Fatal(err)
	}
	if pttl > time.Minute || pttl < time.Minute-time.Second {
		t.Errorf("the lock's PTTL = %v, want the minute's ttl", pttl)
	}
	unlock()
	if n, err := client.Exists(ctx, "recitaloauth:k:lock").Result(); n != 0 || err != nil {
		t.Errorf("after unlock, the lock's key exists: %d, %v", n, err)
	}
}

// A lock whose holder outlives its ttl is free for another, and the first
// holder's unlock leaves the second's lock alone.
func TestLockExpiresAndUnlockReleasesOnlyItsOwn(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	const ttl = 50 * time.Millisecond

	start := time.Now()
	unlockFirst, ok, err := s.TryLock(ctx, "k", ttl)
	if !ok || err != nil {
		t.Fatalf("first TryLock = %v, %v; want true, nil", ok, err)
	}
	unlockSecond := waitLock(t, s, "k")
	if elapsed := time.Since(start); elapsed < ttl {
		t.Errorf("the lock was free again after %v, before its ttl of %v", elapsed, ttl)
	}

	unlockFirst() // too late: it is no longer the first holder's
	if _, ok, err := s.TryLock(ctx, "k", time.Minute); ok || err != nil {
		t.Fatalf("TryLock after the expired holder's unlock = %v, %v; want false, nil: it released the new holder's lock", ok, err)
	}
	unlockSecond()
	if u, ok, err := s.TryLock(ctx, "k", time.Minute); !ok || err != nil {
		t.Fatalf("TryLock after the holder's unlock = %v, %v; want true, nil", ok, err)
	} else {
		u()
	}
}

// waitLock polls TryLock, with a minute's ttl, until it takes the lock.
func waitLock(t *testing.T, s *redisstore.Store, key string) (unlock func()) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		unlock, ok, err := s.TryLock(context.Background(), key, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return unlock
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the lock was not freed within 5 s of its ttl of 50ms")
	return nil
}

// An unlock called after the caller's context ended still releases the
// lock: the caller's context has often ended by then.
func TestUnlockAfterContextEnds(t *testing.T) {
	s, _ := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	unlock, ok, err := s.TryLock(ctx, "k", time.Minute)
	if !ok || err != nil {
		t.Fatalf("TryLock = %v, %v; want true, nil", ok, err)
	}
	cancel()
	unlock()
	if u, ok, err := s.TryLock(context.Background(), "k", time.Minute); !ok || err != nil {
		t.Fatalf("TryLock after an unlock whose context had ended = %v, %v; want true, nil", ok, err)
	} else {
		u()
	}
}

// TestLoadBounded: a value up to storekey.MaxValue loads; a larger one,
// planted by whoever can write Redis, is an error, and Redis does not send
// it: loading a 64 MiB value allocates well under a MiB, not 64.
func TestLoadBounded(t *testing.T) {
	s, client := newStore(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		size    int
		wantErr string
	}{
		{"at the limit", storekey.MaxValue, ""},
		{"one byte over", storekey.MaxValue + 1, "recitaloauth: redis store: load: a value of 65537 bytes, larger than the 65536 a token could need"},
		{"64 MiB", 64 << 20, "recitaloauth: redis store: load: a value of 67108864 bytes, larger than the 65536 a token could need"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			value := strings.Repeat("v", tt.size)
			if err := client.Set(ctx, "recitaloauth:k", value, 0).Err(); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			got, err := s.Load(ctx, "k")
			runtime.ReadMemStats(&after)
			if tt.wantErr == "" {
				if err != nil || string(got) != value {
					t.Errorf("Load = %d bytes, %v; want the %d bytes saved", len(got), err, tt.size)
				}
				return
			}
			if got != nil || err == nil || err.Error() != tt.wantErr {
				t.Errorf("Load = %d bytes, %v; want nil and %q", len(got), err, tt.wantErr)
			}
			if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 1<<20 {
				t.Errorf("Load of a %d-byte value allocated %d bytes, want at most 1 MiB", tt.size, allocated)
			}
		})
	}
}

// A ttl under a millisecond is refused, as a lock that might never expire;
// it and a bad key (refused: see the contract's BadKeys) write nothing.
func TestBadArguments(t *testing.T) {
	s, client := newStore(t)
	ctx := context.Background()
	for _, key := range storetest.BadKeys {
		s.Load(ctx, key)
		s.Save(ctx, key, []byte("v"), time.Now().Add(time.Hour))
		s.Delete(ctx, key, []byte("v"))
		if unlock, _, _ := s.TryLock(ctx, key, time.Minute); unlock != nil {
			unlock()
		}
	}
	for _, ttl := range []time.Duration{0, -time.Second, time.Millisecond - 1} {
		if u, ok, err := s.TryLock(ctx, "k", ttl); ok || err == nil || u != nil {
			t.Errorf("TryLock with ttl %v = %v, %v; want false and an error: such a lock might never expire", ttl, ok, err)
		}
	}
	if n, err := client.DBSize(ctx).Result(); n != 0 || err != nil {
		t.Errorf("bad arguments wrote %d keys (%v)", n, err)
	}
}

// A Redis that does not answer is an error, not a hang nor nil, nil.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1})
	defer client.Close()
	s := redisstore.New(client)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	got, err := s.Load(ctx, "k")
	if err == nil || got != nil || errors.Is(err, redis.Nil) {
		t.Errorf("Load = %q, %v; want an error", got, err)
	}
	if !strings.HasPrefix(fmt.Sprint(err), "recitaloauth: ") {
		t.Errorf("Load's error %q lacks the package's prefix", err)
	}
	if _, ok, err := s.TryLock(ctx, "k", time.Minute); ok || err == nil {
		t.Errorf("TryLock = %v, %v; want false and an error", ok, err)
	}
}

// TestHostileRedis: a server that answers every command with a bulk
// reply announcing 2^62 bytes makes go-redis panic (makeslice: len out of
// range) in the goroutine the source runs the store call in. The process
// must not die of it: Token logs in without the store.
func TestHostileRedis(t *testing.T) {
	login := recitaltest.NewServer()
	defer login.Close()
	login.AddUser("ana@example.com", "s3cret")
	client := redis.NewClient(&redis.Options{Addr: fakeRedis(t, "$4611686018427387904\r\n")})
	defer client.Close()
	cfg := &recitaloauth.Config{Username: "ana@example.com", Password: "s3cret", AuthURL: login.AuthURL(),
		Store: redisstore.New(client)}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, login.Client())
	if _, err := cfg.TokenSource(ctx).Token(); err != nil {
		t.Fatalf("Token: %v", err)
	}
	if n := login.Logins(); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}
}

// fakeRedis serves RESP on 127.0.0.1 until t ends, answering go-redis's
// handshake (HELLO: unknown, so RESP2; CLIENT: OK) and every other command
// with reply, and returns its address.
func fakeRedis(t *testing.T, reply string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
			go serveFakeRedis(conn, reply)
		}
	}()
	return l.Addr().String()
}

func serveFakeRedis(conn net.Conn, reply string) {
	r := bufio.NewReader(conn)
	for {
		command, err := readCommand(r)
		if err != nil {
			return
		}
		answer := reply
		switch strings.ToUpper(command) {
		case "HELLO":
			answer = "-ERR unknown command\r\n"
		case "CLIENT":
			answer = "+OK\r\n"
		}
		if _, err := io.WriteString(conn, answer); err != nil {
			return
		}
	}
}

// readCommand reads one RESP command (an array of bulk strings) and
// returns its name.
func readCommand(r *bufio.Reader) (string, error) {
	var n int
	if _, err := fmt.Fscanf(r, "*%d\r\n", &n); err != nil {
		return "", err
	}
	var name string
	for i := range n {
		var size int
		if _, err := fmt.Fscanf(r, "$%d\r\n", &size); err != nil {
			return "", err
		}
		arg := make([]byte, size+2)
		if _, err := io.ReadFull(r, arg); err != nil {
			return "", err
		}
		if i == 0 {
			name = string(arg[:size])
		}
	}
	return name, nil
}
