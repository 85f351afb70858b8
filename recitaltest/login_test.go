package recitaltest_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
)

// bubbleStart is where a synctest bubble's clock starts, which makes the
// iat and exp claims of tokens issued in a bubble exact.
var bubbleStart = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

func TestLoginSuccess(t *testing.T) {
	tests := []struct {
		name          string
		setup         func(*recitaltest.Server)
		wantExpiresIn any // float64 as decoded from JSON, or nil if absent
		wantJWT       bool
		wantExp       int64 // seconds after iat; JWT only
	}{
		{
			name:          "defaults",
			setup:         func(*recitaltest.Server) {},
			wantExpiresIn: 3600.0,
			wantJWT:       true,
			wantExp:       3600,
		},
		{
			name:          "lifetime rounded up to whole seconds",
			setup:         func(s *recitaltest.Server) { s.SetTokenLifetime(90*time.Second + time.Millisecond) },
			wantExpiresIn: 91.0,
			wantJWT:       true,
			wantExp:       91,
		},
		{
			name:    "no expires_in",
			setup:   func(s *recitaltest.Server) { s.SetExpiresIn(false) },
			wantJWT: true,
			wantExp: 3600,
		},
		{
			name:          "opaque token",
			setup:         func(s *recitaltest.Server) { s.SetJWT(false) },
			wantExpiresIn: 3600.0,
		},
		{
			name: "opaque token without expires_in",
			setup: func(s *recitaltest.Server) {
				s.SetJWT(false)
				s.SetExpiresIn(false)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := recitaltest.NewServer()
			defer s.Close()
			s.AddUser("alice", "s3cret")
			tt.setup(s)

			synctest.Test(t, func(t *testing.T) {
				c := &http.Client{Transport: recitaltest.InMemoryTransport(s)}
				r := do(t, c, loginRequest(t, s.AuthURL(), "alice", "s3cret"))

				body, _ := r.Body.(map[string]any)
				tok, _ := body["access_token"].(string)
				want := map[string]any{"access_token": tok, "token_type": "bearer"}
				if tt.wantExpiresIn != nil {
					want["expires_in"] = tt.wantExpiresIn
				}
				if diff := cmp.Diff(reply{Status: 200, ContentType: "application/json", Body: want}, r); diff != "" {
					t.Fatalf("login answer mismatch (-want +got):\n%s", diff)
				}

				if tt.wantJWT {
					checkJWT(t, tok, "alice", bubbleStart, bubbleStart+tt.wantExp)
					return
				}
				raw, err := base64.RawURLEncoding.DecodeString(tok)
				if err != nil || len(raw) != 32 || strings.Contains(tok, ".") {
					t.Errorf("opaque token %q: want 32 base64url bytes without dots (decode error %v)", tok, err)
				}
			})
		})
	}
}

// checkJWT checks every part of a JWT-shaped token.
func checkJWT(t *testing.T, tok, wantSub string, wantIat, wantExp int64) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts, want 3", tok, len(parts))
	}
	var dec [3][]byte
	for i, p := range parts {
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			t.Fatalf("token part %d %q is not unpadded base64url: %v", i, p, err)
		}
		dec[i] = b
	}
	if diff := cmp.Diff(`{"alg":"none","typ":"JWT"}`, string(dec[0])); diff != "" {
		t.Errorf("JWT header mismatch (-want +got):\n%s", diff)
	}

	type claims struct {
		Sub string `json:"sub"`
		Iat int64  `json:"iat"`
		Exp int64  `json:"exp"`
		Jti string `json:"jti"`
	}
	var got claims
	if err := json.Unmarshal(dec[1], &got); err != nil {
		t.Fatalf("JWT payload %s: %v", dec[1], err)
	}
	if _, err := hex.DecodeString(got.Jti); err != nil || got.Jti == "" {
		t.Errorf("jti %q is not random hex", got.Jti)
	}
	want := claims{Sub: wantSub, Iat: wantIat, Exp: wantExp, Jti: got.Jti}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JWT claims mismatch (-want +got):\n%s", diff)
	}
	if len(dec[2]) != 16 {
		t.Errorf("JWT signature is %d bytes, want 16", len(dec[2]))
	}
}

func TestLoginIssuesUniqueTokens(t *testing.T) {
	s := recitaltest.NewServer()
	defer s.Close()
	s.AddUser("alice", "s3cret")

	// In a bubble both logins happen in the same second, so only the
	// random parts can tell the tokens apart.
	synctest.Test(t, func(t *testing.T) {
		c := &http.Client{Transport: recitaltest.InMemoryTransport(s)}
		a := accessToken(t, c, s.AuthURL(), "alice", "s3cret")
		b := accessToken(t, c, s.AuthURL(), "alice", "s3cret")
		if a == b {
			t.Errorf("two logins issued the same token %q", a)
		}
	})
}

