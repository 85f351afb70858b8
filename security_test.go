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
	"github.com/seed9ffb1f9c/recitaloauth/internal/secret"
	"golang.org/x/oauth2"
)

// TestLoginNeverFollowsRedirects: a redirect ends the login with an error
// naming the status and where it points, and the password goes nowhere
// else.
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
			cfg := &Config{Username: "u", Password: "hunter2-password", AuthURL: srv.URL}
			_, err := cfg.Token(context.Background())
			want := fmt.Sprintf("recitaloauth: login answered %d %s to %s/login/: redirects are not followed", status, http.StatusText(status), other.URL)
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
// read, and is not asked for again (a retry would read another MiB); a
// long error answer leaves a short message and a 1 KiB Body.
func TestAnswerSizeBounded(t *testing.T) {
	t.Run("endless", func(t *testing.T) {
		var requests atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
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
		if n := requests.Load(); n != 1 {
			t.Errorf("the login made %d requests, want 1: an answer too large is not retried", n)
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

// TestEchoedPasswordScrubbed: FastAPI's 422 echoes the input, and error
// pages of other kinds (HTML, Python's repr in a traceback or a pydantic
// message) echo it in their own spelling; whatever the spelling, the
// password is replaced in the message and in RetrieveError.Body.
func TestEchoedPasswordScrubbed(t *testing.T) {
	const password = `p"a<s>'s&w\o/rd é€ 😀`
	const (
		fastAPI  = `{"detail":[{"type":"string_too_long","loc":["body","password"],"msg":"String too long","input":"`
		endJSON  = `"}]}`
		page     = `<html><body><p>Bad password: `
		endPage  = `</p></body></html>`
		pydantic = "1 validation error for Login\npassword\n  String should have at most 8 characters [type=string_too_long, input_value="
		endRepr  = ", input_type=str]"
	)
	// The spellings were made by the encoders named, not by the code under
	// test.
	tests := []struct {
		name                    string
		before, spelling, after string // the answer is before+spelling+after
	}{
		{"raw, in broken JSON", fastAPI, password, endJSON},
		{"JSON, Go's encoding/json", fastAPI, `p\"a\u003cs\u003e's\u0026w\\o/rd é€ 😀`, endJSON},
		{"JSON, plain", fastAPI, `p\"a<s>'s&w\\o/rd é€ 😀`, endJSON},
		{"JSON, Python's json.dumps", fastAPI, `p\"a<s>'s&w\\o/rd \u00e9\u20ac \ud83d\ude00`, endJSON},
		{"JSON, odd escapes", fastAPI, `\u0070\"a<s>'s&w\\o\/rd \u00E9\u20AC \uD83D\uDE00`, endJSON},
		{"JSON escapes in plain text, upper case", "echo: ", `p\"a<s>'s&w\\o\/rd \u00E9\u20AC \uD83D\uDE00`, "\n"},
		{"JSON's escaped slash, in plain text", "echo: ", `p\"a<s>'s&w\\o\/rd é€ 😀`, "\n"},
		{"JSON, PHP's escaped slash", fastAPI, `p\"a<s>'s&w\\o\/rd é€ 😀`, endJSON},
		{"form-encoded, Go and Python", page, `p%22a%3Cs%3E%27s%26w%5Co%2Frd+%C3%A9%E2%82%AC+%F0%9F%98%80`, endPage},
		{"form-encoded, lower-case hex", page, `p%22a%3cs%3e%27s%26w%5co%2frd+%c3%a9%e2%82%ac+%f0%9f%98%80`, endPage},
		{"path-encoded, Go", page, `p%22a%3Cs%3E%27s&w%5Co%2Frd%20%C3%A9%E2%82%AC%20%F0%9F%98%80`, endPage},
		{"HTML, Go's html.EscapeString", page, `p&#34;a&lt;s&gt;&#39;s&amp;w\o/rd é€ 😀`, endPage},
		{"HTML, Python's html.escape", page, `p&quot;a&lt;s&gt;&#x27;s&amp;w\o/rd é€ 😀`, endPage},
		{"HTML, numeric entities", page, `p&quot;a&lt;s&gt;&#039;s&amp;w\o/rd &#233;&#8364; &#X1F600;`, endPage},
		{"Python repr, in pydantic's message", pydantic, `'p"a<s>\'s&w\\o/rd é€ 😀'`, endRepr},
		{"Python repr of bytes", "got b", `'p"a<s>\'s&w\\o/rd \xc3\xa9\xe2\x82\xac \xf0\x9f\x98\x80'`, ""},
		{"decoded into detail", `{"detail":"bad password: `, `p\"a<s>'s&w\\o/rd \u00e9\u20ac \ud83d\ude00`, `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusUnprocessableEntity)
				io.WriteString(w, tt.before+tt.spelling+tt.after)
			}))
			defer srv.Close()
			cfg := &Config{Username: "u", Password: password, AuthURL: srv.URL}
			_, err := cfg.Token(context.Background())
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want an *oauth2.RetrieveError", err)
			}
			for _, s := range append(spellingsOf(password), tt.spelling) {
				if strings.Contains(err.Error(), s) {
					t.Errorf("the password (as %q) is in the message %q", s, err)
				}
			}
			// A quote around a repr stays: only the password goes.
			want := strings.TrimPrefix(strings.TrimSuffix(tt.spelling, "'"), "'")
			want = tt.before + strings.Replace(tt.spelling, want, secret.Redacted, 1) + tt.after
			if !json.Valid([]byte(want)) {
				if diff := cmp.Diff(want, string(re.Body)); diff != "" {
					t.Errorf("RetrieveError.Body mismatch (-want +got):\n%s", diff)
				}
				return
			}
			// A JSON answer is written again once scrubbed: compare what it says.
			var wantJSON, gotJSON any
			json.Unmarshal([]byte(want), &wantJSON)
			if err := json.Unmarshal(re.Body, &gotJSON); err != nil {
				t.Fatalf("RetrieveError.Body %q: %v", re.Body, err)
			}
			if diff := cmp.Diff(wantJSON, gotJSON); diff != "" {
				t.Errorf("RetrieveError.Body mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// spellingsOf lists, independently of the code under test, parts of
// spellings that must not leak.
func spellingsOf(password string) []string {
	return []string{password, `a\u003cs\u003e`, `\u00e9\u20ac \ud83d\ude00`, `p%22a%3Cs%3E`, `&lt;s&gt;`, `o/rd é€`, `o\/rd`, `\xc3\xa9`}
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

// TestRequestErrorsHoldNoSecret: a request through NewClient that fails,
// after its token was sent or at the login, does not put the token or the
// password in its error.
func TestRequestErrorsHoldNoSecret(t *testing.T) {
	const password, loginToken, serviceToken = "hunter2-password", "login-token-secret", "svc-token-secret"
	tests := []struct {
		name     string
		service  bool // a service token, else a login with the password
		loginOK  bool
		wantSent string // the Authorization the API got: the token existed
	}{
		{"service token, request fails", true, false, "Bearer " + serviceToken},
		{"password, request fails after the login", false, true, "Bearer " + loginToken},
		{"password, login fails", false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sent string
			base := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if r.URL.Host == "auth.example.com" && tt.loginOK {
					body := `{"access_token":"` + loginToken + `","expires_in":3600}`
					return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
				}
				if r.URL.Host == "api.example.com" {
					sent = r.Header.Get("Authorization")
				}
				return nil, errors.New("connection reset")
			})}
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, base)
			client := NewClient(ctx, ServiceTokenSource(serviceToken))
			if !tt.service {
				cfg := &Config{Username: "u", Password: password, AuthURL: "https://auth.example.com/login/", LoginTimeout: 100 * time.Millisecond}
				client = cfg.Client(ctx)
			}
			_, err := client.Get("https://api.example.com/config/")
			if err == nil {
				t.Fatal("no error")
			}
			if sent != tt.wantSent {
				t.Fatalf("the API got Authorization %q, want %q", sent, tt.wantSent)
			}
			for _, secret := range []string{serviceToken, loginToken, password} {
				if s := fmt.Sprintf("%v %+v", err, err); strings.Contains(s, secret) {
					t.Errorf("error %q holds %q", s, secret)
				}
			}
		})
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
		refusal := refusalError(&http.Response{Status: "400 Bad Request", StatusCode: 400}, body, password)
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
			if diff := cmp.Diff(tt.want, secret.URL(tt.in)); diff != "" {
				t.Errorf("secret.URL(%q) mismatch (-want +got):\n%s", tt.in, diff)
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

// TestUnparsableLocationHoldsNoPassword: net/http quotes a Location header
// it cannot parse whole in its error; a server that puts the password
// there does not get it into the login's error, nor into anything it
// wraps.
func TestUnparsableLocationHoldsNoPassword(t *testing.T) {
	t.Parallel() // real waits and disk writes: overlaps the other slow tests
	const password = "hunter2-secret"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "%zz?password="+password)
		w.WriteHeader(http.StatusFound)
	}))
	defer srv.Close()
	cfg := &Config{Username: "ana", Password: password, AuthURL: srv.URL + "/login/", LoginTimeout: 5 * time.Second}
	_, err := cfg.Token(context.Background())
	if err == nil {
		t.Fatal("a login answered with an unparsable Location succeeded")
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if strings.Contains(e.Error(), password) {
			t.Errorf("error %q (in the chain of %q) holds the password", e, err)
		}
	}
}

// longPassword is a password of n bytes in which every 16 bytes are
// different, so that any part of it that leaks can be found.
func longPassword(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "pw%05d-", i)
	}
	return b.String()[:n]
}

// TestLongPasswordScrubbed: a password too long for a pattern (over
// 4 KiB) hides the server's whole detail and body, rather than nothing;
// one of exactly 4 KiB still gets a pattern, and only it is hidden.
func TestLongPasswordScrubbed(t *testing.T) {
	for _, tt := range []struct {
		name                 string
		size                 int
		wantDetail, wantBody string
	}{
		{"4 KiB: its own pattern", 4 << 10, "wrong password: [redacted]", `{"detail":"wrong password: [redacted]"}`},
		{"over 4 KiB: everything hidden", 4<<10 + 1, "[redacted]", "[redacted]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			password := longPassword(tt.size)
			cfg := &Config{Username: "ana", Password: password, AuthURL: "https://auth.example/login/"}
			_, err := cfg.Token(withHandler(refusing("wrong password: " + password)))
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want an *oauth2.RetrieveError", err)
			}
			if diff := cmp.Diff("recitaloauth: login refused: 401 Unauthorized: "+tt.wantDetail, err.Error()); diff != "" {
				t.Errorf("message mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantBody, string(re.Body)); diff != "" {
				t.Errorf("RetrieveError.Body mismatch (-want +got):\n%s", diff)
			}
			for i := 0; i+16 <= len(password); i += 8 {
				if part := password[i : i+16]; strings.Contains(err.Error(), part) || strings.Contains(string(re.Body), part) {
					t.Fatalf("part %q of the password is in the error", part)
				}
			}
		})
	}
}

// TestEchoOfU0080Scrubbed: U+0080, the first character of two UTF-8
// bytes, echoed as Python's repr of bytes (\xc2\x80) is scrubbed, as every
// character from there up is.
func TestEchoOfU0080Scrubbed(t *testing.T) {
	const password = "pa\u0080ss"
	cfg := &Config{Username: "ana", Password: password, AuthURL: "https://auth.example/login/"}
	_, err := cfg.Token(withHandler(refusing(`got b'pa\xc2\x80ss'`)))
	if want := `recitaloauth: login refused: 401 Unauthorized: got b'[redacted]'`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// TestRefusedRequestHeaders: the request a refused login's error keeps
// has the headers the login set, and only those.
func TestRefusedRequestHeaders(t *testing.T) {
	cfg := &Config{Username: "ana", Password: "s3cret", AuthURL: "https://auth.example/login/"}
	_, err := cfg.Token(withHandler(refusing("no")))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil || re.Response.Request == nil {
		t.Fatalf("err = %v, want an *oauth2.RetrieveError with its request", err)
	}
	want := http.Header{
		"Content-Type": {"application/x-www-form-urlencoded"},
		"Accept":       {"application/json"},
		"User-Agent":   {"recitaloauth (+https://github.com/seed9ffb1f9c/recitaloauth)"},
	}
	if diff := cmp.Diff(want, re.Response.Request.Header); diff != "" {
		t.Errorf("the refused request's headers mismatch (-want +got):\n%s", diff)
	}
}

// TestRefusedHeadersScrubbed: a refused login's headers are the server's
// text, reachable from the error through its RetrieveError: a password
// they echo (a Location, a debug header) is scrubbed there too.
func TestRefusedHeadersScrubbed(t *testing.T) {
	const password = "hunter2-secret"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("X-Debug-Form", r.PostForm.Encode())
		w.Header().Set("Location", "/login/?password="+r.PostForm.Get("password"))
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	cfg := &Config{Username: "ana", Password: password, AuthURL: srv.URL + "/login"}
	_, err := cfg.Token(context.Background())
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error %v, want a RetrieveError", err)
	}
	if dump := fmt.Sprintf("%v %+v %#v", err, re.Response.Header, re.Response); strings.Contains(dump, password) {
		t.Errorf("the password is reachable from the error: %v", re.Response.Header)
	}
}
