package recitaloauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
)

// TestLoginNeverFollowsRedirects: a redirect ends the login with an error
// naming the status, and the password goes nowhere else.
func TestLoginNeverFollowsRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		io.WriteString(w, `{"access_token":"stolen"}`)
	}))
	defer other.Close()
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.URL+"/login/", status)
			}))
			defer srv.Close()
			cfg := &Config{Username: "u", Password: "p", AuthURL: srv.URL}
			_, err := cfg.Token(context.Background())
			want := fmt.Sprintf("recitaloauth: login answered %d %s: redirects are not followed", status, http.StatusText(status))
			if err == nil || err.Error() != want {
				t.Errorf("err = %v, want %q", err, want)
			}
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.Response.StatusCode != status {
				t.Errorf("errors.As found no *oauth2.RetrieveError with status %d in %v", status, err)
			}
		})
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests, want 0", n)
	}
}

// TestAnswerSizeBounded: an endless answer ends in an error once 1 MiB is
// read; a long error answer leaves a short message and a 1 KiB Body.
func TestAnswerSizeBounded(t *testing.T) {
	t.Run("endless", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			chunk := bytes.Repeat([]byte("x"), 64<<10)
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}))
		defer srv.Close()
		cfg := &Config{Username: "u", Password: "p", AuthURL: srv.URL}
		_, err := cfg.Token(context.Background())
		if want := "recitaloauth: login answer is larger than 1048576 bytes"; err == nil || err.Error() != want {
			t.Errorf("err = %v, want %q", err, want)
		}
	})
	t.Run("long error", func(t *testing.T) {
		detail := strings.Repeat("very long detail ", 10000)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `{"detail":%q}`, detail)
		}))
		defer srv.Close()
		cfg := &Config{Username: "u", Password: "p", AuthURL: srv.URL}
		_, err := cfg.Token(context.Background())
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) {
			t.Fatalf("err = %v, want an *oauth2.RetrieveError", err)
		}
		if n := len(err.Error()); n > 300 {
			t.Errorf("message is %d bytes long, want at most 300", n)
		}
		if !strings.HasPrefix(err.Error(), "recitaloauth: login refused: 403 Forbidden: very long detail") {
			t.Errorf("message %q does not start with the status and detail", err)
		}
		if n := len(re.Body); n != 1024 {
			t.Errorf("RetrieveError.Body is %d bytes, want 1024", n)
		}
	})
}

// TestEchoedPasswordScrubbed: FastAPI's 422 echoes the input; whatever
// spelling the server uses, the password is in neither the message nor
// RetrieveError.Body.
func TestEchoedPasswordScrubbed(t *testing.T) {
	const password = `p"a<s>s&w\ord é€ 😀`
	spellings := map[string]string{
		"raw":                 password,
		"JSON, Go escaping":   `p\"a\u003cs\u003es\u0026w\\ord é€ 😀`,
		"JSON, plain":         `p\"a<s>s&w\\ord é€ 😀`,
		"JSON, Python ASCII":  `p\"a<s>s&w\\ord \u00e9\u20ac \ud83d\ude00`,
		"form-encoded":        `p%22a%3Cs%3Es%26w%5Cord+%C3%A9%E2%82%AC+%F0%9F%98%80`,
		"JSON, odd escapes":   `\u0070\"a<s>s&w\\ord \u00E9\u20AC \uD83D\uDE00`,
		"decoded into detail": "",
	}
	for name, spelling := range spellings {
		t.Run(name, func(t *testing.T) {
			body := `{"detail":[{"type":"string_too_long","loc":["body","password"],"msg":"String too long","input":"` + spelling + `"}]}`
			if spelling == "" {
				// The detail itself decodes to the password.
				body = `{"detail":"bad password: p\"a<s>s&w\\ord \u00e9\u20ac \ud83d\ude00"}`
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusUnprocessableEntity)
				io.WriteString(w, body)
			}))
			defer srv.Close()
			cfg := &Config{Username: "u", Password: password, AuthURL: srv.URL}
			_, err := cfg.Token(context.Background())
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want an *oauth2.RetrieveError", err)
			}
			for _, s := range spellingsOf(password) {
				if strings.Contains(err.Error(), s) || bytes.Contains(re.Body, []byte(s)) {
					t.Errorf("the password (as %q) is in the message %q or the body %q", s, err, re.Body)
				}
			}
			if !bytes.Contains(re.Body, []byte(redactedText)) && !strings.Contains(err.Error(), redactedText) {
				t.Errorf("nothing was redacted: message %q, body %q", err, re.Body)
			}
		})
	}
}

