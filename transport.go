package recitaloauth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"golang.org/x/oauth2"
)

// NewClient returns an HTTP client that authenticates its requests with
// tokens from src. It is built like [oauth2.NewClient]: the transport,
// CheckRedirect, Jar and Timeout come from the client in ctx under
// [oauth2.HTTPClient], else from [http.DefaultClient]. Beyond that:
//
//   - When src comes from [Config.TokenSource] and a request gets 401, the
//     token is dropped from the cache (if it is still the cached one), one
//     login replaces it for all the requests refused meanwhile, and the
//     request is sent again once if its body can be replayed (no body, or
//     GetBody set). Otherwise the 401 goes to the caller; a service token
//     is never retried. So that a server refusing even fresh tokens does
//     not get a login per request, a token of the source's own login
//     refused sooner than a gap after it is kept and the 401 returned; the
//     gap starts at 1 s and doubles up to 1 min while such refusals go on.
//     A token borrowed from [Config.Store] is never kept: where tokens are
//     bound to IP addresses, another machine's is refused here, and the
//     request is sent again (a third time if its replacement was borrowed
//     and refused too) with a token of the source's own login.
//   - The token goes only to the host of the request the caller made and to
//     its subdomains: a redirect to another host goes on without it, and
//     so does the rest of that chain, even back to the first host (the
//     other host chose the path). This is net/http's rule for an
//     Authorization header the caller sets, since the fix of
//     CVE-2024-45336.
//   - A request to an http:// URL fails before anything is sent unless its
//     host is loopback and the transport sends it there directly, not
//     through a proxy: a bearer token must not cross a network in clear.
//     Only an [*http.Transport] (http.DefaultTransport for a nil one) can
//     say whether it uses a proxy; a RoundTripper wrapping one cannot.
//
// [oauth2.NewClient] does none of this: its transport never reports a 401
// to the source, so its callers get the 401 until the token expires. Code
// that cannot use this client calls [Invalidate] on a 401.
//
// Sources of another kind are wrapped in [oauth2.ReuseTokenSource], as
// oauth2.NewClient does. The client's CloseIdleConnections reaches the base
// transport. The client is safe for concurrent use.
func NewClient(ctx context.Context, src oauth2.TokenSource) *http.Client {
	if ctx == nil {
		ctx = context.Background()
	}
	base := contextClient(ctx)
	return &http.Client{
		Transport:     &transport{base: transportOf(base), source: credentialSourceOf(src)},
		CheckRedirect: base.CheckRedirect,
		Jar:           base.Jar,
		Timeout:       base.Timeout,
	}
}

func credentialSourceOf(src oauth2.TokenSource) credentialSource {
	switch src := src.(type) {
	case nil:
		return nil
	case credentialSource:
		return src
	default:
		return &reuseSource{src: oauth2.ReuseTokenSource(nil, src)}
	}
}

// transport adds the Authorization header, sends the request through base,
// and replaces a refused token once.
type transport struct {
	base   http.RoundTripper
	source credentialSource
}

var errNoSource = errors.New("recitaloauth: NewClient was given a nil TokenSource")

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := checkTransport(req, t.base); err != nil {
		closeBody(req)
		return nil, err
	}
	if req.Response != nil && !sameSiteAllAlong(req) {
		return t.send(req, nil)
	}
	if t.source == nil {
		closeBody(req)
		return nil, errNoSource
	}
	cred, err := t.source.credential(req.Context())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.send(req, cred)
	for sends := 1; ; sends++ {
		if err != nil || resp.StatusCode != http.StatusUnauthorized {
			if err == nil {
				cred.answered()
			}
			return resp, err
		}
		// Sent again once after a 401; once more only when the new token
		// was borrowed from the store too (see maxSends).
		if !t.source.rejected(cred) || sends == maxSends || (sends > 1 && !cred.isBorrowed()) {
			return resp, nil
		}
		retry, ok := replay(req)
		if !ok {
			return resp, nil
		}
		if cred, err = t.source.credential(req.Context()); err != nil {
			closeBody(retry)
			return resp, nil
		}
		resp.Body.Close() // not drained: a stalled 401 body must not hold the retry
		resp, err = t.send(retry, cred)
	}
}

// maxSends bounds how often one request is sent: once, again with a new
// token after a 401, and a third time only if that token, too, was
// borrowed from the store and refused (another machine's token, where
// tokens are bound to IP addresses): the source then logs in itself.
const maxSends = 3

// CloseIdleConnections passes the call on to the base transport, so that
// [http.Client.CloseIdleConnections] on a client from NewClient does what
// it says (on the context client's transport, whose connections the logins
// share); oauth2's Transport does not.
func (t *transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// replay returns req to send again, with a new body if it has one, or
// false if its body cannot be read twice. send makes the deep copy.
func replay(req *http.Request) (*http.Request, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	retry := req.WithContext(req.Context()) // a shallow copy, for its Body
	retry.Body = body
	return retry, true
}

// send sends req with cred's header, or with no Authorization when cred is
// nil, to the address pin gives. The caller's request is never changed,
// as RoundTripper requires.
func (t *transport) send(req *http.Request, cred *credential) (*http.Response, error) {
	out := req.Clone(req.Context())
	if cred != nil {
		out.Header.Set("Authorization", cred.authorization())
	} else {
		out.Header.Del("Authorization")
	}
	pinned := pin(out)
	resp, err := t.base.RoundTrip(out)
	if pinned && resp != nil {
		resp.Request = req // a redirect's chain is followed by the names the caller used
	}
	return resp, err
}

// sameSiteAllAlong reports whether a redirected request, and every one
// before it on its chain, goes to the host of the request the caller made
// or a subdomain of it. Once a redirect has left that site, the token is
// not sent again on the chain, even when it comes back: the other site
// chose the path it comes back to. net/http does the same with a caller's
// Authorization header since the fix of CVE-2024-45336. A chain it cannot
// follow back (a base transport that leaves Response.Request unset) counts
// as another site: the token is not sent on a guess.
func sameSiteAllAlong(req *http.Request) bool {
	first := req
	for first.Response != nil {
		if first.Response.Request == nil {
			return false
		}
		first = first.Response.Request
	}
	for hop := req; hop != first; hop = hop.Response.Request {
		if !sameSite(first.URL, hop.URL) {
			return false
		}
	}
	return true
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// sameSite reports whether dest is initial's host or one of its
// subdomains, as net/http decides whether a redirect may keep a caller's
// Authorization header.
func sameSite(initial, dest interface{ Hostname() string }) bool {
	parent := strings.ToLower(initial.Hostname())
	sub := strings.ToLower(dest.Hostname())
	if sub == parent {
		return true
	}
	if strings.ContainsAny(sub, ":%") || !strings.HasSuffix(sub, parent) {
		return false
	}
	return sub[len(sub)-len(parent)-1] == '.'
}
