// Package cleartext holds the rule for secrets in clear text: which URLs
// a password or a token may be sent to, for the library and the
// recitaltoken command alike.
package cleartext

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// Check refuses a URL that is not absolute, or over which a secret would
// cross a network in clear text. name is where the URL came from, for
// the message.
func Check(rawURL, name string) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("recitaloauth: %s is not an absolute URL", name)
	}
	if problem := Problem(u); problem != "" {
		return fmt.Errorf("recitaloauth: %s: %s", name, problem)
	}
	return nil
}

// Problem says what is wrong with sending a secret to u, or "" if
// nothing is: https always does, http only to loopback (tests, local
// proxies). Sent through [Pinned], http://localhost stays on loopback
// whatever the resolver says.
func Problem(u *url.URL) string {
	switch strings.ToLower(u.Scheme) {
	case "https":
		return ""
	case "http":
		if IsLoopback(u.Hostname()) {
			return ""
		}
		return "refusing to send credentials in clear text to http://" + u.Host + ": use https"
	}
	return fmt.Sprintf("unsupported URL scheme %q: use https", u.Scheme)
}

// IsLoopback reports whether host is localhost, 127.0.0.0/8 or ::1.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// pinnedLocalhost is the address http://localhost is sent to. The name
// is trusted because it means this machine; the resolver need not agree
// (with no localhost line in the hosts file, Go asks DNS, whose answer
// would get the secret in clear text). 127.0.0.1, not ::1: it is where
// test servers and local proxies listen.
const pinnedLocalhost = "127.0.0.1"

// Pinned returns the URL to dial for u, and whether it differs: an http
// URL to localhost goes to 127.0.0.1 (the port kept), so that clear text
// is decided on the address dialled, not on a name. The caller keeps the
// original host in the request's Host header.
func Pinned(u *url.URL) (*url.URL, bool) {
	if !strings.EqualFold(u.Scheme, "http") || !strings.EqualFold(u.Hostname(), "localhost") {
		return u, false
	}
	pinned := *u
	pinned.Host = pinnedLocalhost
	if port := u.Port(); port != "" {
		pinned.Host += ":" + port
	}
	return &pinned, true
}
