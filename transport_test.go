package recitaloauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
)

// newRecital starts a fake recital with one user, and returns a Config for
// that user.
func newRecital(t *testing.T) (*recitaltest.Server, *Config) {
	t.Helper()
	srv := recitaltest.NewServer()
	t.Cleanup(srv.Close)
	srv.AddUser("ana@example.com", "correct horse")
	return srv, &Config{Username: "ana@example.com", Password: "correct horse", AuthURL: srv.AuthURL()}
}

func getStatus(t *testing.T, client *http.Client, url string) int {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestRevokedTokenHeals: after the server revokes the cached token, the
// next requests get 401, one login replaces the token for all of them, and
// each is sent again and succeeds.
func TestRevokedTokenHeals(t *testing.T) {
	srv, cfg := newRecital(t)
	src := cfg.TokenSource(context.Background())
	client := NewClient(context.Background(), src)
	if got := getStatus(t, client, srv.APIURL()+"/config/"); got != 200 {
		t.Fatalf("first GET: %d, want 200", got)
	}
	tok, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	srv.Revoke(tok.AccessToken)

	const requests = 20
	statuses := make([]int, requests)
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() { statuses[i] = getStatus(t, client, srv.APIURL()+"/config/") })
	}
	wg.Wait()
	for i, status := range statuses {
		if status != 200 {
			t.Errorf("request %d after the revocation: %d, want 200", i, status)
		}
	}
	if n := srv.Logins(); n != 2 {
		t.Errorf("%d logins, want 2 (one at first, one after the revocation)", n)
	}
	// A request sent after the new token arrived goes through at once; one
	// sent with the old token goes twice.
	if n := srv.APIRequests(); n < 1+requests+1 || n > 1+2*requests {
		t.Errorf("%d API requests, want %d to %d", n, 1+requests+1, 1+2*requests)
	}
}

// apiRefusing is a fake API that refuses the tokens in refused with 401,
// and otherwise answers 200 with the request's body.
type apiRefusing struct {
	login   *loginServer
	mu      sync.Mutex
	refused map[string]bool // "" refuses every token
	seen    []string        // "token body" per API request
}

func (a *apiRefusing) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/login") {
		a.login.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	a.mu.Lock()
	a.seen = append(a.seen, token+" "+string(body))
	refused := a.refused[token] || a.refused[""]
	a.mu.Unlock()
	if refused {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Write(body)
}

func (a *apiRefusing) requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

// TestRetryReplaysBody: a refused request is sent again with its body when
// GetBody allows it; otherwise the 401 goes to the caller, and the token is
// still replaced for the next request.
func TestRetryReplaysBody(t *testing.T) {
	tests := []struct {
		name       string
		body       func() io.Reader
		wantStatus int
		want       []string
	}{
		{"replayable body", func() io.Reader { return strings.NewReader("payload") }, 200,
			[]string{"token-1 payload", "token-2 payload"}},
		{"one-shot body", func() io.Reader { return io.MultiReader(strings.NewReader("payload")) }, 401,
			[]string{"token-1 payload"}},
		{"no body", func() io.Reader { return nil }, 200, []string{"token-1 ", "token-2 "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				api := &apiRefusing{login: newLoginServer(), refused: map[string]bool{"token-1": true}}
				cfg := testConfig()
				cfg.AuthURL = "http://127.0.0.1/login/"
				ctx := withHandler(api)
				client := cfg.Client(ctx)
				req, _ := http.NewRequest("POST", "http://127.0.0.1/api/", tt.body())
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tt.wantStatus {
					t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
				}
				if diff := cmp.Diff(tt.want, api.requests()); diff != "" {
					t.Errorf("API requests mismatch (-want +got):\n%s", diff)
				}
				// Whatever happened to the request, the next one uses a new token.
				if got := getStatus(t, client, "http://127.0.0.1/api/"); got != 200 {
					t.Errorf("next request: %d, want 200", got)
				}
				if n := api.login.count(); n != 2 {
					t.Errorf("%d logins, want 2", n)
				}
			})
		})
	}
}

