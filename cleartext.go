package recitaloauth

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// checkTransport refuses a URL over which a secret would cross a network in
// clear text: http is only for loopback (tests, local proxies).
func checkTransport(u *url.URL) error {
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("recitaloauth: refusing to send credentials in clear text to http://%s: use https", u.Host)
	}
	return fmt.Errorf("recitaloauth: unsupported URL scheme %q: use https", u.Scheme)
}

// isLoopback reports whether host is localhost, 127.0.0.0/8 or ::1.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}
