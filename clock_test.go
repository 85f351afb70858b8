package recitaloauth

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"
)

// suspended returns t as a process sees a stored time after the machine
// slept for d: every time read before the sleep is d further in the past
// on the wall clock, while Go's monotonic clock, stopped during the sleep,
// has not moved. A time without a monotonic reading just moves back d.
func suspended(t time.Time, d time.Duration) time.Time {
	moved := t.Add(-d)
	if t == t.Round(0) {
		return moved // wall clock only
	}
	// time.Time is {wall uint64; ext int64; loc}: with a monotonic
	// reading, ext holds it. Keep t's.
	*(*int64)(unsafe.Add(unsafe.Pointer(&moved), 8)) = *(*int64)(unsafe.Add(unsafe.Pointer(&t), 8))
	return moved
}

// TestSuspendedHelper checks that suspended makes what a sleep makes: the
// wall reading moves, the monotonic one does not.
func TestSuspendedHelper(t *testing.T) {
	now := time.Now()
	asleep := suspended(now, 2*time.Hour)
	if got := now.Round(0).Sub(asleep.Round(0)); got != 2*time.Hour {
		t.Errorf("wall clock moved %v, want 2h", got)
	}
	if got := now.Sub(asleep); got != 0 {
		t.Errorf("monotonic clock moved %v, want 0", got)
	}
	if wall := now.Round(0); suspended(wall, time.Hour) != wall.Add(-time.Hour) {
		t.Error("a wall-clock time did not just move back")
	}
}

// TestSleepingMachine: after a laptop sleeps 2 h, a 1 h token is expired
// by the wall clock even though the monotonic clock did not move; the
// next Token logs in instead of handing out a token the server refuses.
// Token().Expiry has no monotonic reading, as x/oauth2 expects.
func TestSleepingMachine(t *testing.T) {
	login := newLoginServer()
	src := newTestSource(login)
	tok, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tok.Expiry.String(), "m=") {
		t.Errorf("Token().Expiry = %v carries a monotonic reading", tok.Expiry)
	}
	cred := src.current.Load()
	slept := credential{token: cred.token, obtained: cred.obtained, refreshAt: cred.refreshAt, hardLimit: cred.hardLimit}
	for _, at := range []*time.Time{&slept.obtained, &slept.refreshAt, &slept.hardLimit} {
		*at = suspended(*at, 2*time.Hour)
	}
	src.current.Store(&slept)

	if tok, err = src.Token(); err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "token-2" || login.count() != 2 {
		t.Errorf("after a 2 h sleep: got %s with %d logins, want token-2 from a new login", tok.AccessToken, login.count())
	}
}

// skewedServer is FastAPI's OAuth2 tutorial as recital runs it, on a
// clock offset from ours: its answer has no expires_in, its JWT carries
// exp (and iat, when withIat), its Date header is its own time, and its
// API refuses a token from the instant exp names on its clock.
type skewedServer struct {
	offset  time.Duration
	withIat bool
	noDate  bool

	mu      sync.Mutex
	logins  int
	refused int
	expiry  map[string]time.Time // token → exp, on the server's clock
}

func (s *skewedServer) now() time.Time { return time.Now().Add(s.offset) }

func (s *skewedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.noDate {
		w.Header().Set("Date", s.now().UTC().Format(http.TimeFormat))
	}
	if r.URL.Path == "/api" {
		exp, ok := s.expiry[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		if !ok || !s.now().Before(exp) {
			s.refused++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		return
	}
	s.logins++
	issued := s.now().Truncate(time.Second)
	claims := map[string]any{"sub": "ana", "exp": issued.Add(time.Hour).Unix()}
	if s.withIat {
		claims["iat"] = issued.Unix()
	}
	claims["jti"] = s.logins // a token of its own for each login
	payload, _ := json.Marshal(claims)
	token := "eyJhbGciOiJIUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(payload) + ".c2ln"
	s.expiry[token] = issued.Add(time.Hour)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer"}`, token)
}

// TestSkewedServerClock: with the server's clock 10 or 50 min off ours,
// 3 h of requests every 10 s through Config.Client get no token the
// server refuses, and one login per token lifetime (4 in all: the first
// and one per hour), not a storm.
func TestSkewedServerClock(t *testing.T) {
	for _, offset := range []time.Duration{-50 * time.Minute, -10 * time.Minute, 10 * time.Minute, 50 * time.Minute} {
		for _, kind := range []string{"iat", "Date"} {
			t.Run(fmt.Sprintf("%v/%s", offset, kind), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					server := &skewedServer{offset: offset, withIat: kind == "iat", noDate: kind == "iat", expiry: map[string]time.Time{}}
					client := testConfig().Client(withHandler(server))
					for range 3 * 360 {
						resp, err := client.Get("http://127.0.0.1/api")
						if err != nil {
							t.Fatal(err)
						}
						resp.Body.Close()
						time.Sleep(10 * time.Second)
					}
					if server.refused != 0 || server.logins > 4 {
						t.Errorf("%d requests refused and %d logins over 3 h, want 0 refused and at most 4 logins", server.refused, server.logins)
					}
				})
			})
		}
	}
}

