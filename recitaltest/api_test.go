package recitaltest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
)

func TestConfig(t *testing.T) {
	s := recitaltest.NewServer()
	defer s.Close()
	s.AddUser("alice", "s3cret")
	s.AddServiceToken("svc-live")
	s.AddServiceToken("svc-revoked")
	s.Revoke("svc-revoked")
	s.AddServiceToken("svc-restored")
	s.Revoke("svc-restored")
	s.AddServiceToken("svc-restored")

	c := s.Client()
	live := accessToken(t, c, s.AuthURL(), "alice", "s3cret")
	revoked := accessToken(t, c, s.AuthURL(), "alice", "s3cret")
	s.Revoke(revoked)

	user := func(name string) reply {
		return reply{
			Status:      http.StatusOK,
			ContentType: "application/json",
			Body:        map[string]any{"organisation": "recitaltest", "user": name},
		}
	}
	refused := reply{
		Status:      http.StatusUnauthorized,
		ContentType: "application/json",
		WWWAuth:     "Bearer",
		Body:        mustJSON(`{"detail":"Not authenticated"}`),
	}

	tests := []struct {
		name          string
		method        string
		authorization string
		want          reply
	}{
		{"access token", "GET", "Bearer " + live, user("alice")},
		{"scheme in lower case", "GET", "bearer " + live, user("alice")},
		{"service token", "GET", "Bearer svc-live", user("service")},
		{"service token registered again after revocation", "GET", "Bearer svc-restored", user("service")},
		{"revoked access token", "GET", "Bearer " + revoked, refused},
		{"revoked service token", "GET", "Bearer svc-revoked", refused},
		{"unknown token", "GET", "Bearer nope", refused},
		{"empty token", "GET", "Bearer ", refused},
		{"token without scheme", "GET", live, refused},
		{"basic scheme", "GET", "Basic YWxpY2U6czNjcmV0", refused},
		{"missing header", "GET", "", refused},
		{"POST", "POST", "Bearer " + live, reply{
			Status:      http.StatusMethodNotAllowed,
			ContentType: "application/json",
			Allow:       "GET",
			Body:        mustJSON(`{"detail":"Method Not Allowed"}`),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := configRequest(t, s.APIURL(), tt.authorization)
			req.Method = tt.method
			if diff := cmp.Diff(tt.want, do(t, c, req)); diff != "" {
				t.Errorf("answer mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTokenExpiry runs in a synctest bubble, whose clock starts on a whole
// second, so that the expiry instant can be probed to the nanosecond.
func TestTokenExpiry(t *testing.T) {
	tests := []struct {
		name     string
		lifetime time.Duration
		opaque   bool
		elapsed  time.Duration
		want     int
	}{
		{"fresh", time.Hour, false, 0, 200},
		{"just before expiry", time.Hour, false, time.Hour - time.Nanosecond, 200},
		{"at expiry", time.Hour, false, time.Hour, 401},
		{"long expired", time.Hour, false, 48 * time.Hour, 401},
		{"opaque token before expiry", time.Minute, true, time.Minute - time.Nanosecond, 200},
		{"opaque token at expiry", time.Minute, true, time.Minute, 401},
		{"fractional lifetime lasts until exp", 1500 * time.Millisecond, false, 2*time.Second - time.Nanosecond, 200},
		{"fractional lifetime at exp", 1500 * time.Millisecond, false, 2 * time.Second, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := recitaltest.NewServer()
			defer s.Close()
			s.AddUser("alice", "s3cret")
			s.SetTokenLifetime(tt.lifetime)
			s.SetJWT(!tt.opaque)

			synctest.Test(t, func(t *testing.T) {
				c := &http.Client{Transport: recitaltest.InMemoryTransport(s)}
				tok := accessToken(t, c, s.AuthURL(), "alice", "s3cret")
				time.Sleep(tt.elapsed)
				if got := do(t, c, configRequest(t, s.APIURL(), "Bearer "+tok)).Status; got != tt.want {
					t.Errorf("GET /config/ %v after login: status %d, want %d", tt.elapsed, got, tt.want)
				}
			})
		})
	}
}

// TestLifetimeAppliesToNewTokens checks that changing the lifetime leaves
// tokens already issued alone.
func TestLifetimeAppliesToNewTokens(t *testing.T) {
	s := recitaltest.NewServer()
	defer s.Close()
	s.AddUser("alice", "s3cret")

	synctest.Test(t, func(t *testing.T) {
		c := &http.Client{Transport: recitaltest.InMemoryTransport(s)}
		long := accessToken(t, c, s.AuthURL(), "alice", "s3cret")
		s.SetTokenLifetime(time.Minute)
		short := accessToken(t, c, s.AuthURL(), "alice", "s3cret")
		time.Sleep(2 * time.Minute)

		got := map[string]int{
			"issued before": do(t, c, configRequest(t, s.APIURL(), "Bearer "+long)).Status,
			"issued after":  do(t, c, configRequest(t, s.APIURL(), "Bearer "+short)).Status,
		}
		want := map[string]int{"issued before": 200, "issued after": 401}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("statuses 2m after login (-want +got):\n%s", diff)
		}
	})
}

func TestCounters(t *testing.T) {
	s := recitaltest.NewServer()
	defer s.Close()
	s.AddUser("alice", "s3cret")
	s.AddServiceToken("svc")

	const form = "application/x-www-form-urlencoded"
	steps := []struct {
		name                string
		method, path        string
		contentType, body   string
		authorization       string
		wantStatus          int
		wantLogins, wantAPI int
	}{
		{"login", "POST", "/auth/api/v1/login/?noAuth=true", form, "username=alice&password=s3cret", "", 200, 1, 0},
		{"login with wrong password", "POST", "/auth/api/v1/login/", form, "username=alice&password=x", "", 401, 2, 0},
		{"login with GET", "GET", "/auth/api/v1/login/", "", "", "", 405, 3, 0},
		{"config", "GET", "/extract/api/v1/config/", "", "", "Bearer svc", 200, 3, 1},
		{"config without token", "GET", "/extract/api/v1/config/", "", "", "", 401, 3, 2},
		{"config with POST", "POST", "/extract/api/v1/config/", "", "", "Bearer svc", 405, 3, 3},
		{"unknown API path", "GET", "/extract/api/v1/documents/", "", "", "Bearer svc", 404, 3, 4},
		{"API root", "GET", "/extract/api/v1", "", "", "", 404, 3, 5},
		{"login without slash", "POST", "/auth/api/v1/login", form, "username=alice&password=s3cret", "", 404, 3, 5},
		{"lookalike API prefix", "GET", "/extract/api/v10/config/", "", "", "Bearer svc", 404, 3, 5},
		{"root", "GET", "/", "", "", "", 404, 3, 5},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			req := newRequest(t, st.method, s.URL()+st.path, st.contentType, st.body)
			if st.authorization != "" {
				req.Header.Set("Authorization", st.authorization)
			}
			type counts struct{ Status, Logins, APIRequests int }
			r := do(t, s.Client(), req)
			got := counts{r.Status, s.Logins(), s.APIRequests()}
			want := counts{st.wantStatus, st.wantLogins, st.wantAPI}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("after %s %s (-want +got):\n%s", st.method, st.path, diff)
			}
			if st.wantStatus == 404 {
				if diff := cmp.Diff(mustJSON(`{"detail":"Not Found"}`), r.Body); diff != "" {
					t.Errorf("404 body mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestConcurrentUse is meant for the race detector: clients log in, call
// the API and reconfigure the server all at once.
func TestConcurrentUse(t *testing.T) {
	s := recitaltest.NewServer()
	defer s.Close()
	const n = 20
	for i := range n {
		s.AddUser(fmt.Sprint("user", i), "pw")
	}

	// The workers must not call t.Fatal, which only works on the test's
	// own goroutine, so they record what they saw and the test checks it.
	var wg sync.WaitGroup
	outcomes := make([]outcome, n)
	for i := range n {
		wg.Go(func() {
			outcomes[i] = loginAndCallAPI(s, fmt.Sprint("user", i), "pw")
		})
		wg.Go(func() {
			s.SetExpiresIn(i%2 == 0)
			s.SetTokenLifetime(time.Hour + time.Duration(i)*time.Second)
			_, _ = s.Logins(), s.APIRequests()
		})
	}
	wg.Wait()

	seen := make(map[string]bool)
	for i, o := range outcomes {
		if o.err != nil {
			t.Errorf("user%d: %v", i, o.err)
			continue
		}
		if seen[o.token] {
			t.Errorf("token %q issued twice", o.token)
		}
		seen[o.token] = true
		if o.status != 200 {
			t.Errorf("user%d: GET /config/ status %d, want 200", i, o.status)
		}
	}
	if got := [2]int{s.Logins(), s.APIRequests()}; got != [2]int{n, n} {
		t.Errorf("Logins, APIRequests = %v, want [%d %d]", got, n, n)
	}
}

// outcome is what one concurrent worker saw.
type outcome struct {
	token  string
	status int // of GET /config/
	err    error
}

// loginAndCallAPI logs in and calls GET /config/ with the new token,
// reporting failures instead of failing a test, so that it can run on
// any goroutine.
func loginAndCallAPI(s *recitaltest.Server, username, password string) outcome {
	res, err := s.Client().PostForm(s.AuthURL(), url.Values{"username": {username}, "password": {password}})
	if err != nil {
		return outcome{err: err}
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || tok.AccessToken == "" {
		return outcome{err: fmt.Errorf("login: status %d, token %q, decode error %v", res.StatusCode, tok.AccessToken, err)}
	}

	req, err := http.NewRequest(http.MethodGet, s.APIURL()+"/config/", nil)
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, err = s.Client().Do(req)
	if err != nil {
		return outcome{err: err}
	}
	res.Body.Close()
	return outcome{token: tok.AccessToken, status: res.StatusCode}
}