// TestServiceTokenNotRetried: a refused service token is never sent again.
func TestServiceTokenNotRetried(t *testing.T) {
	srv := recitaltest.NewServer()
	defer srv.Close()
	srv.AddServiceToken("svc-token")
	srv.Revoke("svc-token")
	client := NewClient(context.Background(), ServiceTokenSource("svc-token"))
	if got := getStatus(t, client, srv.APIURL()+"/config/"); got != 401 {
		t.Errorf("status %d, want 401", got)
	}
	if n := srv.APIRequests(); n != 1 {
		t.Errorf("%d API requests, want 1", n)
	}
}

// TestRefusedEverywhereNoStorm: when the server refuses even fresh tokens
// (bound to another IP address, say), 401s do not turn into a login per
// request: a token younger than the rejection gap is not replaced, and the
// gap doubles up to a minute.
func TestRefusedEverywhereNoStorm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &apiRefusing{login: newLoginServer(), refused: map[string]bool{"": true}}
		cfg := testConfig()
		cfg.AuthURL = "http://127.0.0.1/login/"
		client := cfg.Client(withHandler(api))
		burst := func(when string, wantLogins int) {
			t.Helper()
			for range 50 {
				if got := getStatus(t, client, "http://127.0.0.1/api/"); got != 401 {
					t.Fatalf("%s: status %d, want 401", when, got)
				}
			}
			if n := api.login.count(); n != wantLogins {
				t.Fatalf("%s: %d logins, want %d", when, n, wantLogins)
			}
		}
		burst("first burst", 2) // the first login, and one after the first 401
		logins := 2
		for _, gap := range []time.Duration{1, 2, 4, 8, 16, 32, 60, 60} {
			gap *= time.Second
			time.Sleep(gap - time.Millisecond)
			burst("before the gap "+gap.String(), logins)
			time.Sleep(time.Millisecond)
			logins++
			burst("after the gap "+gap.String(), logins)
		}
	})
}

