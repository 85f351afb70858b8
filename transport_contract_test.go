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
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
)

// countedBody is a body that counts its Close calls.
type countedBody struct {
	io.Reader
	mu     *sync.Mutex
	closes int
}

func (b *countedBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closes++
	return nil
}

// bodyLedger makes counted bodies and keeps each, to check later that
// each was closed exactly as often as it should be.
type bodyLedger struct {
	mu     sync.Mutex
	bodies []*countedBody
}

func (l *bodyLedger) add(r io.Reader) *countedBody {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := &countedBody{Reader: r, mu: &l.mu}
	l.bodies = append(l.bodies, b)
	return b
}

func (l *bodyLedger) closes() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n []int
	for _, b := range l.bodies {
		n = append(n, b.closes)
	}
	return n
}

// watchedBase is the transport's base: it passes requests on, and keeps
// every response it gives the transport, its body counted.
type watchedBase struct {
	next      http.RoundTripper
	ledger    bodyLedger
	mu        sync.Mutex
	responses []*http.Response
}

func (w *watchedBase) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := w.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = w.ledger.add(resp.Body)
	w.mu.Lock()
	w.responses = append(w.responses, resp)
	w.mu.Unlock()
	return resp, nil
}

// closesOfResponses says, for each response the base gave the transport,
// how often its body was closed: once for each the transport did not
// return (it must close them), none for the one it returned (the
// caller's to close).
func (w *watchedBase) closesOfResponses(returned *http.Response) (got, want []int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.responses {
		body := r.Body.(*countedBody)
		body.mu.Lock()
		got = append(got, body.closes)
		body.mu.Unlock()
		if r == returned {
			want = append(want, 0)
		} else {
			want = append(want, 1)
		}
	}
	return got, want
}

// requestShape is what a caller's request looks like, to check that
// RoundTrip left it as it was.
type requestShape struct {
	Method, URL, Host string
	Header            http.Header
	Body              string // which body: its address
	ContentLength     int64
	HasGetBody        bool
}

func shapeOf(req *http.Request) requestShape {
	return requestShape{req.Method, req.URL.String(), req.Host, req.Header.Clone(), fmt.Sprintf("%p", req.Body), req.ContentLength, req.GetBody != nil}
}

// contractAPI is recital's API for the contract test: apiRefusing, and
// /redirect/, a 307 to another host's /api/.
type contractAPI struct{ *apiRefusing }

func (a contractAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/redirect/" {
		io.Copy(io.Discard, r.Body)
		http.Redirect(w, r, "http://127.0.0.2/api/", http.StatusTemporaryRedirect)
		return
	}
	a.apiRefusing.ServeHTTP(w, r)
}

