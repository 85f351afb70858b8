package recitaloauth_test

// Edges that a one-statement mistake in the library crosses and no other
// test noticed (found by mutation testing, .ci/mutation). They go through
// the public API only, so that they hold whatever file the code lives in.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/seed9ffb1f9c/recitaloauth"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
)

// inMemory is a context whose client answers every request with h, with
// no socket: usable inside a synctest bubble.
func inMemory(h http.Handler) context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: recitaltest.InMemoryTransport(h)})
}

// refusing answers every login 401 with FastAPI's detail.
func refusing(detail string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"detail":%q}`, detail)
	})
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
			cfg := &recitaloauth.Config{Username: "ana", Password: password, AuthURL: "https://auth.example/login/"}
			_, err := cfg.Token(inMemory(refusing("wrong password: " + password)))
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

// TestDetailCutOnRuneBoundary: a server's detail longer than a message
// keeps (200 bytes) is cut before the character the limit falls inside,
// never within it, and marked with an ellipsis; one of exactly 200 bytes
// is kept whole.
func TestDetailCutOnRuneBoundary(t *testing.T) {
	for _, tt := range []struct{ name, detail, want string }{
		{"cut inside an é", "x" + strings.Repeat("é", 150), "x" + strings.Repeat("é", 99) + "…"}, // byte 200 is the second of an é
		{"exactly 200 bytes", strings.Repeat("é", 100), strings.Repeat("é", 100)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &recitaloauth.Config{Username: "ana", Password: "s3cret", AuthURL: "https://auth.example/login/"}
			_, err := cfg.Token(inMemory(refusing(tt.detail)))
			if err == nil {
				t.Fatal("a refused login succeeded")
			}
			if diff := cmp.Diff("recitaloauth: login refused: 401 Unauthorized: "+tt.want, err.Error()); diff != "" {
				t.Errorf("message mismatch (-want +got):\n%s", diff)
			}
		})
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
				cfg := &recitaloauth.Config{Username: "ana", Password: "s3cret", AuthURL: "https://auth.example/login/",
					LoginTimeout: 10 * time.Minute}
				if _, err := cfg.Token(inMemory(busy)); err == nil {
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
		ctx := inMemory(srv)
		cfg := &recitaloauth.Config{Username: "ana@example.com", Password: "s3cret", AuthURL: srv.AuthURL()}
		src := cfg.TokenSource(ctx)
		client := recitaloauth.NewClient(ctx, src)
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
			cfg := &recitaloauth.Config{Username: "ana", Password: "s3cret", AuthURL: "https://auth.example/login/"}
			tok, err := cfg.Token(inMemory(answer))
			switch {
			case tt.wantErr == "" && (err != nil || tok.AccessToken != "tok"):
				t.Errorf("got %v, %v; want the token", tok, err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Errorf("got %v, %v; want the error %q", tok, err, tt.wantErr)
			}
		})
	}
}

// TestEchoOfU0080Scrubbed: U+0080, the first character of two UTF-8
// bytes, echoed as Python's repr of bytes (\xc2\x80) is scrubbed, as every
// character from there up is.
func TestEchoOfU0080Scrubbed(t *testing.T) {
	const password = "pa\u0080ss"
	cfg := &recitaloauth.Config{Username: "ana", Password: password, AuthURL: "https://auth.example/login/"}
	_, err := cfg.Token(inMemory(refusing(`got b'pa\xc2\x80ss'`)))
	if want := `recitaloauth: login refused: 401 Unauthorized: got b'[redacted]'`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// TestRefusedRequestHeaders: the request a refused login's error keeps
// has the headers the login set, and only those.
func TestRefusedRequestHeaders(t *testing.T) {
	cfg := &recitaloauth.Config{Username: "ana", Password: "s3cret", AuthURL: "https://auth.example/login/"}
	_, err := cfg.Token(inMemory(refusing("no")))
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

// TestConfigString: String says whether a password is set, never what it
// is, and names LoginTimeout only when it is set.
func TestConfigString(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  recitaloauth.Config
		want string
	}{
		{"a password", recitaloauth.Config{Username: "ana", Password: "s3cret", AuthURL: "https://a.example/login/"},
			`recitaloauth.Config{Username: "ana", Password: [redacted], AuthURL: "https://a.example/login/"}`},
		{"no password", recitaloauth.Config{Username: "ana", AuthURL: "https://a.example/login/"},
			`recitaloauth.Config{Username: "ana", Password: "", AuthURL: "https://a.example/login/"}`},
		{"a login timeout", recitaloauth.Config{Username: "ana", Password: "s3cret", LoginTimeout: 5 * time.Second},
			`recitaloauth.Config{Username: "ana", Password: [redacted], AuthURL: "", LoginTimeout: 5s}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.cfg.String()); diff != "" {
				t.Errorf("String mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
