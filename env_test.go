package recitaloauth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/seed9ffb1f9c/recitaloauth"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
	"golang.org/x/oauth2"
)

// envVars are the variables DefaultTokenSource reads.
var envVars = []string{"RECITAL_API_TOKEN", "RECITAL_USERNAME", "RECITAL_PASSWORD", "RECITAL_AUTH_URL", "RECITAL_LOG"}

// setEnv unsets every variable DefaultTokenSource reads, whatever the
// developer's shell has, then sets vars; t.Setenv restores them all.
func setEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	for _, name := range envVars {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	for name, value := range vars {
		t.Setenv(name, value)
	}
}

// envOutcome is what a test sees of a source from DefaultTokenSource.
type envOutcome struct {
	AccessToken  string // a service token's; a login's is random and left out
	TokenType    string
	Expires      bool
	Logins       int // after two Token calls
	ConfigStatus int // GET /config/ with the token
}

func TestDefaultTokenSource(t *testing.T) {
	const (
		password = "hunter2-secret"
		service  = "service-token-0123"
	)
	s := recitaltest.NewServer()
	defer s.Close()
	s.AddUser("alice", password)
	s.AddServiceToken(service)

	login := envOutcome{TokenType: "Bearer", Expires: true, Logins: 1, ConfigStatus: http.StatusOK}
	serviceToken := envOutcome{AccessToken: service, TokenType: "Bearer", ConfigStatus: http.StatusOK}
	tests := []struct {
		name string
		env  map[string]string
		want envOutcome
	}{
		{
			name: "username and password",
			env:  map[string]string{"RECITAL_USERNAME": "alice", "RECITAL_PASSWORD": password, "RECITAL_AUTH_URL": s.AuthURL()},
			want: login,
		},
		{
			name: "service token",
			env:  map[string]string{"RECITAL_API_TOKEN": service},
			want: serviceToken,
		},
		{
			name: "service token trimmed",
			env:  map[string]string{"RECITAL_API_TOKEN": " " + service + "\n"},
			want: serviceToken,
		},
		{
			name: "service token wins over username and password",
			env: map[string]string{
				"RECITAL_API_TOKEN": service,
				"RECITAL_USERNAME":  "alice", "RECITAL_PASSWORD": password, "RECITAL_AUTH_URL": s.AuthURL(),
			},
			want: serviceToken,
		},
		{
			name: "empty service token counts as unset",
			env: map[string]string{
				"RECITAL_API_TOKEN": "",
				"RECITAL_USERNAME":  "alice", "RECITAL_PASSWORD": password, "RECITAL_AUTH_URL": s.AuthURL(),
			},
			want: login,
		},
		{
			name: "blank service token counts as unset",
			env: map[string]string{
				"RECITAL_API_TOKEN": " \n",
				"RECITAL_USERNAME":  "alice", "RECITAL_PASSWORD": password, "RECITAL_AUTH_URL": s.AuthURL(),
			},
			want: login,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, tt.env)
			before := s.Logins()

			ctx := context.WithValue(t.Context(), oauth2.HTTPClient, s.Client())
			src, err := recitaloauth.DefaultTokenSource(ctx)
			if err != nil {
				t.Fatalf("DefaultTokenSource: %v", err)
			}
			tok, err := src.Token()
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			if _, err := src.Token(); err != nil {
				t.Fatalf("second Token: %v", err)
			}
			got := envOutcome{
				AccessToken:  tok.AccessToken,
				TokenType:    tok.TokenType,
				Expires:      !tok.Expiry.IsZero(),
				Logins:       s.Logins() - before,
				ConfigStatus: configStatus(t, s, tok.AccessToken),
			}
			if tt.want.AccessToken == "" {
				got.AccessToken = ""
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("outcome mismatch (-want +got):\n%s", diff)
			}
			if got.Expires && time.Until(tok.Expiry) < 50*time.Minute {
				t.Errorf("token expires in %v, want about an hour", time.Until(tok.Expiry))
			}
		})
	}
}

