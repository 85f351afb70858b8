package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/seed9ffb1f9c/recitaloauth"
	"github.com/seed9ffb1f9c/recitaloauth/internal/cleartext"
	"github.com/seed9ffb1f9c/recitaloauth/internal/fastapi"
	"github.com/seed9ffb1f9c/recitaloauth/internal/secret"
	"golang.org/x/oauth2"
)

// maxAnswer bounds what is read of a refused answer, for its detail: a
// FastAPI error is a few hundred bytes.
const maxAnswer = 64 << 10

// configURL is RECITAL_API_URL (or DefaultAPIURL) + "/config/", the URL of
// recital's own connection test, if the library would send a token there.
func configURL(getenv func(string) string) (string, error) {
	base := getenv(envAPIURL)
	if base == "" {
		base = recitaloauth.DefaultAPIURL
	}
	if err := cleartext.Check(base, envAPIURL); err != nil {
		return "", err
	}
	return strings.TrimRight(base, "/") + "/config/", nil
}

// check is -check: GET target with a token from src and report the
// status on stderr. The request goes through the library's client, so a
// token the server refuses with 401 (revoked, or bound to another IP
// address) is dropped from the cache and replaced by one login, by the
// library's rule: -check tells whether the credentials work, not whether
// an old token still does.
func check(ctx context.Context, src oauth2.TokenSource, target string, stderr io.Writer) int {
	// The token first, so that a refused login is reported as one, not
	// as a failed GET.
	tok, err := recitaloauth.TokenLasting(ctx, src, minLife)
	if err != nil {
		printError(stderr, err)
		return exitFailure
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		printError(stderr, err)
		return exitFailure
	}
	req.Header.Set("Accept", "application/json")
	resp, err := recitaloauth.NewClient(ctx, src).Do(req)
	if err != nil {
		printError(stderr, err)
		return exitFailure
	}
	defer resp.Body.Close()
	status := fastapi.StatusLine(resp.StatusCode)
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		if detail := fastapi.Detail(body, secret.NewScrubber(sentToken(resp, tok))); detail != "" {
			status += ": " + detail
		}
	}
	fmt.Fprintf(stderr, "recitaltoken: GET %s: %s\n", secret.URL(target), status)
	if resp.StatusCode != http.StatusOK {
		return exitFailure
	}
	return exitOK
}

// sentToken is the token the answer's request carried, which a server
// may echo: after a 401 it is not tok but the one that replaced it.
func sentToken(resp *http.Response, tok *oauth2.Token) string {
	if resp.Request != nil {
		if t, ok := strings.CutPrefix(resp.Request.Header.Get("Authorization"), "Bearer "); ok && t != "" {
			return t
		}
	}
	return tok.AccessToken
}