func TestLoginErrors(t *testing.T) {
	s := recitaltest.NewServer()
	defer s.Close()
	s.AddUser("alice", "s3cret")

	const form = "application/x-www-form-urlencoded"
	badCredentials := reply{
		Status:      http.StatusUnauthorized,
		ContentType: "application/json",
		WWWAuth:     "Bearer",
		Body:        mustJSON(`{"detail":"Incorrect username or password"}`),
	}
	missing := func(fields ...string) reply {
		var detail []any
		for _, f := range fields {
			detail = append(detail, map[string]any{
				"type": "missing", "loc": []any{"body", f}, "msg": "Field required", "input": nil,
			})
		}
		return reply{
			Status:      http.StatusUnprocessableEntity,
			ContentType: "application/json",
			Body:        map[string]any{"detail": detail},
		}
	}

	tests := []struct {
		name        string
		method      string
		url         string
		contentType string
		body        string
		want        reply
	}{
		{"wrong password", "POST", s.AuthURL(), form, "username=alice&password=wrong", badCredentials},
		{"password differs in case", "POST", s.AuthURL(), form, "username=alice&password=S3CRET", badCredentials},
		{"unknown user", "POST", s.AuthURL(), form, "username=bob&password=s3cret", badCredentials},
		{"missing username", "POST", s.AuthURL(), form, "password=s3cret", missing("username")},
		{"missing password", "POST", s.AuthURL(), form, "username=alice", missing("password")},
		{"empty fields", "POST", s.AuthURL(), form, "username=&password=", missing("username", "password")},
		{"empty body", "POST", s.AuthURL(), form, "", missing("username", "password")},
		{"JSON body", "POST", s.AuthURL(), "application/json", `{"username":"alice","password":"s3cret"}`, missing("username", "password")},
		{"no content type", "POST", s.AuthURL(), "", "username=alice&password=s3cret", missing("username", "password")},
		{"credentials in query only", "POST", s.URL() + "/auth/api/v1/login/?username=alice&password=s3cret", form, "", missing("username", "password")},
		{"oversized body", "POST", s.AuthURL(), form, "username=alice&password=" + strings.Repeat("x", 64<<10), reply{
			Status:      http.StatusBadRequest,
			ContentType: "application/json",
			Body:        mustJSON(`{"detail":"There was an error parsing the body"}`),
		}},
		{"GET", "GET", s.AuthURL(), "", "", reply{
			Status:      http.StatusMethodNotAllowed,
			ContentType: "application/json",
			Allow:       "POST",
			Body:        mustJSON(`{"detail":"Method Not Allowed"}`),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, s.Client(), newRequest(t, tt.method, tt.url, tt.contentType, tt.body))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("answer mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFailLogins(t *testing.T) {
	type attempt struct {
		method   string
		password string
	}
	good := attempt{"POST", "s3cret"}
	ok := reply{Status: 200, ContentType: "application/json"} // body not compared
	tests := []struct {
		name     string
		setup    func(*recitaltest.Server)
		attempts []attempt
		want     []reply
	}{
		{
			name: "queued in call order",
			setup: func(s *recitaltest.Server) {
				s.FailLogins(1, 503, `{"detail":"down"}`)
				s.FailLogins(2, 500, "<html>oops</html>")
			},
			attempts: []attempt{good, good, good, good},
			want: []reply{
				{Status: 503, ContentType: "application/json", Body: mustJSON(`{"detail":"down"}`)},
				{Status: 500, ContentType: "text/html; charset=utf-8", Body: "<html>oops</html>"},
				{Status: 500, ContentType: "text/html; charset=utf-8", Body: "<html>oops</html>"},
				ok,
			},
		},
		{
			name: "JSON array body",
			setup: func(s *recitaltest.Server) {
				s.FailLogins(1, 502, `["bad gateway"]`)
			},
			attempts: []attempt{good, good},
			want: []reply{
				{Status: 502, ContentType: "application/json", Body: []any{"bad gateway"}},
				ok,
			},
		},
		{
			name: "zero clears the queue",
			setup: func(s *recitaltest.Server) {
				s.FailLogins(3, 503, "busy")
				s.FailLogins(0, 0, "")
			},
			attempts: []attempt{good},
			want:     []reply{ok},
		},
		{
			name: "before the credential check",
			setup: func(s *recitaltest.Server) {
				s.FailLogins(1, 200, `{"unexpected":true}`)
			},
			attempts: []attempt{{"POST", "wrong"}, {"POST", "wrong"}},
			want: []reply{
				{Status: 200, ContentType: "application/json", Body: mustJSON(`{"unexpected":true}`)},
				{Status: 401, ContentType: "application/json", WWWAuth: "Bearer", Body: mustJSON(`{"detail":"Incorrect username or password"}`)},
			},
		},
		{
			name: "before the method check",
			setup: func(s *recitaltest.Server) {
				s.FailLogins(1, 502, "Bad Gateway")
			},
			attempts: []attempt{{"GET", ""}, {"GET", ""}},
			want: []reply{
				{Status: 502, ContentType: "text/html; charset=utf-8", Body: "Bad Gateway"},
				{Status: 405, ContentType: "application/json", Allow: "POST", Body: mustJSON(`{"detail":"Method Not Allowed"}`)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := recitaltest.NewServer()
			defer s.Close()
			s.AddUser("alice", "s3cret")
			tt.setup(s)

			var got []reply
			for _, a := range tt.attempts {
				req := loginRequest(t, s.AuthURL(), "alice", a.password)
				req.Method = a.method
				r := do(t, s.Client(), req)
				if r.Status == 200 && r.ContentType == "application/json" {
					if m, _ := r.Body.(map[string]any); m["access_token"] != nil {
						r.Body = nil
					}
				}
				got = append(got, r)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("answers mismatch (-want +got):\n%s", diff)
			}
			if got, want := s.Logins(), len(tt.attempts); got != want {
				t.Errorf("Logins() = %d, want %d", got, want)
			}
		})
	}
}

func TestLoginDelay(t *testing.T) {
	tests := []struct {
		name        string
		delay       time.Duration
		timeout     time.Duration // 0: none
		wantElapsed time.Duration
		wantAnswer  bool
	}{
		{"no delay", 0, 0, 0, true},
		{"honoured", 3 * time.Second, 0, 3 * time.Second, true},
		{"shorter than timeout", 3 * time.Second, 5 * time.Second, 3 * time.Second, true},
		{"cut short by the request context", time.Hour, time.Second, time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := recitaltest.NewServer()
			defer s.Close()
			s.AddUser("alice", "s3cret")
			s.SetLoginDelay(tt.delay)

			synctest.Test(t, func(t *testing.T) {
				req := loginRequest(t, s.AuthURL(), "alice", "s3cret")
				if tt.timeout > 0 {
					ctx, cancel := context.WithTimeout(req.Context(), tt.timeout)
					defer cancel()
					req = req.WithContext(ctx)
				}
				rec := httptest.NewRecorder()
				start := time.Now()
				s.ServeHTTP(rec, req)

				if got := time.Since(start); got != tt.wantElapsed {
					t.Errorf("login took %v, want %v", got, tt.wantElapsed)
				}
				answered := rec.Body.Len() > 0 || len(rec.Header()) > 0
				if answered != tt.wantAnswer {
					t.Errorf("answered = %v, want %v (status %d, body %q)", answered, tt.wantAnswer, rec.Code, rec.Body)
				}
				if tt.wantAnswer && rec.Code != http.StatusOK {
					t.Errorf("status = %d, want 200", rec.Code)
				}
				if got := s.Logins(); got != 1 {
					t.Errorf("Logins() = %d, want 1", got)
				}
			})
		})
	}
}

// TestLoginDelayNetwork checks that over a real connection a client that
// gives up frees the handler: Close waits for running handlers, so it
// would block for the whole delay otherwise.
func TestLoginDelayNetwork(t *testing.T) {
	s := recitaltest.NewServer()
	s.AddUser("alice", "s3cret")
	s.SetLoginDelay(time.Minute)

	c := s.Client()
	c.Timeout = 100 * time.Millisecond
	_, err := c.Do(loginRequest(t, s.AuthURL(), "alice", "s3cret"))
	var netErr interface{ Timeout() bool }
	if !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Errorf("delayed login: got error %v, want a timeout", err)
	}

	done := make(chan struct{})
	go func() {
		s.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close still waiting for the delayed login handler after 10s")
	}
	if got := s.Logins(); got != 1 {
		t.Errorf("Logins() = %d, want 1", got)
	}
}

func TestPanics(t *testing.T) {
	tests := []struct {
		name string
		call func(*recitaltest.Server)
	}{
		{"zero lifetime", func(s *recitaltest.Server) { s.SetTokenLifetime(0) }},
		{"negative lifetime", func(s *recitaltest.Server) { s.SetTokenLifetime(-time.Second) }},
		{"status below 200", func(s *recitaltest.Server) { s.FailLogins(1, 100, "") }},
		{"status above 599", func(s *recitaltest.Server) { s.FailLogins(1, 600, "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := recitaltest.NewServer()
			defer s.Close()
			defer func() {
				r := recover()
				msg, _ := r.(string)
				if !strings.HasPrefix(msg, "recitaltest: ") {
					t.Errorf("recovered %#v, want a panic message starting with %q", r, "recitaltest: ")
				}
			}()
			tt.call(s)
		})
	}
}
