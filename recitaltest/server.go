package recitaltest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

const (
	loginPath  = "/auth/api/v1/login/"
	apiPrefix  = "/extract/api/v1"
	configPath = apiPrefix + "/config/"

	// serviceUser is the user a service token acts as; recital does not
	// tie service tokens to a person.
	serviceUser = "service"
)

// Server is a fake recital.ai server listening on a loopback address.
// Its methods are safe for concurrent use, so a test may reconfigure it
// or read its counters while the code under test is making requests.
type Server struct {
	ts *httptest.Server

	mu            sync.Mutex
	users         map[string]string // username → password
	tokens        map[string]*grant // access and service tokens
	lifetime      time.Duration
	sendExpiresIn bool
	jwt           bool
	failures      []failure
	loginDelay    time.Duration
	logins        int
	apiRequests   int
	bindToIP      bool
	refusedFrom   map[string]bool // token and address pairs refused by bindToIP
}

// grant is what the server remembers about a token it accepts.
type grant struct {
	user    string
	expiry  time.Time // zero for service tokens, which never expire
	revoked bool
	ip      string // the address of the login that issued it; "" for service tokens
}

// failure is one entry of the FailLogins queue.
type failure struct {
	remaining int
	status    int
	body      string
}

// NewServer starts a Server on 127.0.0.1 with no users and no service
// tokens. Access tokens it issues are JWT-shaped, last an hour and are
// announced with expires_in. The caller must call Close when done.
func NewServer() *Server {
	s := &Server{
		users:         make(map[string]string),
		tokens:        make(map[string]*grant),
		refusedFrom:   make(map[string]bool),
		lifetime:      time.Hour,
		sendExpiresIn: true,
		jwt:           true,
	}
	s.ts = httptest.NewServer(s)
	return s
}

// Close shuts the server down, blocking until all outstanding requests
// have completed.
func (s *Server) Close() { s.ts.Close() }

// URL returns the base URL of the server, of the form http://127.0.0.1:port,
// with no trailing slash.
func (s *Server) URL() string { return s.ts.URL }

// AuthURL returns the login URL, the counterpart of
// https://extract.auth.recital.ai/auth/api/v1/login/?noAuth=true.
func (s *Server) AuthURL() string { return s.ts.URL + loginPath + "?noAuth=true" }

// APIURL returns the API base URL, the counterpart of
// https://extract.api.recital.ai/extract/api/v1, with no trailing slash so
// that callers can append paths such as "/config/".
func (s *Server) APIURL() string { return s.ts.URL + apiPrefix }

// Client returns an HTTP client configured for the server. Its transport
// is closed by Close, so idle connections do not outlive the test.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// ServeHTTP answers one request as recital would. It lets tests call the
// server in memory, for example inside a testing/synctest bubble. It
// starts no goroutines or timers that outlive the call and reads the time
// only through time.Now, so a bubble's virtual clock governs expiry and
// delays.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == loginPath:
		s.serveLogin(w, r)
	case p == apiPrefix || strings.HasPrefix(p, apiPrefix+"/"):
		s.serveAPI(w, r)
	default:
		writeDetail(w, http.StatusNotFound, "Not Found")
	}
}

// AddUser registers a user who can log in with the given password, or
// changes the password of an existing user. It is safe for concurrent use.
func (s *Server) AddUser(username, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[username] = password
}

// AddServiceToken registers a static bearer token, like those generated
// in recital's web UI. Such tokens never expire; registering a revoked
// token again makes it valid again. It is safe for concurrent use.
func (s *Server) AddServiceToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = &grant{user: serviceUser}
}

// SetTokenLifetime sets how long access tokens issued from now on stay
// valid; tokens already issued keep their expiry. The default is an hour.
// Clients learn the lifetime from expires_in and from the JWT exp claim,
// both rounded up to whole seconds because they are integers; the server
// refuses a token from the instant its exp claim names. It panics if d is
// not positive, since a zero expires_in means "no expiry" to OAuth2
// clients. It is safe for concurrent use.
func (s *Server) SetTokenLifetime(d time.Duration) {
	if d <= 0 {
		panic("recitaltest: SetTokenLifetime: lifetime must be positive")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lifetime = d
}

// SetExpiresIn chooses whether login answers include expires_in (the
// default). Turning it off tests that a client falls back to the JWT exp
// claim. It is safe for concurrent use.
func (s *Server) SetExpiresIn(send bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sendExpiresIn = send
}

// SetJWT chooses whether access tokens are JWT-shaped (the default) or
// opaque random strings. Opaque tokens together with SetExpiresIn(false)
// leave a client no way to know when a token expires. It is safe for
// concurrent use.
func (s *Server) SetJWT(jwt bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jwt = jwt
}

// FailLogins makes the next n login attempts answer status and body
// before any credential check, imitating an outage or a proxy in front of
// recital. The body is sent as application/json if it starts with { or [,
// and as text/html otherwise. Calls queue up: FailLogins(1, 503, a)
// followed by FailLogins(1, 500, b) fails one attempt with 503 and the
// next with 500. An attempt abandoned during a SetLoginDelay wait does
// not use up a failure, since its client never sees the answer. An n of
// zero or less clears the queue. It panics if
// status is not in the range 200 to 599. It is safe for concurrent use.
func (s *Server) FailLogins(n int, status int, body string) {
	if n > 0 && (status < 200 || status > 599) {
		panic("recitaltest: FailLogins: status must be in the range 200 to 599")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		s.failures = nil
		return
	}
	s.failures = append(s.failures, failure{remaining: n, status: status, body: body})
}

// SetLoginDelay makes every login attempt wait d before it is answered,
// so that tests can exercise client timeouts and concurrent logins. A
// request whose context ends during the wait gets no answer. It is safe
// for concurrent use.
func (s *Server) SetLoginDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loginDelay = d
}

// Logins reports how many requests reached the login path, whatever
// their outcome, so tests can check that a client reuses its token. It is
// safe for concurrent use.
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// APIRequests reports how many requests reached paths under APIURL,
// whatever their outcome. It is safe for concurrent use.
func (s *Server) APIRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apiRequests
}

// SetBindTokensToIP imitates recital's "Bind Access Tokens to IPs"
// organisation setting: while on, an access token is accepted only from
// the IP address of the login request that issued it (its RemoteAddr,
// port aside), and used from any other address gets 401 with a
// FastAPI-style detail. Service tokens are not bound. Tokens issued
// before the call are bound too, to the address they were issued to. It
// is safe for concurrent use.
func (s *Server) SetBindTokensToIP(bind bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bindToIP = bind
}

// RefusedFromOtherAddress reports how many tokens SetBindTokensToIP made
// the server refuse: each token counts once per address it was refused
// from, however many requests carried it. It is safe for concurrent use.
func (s *Server) RefusedFromOtherAddress() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.refusedFrom)
}

// RevokeAll revokes every access token and service token known so far, as
// an administrator logging every session out would. It is safe for
// concurrent use.
func (s *Server) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.tokens {
		g.revoked = true
	}
}

// Revoke makes the server refuse an issued access token or a registered
// service token from now on, as if a user had logged out or deleted the
// token in the web UI. Unknown tokens are ignored. It is safe for
// concurrent use.
func (s *Server) Revoke(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.tokens[token]; ok {
		g.revoked = true
	}
}
