package recitaloauth

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/seed9ffb1f9c/recitaloauth/internal/storekey"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
	"golang.org/x/oauth2"
)

// fromAddress sends requests as if from ip: the fake server, called in
// memory, reads the request's RemoteAddr as a socket's.
type fromAddress struct {
	ip   string
	base http.RoundTripper
}

func (a fromAddress) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.RemoteAddr = a.ip + ":40000"
	return a.base.RoundTrip(out)
}

// inBubbleFleet is a fleet of sources in one synctest bubble: machines
// (an address and a host name each) of processes, on one store.
type inBubbleFleet struct {
	server  *recitaltest.Server
	store   *memStore
	logs    []*logRecorder
	sources []*cachedSource
	clients []*http.Client
}

func newInBubbleFleet(server *recitaltest.Server, store Store, machines, processes int) *inBubbleFleet {
	f := &inBubbleFleet{server: server}
	if m, ok := store.(*memStore); ok {
		f.store = m
	}
	for m := range machines {
		ip := fmt.Sprintf("127.0.0.%d", m+2)
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient,
			&http.Client{Transport: fromAddress{ip, recitaltest.InMemoryTransport(server)}})
		for range processes {
			logs := &logRecorder{}
			cfg := &Config{Username: "ana@example.com", Password: "correct horse", AuthURL: server.AuthURL(),
				Store: store, Logger: logs.logger()}
			src := cfg.TokenSource(ctx).(*cachedSource)
			if src.sharer != nil {
				src.sharer.machine = "machine-" + ip
				src.sharer.machineKey = storekey.ForMachine(src.sharer.sharedKey, src.sharer.machine)
			}
			f.logs = append(f.logs, logs)
			f.sources = append(f.sources, src)
			f.clients = append(f.clients, NewClient(ctx, src))
		}
	}
	return f
}

