package recitaloauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/seed9ffb1f9c/recitaloauth/internal/cleartext"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
	"golang.org/x/oauth2"
)

// TestLoginRequest checks the request itself, over a real socket: one POST
// to the URL as given, the form properly escaped, the headers recital's
// FastAPI server expects.
func TestLoginRequest(t *testing.T) {
	type seen struct {
		Method, Path, Query, ContentType, Accept string
		UserAgentNamesPackage                    bool
		Form                                     url.Values
	}
	tests := []struct {
		name               string
		username, password string
		path               string
	}{
		{"plain", "ana@example.com", "hunter2", "/auth/api/v1/login/?noAuth=true"},
		{"form metacharacters", "ana+test@example.com", "p&ss=w@rd%20?#", "/auth/api/v1/login/?noAuth=true"},
		{"non-ASCII and spaces", "zoé@exemple.fr", "mot de passe é€ 密码", "/login/?noAuth=true&x=1"},
		{"no query", "ana@example.com", "x", "/login/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var requests atomic.Int32
			var got seen
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				if err := r.ParseForm(); err != nil {
					t.Errorf("ParseForm: %v", err)
				}
				got = seen{
					Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
					ContentType: r.Header.Get("Content-Type"), Accept: r.Header.Get("Accept"),
					UserAgentNamesPackage: strings.Contains(r.UserAgent(), "recitaloauth"),
					Form:                  r.PostForm,
				}
				fmt.Fprint(w, `{"access_token":"abc","token_type":"bearer"}`)
			}))
			defer srv.Close()

			u, _ := url.Parse(srv.URL + tt.path)
			cfg := &Config{Username: tt.username, Password: tt.password, AuthURL: srv.URL + tt.path}
			if _, err := cfg.Token(context.Background()); err != nil {
				t.Fatalf("Token: %v", err)
			}
			want := seen{
				Method: "POST", Path: u.Path, Query: u.RawQuery,
				ContentType: "application/x-www-form-urlencoded", Accept: "application/json",
				UserAgentNamesPackage: true,
				Form:                  url.Values{"username": {tt.username}, "password": {tt.password}},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("request mismatch (-want +got):\n%s", diff)
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("got %d requests, want 1", n)
			}
		})
	}
}

