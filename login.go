package recitaloauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth/internal/cleartext"
	"github.com/seed9ffb1f9c/recitaloauth/internal/fastapi"
	"github.com/seed9ffb1f9c/recitaloauth/internal/form"
	"github.com/seed9ffb1f9c/recitaloauth/internal/secret"
	"github.com/seed9ffb1f9c/recitaloauth/internal/telemetry"
	"golang.org/x/oauth2"
)

const (
	// maxLoginAttempts is one try and two retries of a transient failure.
	maxLoginAttempts = 3
	// firstRetryPause is the pause before the first retry; it doubles for
	// the second. Jitter keeps many clients from retrying in step.
	firstRetryPause = 250 * time.Millisecond
	// maxRetryAfter is the longest Retry-After a login waits out; a server
	// asking for more is left alone, and the source's back-off takes over.
	maxRetryAfter = 5 * time.Second
	// maxAnswerSize bounds what is read of an answer, as oauth2 does.
	maxAnswerSize = 1 << 20
)

// userAgent names the package, so recital can tell its clients apart.
const userAgent = "recitaloauth (+https://github.com/seed9ffb1f9c/recitaloauth)"

// login is one login: up to maxLoginAttempts POSTs to the AuthURL, all
// within the login timeout. It reports how many it made.
func (c *Config) login(ctx context.Context) (tok *oauth2.Token, attempts int, err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	authURL, err := c.checkLogin(ctx)
	if err != nil {
		return nil, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.loginTimeout())
	defer cancel()
	client := noRedirects(contextClient(ctx))
	for attempts = 1; ; attempts++ {
		tok, pause, err := c.attempt(ctx, client, authURL)
		if err == nil || pause < 0 || attempts == maxLoginAttempts {
			return tok, attempts, err
		}
		asked := pause > 0
		if !asked {
			pause = retryPause(attempts)
		}
		c.logger().Debug("recitaloauth: login attempt failed, retrying", "attempt", attempts, "error", err.Error(),
			"pause", pause.Round(time.Millisecond), "retry_after_honoured", asked)
		if !sleep(ctx, pause) {
			return nil, attempts, err
		}
	}
}

// checkLogin refuses, before anything is sent, a Config that cannot work
// or would send the password in clear text, through ctx's client.
func (c *Config) checkLogin(ctx context.Context) (string, error) {
	if c.Username == "" {
		return "", errors.New("recitaloauth: Config.Username is empty")
	}
	if c.Password == "" {
		return "", errors.New("recitaloauth: Config.Password is empty")
	}
	if err := form.Check(c.Password, "the password"); err != nil {
		return "", err
	}
	if err := form.Check(c.Username, "the username"); err != nil {
		return "", err
	}
	authURL := c.LoginURL()
	if err := cleartext.Check(authURL, "Config.AuthURL"); err != nil {
		return "", err
	}
	if probe, err := http.NewRequestWithContext(ctx, http.MethodPost, authURL, nil); err == nil {
		if problem := throughProxy(probe, transportOf(contextClient(ctx))); problem != "" {
			return "", errors.New("recitaloauth: Config.AuthURL: " + problem)
		}
	}
	return authURL, nil
}

// attempt makes one POST. On failure, pause says whether to retry: -1
// never, 0 after the usual pause, more after that long (Retry-After).
func (c *Config) attempt(ctx context.Context, client *http.Client, authURL string) (tok *oauth2.Token, pause time.Duration, err error) {
	form := url.Values{"username": {c.Username}, "password": {c.Password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, authURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, -1, fmt.Errorf("recitaloauth: cannot make the login request: %w", err)
	}
	pin(req)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)

	started := time.Now().Round(0) // expiry is wall-clock time: see cachedSource.login
	resp, err := client.Do(req)
	if err != nil {
		telemetry.Answered(ctx, 0) // the span's status is the last attempt's: none
		return nil, transientUnlessDone(ctx), loginFailed(err, c.Password)
	}
	telemetry.Answered(ctx, resp.StatusCode)
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerSize+1))
	switch {
	case err != nil:
		return nil, transientUnlessDone(ctx), fmt.Errorf("recitaloauth: login answer cut short: %w", err)
	case len(body) > maxAnswerSize:
		return nil, -1, fmt.Errorf("recitaloauth: login answer is larger than %d bytes", maxAnswerSize)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, retryAfter(resp), refusalError(resp, body, c.Password)
	}
	tok, err = parseAnswer(body, started, serverTime(resp), c.Password)
	if err != nil {
		return nil, -1, err
	}
	return tok, 0, nil
}

