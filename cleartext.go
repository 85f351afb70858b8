package recitaloauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// checkTransport refuses a request that would carry the token across a
// network in clear text, sent through rt.
func checkTransport(req *http.Request, rt http.RoundTripper) error {
	problem := clearText(req.URL)
	if problem == "" {
		problem = throughProxy(req, rt)
	}
	if problem != "" {
		return errors.New("recitaloauth: " + problem)
	}
	return nil
}

// throughProxy says what is wrong with sending req through rt, or "" if
// nothing is. clearText trusts the URL's host, but the bytes go where the
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

// clearText says what is wrong with sending a secret to u, or "" if
// nothing is: https always does, http only to loopback (tests, local
// proxies).
func clearText(u *url.URL) string {
	switch strings.ToLower(u.Scheme) {
	case "https":
		return ""
	case "http":
		if isLoopback(u.Hostname()) {
			return ""
		}
		return "refusing to send credentials in clear text to http://" + u.Host + ": use https"
	}
	return fmt.Sprintf("unsupported URL scheme %q: use https", u.Scheme)
}

// isLoopback reports whether host is localhost, 127.0.0.0/8 or ::1.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}