func mustParse(t *testing.T, rawURL string) *url.URL {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestRedirectKeepsTokenOnSite: the token follows a redirect only to the
// same host or a subdomain of the host the caller asked for.
func TestRedirectKeepsTokenOnSite(t *testing.T) {
	tests := []struct {
		name, from, to string
		wantToken      bool
	}{
		{"same host", "https://api.example.com/a", "https://api.example.com/b", true},
		{"same host, other port", "https://api.example.com/a", "https://api.example.com:8443/b", true},
		{"subdomain", "https://api.example.com/a", "https://files.api.example.com/b", true},
		{"parent domain", "https://api.example.com/a", "https://example.com/b", false},
		{"sibling", "https://api.example.com/a", "https://cdn.example.com/b", false},
		{"suffix but not subdomain", "https://api.example.com/a", "https://evilapi.example.com/b", false},
		{"other site", "https://api.example.com/a", "https://evil.example/b", false},
		{"IP address", "https://api.example.com/a", "https://127.0.0.1/b", false},
		// net/http's rule: a host with a colon is no subdomain, since an
		// IPv6 zone may end in anything.
		{"IPv6 zone ending in the host", "https://www.example.com/a", "https://[::1%25.www.example.com]/b", false},
		{"IPv6, same address", "https://[::1]/a", "https://[::1]:8443/b", true},
		{"IPv6, another address", "https://[::1]/a", "https://[::2]/b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotAuth []string
			handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotAuth = append(gotAuth, r.URL.Host+" "+r.Header.Get("Authorization"))
				if r.URL.String() == tt.from {
					http.Redirect(w, r, tt.to, http.StatusFound)
				}
			})
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: recitaltest.InMemoryTransport(handler)})
			client := NewClient(ctx, ServiceTokenSource("svc"))
			if got := getStatus(t, client, tt.from); got != 200 {
				t.Fatalf("status %d, want 200", got)
			}
			from, to := mustParse(t, tt.from), mustParse(t, tt.to)
			want := []string{from.Host + " Bearer svc", to.Host + " "}
			if tt.wantToken {
				want[1] += "Bearer svc"
			}
			if diff := cmp.Diff(want, gotAuth); diff != "" {
				t.Errorf("Authorization per hop mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRedirectChainComesBack: once a redirect has left the site, the token
// is not sent again on that chain, even back on the first host, on a path
// the other host chose; staying on the site, it goes all along.
func TestRedirectChainComesBack(t *testing.T) {
	tests := []struct {
		name  string
		chain []string // each URL redirects to the next
		want  []string // the Authorization each one got
	}{
		{"back to the first host",
			[]string{"https://api.example.com/a", "https://evil.example/b", "https://api.example.com/steal"},
			[]string{"Bearer svc", "", ""}},
		{"on to a subdomain after leaving",
			[]string{"https://api.example.com/a", "https://evil.example/b", "https://files.api.example.com/c"},
			[]string{"Bearer svc", "", ""}},
		{"through a subdomain and back",
			[]string{"https://api.example.com/a", "https://files.api.example.com/b", "https://api.example.com/c"},
			[]string{"Bearer svc", "Bearer svc", "Bearer svc"}},
		{"leaving last",
			[]string{"https://api.example.com/a", "https://api.example.com/b", "https://evil.example/c"},
			[]string{"Bearer svc", "Bearer svc", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = append(got, r.Header.Get("Authorization"))
				if i := len(got); i < len(tt.chain) {
					http.Redirect(w, r, tt.chain[i], http.StatusFound)
				}
			})
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: recitaltest.InMemoryTransport(handler)})
			if status := getStatus(t, NewClient(ctx, ServiceTokenSource("svc")), tt.chain[0]); status != 200 {
				t.Fatalf("status %d, want 200", status)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Authorization per hop mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRedirectToOtherHostOverSockets checks the same over real sockets: a
// 302 from 127.0.0.1 to localhost (another host name) drops the token.
func TestRedirectToOtherHostOverSockets(t *testing.T) {
	var otherAuth atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherAuth.Store("seen:" + r.Header.Get("Authorization"))
	}))
	defer other.Close()
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1), http.StatusFound)
	}))
	defer first.Close()
	client := NewClient(context.Background(), ServiceTokenSource("svc"))
	if got := getStatus(t, client, first.URL); got != 200 {
		t.Fatalf("status %d, want 200", got)
	}
	if got := otherAuth.Load(); got != "seen:" {
		t.Errorf("the other host got %v, want no Authorization", got)
	}
}

// TestClientRefusesClearText: a request in clear text to a host that is not
// loopback fails, and nothing is sent.
func TestClientRefusesClearText(t *testing.T) {
	tests := []struct {
		url     string
		wantErr string // "" for success
	}{
		{"http://api.example.com/config/", "recitaloauth: refusing to send credentials in clear text to http://api.example.com: use https"},
		{"http://192.168.1.10:8000/config/", "recitaloauth: refusing to send credentials in clear text to http://192.168.1.10:8000: use https"},
		{"https://api.example.com/config/", ""},
		{"http://localhost:8000/config/", ""},
		{"http://127.0.0.1/config/", ""},
		{"http://[::1]:8000/config/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			sent := 0
			base := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				sent++
				return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
			})}
			client := NewClient(context.WithValue(context.Background(), oauth2.HTTPClient, base), ServiceTokenSource("svc"))
			resp, err := client.Get(tt.url)
			if tt.wantErr == "" {
				if err != nil || sent != 1 {
					t.Fatalf("err = %v, %d sent; want success", err, sent)
				}
				resp.Body.Close()
				return
			}
			if err == nil || !strings.HasSuffix(err.Error(), tt.wantErr) || sent != 0 {
				t.Errorf("err = %v, %d sent; want %q and nothing sent", err, sent, tt.wantErr)
			}
		})
	}
}

