package recitaloauth

import (
	"context"
	"errors"
	"io"
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
	service, cfg, err := fromEnv(os.Getenv, nil, "", os.Stderr)
	if err != nil {
		return nil, err
	}
	if service != "" {
		return ServiceTokenSource(service), nil
	}
	return cfg.TokenSource(ctx), nil
}

// fromEnv is the one reader of the variables, for [DefaultTokenSource]
// and the recitaltoken command: it returns either a service token or the
// Config for a username and password. getenv reads a variable. password,
// when not nil, gives the password in RECITAL_PASSWORD's place (the
// command's -password-stdin, which passwordFrom names in messages); it is
// called only when a username is set and no service token is. RECITAL_LOG's
// records go to logTo.
func fromEnv(getenv func(string) string, password func() (string, error), passwordFrom string, logTo io.Writer) (service string, cfg *Config, err error) {
	token := strings.TrimSpace(getenv(envAPIToken))
	switch {
	case token != "" && password != nil:
		return "", nil, errors.New("recitaloauth: " + passwordFrom + " cannot be used with " + envAPIToken + " set")
	case token != "" && !isBearerToken(token):
		return "", nil, errors.New("recitaloauth: " + envAPIToken + " has characters a bearer token cannot have")
	case token != "":
		return token, nil, nil
	}
	username := getenv(envUsername)
	var pass string
	if password != nil {
		if username == "" {
			return "", nil, errors.New("recitaloauth: " + passwordFrom + " needs " + envUsername)
		}
		if pass, err = password(); err != nil {
			return "", nil, err
		}
	} else {
		pass = getenv(envPassword)
	}
	switch {
	case username == "" && pass == "":
		return "", nil, errors.New("recitaloauth: no credentials in the environment: set " +
			envAPIToken + ", or " + envUsername + " and " + envPassword)
	case pass == "":
		return "", nil, errors.New("recitaloauth: " + envUsername + " is set but " + envPassword + " is not")
	case username == "":
		return "", nil, errors.New("recitaloauth: " + envPassword + " is set but " + envUsername + " is not")
	}
	logger, err := envLogger(getenv(envLog), logTo)
	if err != nil {
		return "", nil, err
	}
	cfg = &Config{Username: username, Password: pass, AuthURL: getenv(envAuthURL), Logger: logger}
	if cfg.AuthURL != "" {
		// Every login would refuse it: say so now, as a configuration error.
		if err := checkAuthURL(cfg.AuthURL, envAuthURL); err != nil {
			return "", nil, err
		}
	}
	return "", cfg, nil
}

// envLogger is the logger RECITAL_LOG's value name asks for, or nil.
func envLogger(name string, w io.Writer) (*slog.Logger, error) {
	if name == "" {
		return nil, nil
	}
	level, ok := logLevels[strings.ToLower(name)]
	if !ok {
		return nil, errors.New("recitaloauth: " + envLog + " must be debug, info or warn")
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), nil
}
