package recitaloauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth/internal/fastapi"
	"github.com/seed9ffb1f9c/recitaloauth/internal/secret"
	"golang.org/x/oauth2"
)

// maxTokenLifetime caps what a login answer may claim, so that a broken
// expires_in or exp cannot make a token live for ever (or overflow).
const maxTokenLifetime = 366 * 24 * time.Hour

// parseAnswer turns a 2xx login answer into a token. started is when the
// attempt that got this answer (its POST, not the whole login with its
// retries) began on our clock: the lifetime counts from then, which errs
// on the early side. serverNow is the answer's Date (zero if none), the
// server's clock. password is only there to be scrubbed from what the
// server says.
func parseAnswer(body []byte, started, serverNow time.Time, password string) (*oauth2.Token, error) {
	var fields map[string]any
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errors.New("recitaloauth: login answer is empty")
	}
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return nil, errors.New("recitaloauth: login answer is not a JSON object")
	}
	access, err := accessToken(fields, password)
	if err != nil {
		return nil, err
	}
	lifetime, err := lifetime(fields, access, started, serverNow)
	if err != nil {
		return nil, err
	}
	tok := &oauth2.Token{AccessToken: access, TokenType: "Bearer", Expiry: started.Add(lifetime)}
	return tok.WithExtra(fields), nil
}

func accessToken(fields map[string]any, password string) (string, error) {
	value, ok := fields["access_token"]
	if !ok {
		if detail := fastapi.DetailOf(fields, secret.NewScrubber(password)); detail != "" {
			return "", fmt.Errorf("recitaloauth: login answer has no access_token: %s", detail)
		}
		return "", errors.New("recitaloauth: login answer has no access_token")
	}
	access, ok := value.(string)
	switch {
	case !ok:
		return "", errors.New("recitaloauth: login answer's access_token is not a string")
	case access == "":
		return "", errors.New("recitaloauth: login answer's access_token is empty")
	case !isBearerToken(access):
		return "", errors.New("recitaloauth: login answer's access_token has characters a bearer token cannot have")
	}
	return access, nil
}

// lifetime trusts, in this order, expires_in, the token's own claims, and
// the documented lifetime (recital's changelog says it may have grown).
//
// The claims are times on the server's clock, which need not be ours:
// FastAPI sends no expires_in, so with our clock 10 min behind the
// server's an exp read as our time hands out tokens the server already
// refuses, and 50 min ahead it makes a 1 h token look like a 10 min one.
// So the lifetime is exp − iat when the token says when it was issued,
// else exp − the answer's Date, and exp − started (our clock) only when
// the server gives neither.
//
// Those times are whole seconds, cut down: a token issued at 0.9 s has an
// iat (and a Date) of 0 s, so exp − iat is up to a second more than it
// has left, and that second counts against the token. uvicorn's Date lags
// further: it is refreshed once a second, and on a kept-alive connection
// it stays what it was when the connection opened (17 s stale, measured).
// So when exp read on our clock ends the token sooner than the lifetime
// does, by no more than clockAgreement or half the lifetime, the two
// clocks are taken for one and exp is the end: on a server whose clock is
// ours, the expiry is then never later than exp. A server whose clock is
// that much behind ours loses as much of each token, never more than half.
func lifetime(fields map[string]any, access string, started, serverNow time.Time) (time.Duration, error) {
	claims, isJWT := jwtClaims(access)
	d, err := claimedLifetime(fields, claims, isJWT, started, serverNow)
	if err != nil || !isJWT {
		return d, err
	}
	if left := claims.expiry.Sub(started); left < d && d-left <= min(clockAgreement, d/2) {
		d = left
	}
	if d <= 0 {
		return 0, errors.New("recitaloauth: login answer's token expires as it is issued")
	}
	return d, nil
}

// clockAgreement is how far exp read on our clock may fall short of the
// lifetime the server's own times give for the two clocks still to be
// taken for one (and a Date for stale); see lifetime. Clocks that far
// apart cost a token no more than this.
const clockAgreement = time.Minute

// claimResolution is that of iat, exp and Date: whole seconds.
const claimResolution = time.Second