// TestClearTextThroughProxy: http:// to a loopback host is refused, by the
// login and by NewClient, when the transport would hand the request to a
// proxy: the bytes would cross the network in clear on their way there.
// Straight to loopback, or https through a proxy, it goes.
func TestClearTextThroughProxy(t *testing.T) {
	proxy, _ := url.Parse("http://proxy.example.com:3128")
	everything := func(*http.Request) (*url.URL, error) { return proxy, nil }
	// As http.ProxyFromEnvironment with HTTP_PROXY set (it reads the
	// environment once per process, so a test cannot set it): loopback
	// addresses and a lower-case "localhost" go direct.
	fromEnvironment := func(r *http.Request) (*url.URL, error) {
		if host := r.URL.Hostname(); host == "localhost" || net.ParseIP(host).IsLoopback() {
			return nil, nil
		}
		return proxy, nil
	}
	tests := []struct {
		name    string
		url     string
		proxy   func(*http.Request) (*url.URL, error)
		refused bool
	}{
		{"loopback, every URL proxied", "http://127.0.0.1:8080/x/", everything, true},
		{"LOCALHOST, as HTTP_PROXY does", "http://LOCALHOST:8080/x/", fromEnvironment, true},
		{"::1, every URL proxied", "http://[::1]:8080/x/", everything, true},
		{"localhost, as HTTP_PROXY does", "http://localhost:8080/x/", fromEnvironment, false},
		{"127.0.0.1, as HTTP_PROXY does", "http://127.0.0.1:8080/x/", fromEnvironment, false},
		{"loopback, no proxy", "http://127.0.0.1:8080/x/", nil, false},
		{"https, every URL proxied", "https://api.example.com/x/", everything, false},
	}
	for _, tt := range tests {
		for _, path := range []string{"login", "NewClient"} {
			t.Run(tt.name+"/"+path, func(t *testing.T) {
				var dialed []string
				base := &http.Client{Transport: &http.Transport{
					Proxy: tt.proxy,
					DialContext: func(_ context.Context, _, addr string) (net.Conn, error) {
						dialed = append(dialed, addr)
						return nil, errors.New("no network in this test")
					},
				}}
				ctx := context.WithValue(context.Background(), oauth2.HTTPClient, base)
				var err error
				if path == "login" {
					cfg := &Config{Username: "u", Password: "p", AuthURL: tt.url, LoginTimeout: 100 * time.Millisecond}
					_, err = cfg.Token(ctx)
				} else {
					var resp *http.Response
					if resp, err = NewClient(ctx, ServiceTokenSource("svc")).Get(tt.url); err == nil {
						resp.Body.Close()
					}
				}
				u, _ := url.Parse(tt.url)
				want := "recitaloauth: " + map[string]string{"login": "Config.AuthURL: "}[path] +
					"refusing to send credentials in clear text to http://" + u.Host + " through a proxy: use https, or no proxy for it"
				ours := err != nil && strings.HasSuffix(err.Error(), want)
				if tt.refused && (!ours || len(dialed) != 0) {
					t.Errorf("err = %v, dialed %v; want %q and nothing dialled", err, dialed, want)
				}
				if !tt.refused && (ours || len(dialed) == 0) {
					t.Errorf("err = %v, dialed %v; want the request sent", err, dialed)
				}
			})
		}
	}
}