// TestLoginAnswer checks how a 2xx answer becomes a token, in a synctest
// bubble so that the login starts at a known instant.
func TestLoginAnswer(t *testing.T) {
	tests := []struct {
		name string
		// body is built inside the bubble, where now is the bubble's clock.
		body       func(t *testing.T, now time.Time) string
		wantExpiry time.Duration // after the login's start
		wantExtra  map[string]any
	}{
		{
			name: "expires_in number",
			body: func(*testing.T, time.Time) string {
				return `{"access_token":"abc","token_type":"bearer","expires_in":7200}`
			},
			wantExpiry: 2 * time.Hour,
			wantExtra:  map[string]any{"token_type": "bearer", "expires_in": 7200.0},
		},
		{
			name:       "expires_in numeric string",
			body:       func(*testing.T, time.Time) string { return `{"access_token":"abc","expires_in":"90.5"}` },
			wantExpiry: 90*time.Second + 500*time.Millisecond,
			wantExtra:  map[string]any{"expires_in": "90.5"},
		},
		{
			name: "JWT exp claim",
			body: func(t *testing.T, now time.Time) string {
				return fmt.Sprintf(`{"access_token":%q}`, jwt(t, map[string]any{"sub": "ana", "exp": now.Add(3 * time.Hour).Unix()}))
			},
			wantExpiry: 3 * time.Hour,
		},
		{
			name: "expires_in wins over JWT exp",
			body: func(t *testing.T, now time.Time) string {
				return fmt.Sprintf(`{"access_token":%q,"expires_in":60}`, jwt(t, map[string]any{"exp": now.Add(3 * time.Hour).Unix()}))
			},
			wantExpiry: time.Minute,
		},
		{
			name: "JWT exp in the past is ignored",
			body: func(t *testing.T, now time.Time) string {
				return fmt.Sprintf(`{"access_token":%q}`, jwt(t, map[string]any{"exp": now.Add(-time.Hour).Unix()}))
			},
			wantExpiry: DefaultTokenLifetime,
		},
		{
			name:       "neither: one hour",
			body:       func(*testing.T, time.Time) string { return `{"access_token":"abc","refresh_token":"r"}` },
			wantExpiry: DefaultTokenLifetime,
			wantExtra:  map[string]any{"refresh_token": "r"},
		},
		{
			name:       "expires_in null: one hour",
			body:       func(*testing.T, time.Time) string { return `{"access_token":"abc","expires_in":null}` },
			wantExpiry: DefaultTokenLifetime,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				body := tt.body(t, start)
				ctx := withHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.WriteString(w, body)
				}))
				tok, err := testConfig().Token(ctx)
				if err != nil {
					t.Fatalf("Token: %v", err)
				}
				want := &oauth2.Token{AccessToken: accessOf(t, body), TokenType: "Bearer", Expiry: start.Add(tt.wantExpiry)}
				if diff := cmp.Diff(want, tok, cmpopts.IgnoreUnexported(oauth2.Token{})); diff != "" {
					t.Errorf("token mismatch (-want +got):\n%s", diff)
				}
				for key, value := range tt.wantExtra {
					if diff := cmp.Diff(value, tok.Extra(key)); diff != "" {
						t.Errorf("Extra(%q) mismatch (-want +got):\n%s", key, diff)
					}
				}
			})
		})
	}
}

func accessOf(t *testing.T, body string) string {
	t.Helper()
	fields := map[string]any{}
	if err := jsonUnmarshal(body, &fields); err != nil {
		t.Fatal(err)
	}
	return fields["access_token"].(string)
}