// spellingsOf lists, independently of the code under test, the spellings
// that must not leak.
func spellingsOf(password string) []string {
	return []string{password, `p\"a\u003cs\u003es\u0026w\\ord`, `\u00e9\u20ac \ud83d\ude00`, `p%22a%3Cs%3Es%26w%5Cord`}
}

// TestSecretsNotFormatted: no fmt verb and no log/slog handler shows the
// password, the password in AuthURL's userinfo, a token, or the Store of a
// Config or a source.
func TestSecretsNotFormatted(t *testing.T) {
	const password, serviceToken = "hunter2-password", "svc-token-secret"
	login := newLoginServer()
	cfg := &Config{Username: "ana@example.com", Password: password, AuthURL: "http://ana:url-secret@127.0.0.1/login/",
		Store: dumpableStore{Secret: "store-secret"}, Logger: slog.New(slog.DiscardHandler)}
	cached := cfg.TokenSource(withHandler(login))
	if _, err := cached.Token(); err != nil { // so that it holds a token
		t.Fatal(err)
	}
	values := map[string]any{
		"Config":              *cfg,
		"*Config":             cfg,
		"Config.TokenSource":  cached,
		"ServiceTokenSource":  ServiceTokenSource(serviceToken),
		"struct holding them": struct{ C *Config }{cfg},
	}
	secrets := []string{password, serviceToken, "token-1", "store-secret", "url-secret"}
	for name, value := range values {
		var out bytes.Buffer
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d", "%t"} {
			fmt.Fprintf(&out, verb+"\n", value)
		}
		slog.New(slog.NewTextHandler(&out, nil)).Info("m", "v", value)
		slog.New(slog.NewJSONHandler(&out, nil)).Info("m", "v", value)
		for _, secret := range secrets {
			if strings.Contains(out.String(), secret) {
				t.Errorf("%s: output holds %q:\n%s", name, secret, out.String())
			}
		}
		if name != "ServiceTokenSource" && !strings.Contains(out.String(), "ana@example.com") {
			t.Errorf("%s: output does not name the user:\n%s", name, out.String())
		}
	}
}

// TestRequestErrorsHoldNoSecret: a failing request through NewClient does
// not put the token or password in its error.
func TestRequestErrorsHoldNoSecret(t *testing.T) {
	base := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return nil, errors.New("connection reset")
	})}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, base)
	cfg := &Config{Username: "u", Password: "hunter2-password", AuthURL: "https://auth.example.com/login/", LoginTimeout: time.Second}
	for name, client := range map[string]*http.Client{
		"service token": NewClient(ctx, ServiceTokenSource("svc-token-secret")),
		"password":      cfg.Client(ctx),
	} {
		_, err := client.Get("https://api.example.com/config/")
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		for _, secret := range []string{"svc-token-secret", "hunter2-password"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error %q holds a secret", name, err)
			}
		}
	}
}

