package recitaloauth

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// checkTransport refuses a request URL over which the token would cross a
// network in clear text.
func checkTransport(u *url.URL) error {
	if problem := clearText(u); problem != "" {
		return errors.New("recitaloauth: " + problem)
	}
	return nil
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
