package recitaloauth

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// maxTokenLifetime caps what a login answer may claim, so that a broken
// expires_in or exp cannot make a token live for ever (or overflow).
const maxTokenLifetime = 366 * 24 * time.Hour

// parseAnswer turns a 2xx login answer into a token. started is when the
// login began on our clock: the lifetime counts from then, which errs on
// the early side. serverNow is the answer's Date (zero if none), the
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
		if detail := detailOf(fields, newScrubber(password)); detail != "" {
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
func lifetime(fields map[string]any, access string, started, serverNow time.Time) (time.Duration, error) {
	if value, ok := fields["expires_in"]; ok && value != nil {
		seconds, ok := number(value)
		if !ok || seconds <= 0 || seconds > maxTokenLifetime.Seconds() {
			return 0, errors.New("recitaloauth: login answer's expires_in is not a positive number of seconds")
		}
		return time.Duration(seconds * float64(time.Second)), nil
	}
	claims, ok := jwtClaims(access)
	if !ok {
		return DefaultTokenLifetime, nil
	}
	issued := cmp.Or(claims.issued, serverNow, started)
	if d := claims.expiry.Sub(issued); d > 0 && d <= maxTokenLifetime {
		return d, nil
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

// maxDetail bounds the server's words in an error message.
const maxDetail = 200

// maxErrorBody bounds RetrieveError.Body.
const maxErrorBody = 1 << 10

// refused makes the error for a non-2xx answer: the status, and FastAPI's
// detail when the server gave one, scrubbed of the password it may echo.
// The status line is rebuilt from the code (statusLine). The Response's
// Request no longer holds the form that was sent: see withoutSecrets.
func refused(resp *http.Response, body []byte, password string) error {
	scrub := newScrubber(password) // a regular expression: built once
	resp.Request = withoutSecrets(resp.Request)
	resp.Status = statusLine(resp.StatusCode)
	msg := "recitaloauth: login refused: " + resp.Status
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		msg = "recitaloauth: login answered " + resp.Status + redirectTarget(resp, scrub) + ": redirects are not followed"
	}
	var fields map[string]any
	if json.Unmarshal(body, &fields) == nil {
		if detail := detailOf(fields, scrub); detail != "" {
			msg += ": " + detail
		}
	}
	// The scrub knows JSON's escapes: the answer needs no decoding, and
	// stays as the server wrote it but for the password.
	body = scrub.prefix(body, maxErrorBody)
	if len(body) > maxErrorBody { // equivalent mutant CONDITIONALS_BOUNDARY: a body of exactly maxErrorBody bytes is the same cut or not
		body = body[:maxErrorBody]
	}
	return &loginError{msg: msg, err: &oauth2.RetrieveError{Response: resp, Body: body}}
}

// statusLine is the status line for code, e.g. "401 Unauthorized",
// rebuilt from the code alone: the reason phrase a server sends is its
// free text, as hostile as its body.
func statusLine(code int) string {
	return strings.TrimSpace(fmt.Sprintf("%03d %s", code, http.StatusText(code)))
}

// detailOf reads FastAPI's error detail: a string, or a list of
// {"loc": [...], "msg": "..."} as in its 422 answers. The result is one
// short line of printable text, without the password.
func detailOf(fields map[string]any, scrub scrubber) string {
	var parts []string
	switch detail := fields["detail"].(type) {
	case string:
		parts = append(parts, detail)
	case []any:
		for _, item := range detail {
			entry, _ := item.(map[string]any)
			msg, _ := entry["msg"].(string)
			if msg == "" {
				continue
			}
			if loc := location(entry["loc"]); loc != "" {
				msg = loc + ": " + msg
			}
			parts = append(parts, msg)
		}
	}
	detail := scrub.prefix([]byte(strings.Join(parts, "; ")), maxErrorBody)
	return printable(string(detail), maxDetail)
}

// location joins FastAPI's loc, e.g. ["body", "password"] → body.password.
func location(loc any) string {
	items, _ := loc.([]any)
	var parts []string
	for _, item := range items {
		switch v := item.(type) {
		case string:
			parts = append(parts, v)
		case float64:
			parts = append(parts, strconv.FormatFloat(v, 'f', -1, 64))
		}
	}
	return strings.Join(parts, ".")
}
