package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth"
	"golang.org/x/oauth2"
)

// maxPasswordLine bounds what -password-stdin reads.
const maxPasswordLine = 4 << 10

// session is one run's way to a token: the source DefaultTokenSource picks
// from the environment and, for a username and password, the cache entry
// that may spare a login.
type session struct {
	source oauth2.TokenSource
	cache  *cacheEntry // nil for a service token, with -no-cache, or with no cache directory
	stderr io.Writer   // for notes about the cache
}

// newSession reads the credentials. Its errors are configuration errors:
// nothing has been sent yet.
func newSession(ctx context.Context, opts options, stdin io.Reader, stderr io.Writer) (*session, error) {
	service := strings.TrimSpace(os.Getenv(envAPIToken)) != "" // DefaultTokenSource's own rule
	if opts.passwordStdin {
		switch {
		case service:
			return nil, errors.New("-password-stdin cannot be used with " + envAPIToken + " set")
		case os.Getenv(envUsername) == "":
			return nil, errors.New("-password-stdin needs " + envUsername)
		}
		password, err := readPassword(stdin)
		if err != nil {
			return nil, err
		}
		// The password takes RECITAL_PASSWORD's place in this process
		// only, so that DefaultTokenSource stays the one reader of the
		// variables.
		if err := os.Setenv(envPassword, password); err != nil {
			return nil, errors.New("-password-stdin: the password cannot hold a NUL byte")
		}
	}
	src, err := recitaloauth.DefaultTokenSource(ctx)
	if err != nil {
		return nil, err
	}
	s := &session{source: src, stderr: stderr}
	if service || opts.noCache {
		return s, nil
	}
	dir, err := defaultCacheDir()
	if err != nil {
		fmt.Fprintf(stderr, "recitaltoken: no token cache, every run logs in: %v\n", err)
		return s, nil
	}
	authURL := os.Getenv(envAuthURL)
	if authURL == "" {
		authURL = recitaloauth.DefaultAuthURL
	}
	s.cache = newCacheEntry(dir, authURL, os.Getenv(envUsername), os.Getenv(envPassword))
	return s, nil
}

// readPassword reads the first line of r, without its line ending.
func readPassword(r io.Reader) (string, error) {
	// Two bytes more than the longest password: room for "\r\n".
	line, err := bufio.NewReader(io.LimitReader(r, maxPasswordLine+2)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("-password-stdin: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if len(line) > maxPasswordLine {
		return "", fmt.Errorf("-password-stdin: the first line is longer than %d bytes", maxPasswordLine)
	}
	if line == "" {
		return "", errors.New("-password-stdin: standard input holds no password")
	}
	return line, nil
}

// token returns the cached token if it has more than a minute to live,
// else a new one from the source, which it caches; fromCache says which.
// Runs started together (xargs -P, make -j) take turns: the first logs in,
// the others find its token in the cache.
func (s *session) token() (tok *oauth2.Token, fromCache bool, err error) {
	if s.cache == nil {
		tok, err = s.source.Token()
		return tok, false, err
	}
	unlock := s.cache.lock()
	defer unlock()
	if tok := s.cache.load(); tok != nil {
		return tok, true, nil
	}
	if tok, err = s.source.Token(); err == nil {
		s.save(tok)
	}
	return tok, false, err
}

// save keeps a new token for the next runs. Failing to costs only a login
// next time, so it is a note, not an error.
func (s *session) save(tok *oauth2.Token) {
	if s.cache == nil || time.Until(tok.Expiry) <= minLifeLeft {
		return
	}
	if err := s.cache.store(tok); err != nil {
		fmt.Fprintf(s.stderr, "recitaltoken: cannot cache the token, the next run will log in again: %v\n", err)
	}
}

// forget drops the cached token after the server refused it.
func (s *session) forget() {
	if s.cache == nil {
		return
	}
	if err := s.cache.remove(); err != nil {
		fmt.Fprintf(s.stderr, "recitaltoken: cannot remove the refused token from the cache: %v\n", err)
	}
}