// run has every process send a request every 250 ms for span, and
// returns the statuses other than 200 the callers got.
func (f *inBubbleFleet) run(t *testing.T, span time.Duration) []string {
	var mu sync.Mutex
	var failed []string
	var wg sync.WaitGroup
	for i, client := range f.clients {
		wg.Go(func() {
			for end := time.Now().Add(span); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
				resp, err := client.Get(f.server.APIURL() + "/config/")
				if err == nil {
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != http.StatusOK {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("process %d at %v: %v %v", i, time.Now().Format(time.StampMilli), err, resp))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return failed
}

func newFleetServer(t *testing.T, lifetime time.Duration) *recitaltest.Server {
	server := recitaltest.NewServer()
	t.Cleanup(server.Close)
	server.AddUser("ana@example.com", "correct horse")
	server.SetTokenLifetime(lifetime)
	return server
}

// TestIPBoundTokensShared: where tokens are bound to IP addresses, a
// fleet sharing a store (3 machines of 2 processes) loses nothing by it:
// no caller gets a 401, the fleet logs in no more than without a store,
// each process has at most 2 tokens refused for use from another address
// before it shares only with its own machine, and says so once at Warn,
// when it concludes it (a process that only ever saw its own machine's
// tokens does not).
func TestIPBoundTokensShared(t *testing.T) {
	const machines, processes, lifetime, span = 3, 2, 3 * time.Second, 30 * time.Second
	alone, shared := newFleetServer(t, lifetime), newFleetServer(t, lifetime)
	alone.SetBindTokensToIP(true)
	shared.SetBindTokensToIP(true)
	synctest.Test(t, func(t *testing.T) {
		if failed := newInBubbleFleet(alone, nil, machines, processes).run(t, span); len(failed) > 0 {
			t.Fatalf("without a store, callers got %d failures: %q", len(failed), failed)
		}
		f := newInBubbleFleet(shared, newMemStore(), machines, processes)
		if failed := f.run(t, span); len(failed) > 0 {
			t.Errorf("callers got %d failures, want 0: %q", len(failed), failed[:min(len(failed), 5)])
		}
		if n, most := shared.Logins(), alone.Logins(); n > most {
			t.Errorf("the fleet made %d logins with a store, want at most %d, as many as without one", n, most)
		}
		if n := shared.RefusedFromOtherAddress(); n > 2*machines*processes {
			t.Errorf("the server refused %d tokens used from another address, want at most 2 per process (%d)", n, 2*machines*processes)
		}
		warned := 0
		for i, logs := range f.logs {
			n := strings.Count(logs.text(), "binds access tokens to IP addresses")
			f.sources[i].mu.Lock()
			concluded := f.sources[i].refusals.binding == bound
			f.sources[i].mu.Unlock()
			if want := map[bool]int{true: 1, false: 0}[concluded]; n != want {
				t.Errorf("process %d (binding concluded: %v) warned %d times of IP binding, want %d", i, concluded, n, want)
			}
			warned += n
		}
		if warned == 0 {
			t.Error("no process warned of IP binding")
		}
		t.Logf("logins: %d with the store, %d without; refused from another address: %d",
			shared.Logins(), alone.Logins(), shared.RefusedFromOtherAddress())
	})
}

// TestRevocationIsNotBinding: without IP binding, a revocation of every
// token (twice) costs the fleet one login each time, no caller sees a
// 401, and sharing goes on across machines: a revocation is not taken
// for binding.
func TestRevocationIsNotBinding(t *testing.T) {
	server := newFleetServer(t, time.Hour)
	synctest.Test(t, func(t *testing.T) {
		f := newInBubbleFleet(server, newMemStore(), 3, 2)
		go func() {
			for range 2 {
				time.Sleep(10 * time.Second)
				server.RevokeAll()
			}
		}()
		if failed := f.run(t, 30*time.Second); len(failed) > 0 {
			t.Errorf("callers got %d failures, want 0: %q", len(failed), failed[:min(len(failed), 5)])
		}
		if n := server.Logins(); n != 3 {
			t.Errorf("%d logins, want 3: the first and one per revocation for the whole fleet", n)
		}
		for i, src := range f.sources {
			src.mu.Lock()
			st := src.refusals.binding
			src.mu.Unlock()
			if st == bound {
				t.Errorf("process %d took the revocations for IP binding", i)
			}
		}
	})
}

// TestBindingAfter: binding is concluded from a second token of another
// machine refused before it ever worked, never from one refusal (a
// revocation looks alike), and a token that travels, or one of our own
// refused, clears the doubt.
func TestBindingAfter(t *testing.T) {
	tests := []struct {
		name   string
		events []bindingEvent
		want   binding
	}{
		{"nothing", nil, travels},
		{"one foreign refusal", []bindingEvent{foreignRefused}, doubted},
		{"two", []bindingEvent{foreignRefused, foreignRefused}, bound},
		{"a foreign token worked between", []bindingEvent{foreignRefused, foreignWorked, foreignRefused}, doubted},
		{"our own refused between", []bindingEvent{foreignRefused, ownRefused, foreignRefused}, doubted},
		{"concluded, kept", []bindingEvent{foreignRefused, foreignRefused, foreignWorked, ownRefused}, bound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := travels
			for _, e := range tt.events {
				st = st.after(e)
			}
			if diff := cmp.Diff(tt.want, st); diff != "" {
				t.Errorf("binding mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBorrowedRefusedTwiceInOneRequest: where tokens are bound to IP
// addresses, a request refused with another machine's token, whose
// replacement from the store is yet another machine's token, refused
// too, is sent a third time with a token of the source's own login: the
// caller never sees the 401, however young the tokens.
func TestBorrowedRefusedTwiceInOneRequest(t *testing.T) {
	server := newFleetServer(t, time.Hour)
	server.SetBindTokensToIP(true)
	synctest.Test(t, func(t *testing.T) {
		f := newInBubbleFleet(server, newMemStore(), 3, 1)
		a, b, c := f.sources[0], f.sources[1], f.sources[2]
		first, err := a.credential(context.Background()) // a logs in and saves
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		for _, src := range []*cachedSource{b, c} { // both borrow a's token
			if cred, err := src.credential(context.Background()); err != nil || cred.token.AccessToken != first.token.AccessToken {
				t.Fatalf("got %v, %v; want a's token from the store", cred, err)
			}
		}
		Invalidate(c, first.copyToken()) // c logs in itself and saves a newer token
		if _, err := c.credential(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if got := getStatus(t, f.clients[1], server.APIURL()+"/config/"); got != http.StatusOK {
			t.Errorf("b's request: %d, want 200", got)
		}
		if diff := cmp.Diff([2]int{3, 2}, [2]int{server.Logins(), server.RefusedFromOtherAddress()}); diff != "" {
			t.Errorf("logins and tokens refused from another address mismatch (-want +got):\n%s", diff)
		}
	})
}

// TestOwnTokenResentOnce: a request refused with tokens of the source's
// own logins is sent again once, not a third time, even when the new
// token is past the reject gap by the time it is refused (a slow login):
// only a borrowed token earns a third send.
func TestOwnTokenResentOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &apiRefusing{login: newLoginServer(), refused: map[string]bool{"": true}}
		api.login.delay = 3 * time.Second // longer than the gap after the first refusal
		cfg := testConfig()
		cfg.AuthURL = "http://127.0.0.1/login/"
		if got := getStatus(t, cfg.Client(withHandler(api)), "http://127.0.0.1/api/"); got != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", got)
		}
		if diff := cmp.Diff([2]int{2, 2}, [2]int{len(api.requests()), api.login.count()}); diff != "" {
			t.Errorf("API requests and logins mismatch (-want +got):\n%s", diff)
		}
	})
}

// refreshingStore holds, at each of its first fresh Loads, a newer token
// another process of this machine logged in for: a fleet whose tokens are
// revoked as fast as they are made.
type refreshingStore struct {
	*memStore
	other *sharer // saves to memStore
	fresh int     // Loads that still find a new token
	n     int
}

func (r *refreshingStore) Load(ctx context.Context, key string) ([]byte, error) {
	if r.n < r.fresh {
		r.n++
		time.Sleep(time.Millisecond) // obtained after the token refused before
		now := time.Now().Round(0)
		r.other.save(ctx, newCredential(&oauth2.Token{AccessToken: fmt.Sprintf("other-%d", r.n), TokenType: "Bearer", Expiry: now.Add(time.Hour)}, now))
	}
	return r.memStore.Load(ctx, key)
}

// TestBorrowedChainBounded: a request is sent at most three times, however
// many newer tokens the store offers that the API refuses: the caller
// gets the third 401 rather than a request sent without end.
func TestBorrowedChainBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &apiRefusing{login: newLoginServer(), refused: map[string]bool{"": true}}
		cfg := testConfig()
		cfg.AuthURL = "http://127.0.0.1/login/"
		cfg.Store = newMemStore()
		store := &refreshingStore{memStore: cfg.Store.(*memStore), fresh: 10,
			other: newSharer(cfg, cfg.logger(), nil, func() storeLimits { return storeLimits{} })}
		cfg.Store = store
		if got := getStatus(t, cfg.Client(withHandler(api)), "http://127.0.0.1/api/"); got != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", got)
		}
		if n := len(api.requests()); n != maxSends {
			t.Errorf("%d API requests, want %d", n, maxSends)
		}
		if n := api.login.count(); n != 0 {
			t.Errorf("%d logins, want 0: every token came from the store", n)
		}
	})
}

// foreignCredential is a token saved to store by machine "machine-2",
// borrowed by s (whose machine is "machine-1").
func foreignCredential(t *testing.T, s *cachedSource, store *memStore, access string) *credential {
	t.Helper()
	cfg := testConfig()
	cfg.Store = store
	other := newSharer(cfg, cfg.logger(), nil, func() storeLimits { return storeLimits{} })
	other.machine = "machine-2"
	other.sealer.newLogin()
	now := time.Now().Round(0)
	other.save(context.Background(), newCredential(&oauth2.Token{AccessToken: access, TokenType: "Bearer", Expiry: now.Add(time.Hour)}, now))
	s.sharer.sealer.newLogin()
	cred := s.sharer.borrow(context.Background(), &flight{})
	if cred == nil || cred.token.AccessToken != access || !cred.origin.foreign {
		t.Fatalf("borrowed %+v, want %q, another machine's", cred, access)
	}
	return cred
}

// TestReplacedTokenRefusalCounts: a borrowed token of another machine,
// replaced by a background refresh (with another machine's token) while
// its request was out, is refused: the refusal still counts, binding is
// concluded, and the replacement, of no use now, is dropped, so the
// caller's retry does not send it. (Before, the refusal of a token no
// longer current was ignored, and the caller got the replacement's 401.)
func TestReplacedTokenRefusalCounts(t *testing.T) {
	store := newMemStore()
	logs := &logRecorder{}
	cfg := testConfig()
	cfg.Store, cfg.Logger = store, logs.logger()
	s := cfg.TokenSource(withHandler(newLoginServer())).(*cachedSource)
	s.sharer.machine = "machine-1"
	s.sharer.machineKey = storekey.ForMachine(s.sharer.sharedKey, s.sharer.machine)
	s.refusals.binding = doubted // one token of another machine refused already

	first := foreignCredential(t, s, store, "foreign-1")
	s.current.Store(first)
	time.Sleep(time.Millisecond) // the replacement is obtained later
	replacement := foreignCredential(t, s, store, "foreign-2")
	s.current.Store(replacement) // the background refresh settles

	if !s.refuse(first) {
		t.Fatal("refuse says a resend cannot help")
	}
	if s.refusals.binding != bound || s.current.Load() != nil {
		t.Errorf("after the refusal: binding %v, current token %v; want binding concluded and the other machine's replacement dropped",
			s.refusals.binding, s.current.Load() != nil)
	}
	s.refuse(first) // a second request with it, refused too: counted once
	if n := strings.Count(logs.text(), "binds access tokens to IP addresses"); n != 1 {
		t.Errorf("warned %d times of IP binding, want once", n)
	}
}

// flippingStore is a store whose Load runs flip first: something that
// happens while the store answers.
type flippingStore struct {
	*memStore
	flip func()
}

func (f flippingStore) Load(ctx context.Context, key string) ([]byte, error) {
	f.flip()
	return f.memStore.Load(ctx, key)
}

// TestStoreLimitsReadWhenAnswered: a login that looks in the store takes
// its limits as they are once the store answers, not as they were when
// it started: binding concluded meanwhile (by a request's 401) keeps it
// from taking another machine's token.
func TestStoreLimitsReadWhenAnswered(t *testing.T) {
	store := newMemStore()
	cfg := testConfig()
	cfg.Store = store
	s := cfg.TokenSource(withHandler(newLoginServer())).(*cachedSource)
	s.sharer.machine = "machine-1"
	s.sharer.machineKey = storekey.ForMachine(s.sharer.sharedKey, s.sharer.machine)
	foreignCredential(t, s, store, "foreign-1") // in the store now

	s.sharer.store = flippingStore{store, func() {
		s.mu.Lock()
		s.refusals.binding = bound
		s.mu.Unlock()
	}}
	s.sharer.sealer.newLogin()
	if cred := s.sharer.borrow(context.Background(), &flight{}); cred != nil {
		t.Errorf("took %q, another machine's token, after binding was concluded", cred.token.AccessToken)
	}
}

// TestOneTokenRefusedTwiceIsOneRefusal: two requests refused with the
// same borrowed token (sent at once) are one refusal: doubt, not binding.
func TestOneTokenRefusedTwiceIsOneRefusal(t *testing.T) {
	store := newMemStore()
	cfg := testConfig()
	cfg.Store = store
	s := cfg.TokenSource(withHandler(newLoginServer())).(*cachedSource)
	s.sharer.machine = "machine-1"
	cred := foreignCredential(t, s, store, "foreign-1")
	s.current.Store(cred)
	s.refuse(cred)
	s.refuse(cred)
	if s.refusals.binding != doubted {
		t.Errorf("after one token's two refusals, binding is %v, want %v", s.refusals.binding, doubted)
	}
}

// TestRejectGapResets: a token refused at once after its login is
// dropped the first time (the gap is 0) and kept the second (the gap is
// now 1 s); once a token has lasted 2 min (twice the longest gap) before
// its refusal, the gap is 0 again, and a token refused at once after the
// next login is dropped and replaced.
func TestRejectGapResets(t *testing.T) {
	srv := recitaltest.NewServer()
	defer srv.Close()
	srv.AddUser("ana@example.com", "s3cret")
	synctest.Test(t, func(t *testing.T) {
		ctx := withHandler(srv)
		cfg := &Config{Username: "ana@example.com", Password: "s3cret", AuthURL: srv.AuthURL()}
		src := cfg.TokenSource(ctx)
		client := NewClient(ctx, src)
		revoke := func() {
			tok, err := src.Token()
			if err != nil {
				t.Fatal(err)
			}
			srv.Revoke(tok.AccessToken)
		}
		var got []int
		get := func() {
			resp, err := client.Get(srv.APIURL() + "/config/")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			got = append(got, resp.StatusCode)
		}

		get() // the first login
		revoke()
		get() // refused at age 0, gap 0: dropped, a second login, sent again
		revoke()
		get() // refused at age 0, gap 1 s: kept, the 401 returned
		time.Sleep(2 * time.Minute)
		get() // refused at age 2 min: the gap falls to 0, dropped, a third login
		revoke()
		get() // refused at age 0, gap 0 again: dropped, a fourth login
		if diff := cmp.Diff([]int{200, 200, 401, 200, 200}, got); diff != "" {
			t.Errorf("statuses mismatch (-want +got):\n%s", diff)
		}
		if n := srv.Logins(); n != 4 {
			t.Errorf("%d logins, want 4", n)
		}
	})
}