// TestRoundTripContract walks every way out of the transport's RoundTrip
// and checks net/http's contract on each: the request's body, and every
// body its GetBody made, closed exactly once; the caller's request left as
// it was; every response the transport got and did not return closed,
// and the one it returned left open.
func TestRoundTripContract(t *testing.T) {
	const api = "http://127.0.0.1/api/"
	tests := []struct {
		name       string
		url        string
		body       bool // a POST with a body
		getBody    string
		nilHeader  bool
		noSource   bool            // NewClient was given a nil source
		refused    map[string]bool // the tokens the API refuses ("": all)
		loginFails int             // the logins after this many answer 401 (0: none do)
		deadline   time.Duration   // the request's context ends then (0: never)
		redirected bool            // the answer is a redirect, followed as http.Client does
		wantStatus int             // 0: an error
		wantSends  int             // requests the API got
	}{
		{name: "success", url: api, body: true, getBody: "works", wantStatus: 200, wantSends: 1},
		{name: "failed login", url: api, body: true, getBody: "works", loginFails: 1, wantSends: 0},
		{name: "401 replayed with GetBody", url: api, body: true, getBody: "works", refused: map[string]bool{"token-1": true}, wantStatus: 200, wantSends: 2},
		{name: "401, body not replayable", url: api, body: true, refused: map[string]bool{"token-1": true}, wantStatus: 401, wantSends: 1},
		{name: "401, GetBody fails", url: api, body: true, getBody: "fails", refused: map[string]bool{"token-1": true}, wantStatus: 401, wantSends: 1},
		{name: "401, then the new login fails", url: api, body: true, getBody: "works", refused: map[string]bool{"token-1": true}, loginFails: 2, wantStatus: 401, wantSends: 1},
		{name: "401 twice", url: api, body: true, getBody: "works", refused: map[string]bool{"": true}, wantStatus: 401, wantSends: 2},
		{name: "context ends during the login", url: api, body: true, getBody: "works", deadline: time.Second, wantSends: 0},
		{name: "redirect chain to another host", url: "http://127.0.0.1/redirect/", body: true, getBody: "works", redirected: true, wantStatus: 200, wantSends: 1},
		{name: "nil Header", url: api, nilHeader: true, wantStatus: 200, wantSends: 1},
		{name: "no source", url: api, body: true, getBody: "works", noSource: true, wantSends: 0},
		{name: "clear text refused", url: "http://api.example.com/", body: true, getBody: "works", wantSends: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				login := newLoginServer()
				login.delay = 10 * time.Millisecond
				if tt.deadline > 0 {
					login.delay = time.Hour
				}
				api := contractAPI{&apiRefusing{login: login, refused: tt.refused}}
				cfg := testConfig()
				cfg.AuthURL = "http://127.0.0.1/login/"
				srcCtx, stop := context.WithCancel(withHandler(loginAfter{login, tt.loginFails}))
				defer stop() // a login still going on ends with the test
				src := cfg.TokenSource(srcCtx).(*cachedSource)
				base := &watchedBase{next: recitaltest.InMemoryTransport(api)}
				tr := &transport{base: base, source: src}
				if tt.noSource {
					tr.source = nil
				}

				var requestBodies bodyLedger
				ctx := context.Background()
				if tt.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.deadline)
					defer cancel()
				}
				method, body := http.MethodGet, io.ReadCloser(nil)
				if tt.body {
					method, body = http.MethodPost, requestBodies.add(strings.NewReader("payload"))
				}
				req, err := http.NewRequestWithContext(ctx, method, tt.url, body)
				if err != nil {
					t.Fatal(err)
				}
				switch tt.getBody {
				case "works":
					req.GetBody = func() (io.ReadCloser, error) { return requestBodies.add(strings.NewReader("payload")), nil }
				case "fails":
					req.GetBody = func() (io.ReadCloser, error) { return nil, fmt.Errorf("no second body") }
				}
				if tt.nilHeader {
					req.Header = nil
				}
				before := shapeOf(req)

				resp, err := tr.RoundTrip(req)
				if tt.redirected && err == nil {
					// The next hop, as http.Client makes it: a request of its
					// own, with a body from GetBody, and the chain behind it.
					// (The Client would also close the first body again, its
					// own doing: it is not counted here.)
					next, nerr := http.NewRequestWithContext(ctx, method, resp.Header.Get("Location"), nil)
					if nerr != nil {
						t.Fatal(nerr)
					}
					next.Body, _ = req.GetBody()
					next.GetBody, next.Response = req.GetBody, resp
					resp.Body.Close()
					resp, err = tr.RoundTrip(next)
				}

				status := 0
				if err == nil {
					status = resp.StatusCode
				}
				sends := len(api.requests())
				if status != tt.wantStatus || sends != tt.wantSends {
					t.Errorf("status %d (error %v) after %d API requests; want %d after %d", status, err, sends, tt.wantStatus, tt.wantSends)
				}
				if diff := cmp.Diff(before, shapeOf(req)); diff != "" {
					t.Errorf("the caller's request changed (-before +after):\n%s", diff)
				}
				closes := requestBodies.closes()
				for i, n := range closes {
					if n != 1 {
						t.Errorf("request body %d of %d (0: the request's own, then GetBody's) closed %d times, want once", i, len(closes), n)
					}
				}
				if got, want := base.closesOfResponses(resp); !cmp.Equal(got, want) {
					t.Errorf("closes of the responses the transport got: %v, want %v (0 for the one it returned)", got, want)
				}
				if tt.redirected {
					if seen := api.requests(); len(seen) != 1 || seen[0] != " payload" {
						t.Errorf("the hop to another host got %q, want the body without a token", seen)
					}
				}
				if tt.nilHeader {
					if seen := api.requests(); len(seen) != 1 || !strings.HasPrefix(seen[0], "token-") {
						t.Errorf("with a nil Header, the API got %q, want a request with a token", seen)
					}
				}
				if resp != nil {
					resp.Body.Close()
				}
			})
		})
	}
}

// loginAfter is a login endpoint whose logins from the failFrom-th on are
// refused (0: none).
type loginAfter struct {
	*loginServer
	failFrom int
}

func (l loginAfter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if l.failFrom > 0 && l.count()+1 >= l.failFrom {
		l.set(func(s *loginServer) { s.status = http.StatusUnauthorized })
	}
	l.loginServer.ServeHTTP(w, r)
}
