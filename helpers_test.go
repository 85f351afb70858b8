package recitaloauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
	"golang.org/x/oauth2"
)

// withHandler returns a context whose HTTP client calls h in memory.
func withHandler(h http.Handler) context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: recitaltest.InMemoryTransport(h)})
}

// loginServer is a scripted login endpoint: each login waits delay, then
// answers with status (200: a new token "token-N" living expiresIn
// seconds), or 503 while transient is above zero. It counts the logins it gets.
type loginServer struct {
	mu        sync.Mutex
	logins    int
	delay     time.Duration
	status    int
	expiresIn int
	transient int // the next logins answer 503 Service Unavailable
}

func newLoginServer() *loginServer {
	return &loginServer{status: http.StatusOK, expiresIn: 3600}
}

func (s *loginServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.logins++
	n, delay, status, expiresIn := s.logins, s.delay, s.status, s.expiresIn
	if s.transient > 0 {
		s.transient--
		status = http.StatusServiceUnavailable
	}
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if status != http.StatusOK {
		fmt.Fprint(w, `{"detail":"Incorrect username or password"}`)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": fmt.Sprintf("token-%d", n),
		"token_type":   "bearer",
		"expires_in":   expiresIn,
	})
}

func (s *loginServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

func (s *loginServer) set(change func(*loginServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	change(s)
}

// testConfig is a Config for a loopback login URL.
func testConfig() *Config {
	return &Config{Username: "ana@example.com", Password: "s3cret&pa=ss@é", AuthURL: "http://127.0.0.1/auth/api/v1/login/?noAuth=true"}
}

// jwt makes a JWT-shaped token with the given claims, unsigned.
func jwt(t *testing.T, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc.EncodeToString(payload) + ".c2lnbmF0dXJl"
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// refusing answers every login 401 with FastAPI's detail.
func refusing(detail string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"detail":%q}`, detail)
	})
}
