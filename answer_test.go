package recitaloauth

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

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
			cfg := &Config{Username: "ana", Password: "s3cret", AuthURL: "https://auth.example/login/"}
			_, err := cfg.Token(withHandler(refusing(tt.detail)))
			if err == nil {
				t.Fatal("a refused login succeeded")
			}
			if diff := cmp.Diff("recitaloauth: login refused: 401 Unauthorized: "+tt.want, err.Error()); diff != "" {
				t.Errorf("message mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAnswerLifetimeBounds: the edges of the lifetimes a login answer may
// claim: expires_in from 1 s to 366 days; a JWT's exp − iat when above 0
// and at most 366 days, else the default; a claim outside NumericDate's
// range (0, 4×MaxInt32] is ignored; exp read on our clock is the end
// when it falls short of exp − iat by at most min(clockAgreement, half).
func TestAnswerLifetimeBounds(t *testing.T) {
	started := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const year = 366 * 24 * time.Hour
	unix := func(d time.Duration) int64 { return started.Add(d).Unix() }
	for _, tt := range []struct {
		name string
		body string
		want time.Duration // 0: an error
	}{
		{"expires_in 0", `{"access_token":"tok","expires_in":0}`, 0},
		{"expires_in 1 s", `{"access_token":"tok","expires_in":1}`, time.Second},
		{"expires_in 366 days", fmt.Sprintf(`{"access_token":"tok","expires_in":%d}`, int64(year.Seconds())), year},
		{"expires_in over 366 days", fmt.Sprintf(`{"access_token":"tok","expires_in":%d}`, int64(year.Seconds())+1), 0},
		{"JWT of 366 days", jwtAnswer(t, map[string]any{"iat": unix(0), "exp": unix(year)}), year - time.Second}, // less the claims' resolution
		{"JWT of over 366 days", jwtAnswer(t, map[string]any{"iat": unix(0), "exp": unix(year + time.Second)}), DefaultTokenLifetime},
		{"JWT of 0 s", jwtAnswer(t, map[string]any{"iat": unix(0), "exp": unix(0)}), DefaultTokenLifetime},
		{"JWT of 1 s", jwtAnswer(t, map[string]any{"iat": unix(0), "exp": unix(time.Second)}), 0}, // nothing left once the resolution counts
		{"JWT with iat 0: ignored", jwtAnswer(t, map[string]any{"iat": 0, "exp": unix(2 * time.Hour)}), 2 * time.Hour},
		{"JWT with iat at the range's end", jwtAnswer(t, map[string]any{"iat": int64(math.MaxInt32) * 4, "exp": unix(2 * time.Hour)}), DefaultTokenLifetime},
		{"JWT with iat past the range: ignored", jwtAnswer(t, map[string]any{"iat": int64(math.MaxInt32)*4 + 1, "exp": unix(2 * time.Hour)}), 2 * time.Hour},
		// exp read on our clock ends the token sooner than exp − iat does:
		// it is the end if it falls short by no more than clockAgreement
		// and half the lifetime, else the clocks are not taken for one.
		{"JWT whose exp on our clock is clockAgreement short: the end", jwtAnswer(t, map[string]any{"iat": unix(-61 * time.Second), "exp": unix(time.Hour - clockAgreement)}), time.Hour - clockAgreement},
		{"JWT whose exp on our clock is over clockAgreement short: not the end", jwtAnswer(t, map[string]any{"iat": unix(-62 * time.Second), "exp": unix(time.Hour - clockAgreement - time.Second)}), time.Hour},
		{"JWT of 1 min whose exp on our clock is half of it short: the end", jwtAnswer(t, map[string]any{"iat": unix(-31 * time.Second), "exp": unix(30 * time.Second)}), 30 * time.Second},
		{"JWT of 1 min whose exp on our clock is over half of it short: not the end", jwtAnswer(t, map[string]any{"iat": unix(-41 * time.Second), "exp": unix(20 * time.Second)}), time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := parseAnswer([]byte(tt.body), started, time.Time{}, "s3cret")
			switch {
			case tt.want == 0:
				if err == nil {
					t.Errorf("accepted, with a lifetime of %v; want an error", tok.Expiry.Sub(started))
				}
			case err != nil:
				t.Errorf("error %v; want a lifetime of %v", err, tt.want)
			case tok.Expiry.Sub(started) != tt.want:
				t.Errorf("lifetime %v, want %v", tok.Expiry.Sub(started), tt.want)
			}
		})
	}
}

func jwtAnswer(t *testing.T, claims map[string]any) string {
	return fmt.Sprintf(`{"access_token":%q}`, jwt(t, claims))
}
