package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	const service = "service-token-0123456789"
	tests := []struct {
		name  string
		setup func(*fixture) // before the -check run
		want  func(*fixture) result
		// wantLogins counts those of setup too.
		wantLogins int
		// wantCached: a token is stored that spares the next run a login.
		wantCached bool
	}{
		{
			name:       "password",
			want:       ok,
			wantLogins: 1,
			wantCached: true,
		},
		{
			name:       "cached token",
			setup:      func(f *fixture) { f.token() },
			want:       ok,
			wantLogins: 1,
			wantCached: true,
		},
		{
			name: "cached token revoked",
			setup: func(f *fixture) {
				f.server.Revoke(f.token())
			},
			want:       ok, // one new login replaces it
			wantLogins: 2,
			wantCached: true,
		},
		{
			name: "service token",
			setup: func(f *fixture) {
				f.server.AddServiceToken(service)
				f.env["RECITAL_API_TOKEN"] = service
			},
			want: ok,
		},
		{
			name: "service token revoked",
			setup: func(f *fixture) {
				f.server.AddServiceToken(service)
				f.server.Revoke(service)
				f.env["RECITAL_API_TOKEN"] = service
			},
			want: unauthorized,
		},
		{
			name: "API refuses every token",
			setup: func(f *fixture) {
				// Stored, then refused: dropped, and one login replaces it;
				// the new one, refused at once, is kept by the library's
				// rule (a new login would not help).
				f.token()
				other := recitaltest.NewServer()
				f.t.Cleanup(other.Close)
				f.env["RECITAL_API_URL"] = other.APIURL()
			},
			want:       unauthorized,
			wantLogins: 2,
		},
		{
			name:       "API answers 500",
			setup:      func(f *fixture) { f.env["RECITAL_API_URL"] = answering(f, http.StatusInternalServerError) },
			want:       status("500 Internal Server Error"),
			wantLogins: 1,
		},
		{
			name:       "API answers 204",
			setup:      func(f *fixture) { f.env["RECITAL_API_URL"] = answering(f, http.StatusNoContent) },
			want:       status("204 No Content"),
			wantLogins: 1,
		},
		{
			name: "wrong password",
			setup: func(f *fixture) {
				f.env["RECITAL_PASSWORD"] = "Tr0ub4dor&3"
			},
			want: func(*fixture) result {
				return result{Code: 1, Stderr: "recitaltoken: recitaloauth: login refused: 401 Unauthorized: Incorrect username or password\n"}
			},
			wantLogins: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			if diff := cmp.Diff(tt.want(f), f.run("", "-check")); diff != "" {
				t.Errorf("recitaltoken -check (-want +got):\n%s", diff)
			}
			f.wantLogins(tt.wantLogins)

			if !tt.wantCached {
				return
			}
			token := f.token()
			f.wantLogins(tt.wantLogins)
			if status, _ := f.configUser(token); status != 200 {
				t.Errorf("GET /config/ with the cached token: %d, want 200", status)
			}
		})
	}
}

// ok and unauthorized are what -check says, on stderr only.
func ok(f *fixture) result {
	return result{Stderr: "recitaltoken: GET " + f.env["RECITAL_API_URL"] + "/config/: 200 OK\n"}
}

// answering starts an API that answers every request with code, and
// returns its base URL.
func answering(f *fixture, code int) string {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }))
	f.t.Cleanup(api.Close)
	return api.URL + "/extract/api/v1"
}

// status is what -check says of an answer other than 200: exit 1.
func status(text string) func(*fixture) result {
	return func(f *fixture) result {
		return result{Code: 1, Stderr: "recitaltoken: GET " + f.env["RECITAL_API_URL"] + "/config/: " + text + "\n"}
	}
}

func unauthorized(f *fixture) result {
	return result{Code: 1, Stderr: "recitaltoken: GET " + f.env["RECITAL_API_URL"] + "/config/: 401 Unauthorized: Not authenticated\n"}
}

func TestCheckAPIDown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.env["RECITAL_API_URL"] = "http://127.0.0.1:1/extract/api/v1" // nothing listens on port 1

	r := f.run("", "-check")
	want := `recitaltoken: Get "` + f.env["RECITAL_API_URL"] + `/config/": `
	if r.Code != 1 || r.Stdout != "" || !strings.HasPrefix(r.Stderr, want) || strings.Count(r.Stderr, "\n") != 1 {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1, nothing, and one line starting %q", r.Code, r.Stdout, r.Stderr, want)
	}
	// The login worked: its token is kept.
	f.token()
	f.wantLogins(1)
}

// TestCheckEchoedToken: a server that echoes the token in its detail does
// not get it printed.
func TestCheckEchoedToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var sent string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"detail":"token ` + sent + ` is not allowed here"}`))
	}))
	t.Cleanup(api.Close)
	f.env["RECITAL_API_URL"] = api.URL

	r := f.run("", "-check")
	want := result{Code: 1, Stderr: "recitaltoken: GET " + api.URL + "/config/: 403 Forbidden: token [redacted] is not allowed here\n"}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("recitaltoken -check (-want +got):\n%s", diff)
	}
	if sent == "" || strings.Contains(r.Stderr, sent) {
		t.Errorf("stderr %q holds the token sent (%d bytes)", r.Stderr, len(sent))
	}
}
