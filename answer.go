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

	"golang.org/x/oauth2"
)

// maxTokenLifetime caps what a login answer may claim, so that a broken
// expires_in or exp cannot make a token live for ever (or overflow).
const maxTokenLifetime = 366 * 24 * time.Hour

// parseAnswer turns a 2xx login answer into a token. started is when the
// login began: expires_in counts from then, which errs on the early side.
// password is only there to be scrubbed from what the server says.
func parseAnswer(body []byte, started time.Time, password string) (*oauth2.Token, error) {
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
	expiry, err := expiry(fields, access, started)
	if err != nil {
		return nil, err
	}
	tok := &oauth2.Token{AccessToken: access, TokenType: "Bearer", Expiry: expiry}
	return tok.WithExtra(fields), nil
}

func accessToken(fields map[string]any, password string) (string, error) {
	value, ok := fields["access_token"]
	if !ok {
		if detail := detailOf(fields, password); detail != "" {
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

// expiry trusts, in this order, expires_in, the token's own exp claim, and
// the documented lifetime (recital's changelog says it may have grown).
func expiry(fields map[string]any, access string, started time.Time) (time.Time, error) {
	if value, ok := fields["expires_in"]; ok && value != nil {
		seconds, ok := number(value)
		if !ok || seconds <= 0 || seconds > maxTokenLifetime.Seconds() {
			return time.Time{}, errors.New("recitaloauth: login answer's expires_in is not a positive number of seconds")
		}
		return started.Add(time.Duration(seconds * float64(time.Second))), nil
	}
	if exp, ok := jwtExpiry(access); ok && exp.After(started) && exp.Sub(started) <= maxTokenLifetime {
		return exp, nil
	}
	return started.Add(DefaultTokenLifetime), nil
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

// jwtExpiry reads the exp claim of a JWT without checking its signature:
// the token is recital's business, only its lifetime is ours.
func jwtExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp any `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return time.Time{}, false
	}
	exp, ok := number(claims.Exp)
	if !ok || exp <= 0 || exp > math.MaxInt32*4 {
		return time.Time{}, false
	}
	return time.Unix(int64(exp), 0), true
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
// The status line is rebuilt from the code: its reason phrase is the
// server's free text, as hostile as the body. The Response's Request no
// longer holds the form that was sent: see withoutSecrets.
func refused(resp *http.Response, body []byte, password string) error {
	resp.Request = withoutSecrets(resp.Request)
	resp.Status = strings.TrimSpace(fmt.Sprintf("%03d %s", resp.StatusCode, http.StatusText(resp.StatusCode)))
	msg := "recitaloauth: login refused: " + resp.Status
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		msg = "recitaloauth: login answered " + resp.Status + redirectTarget(resp, password) + ": redirects are not followed"
	}
	var fields map[string]any
	if json.Unmarshal(body, &fields) == nil {
		if detail := detailOf(fields, password); detail != "" {
			msg += ": " + detail
		}
	}
	// The scrub knows JSON's escapes: the answer needs no decoding, and
	// stays as the server wrote it but for the password.
	body = newScrubber(password).prefix(body, maxErrorBody)
	if len(body) > maxErrorBody {
		body = body[:maxErrorBody]
	}
	return &loginError{msg: msg, err: &oauth2.RetrieveError{Response: resp, Body: body}}
}

// detailOf reads FastAPI's error detail: a string, or a list of
// {"loc": [...], "msg": "..."} as in its 422 answers. The result is one
// short line of printable text, without the password.
func detailOf(fields map[string]any, password string) string {
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
	detail := newScrubber(password).prefix([]byte(strings.Join(parts, "; ")), maxErrorBody)
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