// serverTime is the answer's Date header: the server's clock, against
// which a JWT's exp is read when the token has no iat. Zero when absent.
func serverTime(resp *http.Response) time.Time {
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return time.Time{}
	}
	return date
}

// redirectTarget names where a redirect points, as " to URL", or "" if it
// points nowhere usable: scheme, host and path, so that the login URL can
// be mended in one edit (FastAPI answers a URL without its trailing slash
// with 307 to the URL with it). The query is left out, its values being
// the server's to choose, and so is userinfo; the rest is the server's
// free text, so it is scrubbed and cut short.
func redirectTarget(resp *http.Response, scrub secret.Scrubber) string {
	loc, err := resp.Location()
	if err != nil || loc.Host == "" || (loc.Scheme != "http" && loc.Scheme != "https") {
		return ""
	}
	target := (&url.URL{Scheme: loc.Scheme, Host: loc.Host, Path: loc.Path, RawPath: loc.RawPath}).String()
	return " to " + secret.Printable(string(scrub.Prefix([]byte(target), fastapi.MaxBody)), fastapi.MaxDetail)
}

// loginFailed is the error for a login that got no answer. Its words
// are Go's and ours, which never hold the password, and are left as they
// are; but net/http quotes what a server sent that it could not read (a
// Location header it cannot parse, a malformed status line), and a quoted
// string there may be the server echoing the password. So only the
// quoted strings of the cause are scrubbed; the URL the error names is
// the login URL, ours too. If anything was scrubbed, the original error
// is not reachable from the result.
func loginFailed(err error, password string) error {
	var urlErr *url.Error
	if !errors.As(err, &urlErr) || urlErr.Err == nil {
		return fmt.Errorf("recitaloauth: login failed: %w", err)
	}
	cause := urlErr.Err.Error()
	scrubbed := scrubQuoted(cause, secret.NewScrubber(password))
	if scrubbed == cause {
		return fmt.Errorf("recitaloauth: login failed: %w", err)
	}
	return errors.New("recitaloauth: login failed: " + urlErr.Op + " " + strconv.Quote(urlErr.URL) + ": " + scrubbed)
}

// scrubQuoted scrubs the Go-quoted strings in msg, and nothing else: the
// scrubber knows the escapes %q writes.
func scrubQuoted(msg string, scrub secret.Scrubber) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(msg, '"')
		if i < 0 {
			break
		}
		b.WriteString(msg[:i])
		msg = msg[i:]
		quoted, err := strconv.QuotedPrefix(msg)
		if err != nil {
			quoted = msg // unterminated: the rest may be the server's
		}
		b.Write(scrub.Prefix([]byte(quoted), len(quoted)))
		msg = msg[len(quoted):]
	}
	b.WriteString(msg)
	return b.String()
}

// transientUnlessDone classes a network failure: worth a retry, unless it
// happened because the context ended.
func transientUnlessDone(ctx context.Context) time.Duration {
	if ctx.Err() != nil {
		return -1
	}
	return 0
}

// retryAfter classes a refusal by its status: -1 for those a retry cannot
// mend, else the pause the server asked for (0 when it did not say).
func retryAfter(resp *http.Response) time.Duration {
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
	default:
		return -1
	}
	value := resp.Header.Get("Retry-After")
	if value == "" {
		return 0
	}
	var wait time.Duration
	if seconds, err := strconv.Atoi(value); err == nil {
		wait = time.Duration(min(seconds, 3600)) * time.Second // no overflow
	} else if when, err := http.ParseTime(value); err == nil {
		wait = time.Until(when)
	} else {
		return 0
	}
	switch {
	case wait > maxRetryAfter:
		return -1
	case wait <= 0:
		return 0
	}
	return wait
}

// retryPause is the pause before retry number attempt: firstRetryPause,
// then double, each with jitter taking off up to half.
func retryPause(attempt int) time.Duration {
	d := firstRetryPause << (attempt - 1)
	return d - rand.N(d/2)
}

// sleep waits d, or less if ctx ends first; it reports whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// contextClient is oauth2's convention: the client stored in ctx under
// oauth2.HTTPClient, else http.DefaultClient.
func contextClient(ctx context.Context) *http.Client {
	if hc, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok && hc != nil {
		return hc
	}
	return http.DefaultClient
}

// transportOf is client's transport: a nil one is http.DefaultTransport,
// as net/http has it.
func transportOf(client *http.Client) http.RoundTripper {
	if client.Transport == nil {
		return http.DefaultTransport
	}
	return client.Transport
}

// noRedirects returns a copy of client that hands redirects back instead of
// following them, so the password goes only to the AuthURL.
func noRedirects(client *http.Client) *http.Client {
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}