// TestLoginErrors checks each failure: its message, whether errors.As finds
// an *oauth2.RetrieveError, and how many attempts it took (transient
// failures are retried twice, others never).
func TestLoginErrors(t *testing.T) {
	type result struct {
		Message      string
		RetrieveCode int // 0: no *oauth2.RetrieveError
		Attempts     int
	}
	tests := []struct {
		name   string
		status int
		header map[string]string
		body   string
		want   result
	}{
		{"401 with detail", 401, nil, `{"detail":"Incorrect username or password"}`,
			result{"recitaloauth: login refused: 401 Unauthorized: Incorrect username or password", 401, 1}},
		{"422 list", 422, nil, `{"detail":[{"type":"missing","loc":["body","password"],"msg":"Field required","input":null},{"loc":["body",0],"msg":"bad"}]}`,
			result{"recitaloauth: login refused: 422 Unprocessable Entity: body.password: Field required; body.0: bad", 422, 1}},
		{"400 plain", 400, nil, `nope`,
			result{"recitaloauth: login refused: 400 Bad Request", 400, 1}},
		{"403 never retried", 403, nil, `{"detail":"Forbidden"}`,
			result{"recitaloauth: login refused: 403 Forbidden: Forbidden", 403, 1}},
		{"500 HTML, retried twice", 500, nil, `<html><body>Internal Server Error</body></html>`,
			result{"recitaloauth: login refused: 500 Internal Server Error", 500, 3}},
		{"503 with short Retry-After, retried", 503, map[string]string{"Retry-After": "2"}, `{"detail":"busy"}`,
			result{"recitaloauth: login refused: 503 Service Unavailable: busy", 503, 3}},
		{"504 retried", 504, nil, ``,
			result{"recitaloauth: login refused: 504 Gateway Timeout", 504, 3}},
		{"429 with short Retry-After, retried", 429, map[string]string{"Retry-After": "1"}, ``,
			result{"recitaloauth: login refused: 429 Too Many Requests", 429, 3}},
		{"501 not retried", 501, nil, ``,
			result{"recitaloauth: login refused: 501 Not Implemented", 501, 1}},
		{"status without a name", 499, nil, ``,
			result{"recitaloauth: login refused: 499", 499, 1}},
		{"429 with long Retry-After, not retried", 429, map[string]string{"Retry-After": "120"}, `{"detail":"slow down"}`,
			result{"recitaloauth: login refused: 429 Too Many Requests: slow down", 429, 1}},
		{"302 not followed", 302, map[string]string{"Location": "https://elsewhere.example/"}, ``,
			result{"recitaloauth: login answered 302 Found to https://elsewhere.example/: redirects are not followed", 302, 1}},
		{"200 without token", 200, nil, `{"token_type":"bearer"}`,
			result{"recitaloauth: login answer has no access_token", 0, 1}},
		{"200 with detail and no token", 200, nil, `{"detail":"Account locked"}`,
			result{"recitaloauth: login answer has no access_token: Account locked", 0, 1}},
		{"200 bad JSON", 200, nil, `{"access_token":`, result{"recitaloauth: login answer is not a JSON object", 0, 1}},
		// exp − iat is 1 s, which the second of resolution takes whole.
		{"200 token living a second", 200, nil, `{"access_token":"eyJhbGciOiJub25lIn0.eyJpYXQiOjEwMDAwMDAwMDAsImV4cCI6MTAwMDAwMDAwMX0.c2ln"}`,
			result{"recitaloauth: login answer's token expires as it is issued", 0, 1}},
		{"200 HTML", 200, nil, `<html>hi</html>`, result{"recitaloauth: login answer is not a JSON object", 0, 1}},
		{"200 null", 200, nil, `null`, result{"recitaloauth: login answer is not a JSON object", 0, 1}},
		{"200 array", 200, nil, `[{"access_token":"abc"}]`, result{"recitaloauth: login answer is not a JSON object", 0, 1}},
		{"200 empty", 200, nil, ``, result{"recitaloauth: login answer is empty", 0, 1}},
		{"204", 204, nil, ``, result{"recitaloauth: login answer is empty", 0, 1}},
		{"token not a string", 200, nil, `{"access_token":42}`, result{"recitaloauth: login answer's access_token is not a string", 0, 1}},
		{"token empty", 200, nil, `{"access_token":""}`, result{"recitaloauth: login answer's access_token is empty", 0, 1}},
		{"token with a newline", 200, nil, `{"access_token":"abc\r\nX-Evil: 1"}`,
			result{"recitaloauth: login answer's access_token has characters a bearer token cannot have", 0, 1}},
		{"expires_in not a number", 200, nil, `{"access_token":"abc","expires_in":"soon"}`,
			result{"recitaloauth: login answer's expires_in is not a positive number of seconds", 0, 1}},
		{"expires_in negative", 200, nil, `{"access_token":"abc","expires_in":-5}`,
			result{"recitaloauth: login answer's expires_in is not a positive number of seconds", 0, 1}},
		{"expires_in a bool", 200, nil, `{"access_token":"abc","expires_in":true}`,
			result{"recitaloauth: login answer's expires_in is not a positive number of seconds", 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				attempts := 0
				ctx := withHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					attempts++
					for k, v := range tt.header {
						w.Header().Set(k, v)
					}
					w.WriteHeader(tt.status)
					io.WriteString(w, tt.body)
				}))
				tok, err := testConfig().Token(ctx)
				if err == nil {
					t.Fatalf("Token = %v, want an error", tok)
				}
				got := result{Message: err.Error(), Attempts: attempts}
				var re *oauth2.RetrieveError
				if errors.As(err, &re) {
					got.RetrieveCode = re.Response.StatusCode
					if diff := cmp.Diff(tt.body, string(re.Body)); diff != "" {
						t.Errorf("RetrieveError.Body mismatch (-want +got):\n%s", diff)
					}
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("mismatch (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestRedirectNamesTarget: a redirect's error names where it points, so
// that the login URL can be mended in one edit: scheme, host and path,
// without the query or userinfo, and without the password should the
// server put it there.
func TestRedirectNamesTarget(t *testing.T) {
	const notFollowed = ": redirects are not followed"
	tests := []struct {
		name     string
		location string // "" for none
		want     string
	}{
		{"FastAPI's trailing slash", "http://127.0.0.1/auth/api/v1/login/?noAuth=true",
			"recitaloauth: login answered 307 Temporary Redirect to http://127.0.0.1/auth/api/v1/login/" + notFollowed},
		{"relative", "/auth/api/v1/login/?noAuth=true",
			"recitaloauth: login answered 307 Temporary Redirect to http://127.0.0.1/auth/api/v1/login/" + notFollowed},
		{"query values and userinfo left out", "https://sso:pass@sso.example.com/login?token=abc&next=%2Fx#frag",
			"recitaloauth: login answered 307 Temporary Redirect to https://sso.example.com/login" + notFollowed},
		{"the password in the path", "https://evil.example/echo/hunter2%20pass",
			"recitaloauth: login answered 307 Temporary Redirect to https://evil.example/echo/[redacted]" + notFollowed},
		{"no Location", "", "recitaloauth: login answered 307 Temporary Redirect" + notFollowed},
		{"not a web URL", "javascript:alert(1)", "recitaloauth: login answered 307 Temporary Redirect" + notFollowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := withHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.location != "" {
					w.Header().Set("Location", tt.location)
				}
				w.WriteHeader(http.StatusTemporaryRedirect)
			}))
			cfg := testConfig()
			cfg.Password = "hunter2 pass"
			cfg.AuthURL = "http://127.0.0.1/auth/api/v1/login?noAuth=true"
			_, err := cfg.Token(ctx)
			if err == nil {
				t.Fatal("Token succeeded, want an error")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("message mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoginRetriesThenSucceeds checks that a transient failure is retried
// within one login, after a short pause, and that Retry-After is honoured.
func TestLoginRetriesThenSucceeds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var times []time.Duration
		start := time.Now()
		ctx := withHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			times = append(times, time.Since(start))
			switch len(times) {
			case 1:
				w.Header().Set("Retry-After", "3")
				w.WriteHeader(http.StatusServiceUnavailable)
			case 2:
				w.WriteHeader(http.StatusBadGateway)
			default:
				io.WriteString(w, `{"access_token":"abc"}`)
			}
		}))
		tok, err := testConfig().Token(ctx)
		if err != nil {
			t.Fatalf("Token: %v", err)
		}
		if tok.AccessToken != "abc" {
			t.Errorf("AccessToken = %q, want abc", tok.AccessToken)
		}
		if len(times) != 3 {
			t.Fatalf("got %d attempts, want 3", len(times))
		}
		if times[1] != 3*time.Second {
			t.Errorf("second attempt at %v, want 3s (Retry-After)", times[1])
		}
		if pause := times[2] - times[1]; pause < 250*time.Millisecond || pause > 500*time.Millisecond {
			t.Errorf("pause before the third attempt = %v, want 250ms to 500ms", pause)
		}
	})
}

