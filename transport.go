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
//   - a request that gets 401 with a token from [Config.TokenSource] hands
//     the token back, and is sent again with a new one when its body can
//     be replayed (no body, or GetBody set): see "Refused tokens" in the
//     package documentation for when;
//   - the token goes only to the host of the request the caller made and
//     to its subdomains: a redirect to another host goes on without it,
//     and so does the rest of that chain, even back to the first host
//     (the other host chose the path), as net/http does with an
//     Authorization header the caller sets since the fix of
//     CVE-2024-45336;
//   - a request to an http:// URL fails before anything is sent unless its
//     host is loopback and the transport sends it there directly, not
//     through a proxy: a bearer token must not cross a network in clear.
//     Only an [*http.Transport] (http.DefaultTransport for a nil one) can
//     say whether it uses a proxy; a RoundTripper wrapping one cannot.
//
// Sources of another kind are wrapped in [oauth2.ReuseTokenSource], as
// oauth2.NewClient does; their 401s go to the caller. A nil src, or one
// that returns neither a token nor an error, fails each request with an
// error. The client's CloseIdleConnections reaches the base transport.
// The client is safe for concurrent use.
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
		return newReuseSource(src)
	}
}

// transport adds the Authorization header, sends the request through base,
// and resends it after a 401 as the source allows.
type transport struct {
	base   http.RoundTripper
	source credentialSource
}

var errNoSource = errors.New("recitaloauth: NewClient was given a nil TokenSource")

// RoundTrip keeps net/http's contract on every way out: the request's
// body is closed once, whatever happens, the request is never changed,
// and a response it does not return is closed.
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
	for sends := 1; err == nil && resp.StatusCode == http.StatusUnauthorized; sends++ {
		if !t.source.refuse(cred) || !resendable(sends, cred) {
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
		resp.Body.Close() // not drained: a stalled 401 body must not hold the resend
		resp, err = t.send(retry, cred)
	}
	if err == nil {
		cred.markWorked()
	}
	return resp, err
}

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
	if out.Header == nil { // http.Client never sends one, but a caller of RoundTrip may
		out.Header = make(http.Header)
	}
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
// before it on its chain, stays on the site of the request the caller
// made, as NewClient says. A chain it cannot follow back (a base transport
// that leaves Response.Request unset) counts as another site: the token is
// not sent on a guess.
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
