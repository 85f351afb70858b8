package recitaltest

import (
	"bytes"
	"crypto/subtle"
	"io"
	"mime"
	"net/http"
	"time"
)

// maxFormBytes bounds the login body; a real login form is a few dozen bytes.
const maxFormBytes = 64 << 10

// tokenResponse is the body of a successful login. ExpiresIn is never
// zero when sent, because lifetimes are positive and rounded up.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in,omitempty"`
}

// serveLogin answers the login route. Every request counts as an attempt
// and goes through the delay and injected failures first, because a slow
// or failing server would not look at the request before answering.
func (s *Server) serveLogin(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.logins++
	delay := s.loginDelay
	s.mu.Unlock()

	// Read the body before waiting: net/http notices that a client has
	// hung up only once the request body has been consumed, and until then
	// a delayed login would outlive its client.
	if r.Body == nil { // possible when ServeHTTP is called directly
		r.Body = http.NoBody
	}
	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	r.Body = io.NopCloser(bytes.NewReader(body))

	if delay > 0 && !wait(r, delay) {
		return
	}

	if f, ok := s.nextFailure(); ok {
		writeRaw(w, f.status, f.body)
		return
	}

	if r.Method != http.MethodPost {
		writeMethodNotAllowed(w, http.MethodPost)
		return
	}

	// FastAPI reads form fields only from form bodies; any other body
	// leaves both fields missing.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		writeMissing(w, []string{"username", "password"})
		return
	}
	if err := r.ParseForm(); readErr != nil || err != nil {
		writeDetail(w, http.StatusBadRequest, "There was an error parsing the body")
		return
	}

	// PostForm rather than Form: the login URL carries ?noAuth=true, and
	// credentials in the query string must not count.
	username, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	var missing []string
	if username == "" {
		missing = append(missing, "username")
	}
	if password == "" {
		missing = append(missing, "password")
	}
	if len(missing) > 0 {
		writeMissing(w, missing)
		return
	}

	resp, ok := s.login(username, password, remoteIP(r))
	if !ok {
		writeUnauthorized(w, "Incorrect username or password")
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// wait pauses for d, giving up early when the client does. It reports
// whether the full delay elapsed. The timer is created here, at call
// time, so that inside a synctest bubble it runs on the bubble's clock.
func wait(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// nextFailure takes one attempt off the head of the FailLogins queue.
func (s *Server) nextFailure() (failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) == 0 {
		return failure{}, false
	}
	f := s.failures[0]
	s.failures[0].remaining--
	if s.failures[0].remaining == 0 {
		s.failures = s.failures[1:]
	}
	return f, true
}

// login checks the credentials and, if they are right, issues and
// records a new access token under the current settings, bound to ip
// (see SetBindTokensToIP).
func (s *Server) login(username, password, ip string) (tokenResponse, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	want, ok := s.users[username]
	// Compare even for unknown users, so that they take the same path as
	// wrong passwords and get the same answer.
	if subtle.ConstantTimeCompare([]byte(password), []byte(want)) != 1 || !ok {
		return tokenResponse{}, false
	}

	now := time.Now()
	exp := ceilSeconds(now.Add(s.lifetime))
	var token string
	if s.jwt {
		token = newJWT(username, now, exp)
	} else {
		token = newOpaqueToken()
	}
	s.tokens[token] = &grant{user: username, expiry: exp, ip: ip}

	resp := tokenResponse{AccessToken: token, TokenType: "bearer"}
	if s.sendExpiresIn {
		resp.ExpiresIn = int64((s.lifetime + time.Second - 1) / time.Second)
	}
	return resp, true
}
