// Package hooks hands the recitaltoken command the library's own rules,
// so that it never copies them: package recitaloauth sets each variable
// in its init, and the command, which imports recitaloauth, calls them.
// They are not part of the library's API.
package hooks

import (
	"context"
	"io"
	"time"

	"golang.org/x/oauth2"
)

// TokenFor returns a token from src with at least minLeft to live,
// waiting for a login when the cached one has less (a process about to
// exit cannot leave a refresh to the background). For a source that is
// not the library's, it is src.Token().
var TokenFor func(ctx context.Context, src oauth2.TokenSource, minLeft time.Duration) (*oauth2.Token, error)

// Env reads the environment as recitaloauth.DefaultTokenSource does,
// through getenv, and returns either a service token or config, a
// *recitaloauth.Config (this package cannot name the type: recitaloauth
// imports it). password, when not nil, gives the password in
// RECITAL_PASSWORD's place; passwordFrom names it in messages. It is
// called only when a username is set and no service token is.
// RECITAL_LOG's records go to logTo.
var Env func(getenv func(string) string, password func() (string, error), passwordFrom string, logTo io.Writer) (service string, config any, err error)

// CheckURL refuses a URL that is not absolute, or over which a secret
// would cross a network in clear text (https only, http to loopback);
// name says where the URL came from, for the message.
var CheckURL func(rawURL, name string) error

// RedactURL is a URL with the password of its userinfo hidden, by the
// library's rule for Config's AuthURL.
var RedactURL func(rawURL string) string

// StatusLine is the status line for an HTTP status code, e.g.
// "401 Unauthorized", rebuilt from the code alone.
var StatusLine func(code int) string

// Detail is FastAPI's error detail in a JSON answer body, as one short
// printable line without secret; "" when there is none.
var Detail func(body []byte, secret string) string