// TestNewClientFromContext: like oauth2.NewClient, the transport,
// CheckRedirect, Jar and Timeout come from the context's client.
func TestNewClientFromContext(t *testing.T) {
	jar, _ := cookiejar.New(nil)
	checkRedirect := func(*http.Request, []*http.Request) error { return errors.New("no") }
	var used atomic.Int32
	base := &http.Client{
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			used.Add(1)
			return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
		}),
		CheckRedirect: checkRedirect,
		Jar:           jar,
		Timeout:       42 * time.Second,
	}
	client := NewClient(context.WithValue(context.Background(), oauth2.HTTPClient, base), ServiceTokenSource("svc"))
	if client.Jar != jar || client.Timeout != 42*time.Second || client.CheckRedirect == nil {
		t.Errorf("client = %+v, want the Jar, Timeout and CheckRedirect of the context's client", client)
	}
	if got := getStatus(t, client, "https://api.example.com/"); got != 200 || used.Load() != 1 {
		t.Errorf("status %d, %d requests through the context's transport; want 200, 1", got, used.Load())
	}
}

// TestCloseIdleConnections: http.Client.CloseIdleConnections on our
// clients reaches the base transport.
func TestCloseIdleConnections(t *testing.T) {
	cfg := testConfig()
	for name, client := range map[string]func(context.Context) *http.Client{
		"NewClient":     func(ctx context.Context) *http.Client { return NewClient(ctx, ServiceTokenSource("svc")) },
		"Config.Client": cfg.Client,
	} {
		t.Run(name, func(t *testing.T) {
			base := &idleCloser{}
			client(context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: base})).CloseIdleConnections()
			if base.closed != 1 {
				t.Errorf("the base transport's CloseIdleConnections was called %d times, want 1", base.closed)
			}
		})
	}
}

type idleCloser struct {
	http.RoundTripper
	closed int
}

func (c *idleCloser) CloseIdleConnections() { c.closed++ }

// TestNewClientErrors: a nil source or a failing source fails the request
// with the source's error, and the request body is closed.
func TestNewClientErrors(t *testing.T) {
	tests := []struct {
		name string
		src  oauth2.TokenSource
		want string
	}{
		{"nil source", nil, "recitaloauth: NewClient was given a nil TokenSource"},
		{"empty service token", ServiceTokenSource(" \n"), "recitaloauth: the service token is empty"},
		{"bad service token", ServiceTokenSource("a b"), "recitaloauth: the service token has characters a bearer token cannot have"},
		{"foreign source", failingSource{}, "custom source failed"},
		{"foreign source, neither token nor error", oauth2.StaticTokenSource(nil), "recitaloauth: the token source returned neither a token nor an error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := &closeRecorder{Reader: strings.NewReader("x")}
			req, _ := http.NewRequest("POST", "https://api.example.com/", body)
			_, err := NewClient(context.Background(), tt.src).Do(req)
			if err == nil || !strings.HasSuffix(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
			if !body.closed {
				t.Error("the request body was not closed")
			}
		})
	}
}

type failingSource struct{}

func (failingSource) Token() (*oauth2.Token, error) { return nil, errors.New("custom source failed") }

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

// TestSharedSourceUnderOAuth2Clients: one source feeding several
// oauth2.NewClient clients at once. oauth2.ReuseTokenSource writes into the
// tokens it gets; with a short lifetime it asks for one on every request,
// so a *oauth2.Token handed out twice would be a data race. -race reports
// it; without -race (the README's test command), so does the count of
// tokens handed out twice.
func TestSharedSourceUnderOAuth2Clients(t *testing.T) {
	srv, cfg := newRecital(t)
	srv.SetTokenLifetime(2 * time.Second)
	src := &distinctTokens{src: cfg.TokenSource(context.Background()), seen: map[*oauth2.Token]bool{}}
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 3 {
		client := oauth2.NewClient(context.Background(), src)
		for range 8 {
			wg.Go(func() {
				for range 10 {
					if status := getStatus(t, client, srv.APIURL()+"/config/"); status != 200 {
						failed.Add(1)
					}
				}
			})
		}
	}
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d requests failed", n)
	}
	src.mu.Lock()
	calls, twice := src.calls, src.twice
	src.mu.Unlock()
	if calls < 2*3 || twice != 0 {
		t.Errorf("%d Token calls, %d of them a token handed out before; want more than one call per client, and none twice", calls, twice)
	}
	// A 2 s token is refreshed every 1.5 s: however slow the machine, no
	// more logins than that.
	elapsed := time.Since(start)
	if n, most := srv.Logins(), 1+int(elapsed/(1500*time.Millisecond)); n < 1 || n > most {
		t.Errorf("%d logins for 240 requests in %v, want 1 to %d", n, elapsed, most)
	}
}

