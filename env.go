package recitaloauth

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/oauth2"
)

// The environment variables [DefaultTokenSource] reads.
const (
	envAPIToken = "RECITAL_API_TOKEN"
	envUsername = "RECITAL_USERNAME"
	envPassword = "RECITAL_PASSWORD"
	envAuthURL  = "RECITAL_AUTH_URL"
	envLog      = "RECITAL_LOG"
)

// logLevels are RECITAL_LOG's values.
var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn}

// DefaultTokenSource returns the token source the environment describes,
// in the manner of google.DefaultTokenSource:
//
//   - RECITAL_API_TOKEN set: [ServiceTokenSource] with that token;
//   - else RECITAL_USERNAME and RECITAL_PASSWORD set: [Config.TokenSource]
//     for them, with RECITAL_AUTH_URL as [Config.AuthURL] when it is set
//     ([DefaultAuthURL] otherwise): it logs in on first use and caches the
//     token;
//   - else an error that names the variables.
//
// RECITAL_LOG=debug, info or warn makes the source log what it does
// ([Config.Logger]) as text records on standard error; unset, it is
// silent.
//
// When RECITAL_API_TOKEN is set together with a username and password, the
// service token wins, as recital recommends service tokens for programs. A
// variable set to the empty string, or a token of only white space, counts
// as unset. Only one of RECITAL_USERNAME and RECITAL_PASSWORD set is an
// error naming the missing one.
//
// DefaultTokenSource reads the environment once, when called, and makes no
// network call: a returned error is a configuration error (missing
// variables, a malformed token, an unusable RECITAL_AUTH_URL), never a
// refused login. ctx serves the source's logins as in [Config.TokenSource].
// The error never holds the password or the token. The source is safe for
// concurrent use.
func DefaultTokenSource(ctx context.Context) (oauth2.TokenSource, error) {
	if token := strings.TrimSpace(os.Getenv(envAPIToken)); token != "" {
		if !isBearerToken(token) {
			return nil, errors.New("recitaloauth: " + envAPIToken + " has characters a bearer token cannot have")
		}
		return ServiceTokenSource(token), nil
	}
	username, password := os.Getenv(envUsername), os.Getenv(envPassword)
	switch {
	case username == "" && password == "":
		return nil, errors.New("recitaloauth: no credentials in the environment: set " +
			envAPIToken + ", or " + envUsername + " and " + envPassword)
	case password == "":
		return nil, errors.New("recitaloauth: " + envUsername + " is set but " + envPassword + " is not")
	case username == "":
		return nil, errors.New("recitaloauth: " + envPassword + " is set but " + envUsername + " is not")
	}
	logger, err := envLogger()
	if err != nil {
		return nil, err
	}
	cfg := &Config{Username: username, Password: password, AuthURL: os.Getenv(envAuthURL), Logger: logger}
	if cfg.AuthURL != "" {
		// Every login would refuse it: say so now, as a configuration error.
		if err := checkAuthURL(cfg.AuthURL, envAuthURL); err != nil {
			return nil, err
		}
	}
	return cfg.TokenSource(ctx), nil
}

// envLogger is the logger RECITAL_LOG asks for, or nil.
func envLogger() (*slog.Logger, error) {
	name := os.Getenv(envLog)
	if name == "" {
		return nil, nil
	}
	level, ok := logLevels[strings.ToLower(name)]
	if !ok {
		return nil, errors.New("recitaloauth: " + envLog + " must be debug, info or warn")
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})), nil
}
