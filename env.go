package recitaloauth

import (
	"context"
	"os"

	"github.com/seed9ffb1f9c/recitaloauth/internal/env"
	"golang.org/x/oauth2"
)

// DefaultTokenSource returns the token source the environment describes,
// in the manner of google.DefaultTokenSource. This is the one full
// description of the variables; the recitaltoken command and the README
// refer to it.
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
	s, err := env.Read(env.Sources{Getenv: os.Getenv, LogTo: os.Stderr})
	if err != nil {
		return nil, err
	}
	if s.ServiceToken != "" {
		return ServiceTokenSource(s.ServiceToken), nil
	}
	cfg := &Config{Username: s.Username, Password: s.Password, AuthURL: s.AuthURL, Logger: s.Logger}
	return cfg.TokenSource(ctx), nil
}