// distinctTokens counts the tokens src hands out that it handed out before.
// Holding every token keeps its address from being reused.
type distinctTokens struct {
	src   oauth2.TokenSource
	mu    sync.Mutex
	seen  map[*oauth2.Token]bool
	calls int
	twice int
}

func (d *distinctTokens) Token() (*oauth2.Token, error) {
	tok, err := d.src.Token()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if tok != nil && d.seen[tok] {
		d.twice++
	}
	d.seen[tok] = true
	return tok, err
}

// Example-style check that a body is not lost on the way: the server gets
// exactly what was sent, through NewClient.
func TestRequestUnchanged(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = fmt.Sprintf("%s %s %s %s", r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), b)
	}))
	defer srv.Close()
	req, _ := http.NewRequest("PUT", srv.URL+"/doc/1?x=y", bytes.NewReader([]byte("data")))
	req.Header.Set("Authorization", "Bearer caller-set")
	resp, err := NewClient(context.Background(), ServiceTokenSource("svc")).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "PUT /doc/1?x=y Bearer svc data"; got != want {
		t.Errorf("server got %q, want %q", got, want)
	}
	if req.Header.Get("Authorization") != "Bearer caller-set" {
		t.Error("the caller's request was changed")
	}
}

// TestRequestStopsWaitingForLogin: a request whose context ends while it
// waits for a slow login gives up then; the login goes on for the others.
func TestRequestStopsWaitingForLogin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &apiRefusing{login: newLoginServer()}
		api.login.delay = 10 * time.Second
		cfg := testConfig()
		cfg.AuthURL = "http://127.0.0.1/login/"
		client := cfg.Client(withHandler(api))

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://127.0.0.1/api/", nil)
		start := time.Now()
		_, err := client.Do(req)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Errorf("after %v: err = %v, want context.DeadlineExceeded after 1s", time.Since(start), err)
		}
		if got := getStatus(t, client, "http://127.0.0.1/api/"); got != 200 {
			t.Errorf("next request: %d, want 200", got)
		}
		if n, waited := api.login.count(), time.Since(start); n != 1 || waited != 10*time.Second {
			t.Errorf("%d logins, done after %v; want 1 login, done after 10s", n, waited)
		}
	})
}

// TestRedirectChainUnknown: a base transport that leaves Response.Request
// unset hides where the chain began; the token is then not sent on a
// guess.
func TestRedirectChainUnknown(t *testing.T) {
	var gotAuth []string
	base := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		gotAuth = append(gotAuth, r.URL.Host+" "+r.Header.Get("Authorization"))
		resp := &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}
		if r.URL.Host == "api.example.com" {
			resp.StatusCode = http.StatusFound
			resp.Header.Set("Location", "https://evil.example/")
		}
		return resp, nil // Request left unset
	})}
	client := NewClient(context.WithValue(context.Background(), oauth2.HTTPClient, base), ServiceTokenSource("svc"))
	if got := getStatus(t, client, "https://api.example.com/"); got != 200 {
		t.Fatalf("status %d, want 200", got)
	}
	if diff := cmp.Diff([]string{"api.example.com Bearer svc", "evil.example "}, gotAuth); diff != "" {
		t.Errorf("Authorization per hop mismatch (-want +got):\n%s", diff)
	}
}
