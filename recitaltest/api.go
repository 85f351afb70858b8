package recitaltest

import (
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
	user, ok := s.authenticate(r)
	if !ok {
		writeUnauthorized(w, "Not authenticated")
		return
	}
	writeJSON(w, http.StatusOK, configResponse{Organisation: "recitaltest", User: user})
}

// authenticate returns the user behind the request's bearer token, if the
// token is known, unrevoked and unexpired. The scheme is matched without
// regard to case, as FastAPI's OAuth2PasswordBearer does.
func (s *Server) authenticate(r *http.Request) (string, bool) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.tokens[token]
	if !ok || g.revoked {
		return "", false
	}
	if !g.expiry.IsZero() && !time.Now().Before(g.expiry) {
		return "", false
	}
	return g.user, true
}