// TestRefusedLoginHoldsNoPassword: nothing reachable from a refused
// login's error holds the password or the password of AuthURL's userinfo:
// not the Response's Request (its Body, GetBody, Form, PostForm, URL,
// headers). Over a real socket, so that the Request is the one net/http's
// transport hands back.
func TestRefusedLoginHoldsNoPassword(t *testing.T) {
	const password, urlPassword = "hunter2 pässword&", "url-secret"
	secrets := []string{
		password, url.QueryEscape(password), urlPassword,
		base64.StdEncoding.EncodeToString([]byte("ana:" + urlPassword)), // Basic, from userinfo
	}
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"401", http.StatusUnauthorized, `{"detail":"Incorrect username or password"}`},
		{"422 echoing the password", http.StatusUnprocessableEntity, `{"detail":[{"msg":"bad","input":"` + password + `"}]}`},
		{"302", http.StatusFound, ``},
		{"400 echoing it in plain text", http.StatusBadRequest, `bad password: ` + password},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.status == http.StatusFound {
					w.Header().Set("Location", "/elsewhere/")
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			jar, _ := cookiejar.New(nil)
			srvURL, _ := url.Parse(srv.URL)
			jar.SetCookies(srvURL, []*http.Cookie{{Name: "session", Value: "cookie-secret"}})
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Jar: jar})
			cfg := &Config{Username: "ana", Password: password, LoginTimeout: 5 * time.Second,
				AuthURL: strings.Replace(srv.URL, "http://", "http://ana:"+urlPassword+"@", 1) + "/login/?noAuth=true"}
			_, err := cfg.Token(ctx)
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.Response == nil || re.Response.Request == nil {
				t.Fatalf("err = %v, want an *oauth2.RetrieveError with a Response and its Request", err)
			}
			req := re.Response.Request
			var seen bytes.Buffer
			dump, dumpErr := httputil.DumpRequest(req, true)
			fmt.Fprintf(&seen, "dump: %s %v\n", dump, dumpErr)
			if req.GetBody != nil {
				if body, err := req.GetBody(); err == nil {
					b, _ := io.ReadAll(body)
					fmt.Fprintf(&seen, "GetBody: %s\n", b)
				}
			}
			parseErr := req.ParseForm()
			fmt.Fprintf(&seen, "Form: %v %v PostForm: %v\n", req.Form, parseErr, req.PostForm)
			fmt.Fprintf(&seen, "URL: %s %+v Header: %v\n", req.URL, *req.URL, req.Header)
			for _, secret := range append(secrets, "cookie-secret") {
				if strings.Contains(seen.String(), secret) {
					t.Errorf("the error's Response holds %q:\n%s", secret, seen.String())
				}
			}
			// What is kept still says where the login went, and how.
			if got, want := req.Method+" "+req.URL.Path+"?"+req.URL.RawQuery, "POST /login/?noAuth=true"; got != want {
				t.Errorf("the error's Request is %q, want %q", got, want)
			}
		})
	}
}

// FuzzParseAnswer: whatever a server answers, parsing never panics, never
// accepts an empty or malformed token, never gives an expiry in the past,
// and never puts the password in an error.
func FuzzParseAnswer(f *testing.F) {
	for _, seed := range []string{
		`{"access_token":"abc","token_type":"bearer","expires_in":3600}`,
		`{"access_token":"abc","expires_in":"3600"}`,
		`{"access_token":"eyJhbGciOiJub25lIn0.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln"}`,
		`{"access_token":""}`, `{"access_token":null}`, `{"access_token":1}`,
		`{"detail":"Incorrect username or password"}`,
		`{"detail":[{"loc":["body","password"],"msg":"x","input":"secret"}]}`,
		`null`, `[]`, `"str"`, `1`, ``, `{`, `<html></html>`,
		`{"access_token":"abc","expires_in":-1}`, `{"access_token":"abc","expires_in":1e308}`,
		`{"access_token":"abc","expires_in":"NaN"}`, `{"access_token":"a b"}`,
	} {
		f.Add([]byte(seed), "secret")
		f.Add([]byte(strings.ReplaceAll(seed, "secret", `§secret§`)), "secret")
	}
	started := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, password string) {
		// The § around it keep a password such as "login" from matching
		// the package's own words in a message.
		password = "§" + password + "§"
		refusal := refused(&http.Response{Status: "400 Bad Request", StatusCode: 400}, body, password)
		if strings.Contains(refusal.Error(), password) {
			t.Errorf("refusal %q holds the password %q", refusal, password)
		}
		if n := len(refusal.Error()); n > 400 {
			t.Errorf("refusal message is %d bytes long", n)
		}
		tok, err := parseAnswer(body, started, time.Time{}, password)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "recitaloauth: ") {
				t.Errorf("error %q lacks the prefix", err)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error %q holds the password %q", err, password)
			}
			return
		}
		if !isBearerToken(tok.AccessToken) || tok.TokenType != "Bearer" {
			t.Errorf("accepted token %q of type %q", tok.AccessToken, tok.TokenType)
		}
		if !tok.Expiry.After(started) || tok.Expiry.Sub(started) > maxTokenLifetime {
			t.Errorf("expiry %v is not within (started, started+%v]", tok.Expiry, maxTokenLifetime)
		}
	})
}