// configStatus calls GET /config/ with token and returns the status.
func configStatus(t *testing.T, s *recitaltest.Server, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.APIURL()+"/config/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestDefaultTokenSourceErrors(t *testing.T) {
	const (
		password = "hunter2-secret"
		token    = "bad token"
	)
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{
			name: "nothing set",
			want: "recitaloauth: no credentials in the environment: set RECITAL_API_TOKEN, or RECITAL_USERNAME and RECITAL_PASSWORD",
		},
		{
			name: "all empty",
			env:  map[string]string{"RECITAL_API_TOKEN": "", "RECITAL_USERNAME": "", "RECITAL_PASSWORD": "", "RECITAL_AUTH_URL": ""},
			want: "recitaloauth: no credentials in the environment: set RECITAL_API_TOKEN, or RECITAL_USERNAME and RECITAL_PASSWORD",
		},
		{
			name: "blank service token",
			env:  map[string]string{"RECITAL_API_TOKEN": " \t\n"},
			want: "recitaloauth: no credentials in the environment: set RECITAL_API_TOKEN, or RECITAL_USERNAME and RECITAL_PASSWORD",
		},
		{
			name: "only the auth URL",
			env:  map[string]string{"RECITAL_AUTH_URL": "https://auth.example/login/"},
			want: "recitaloauth: no credentials in the environment: set RECITAL_API_TOKEN, or RECITAL_USERNAME and RECITAL_PASSWORD",
		},
		{
			name: "username without password",
			env:  map[string]string{"RECITAL_USERNAME": "alice"},
			want: "recitaloauth: RECITAL_USERNAME is set but RECITAL_PASSWORD is not",
		},
		{
			name: "password without username",
			env:  map[string]string{"RECITAL_PASSWORD": password},
			want: "recitaloauth: RECITAL_PASSWORD is set but RECITAL_USERNAME is not",
		},
		{
			name: "malformed service token",
			env:  map[string]string{"RECITAL_API_TOKEN": token, "RECITAL_USERNAME": "alice", "RECITAL_PASSWORD": password},
			want: "recitaloauth: RECITAL_API_TOKEN has characters a bearer token cannot have",
		},
		{
			name: "unknown log level",
			env:  map[string]string{"RECITAL_USERNAME": "alice", "RECITAL_PASSWORD": password, "RECITAL_LOG": "loud"},
			want: "recitaloauth: RECITAL_LOG must be debug, info or warn",
		},
		{
			name: "auth URL not absolute",
			env:  map[string]string{"RECITAL_USERNAME": "alice", "RECITAL_PASSWORD": password, "RECITAL_AUTH_URL": "auth/api/v1/login/"},
			want: "recitaloauth: RECITAL_AUTH_URL is not an absolute URL",
		},
		{
			name: "auth URL in clear text",
			env: map[string]string{
				"RECITAL_USERNAME": "alice", "RECITAL_PASSWORD": password,
				"RECITAL_AUTH_URL": "http://alice:" + password + "@auth.example/login/",
			},
			want: "recitaloauth: RECITAL_AUTH_URL: refusing to send credentials in clear text to http://auth.example: use https",
		},
		{
			name: "auth URL of another scheme",
			env:  map[string]string{"RECITAL_USERNAME": "alice", "RECITAL_PASSWORD": password, "RECITAL_AUTH_URL": "ftp://auth.example/login/"},
			want: `recitaloauth: RECITAL_AUTH_URL: unsupported URL scheme "ftp": use https`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, tt.env)
			src, err := recitaloauth.DefaultTokenSource(t.Context())
			if err == nil {
				t.Fatalf("DefaultTokenSource returned %v and no error, want %q", src, tt.want)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
			if src != nil {
				t.Errorf("DefaultTokenSource returned a source with its error: %v", src)
			}
			for _, secret := range []string{password, token} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q holds the secret %q", err, secret)
				}
			}
		})
	}
}

func TestDefaultTokenSourceWrongPassword(t *testing.T) {
	const password = "wrong-password-123"
	s := recitaltest.NewServer()
	defer s.Close()
	s.AddUser("alice", "right-password")
	setEnv(t, map[string]string{"RECITAL_USERNAME": "alice", "RECITAL_PASSWORD": password, "RECITAL_AUTH_URL": s.AuthURL()})

	src, err := recitaloauth.DefaultTokenSource(t.Context())
	if err != nil {
		t.Fatalf("DefaultTokenSource: %v", err)
	}
	_, err = src.Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil || re.Response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("Token error = %v, want an *oauth2.RetrieveError with status 401", err)
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("error %q holds the password", err)
	}
	if got := s.Logins(); got != 1 {
		t.Errorf("%d logins, want 1", got)
	}
}

// recordURL answers every request 400, a refusal the login does not retry,
// after noting its URL, so that a test can see where a login would go
// without sending anything.
type recordURL struct{ urls []string }

func (r *recordURL) RoundTrip(req *http.Request) (*http.Response, error) {
	r.urls = append(r.urls, req.URL.String())
	if req.Body != nil {
		req.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusBadRequest,
		Status:     "400 Bad Request",
		Header:     http.Header{},
		Body:       http.NoBody,
		Request:    req,
	}, nil
}

func TestDefaultTokenSourceDefaultAuthURL(t *testing.T) {
	setEnv(t, map[string]string{"RECITAL_USERNAME": "alice", "RECITAL_PASSWORD": "hunter2-secret"})
	rec := &recordURL{}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, &http.Client{Transport: rec})
	src, err := recitaloauth.DefaultTokenSource(ctx)
	if err != nil {
		t.Fatalf("DefaultTokenSource: %v", err)
	}
	if _, err := src.Token(); err == nil {
		t.Fatal("Token succeeded, want the 400")
	}
	if len(rec.urls) == 0 {
		t.Fatal("no login was attempted")
	}
	for _, got := range rec.urls {
		if diff := cmp.Diff(recitaloauth.DefaultAuthURL, got); diff != "" {
			t.Errorf("login URL mismatch (-want +got):\n%s", diff)
		}
	}
}

// TestDefaultTokenSourceLog: RECITAL_LOG=info writes the source's records
// as text on standard error, without the password or the token; unset,
// nothing.
func TestDefaultTokenSourceLog(t *testing.T) {
	const password = "hunter2-secret"
	s := recitaltest.NewServer()
	defer s.Close()
	s.AddUser("alice", password)
	for _, level := range []string{"info", ""} {
		t.Run("RECITAL_LOG="+level, func(t *testing.T) {
			setEnv(t, map[string]string{"RECITAL_USERNAME": "alice", "RECITAL_PASSWORD": password,
				"RECITAL_AUTH_URL": s.AuthURL(), "RECITAL_LOG": level})
			stderr := os.Stderr
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			os.Stderr = w
			src, err := recitaloauth.DefaultTokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, s.Client()))
			os.Stderr = stderr
			if err != nil {
				t.Fatal(err)
			}
			tok, err := src.Token()
			w.Close()
			if err != nil {
				t.Fatal(err)
			}
			written, _ := io.ReadAll(r)
			logged := strings.Contains(string(written), `level=INFO msg="recitaloauth: logged in" event=logged_in reason="first use"`)
			if logged != (level != "") {
				t.Errorf("stderr %q: want a login record only with RECITAL_LOG set", written)
			}
			for _, secret := range []string{password, tok.AccessToken} {
				if strings.Contains(string(written), secret) {
					t.Errorf("stderr %q holds a secret", written)
				}
			}
		})
	}
}
