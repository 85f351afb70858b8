package recitaloauth

import (
	"errors"
	"net/http"
	"strings"

	"github.com/seed9ffb1f9c/recitaloauth/internal/cleartext"
)

// checkTransport refuses a request that would carry the token across a
// network in clear text, sent through rt.
func checkTransport(req *http.Request, rt http.RoundTripper) error {
	problem := cleartext.Problem(req.URL)
	if problem == "" {
		problem = throughProxy(req, rt)
	}
	if problem != "" {
		return errors.New("recitaloauth: " + problem)
	}
	return nil
}

// throughProxy says what is wrong with sending req through rt, or "" if
// nothing is. cleartext.Problem trusts the URL's host, but the bytes go where the
// transport sends them: http:// to a loopback host crosses the network in
// clear all the same when rt hands it to a proxy (HTTP_PROXY exempts only
// a lower-case localhost; a transport's own Proxy may exempt nothing).
// Only an *http.Transport can be asked; any other RoundTripper (one that
// wraps an *http.Transport included) is taken at its word.
func throughProxy(req *http.Request, rt http.RoundTripper) string {
	if !strings.EqualFold(req.URL.Scheme, "http") {
		return "" // https: the proxy sees a TLS tunnel, no secret
	}
	t, ok := rt.(*http.Transport)
	if !ok || t.Proxy == nil {
		return ""
	}
	// An error fails the request in the transport before anything is sent.
	if proxy, err := t.Proxy(req); err != nil || proxy == nil {
		return ""
	}
	return "refusing to send credentials in clear text to http://" + req.URL.Host + " through a proxy: use https, or no proxy for it"
}

// pin makes req dial the address cleartext.Pinned gives for its URL,
// keeping the name in its Host header: http://localhost is trusted as
// loopback, so it must not go wherever a resolver says localhost is. It
// reports whether it changed req.
func pin(req *http.Request) bool {
	pinned, ok := cleartext.Pinned(req.URL)
	if !ok {
		return false
	}
	if req.Host == "" {
		req.Host = req.URL.Host
	}
	req.URL = pinned
	return true
}
