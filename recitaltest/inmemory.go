package recitaltest

import (
	"net/http"
	"net/http/httptest"
)

// InMemoryTransport returns a RoundTripper that answers each request by
// calling h directly, with no socket. It is for tests that run inside a
// testing/synctest bubble, where real sockets are not allowed: with a
// [Server] as h (made outside the bubble), token lifetimes and login
// delays follow the bubble's virtual clock. A request whose context ends
// while h runs fails with the context's error, as over a socket. It is
// safe for concurrent use if h is.
func InMemoryTransport(h http.Handler) http.RoundTripper { return inMemory{h} }

type inMemory struct{ h http.Handler }

func (m inMemory) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close() // a RoundTripper closes the body, always
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	// The handler gets the request as a server would: with a Body and a
	// RequestURI, and its own copy to change.
	in := req.Clone(req.Context())
	in.RequestURI = req.URL.RequestURI()
	if in.Body == nil {
		in.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	m.h.ServeHTTP(rec, in)
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