// TestLoginTimeout checks that a hung server cannot hang a login beyond
// the default 30 s, retries included, and that a ctx deadline cuts it
// shorter.
func TestLoginTimeout(t *testing.T) {
	tests := []struct {
		name     string
		timeout  time.Duration // Config.LoginTimeout
		deadline time.Duration // on the caller's context; 0: none
		want     time.Duration
	}{
		{"default", 0, 0, DefaultLoginTimeout},
		{"Config.LoginTimeout", 5 * time.Second, 0, 5 * time.Second},
		{"ctx deadline", 0, 2 * time.Second, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := withHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					<-r.Context().Done()
				}))
				if tt.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.deadline)
					defer cancel()
				}
				cfg := testConfig()
				cfg.LoginTimeout = tt.timeout
				start := time.Now()
				_, err := cfg.Token(ctx)
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("err = %v, want context.DeadlineExceeded", err)
				}
				if got := time.Since(start); got != tt.want {
					t.Errorf("login took %v, want %v", got, tt.want)
				}
			})
		})
	}
}

// TestLoginUsesContextClient checks oauth2's convention: the client in ctx
// under oauth2.HTTPClient makes the login.
func TestLoginUsesContextClient(t *testing.T) {
	var used atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"access_token":"abc"}`)
	}))
	defer srv.Close()
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	cfg := &Config{Username: "u", Password: "p", AuthURL: srv.URL}

	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
	if _, err := cfg.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if used.Load() != 1 {
		t.Errorf("the context's client made %d requests, want 1", used.Load())
	}
	// Without one, http.DefaultClient reaches the same server.
	if _, err := cfg.Token(context.Background()); err != nil {
		t.Errorf("with http.DefaultClient: %v", err)
	}
	if used.Load() != 1 {
		t.Errorf("the context's client was used without the context")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestConfigErrors checks the errors a Config gets before anything is sent.
func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		config Config
		want   string
	}{
		{"no username", Config{Password: "p"}, "recitaloauth: Config.Username is empty"},
		{"no password", Config{Username: "u"}, "recitaloauth: Config.Password is empty"},
		{"password not UTF-8", Config{Username: "u", Password: "caf\xe9-latin1"},
			"recitaloauth: the password is not valid UTF-8: the server would read another one"},
		{"username not UTF-8", Config{Username: "zo\xe9", Password: "p"},
			"recitaloauth: the username is not valid UTF-8: the server would read another one"},
		{"relative URL", Config{Username: "u", Password: "p", AuthURL: "/login"}, "recitaloauth: Config.AuthURL is not an absolute URL"},
		{"http to another host", Config{Username: "u", Password: "p", AuthURL: "http://auth.example.com/login/"},
			"recitaloauth: Config.AuthURL: refusing to send credentials in clear text to http://auth.example.com: use https"},
		{"http to a private address", Config{Username: "u", Password: "p", AuthURL: "http://10.0.0.1:8080/login/"},
			"recitaloauth: Config.AuthURL: refusing to send credentials in clear text to http://10.0.0.1:8080: use https"},
		{"ftp", Config{Username: "u", Password: "p", AuthURL: "ftp://example.com/"}, `recitaloauth: Config.AuthURL: unsupported URL scheme "ftp": use https`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				t.Errorf("a request was sent to %s", r.URL)
				return nil, errors.New("no")
			})}
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
			_, err := tt.config.Token(ctx)
			if err == nil {
				t.Fatal("Token succeeded, want an error")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("message mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoopbackAllowed checks which clear-text hosts are allowed.
func TestLoopbackAllowed(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.8.9.10": true, "::1": true,
		"::ffff:127.0.0.1": true, "localhost.example.com": false, "128.0.0.1": false, "10.0.0.1": false,
		"example.com": false, "": false, "0.0.0.0": false,
	} {
		if got := cleartext.IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestLoginRetriesTransient: network errors, a client timeout and a
// Retry-After given as a date are retried within one login.
func TestLoginRetriesTransient(t *testing.T) {
	ok := func(w http.ResponseWriter) { io.WriteString(w, `{"access_token":"abc"}`) }
	tests := []struct {
		name         string
		first        func(w http.ResponseWriter, r *http.Request) error // the first attempt
		clientWait   time.Duration                                      // http.Client.Timeout; 0: none
		wantAttempts int
		wantSecond   time.Duration // when the second attempt came; 0: any time
	}{
		{"connection reset", func(http.ResponseWriter, *http.Request) error { return errors.New("connection reset by peer") }, 0, 2, 0},
		{"client timeout", func(w http.ResponseWriter, r *http.Request) error {
			<-r.Context().Done()
			return r.Context().Err()
		}, 5 * time.Second, 2, 0},
		{"Retry-After as a date", func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Retry-After", time.Now().Add(4*time.Second).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusServiceUnavailable)
			return nil
		}, 0, 2, 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				var attempts []time.Duration
				handler := recitaltest.InMemoryTransport(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ok(w) }))
				client := &http.Client{Timeout: tt.clientWait, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					attempts = append(attempts, time.Since(start))
					if len(attempts) > 1 {
						return handler.RoundTrip(r)
					}
					rec := httptest.NewRecorder()
					if err := tt.first(rec, r); err != nil {
						return nil, err
					}
					resp := rec.Result()
					resp.Request = r
					return resp, nil
				})}
				tok, err := testConfig().Token(context.WithValue(context.Background(), oauth2.HTTPClient, client))
				if err != nil || tok.AccessToken != "abc" {
					t.Fatalf("Token = %v, %v; want abc", tok, err)
				}
				if len(attempts) != tt.wantAttempts {
					t.Errorf("%d attempts, want %d", len(attempts), tt.wantAttempts)
				}
				if tt.wantSecond != 0 && attempts[1] != tt.wantSecond {
					t.Errorf("second attempt at %v, want %v", attempts[1], tt.wantSecond)
				}
			})
		})
	}
}

// TestHostileStatusLine: the reason phrase is the server's free text; the
// message and RetrieveError use the status code's own text instead.
func TestHostileStatusLine(t *testing.T) {
	const password = "hunter2-password"
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{
			Status:     "401 bad password " + password + " \x1b[31m" + strings.Repeat("A", 5000),
			StatusCode: 401, Body: io.NopCloser(strings.NewReader(`{"detail":"no"}`)), Request: r,
		}, nil
	})}
	cfg := testConfig()
	cfg.Password = password
	_, err := cfg.Token(context.WithValue(context.Background(), oauth2.HTTPClient, client))
	if want := "recitaloauth: login refused: 401 Unauthorized: no"; err == nil || err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want an *oauth2.RetrieveError", err)
	}
	if diff := cmp.Diff("401 Unauthorized", re.Response.Status); diff != "" {
		t.Errorf("RetrieveError.Response.Status mismatch (-want +got):\n%s", diff)
	}
	if msg := re.Error(); strings.Contains(msg, password) || len(msg) > 200 {
		t.Errorf("RetrieveError.Error() = %q, want it short and without the password", msg)
	}
}

// TestRetryAfterBounds: a login waits out a Retry-After of up to 5 s and
// tries again; a longer one, however it is written, is not waited for at
// all, even with a login timeout that would allow it, and one too large
// for a time.Duration is long, not a wrapped-around negative.
func TestRetryAfterBounds(t *testing.T) {
	for _, tt := range []struct {
		name      string
		value     func(now time.Time) string
		wantTimes []time.Duration // of the attempts, from the first
	}{
		{"5 s", func(time.Time) string { return "5" }, []time.Duration{0, 5 * time.Second, 10 * time.Second}},
		{"6 s", func(time.Time) string { return "6" }, []time.Duration{0}},
		{"10^10 s", func(time.Time) string { return "10000000000" }, []time.Duration{0}},
		{"a date 5 s ahead", func(now time.Time) string { return now.Add(5 * time.Second).UTC().Format(http.TimeFormat) },
			[]time.Duration{0, 5 * time.Second, 10 * time.Second}},
		{"a date 6 s ahead", func(now time.Time) string { return now.Add(6 * time.Second).UTC().Format(http.TimeFormat) },
			[]time.Duration{0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				var mu sync.Mutex
				var times []time.Duration
				busy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					times = append(times, time.Since(start))
					mu.Unlock()
					w.Header().Set("Retry-After", tt.value(time.Now()))
					w.WriteHeader(http.StatusServiceUnavailable)
				})
				cfg := &Config{Username: "ana", Password: "s3cret", AuthURL: "https://auth.example/login/",
					LoginTimeout: 10 * time.Minute}
				if _, err := cfg.Token(withHandler(busy)); err == nil {
					t.Fatal("a login answered only 503 succeeded")
				}
				if diff := cmp.Diff(tt.wantTimes, times); diff != "" {
					t.Errorf("attempt times mismatch (-want +got):\n%s", diff)
				}
				if got, want := time.Since(start), tt.wantTimes[len(tt.wantTimes)-1]; got != want {
					t.Errorf("the login ended after %v, want %v: at its last attempt", got, want)
				}
			})
		})
	}
}

// TestStatusClassEdges: 200 to 299 is a login, 300 to 399 a redirect that
// is not followed, 400 and up a refusal, whatever the body says.
func TestStatusClassEdges(t *testing.T) {
	for _, tt := range []struct {
		status  int
		wantErr string // "": a token
	}{
		{200, ""},
		{299, ""},
		{300, "recitaloauth: login answered 300 Multiple Choices: redirects are not followed"},
		{399, "recitaloauth: login answered 399: redirects are not followed"},
		{400, "recitaloauth: login refused: 400 Bad Request"},
	} {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			answer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				io.WriteString(w, `{"access_token":"tok","token_type":"bearer","expires_in":3600}`)
			})
			cfg := &Config{Username: "ana", Password: "s3cret", AuthURL: "https://auth.example/login/"}
			tok, err := cfg.Token(withHandler(answer))
			switch {
			case tt.wantErr == "" && (err != nil || tok.AccessToken != "tok"):
				t.Errorf("got %v, %v; want the token", tok, err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Errorf("got %v, %v; want the error %q", tok, err, tt.wantErr)
			}
		})
	}
}

// TestLoginCutShortNotRetried: a login POST cut short because the login's
// context ended (its timeout, or the caller's cancel) is not retried, and
// no record says it is: one POST, and no "retrying" record.
func TestLoginCutShortNotRetried(t *testing.T) {
	for _, tt := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"the login timeout", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
		{"the caller's cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(time.Second, cancel)
			return ctx, cancel
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				login := newLoginServer()
				login.delay = time.Hour // answers only once its request is cut short
				logs := &logRecorder{}
				cfg := testConfig()
				cfg.LoginTimeout, cfg.Logger = 5*time.Second, logs.logger()
				ctx, cancel := tt.ctx()
				defer cancel()
				hc := &http.Client{Transport: recitaltest.InMemoryTransport(login)}
				if _, err := cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, hc)); err == nil {
					t.Fatal("Token succeeded, want an error")
				}
				if diff := cmp.Diff([2]any{1, false}, [2]any{login.count(), strings.Contains(logs.text(), "retrying")}); diff != "" {
					t.Errorf("POSTs and a retrying record mismatch (-want +got):\n%s\n%s", diff, logs.text())
				}
			})
		})
	}
}

// TestSleepToDeadline: sleep gives up at once on a pause that would end
// after its context's deadline, and waits out one that ends just at it
// (which the context may or may not outlive).
func TestSleepToDeadline(t *testing.T) {
	for _, tt := range []struct {
		name  string
		pause time.Duration
		want  time.Duration // how long sleep takes
	}{
		{"ends before the deadline", time.Second - 1, time.Second - 1},
		{"ends at the deadline", time.Second, time.Second},
		{"ends after it", time.Second + 1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				start := time.Now()
				sleep(ctx, tt.pause)
				if got := time.Since(start); got != tt.want {
					t.Errorf("sleep took %v, want %v", got, tt.want)
				}
			})
		})
	}
}