// TestConfigJSON: marshalling redacts a set password, keeps an empty one
// empty, and leaves out Store and Logger (a store may hold secrets of its
// own); unmarshalling still reads a password, so Configs can live in JSON
// files.
func TestConfigJSON(t *testing.T) {
	tests := []struct {
		name   string
		config Config
		want   string
	}{
		{"password set", Config{Username: "u", Password: "hunter2"},
			`{"Username":"u","Password":"[redacted]","AuthURL":"","LoginTimeout":0}`},
		{"no password", Config{Username: "u"},
			`{"Username":"u","Password":"","AuthURL":"","LoginTimeout":0}`},
		{"userinfo in AuthURL", Config{Username: "u", AuthURL: "https://ana:url-secret@auth.example.com/login/?noAuth=true"},
			`{"Username":"u","Password":"","AuthURL":"https://ana:xxxxx@auth.example.com/login/?noAuth=true","LoginTimeout":0}`},
		{"Store and Logger", Config{Username: "u", Password: "hunter2", LoginTimeout: time.Second,
			Store: dumpableStore{Secret: "store-secret"}, Logger: slog.New(slog.DiscardHandler)},
			`{"Username":"u","Password":"[redacted]","AuthURL":"","LoginTimeout":1000000000}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.config)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("Marshal mismatch (-want +got):\n%s", diff)
			}
		})
	}
	var cfg Config
	if err := json.Unmarshal([]byte(`{"Username":"u","Password":"hunter2"}`), &cfg); err != nil || cfg.Password != "hunter2" {
		t.Errorf("Unmarshal: %+v, %v; want the password read", cfg.Password == "hunter2", err)
	}
}

// TestRedactedURL: the password of a URL's userinfo is hidden; a URL
// without one is kept as written; one that does not parse is hidden whole
// if it could hold userinfo.
func TestRedactedURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://auth.example.com/login/?noAuth=true", "https://auth.example.com/login/?noAuth=true"},
		{"https://ana:secret@auth.example.com/login/", "https://ana:xxxxx@auth.example.com/login/"},
		{"https://ana:p@ss@auth.example.com/", "https://ana:xxxxx@auth.example.com/"},
		{"https://ana@auth.example.com/", "https://ana@auth.example.com/"},
		{"https://ana:secret%zz@auth.example.com/", "[redacted]"},
		{"https://auth.example.com/%zz", "https://auth.example.com/%zz"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, redactedURL(tt.in)); diff != "" {
				t.Errorf("redactedURL(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// dumpableStore is a Store with an exported secret, which encoding/json
// and fmt would show if they were given the Store.
type dumpableStore struct{ Secret string }

func (dumpableStore) Load(context.Context, string) ([]byte, error)          { return nil, nil }
func (dumpableStore) Save(context.Context, string, []byte, time.Time) error { return nil }
func (dumpableStore) Delete(context.Context, string, []byte) error          { return nil }