// TestWholeSecondClaims: iat, exp and Date are whole seconds, cut down,
// and uvicorn's Date lags its clock by up to a second more; a login at any
// fraction of a second, on a server whose clock is ours, must not get an
// expiry later than exp (which the server refuses from), and should lose
// no more than a second and the login's own time to the rounding. On a
// server whose clock is 10 min off ours (or 30 s behind, more than half
// a 4 s token), the same holds of exp − iat and of exp − a Date that does
// not lag; and of a 1 h token whose Date is 30 s stale.
func TestWholeSecondClaims(t *testing.T) {
	tests := []struct {
		name      string
		life      time.Duration // 0: 4 s
		offset    time.Duration // the server's clock minus ours
		iat       bool          // the token has iat
		date      time.Duration // a Date header this far behind the server's clock; -1: none
		expiresIn bool          // the answer has expires_in
	}{
		{"iat", 0, 0, true, -1, false},
		{"Date", 0, 0, false, 0, false},
		{"Date a second late, as uvicorn's", 0, 0, false, time.Second, false},
		{"Date two seconds late", 0, 0, false, 2 * time.Second, false},
		{"exp alone", 0, 0, false, -1, false},
		{"expires_in and exp", 0, 0, false, -1, true},
		{"iat, server 10 min ahead", 0, 10 * time.Minute, true, -1, false},
		{"iat, server 10 min behind", 0, -10 * time.Minute, true, -1, false},
		{"Date, server 10 min ahead", 0, 10 * time.Minute, false, 0, false},
		{"Date, server 10 min behind", 0, -10 * time.Minute, false, 0, false},
		{"Date, server 30 s behind", 0, -30 * time.Second, false, 0, false},
		{"Date 30 s stale, as on a kept-alive uvicorn connection", time.Hour, 0, false, 30 * time.Second, false},
	}
	for _, tt := range tests {
		for _, at := range []time.Duration{0, 300 * time.Millisecond, 999 * time.Millisecond} {
			for _, latency := range []time.Duration{0, 250 * time.Millisecond} {
				t.Run(fmt.Sprintf("%s/at %v/latency %v", tt.name, at, latency), func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						var exp time.Time
						login := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
							time.Sleep(latency)
							now := time.Now().Add(tt.offset)
							exp = now.Add(cmp.Or(tt.life, 4*time.Second)).Truncate(time.Second)
							claims := map[string]any{"sub": "ana", "exp": exp.Unix()}
							if tt.iat {
								claims["iat"] = now.Unix()
							}
							if tt.date >= 0 {
								w.Header().Set("Date", now.Add(-tt.date).UTC().Format(http.TimeFormat))
							}
							answer := map[string]any{"access_token": jwt(t, claims), "token_type": "bearer"}
							if tt.expiresIn {
								answer["expires_in"] = cmp.Or(tt.life, 4*time.Second).Seconds()
							}
							json.NewEncoder(w).Encode(answer)
						})
						time.Sleep(at)
						tok, err := testConfig().Token(withHandler(login))
						if err != nil {
							t.Fatal(err)
						}
						exp = exp.Add(-tt.offset) // on our clock
						if tok.Expiry.After(exp) {
							t.Errorf("expiry %v after exp, want at or before it", tok.Expiry.Sub(exp))
						}
						if lost := exp.Sub(tok.Expiry); lost > time.Second+latency {
							t.Errorf("expiry %v before exp, want at most %v", lost, time.Second+latency)
						}
					})
				})
			}
		}
	}
}
