package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/seed9ffb1f9c/recitaloauth"
	"golang.org/x/oauth2"
)

// checkTimeout bounds the GET of -check; the login has its own bound.
const checkTimeout = 30 * time.Second

// configURL is RECITAL_API_URL (or DefaultAPIURL) + "/config/", the URL of
// recital's own connection test.
func configURL() (string, error) {
	base := os.Getenv(envAPIURL)
	if base == "" {
		base = recitaloauth.DefaultAPIURL
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return "", errors.New(envAPIURL + " is not an absolute URL")
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !isLoopback(u.Hostname())) {
		return "", errors.New(envAPIURL + " must be https (http only to a loopback host): a token must not cross a network in clear text")
	}
	return strings.TrimRight(base, "/") + "/config/", nil
}

func isLoopback(host string) bool {
	addr, err := netip.ParseAddr(host)
	return strings.EqualFold(host, "localhost") || err == nil && addr.Unmap().IsLoopback()
}

// check is -check: GET target with the token and report the status on
// stderr. A cached token the server refuses with 401 (revoked, or bound to
// another IP address) is dropped and replaced by one login, so that -check
// tells whether the credentials work, not whether an old token still
// does. A token the server refused is never left in the cache.
func (s *session) check(ctx context.Context, target string) int {
	tok, fromCache, err := s.token()
	if err != nil {
		fmt.Fprintln(s.stderr, message(err))
		return exitFailure
	}
	status, code, err := getConfig(ctx, target, tok)
	if err == nil && code == http.StatusUnauthorized && fromCache {
		s.forget()
		if tok, _, err = s.token(); err != nil {
			fmt.Fprintln(s.stderr, message(err))
			return exitFailure
		}
		status, code, err = getConfig(ctx, target, tok)
	}
	if err == nil && code == http.StatusUnauthorized {
		s.forget()
	}
	if err != nil {
		fmt.Fprintln(s.stderr, message(err))
		return exitFailure
	}
	fmt.Fprintf(s.stderr, "recitaltoken: GET %s: %s\n", redactURL(target), status)
	if code != http.StatusOK {
		return exitFailure
	}
	return exitOK
}

// getConfig makes the GET, through the library's client: it refuses
// clear text to a host that is not loopback, and keeps the token from a
// host a redirect leads to. status is the HTTP status, with FastAPI's
// detail when the answer is not 200.
func getConfig(ctx context.Context, target string, tok *oauth2.Token) (status string, code int, err error) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := recitaloauth.NewClient(ctx, oauth2.StaticTokenSource(tok)).Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	// Rebuilt from the code: the reason phrase is the server's free text.
	status = fmt.Sprintf("%03d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if detail := detailOf(body, tok.AccessToken); detail != "" {
			status += ": " + detail
		}
	}
	return status, resp.StatusCode, nil
}

// detailOf is FastAPI's {"detail": "..."}, made one short printable line,
// without the token should a server echo it.
func detailOf(body []byte, token string) string {
	var answer struct {
		Detail string `json:"detail"`
	}
	if json.Unmarshal(body, &answer) != nil {
		return ""
	}
	detail := strings.ReplaceAll(answer.Detail, token, "[redacted]")
	detail = strings.Join(strings.FieldsFunc(detail, func(r rune) bool {
		return unicode.IsSpace(r) || !unicode.IsPrint(r)
	}), " ")
	if r := []rune(detail); len(r) > 200 {
		detail = string(r[:200]) + "…"
	}
	return detail
}

// redactURL hides a password in the URL's user info.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.Redacted()
}
