package recitaloauth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/seed9ffb1f9c/recitaloauth/internal/secret"
)

// TestScrubOnlyServerText: the scrubber hides the password in what a
// server sent, never in Go's or the library's own words, which never
// hold it. With a one-letter password, "e", scrubbing everything would
// garble "context deadline exceeded" and "connection refused" (and show
// where the letter occurs); the errors must read as Go wrote them, and
// still be what errors.Is finds.
func TestScrubOnlyServerText(t *testing.T) {
	const password = "e"
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hanging.Close()
	defer close(release) // before Close, which waits for the handler
	// Port 1 (tcpmux) has no listener here.
	const refusing = "http://127.0.0.1:1/login/"
	// The system's own words for it, which differ between systems.
	_, refusal := net.Dial("tcp", "127.0.0.1:1")
	if refusal == nil {
		t.Skip("something listens on 127.0.0.1:1")
	}

	tests := []struct {
		name    string
		authURL string
		want    string
		is      error
	}{
		{
			name:    "hanging server",
			authURL: hanging.URL + "/login/",
			want:    `recitaloauth: login failed: Post "` + hanging.URL + `/login/": context deadline exceeded`,
			is:      context.DeadlineExceeded,
		},
		{
			name:    "refusing server",
			authURL: refusing,
			want:    `recitaloauth: login failed: Post "` + refusing + `": ` + refusal.Error(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &Config{Username: "u", Password: password, AuthURL: tt.authURL, LoginTimeout: 300 * time.Millisecond}
			_, err := cfg.Token(context.Background())
			if err == nil {
				t.Fatal("Token succeeded, want an error")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("message mismatch (-want +got):\n%s", diff)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}

// TestScrubQuotedOnly: in the cause of a login that got no answer, the
// quoted strings (what net/http quotes of the server's words) are
// scrubbed, wherever they are in the message, an unterminated one to the
// end; the words between them are Go's and stay whole, even where they
// hold the password's letters (the password here is "e").
func TestScrubQuotedOnly(t *testing.T) {
	scrub := secret.NewScrubber("e")
	for _, tt := range []struct{ name, msg, want string }{
		{"quoted in the middle", `malformed header "e" here`, `malformed header "[redacted]" here`},
		{"quoted at the start", `"e" then Go's words`, `"[redacted]" then Go's words`},
		{"two quoted", `"e" and "x e" seen`, `"[redacted]" and "x [redacted]" seen`},
		{"unterminated", `cut short "e then more`, `cut short "[redacted] th[redacted]n mor[redacted]`},
		{"none", `the server sent nothing`, `the server sent nothing`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, scrubQuoted(tt.msg, scrub)); diff != "" {
				t.Errorf("scrubbed message mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
