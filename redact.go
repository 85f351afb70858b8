package recitaloauth

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/seed9ffb1f9c/recitaloauth/internal/secret"
)

// redacted is what output shows for a secret: whether it is set, never
// what it is.
func redacted(s string) string {
	if s == "" {
		return ""
	}
	return secret.Redacted
}

// withoutSecrets is what a refused login's error keeps of the request that
// was sent: where it went and how, without the form (Body, GetBody, Form,
// PostForm), the headers net/http adds from userinfo and a cookie jar, and
// the password of the URL's userinfo. The error outlives the login (a
// source keeps it during its back-off) and goes to code that knows nothing
// of secrets: a retry helper that replays a failed request, a logger that
// dumps it.
func withoutSecrets(req *http.Request) *http.Request {
	if req == nil {
		return nil
	}
	u := *req.URL
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	// Only the headers the login sets itself are kept: Authorization
	// (Basic, from userinfo) and Cookie (from a jar) are secrets too.
	header := http.Header{}
	for _, name := range []string{"Content-Type", "Accept", "User-Agent"} {
		if values := req.Header.Values(name); len(values) > 0 {
			header[name] = slices.Clone(values)
		}
	}
	return &http.Request{
		Method: req.Method, URL: &u, Host: req.Host, Header: header,
		Proto: req.Proto, ProtoMajor: req.ProtoMajor, ProtoMinor: req.ProtoMinor,
		Body: http.NoBody,
	}
}