// claimedLifetime is the lifetime the answer's own times give; see
// lifetime.
func claimedLifetime(fields map[string]any, claims tokenClaims, isJWT bool, started, serverNow time.Time) (time.Duration, error) {
	if value, ok := fields["expires_in"]; ok && value != nil {
		seconds, ok := number(value)
		if !ok || seconds <= 0 || seconds > maxTokenLifetime.Seconds() {
			return 0, errors.New("recitaloauth: login answer's expires_in is not a positive number of seconds")
		}
		return time.Duration(seconds * float64(time.Second)), nil
	}
	if !isJWT {
		return DefaultTokenLifetime, nil
	}
	// Counted from started, exp needs no allowance: a time cut down to
	// the second is only earlier.
	issued, resolution := started, time.Duration(0)
	switch {
	case !claims.issued.IsZero():
		issued, resolution = claims.issued, claimResolution
	case !serverNow.IsZero():
		issued, resolution = serverNow, claimResolution
	}
	if d := claims.expiry.Sub(issued); d > 0 && d <= maxTokenLifetime {
		return d - resolution, nil
	}
	return DefaultTokenLifetime, nil // the server's own times disagree: trust neither
}

// number reads a JSON number or a numeric string, as servers send both.
func number(value any) (float64, bool) {
	switch v := value.(type) {
	case float64:
		return v, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

// tokenClaims are the times a JWT carries; issued is zero without iat.
type tokenClaims struct {
	expiry, issued time.Time
}

// jwtClaims reads the exp and iat claims of a JWT without checking its
// signature: the token is recital's business, only its lifetime is ours.
func jwtClaims(token string) (tokenClaims, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return tokenClaims{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return tokenClaims{}, false
	}
	var raw struct {
		Exp any `json:"exp"`
		Iat any `json:"iat"`
	}
	if json.Unmarshal(payload, &raw) != nil {
		return tokenClaims{}, false
	}
	exp, ok := unixTime(raw.Exp)
	if !ok {
		return tokenClaims{}, false
	}
	iat, _ := unixTime(raw.Iat)
	return tokenClaims{expiry: exp, issued: iat}, true
}

// unixTime reads a NumericDate claim.
func unixTime(claim any) (time.Time, bool) {
	seconds, ok := number(claim)
	if !ok || seconds <= 0 || seconds > math.MaxInt32*4 {
		return time.Time{}, false
	}
	return time.Unix(int64(seconds), 0), true
}

// loginError is a refused login. Its message is short and safe to log;
// errors.As finds the *oauth2.RetrieveError behind it, so code written for
// oauth2's errors works unchanged.
type loginError struct {
	msg string
	err *oauth2.RetrieveError
}

func (e *loginError) Error() string { return e.msg }
func (e *loginError) Unwrap() error { return e.err }

// refusalError is the error for a non-2xx login answer: the status, and
// FastAPI's detail when the server gave one, scrubbed of the password it
// may echo. The status line is rebuilt from the code (fastapi.StatusLine).
// The Response's Request no longer holds the form that was sent: see
// secret.Request.
func refusalError(resp *http.Response, body []byte, password string) error {
	scrub := secret.NewScrubber(password) // a regular expression: built once
	resp.Request = secret.Request(resp.Request)
	resp.Status = fastapi.StatusLine(resp.StatusCode)
	// The headers are the server's text too (Location, a debug header
	// echoing the form), and reachable from the error.
	for _, header := range []http.Header{resp.Header, resp.Trailer} {
		for _, values := range header {
			for i, v := range values {
				values[i] = string(scrub.Prefix([]byte(v), len(v)))
			}
		}
	}
	msg := "recitaloauth: login refused: " + resp.Status
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		msg = "recitaloauth: login answered " + resp.Status + redirectTarget(resp, scrub) + ": redirects are not followed"
	}
	var fields map[string]any
	if json.Unmarshal(body, &fields) == nil {
		if detail := fastapi.DetailOf(fields, scrub); detail != "" {
			msg += ": " + detail
		}
	}
	// The scrub knows JSON's escapes: the answer needs no decoding, and
	// stays as the server wrote it but for the password.
	body = scrub.Prefix(body, fastapi.MaxBody)
	if len(body) > fastapi.MaxBody {
		body = body[:fastapi.MaxBody]
	}
	return &loginError{msg: msg, err: &oauth2.RetrieveError{Response: resp, Body: body}}
}
