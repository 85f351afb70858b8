package recitaltest

import (
	"net"
	"net/http"
	"strings"
	"time"
)

// configResponse is the body of a successful GET /config/. The user field
// lets tests see which credential the client presented.
type configResponse struct {
	Organisation string `json:"organisation"`
	User         string `json:"user"`
}

// serveAPI answers every path under APIURL. All of them count, so tests
// can tell how many API calls a client made, including mistaken ones.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.apiRequests++
	s.mu.Unlock()

	if r.URL.Path != configPath {
		writeDetail(w, http.StatusNotFound, "Not Found")
		return
	}
	if r.Method != http.MethodGet {
		writeMethodNotAllowed(w, http.MethodGet)
		return
	}
	user, problem := s.authenticate(r)
	if problem != "" {
		writeUnauthorized(w, problem)
		return
	}
	writeJSON(w, http.StatusOK, configResponse{Organisation: "recitaltest", User: user})
}

// authenticate returns the user behind the request's bearer token, if the
// token is known, unrevoked, unexpired and, with SetBindTokensToIP, used
// from the address it was issued to; else the 401's detail. The scheme is
// matched without regard to case, as FastAPI's OAuth2PasswordBearer does.
func (s *Server) authenticate(r *http.Request) (user, problem string) {
	const notAuthenticated = "Not authenticated"
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", notAuthenticated
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.tokens[token]
	if !ok || g.revoked {
		return "", notAuthenticated
	}
	if !g.expiry.IsZero() && !time.Now().Before(g.expiry) {
		return "", notAuthenticated
	}
	if ip := remoteIP(r); s.bindToIP && g.ip != "" && ip != g.ip {
		s.refusedFrom[token+" "+ip] = true
		return "", "Token is bound to another IP address"
	}
	return g.user, ""
}

// remoteIP is the address a request came from, without its port.
func remoteIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
