package recitaloauth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth/internal/secret"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/oauth2"
)

// DefaultAuthURL is recital's documented login URL. The noAuth=true query is
// part of it as documented and is sent as is.
const DefaultAuthURL = "https://extract.auth.recital.ai/auth/api/v1/login/?noAuth=true"

// DefaultAPIURL is the base URL of recital's extraction API, without a
// trailing slash. The library itself never calls it; it is here so that
// callers (and the recitaltoken command's -check) need not spell it out.
const DefaultAPIURL = "https://extract.api.recital.ai/extract/api/v1"

// DefaultTokenLifetime is how long an access token is taken to live when the
// login answer says nothing about it: neither expires_in nor a JWT exp claim.
// It is recital's documented lifetime.
const DefaultTokenLifetime = time.Hour

// DefaultLoginTimeout bounds one whole login, retries included, when
// [Config.LoginTimeout] is zero. A login that hangs must not hang every
// request waiting for it.
const DefaultLoginTimeout = 30 * time.Second

// Config describes a username/password login to recital. Its zero values
// mean the documented defaults. A Config is read, never written, by its
// methods, which are safe for concurrent use as long as the Config is not
// changed meanwhile; [Config.TokenSource] takes a copy, so changing the
// Config later does not affect a source already made.
//
// Formatting a Config with fmt, log/slog or encoding/json never shows the
// password, nor a password in AuthURL's userinfo. The ways around that are
// a %p of a Config value (go vet reports it) and a Config held by value in
// an unexported field of another struct, which fmt prints field by field
// without asking the Config: hold a *Config there instead.
type Config struct {
	// Username is the recital account's login, usually an e-mail address.
	Username string

	// Password is the account's password. It is sent only in the body of
	// the login request, and never appears in errors or formatted output.
	// It must be valid UTF-8, as recital's server reads it: another
	// encoding (Latin-1, say) is refused before anything is sent.
	Password string

	// AuthURL is the login URL, query included. "" means [DefaultAuthURL].
	// It must be https, or http to a loopback host (tests, local proxies)
	// that the HTTP client reaches directly: not through a proxy, which
	// would see the password in clear. http://localhost is sent to
	// 127.0.0.1, whatever a resolver says localhost is.
	AuthURL string

	// LoginTimeout bounds one whole login, retries included.
	// Zero means [DefaultLoginTimeout]. A deadline on the context bounds it
	// too.
	LoginTimeout time.Duration

	// Store, when set, keeps tokens beyond this process, sealed with a key
	// derived from the password, so that processes and machines logging in
	// as the same user share one login; see "Sharing tokens between
	// processes" in the package documentation. nil: tokens live in this
	// process only.
	Store Store

	// Logger, when set, receives a record of each login, failure, refused
	// token and store failure; never of a cached Token call, and never a
	// secret. nil: silent.
	Logger *slog.Logger

	// MeterProvider receives the source's metrics, and TracerProvider a
	// span per login, as the package documentation ("Telemetry") lists
	// them. nil: OpenTelemetry's global ones, which record nothing until
	// a program installs an SDK.
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
}

// Token logs in once and returns the new access token, with no caching:
// each call is a login. Most callers want [Config.TokenSource] or
// [Config.Client] instead.
//
// The HTTP client is the one stored in ctx under [oauth2.HTTPClient], else
// [http.DefaultClient]; the login never follows redirects. Transient failures
// (network errors, 429, 500, 502, 503, 504) are retried up to twice within
// [Config.LoginTimeout]. A refused login is an error that [errors.As] finds
// as an [*oauth2.RetrieveError].
func (c *Config) Token(ctx context.Context) (*oauth2.Token, error) {
	tok, _, err := c.login(ctx)
	return tok, err
}

// TokenSource returns a source that logs in on first use, hands out the
// cached token, and logs in again in the background before the token
// expires; the package documentation describes when. It is safe for
// concurrent use: any number of concurrent callers share one login. Each
// call makes a new, empty cache: make the source once and share it.
//
// ctx is used for every login the source makes: its HTTP client (see
// [Config.Token]) and its cancellation. Once ctx is done, logins fail.
func (c *Config) TokenSource(ctx context.Context) oauth2.TokenSource {
	cfg := *c
	return newCachedSource(ctx, &cfg)
}

// Client returns an HTTP client that authenticates every request with a
// token from c.TokenSource(ctx). It is NewClient(ctx, c.TokenSource(ctx)):
// see [NewClient] for what it adds to [oauth2.NewClient]. Make it once and
// share it: each call has a cache of its own, so a client per request
// would be a login per request.
func (c *Config) Client(ctx context.Context) *http.Client {
	return NewClient(ctx, c.TokenSource(ctx))
}

// LoginURL returns the URL c logs in at: AuthURL, or [DefaultAuthURL]
// when AuthURL is "", for a program that shows where it logs in (the
// recitaltoken command's -status). Safe for concurrent use.
func (c *Config) LoginURL() string {
	if c.AuthURL == "" {
		return DefaultAuthURL
	}
	return c.AuthURL
}

// logger is Config.Logger, or discardLogger.
func (c *Config) logger() *slog.Logger {
	if c.Logger == nil {
		return discardLogger
	}
	return c.Logger
}

// discardLogger discards everything: one for every source without a
// Logger, rather than one each.
var discardLogger = slog.New(slog.DiscardHandler)

func (c *Config) loginTimeout() time.Duration {
	if c.LoginTimeout <= 0 {
		return DefaultLoginTimeout
	}
	return c.LoginTimeout
}

// String describes c without its password, nor the password in AuthURL's
// userinfo, for fmt's %v, %+v and %s.
func (c Config) String() string {
	password := secret.Redacted
	if c.Password == "" {
		password = `""`
	}
	s := fmt.Sprintf("recitaloauth.Config{Username: %q, Password: %s, AuthURL: %q", c.Username, password, secret.URL(c.AuthURL))
	if c.LoginTimeout != 0 {
		s += ", LoginTimeout: " + c.LoginTimeout.String()
	}
	return s + "}"
}

// Format writes String for every verb, %#v included, so that no verb makes
// fmt print the fields one by one, password included. fmt asks a Formatter
// before a GoStringer, so Format is all it takes.
func (c Config) Format(f fmt.State, verb rune) { io.WriteString(f, c.String()) }

// MarshalJSON writes c with its password, and the password in AuthURL's
// userinfo, redacted, so that a Config inside a logged or dumped structure
// (log/slog's JSON handler marshals what has no LogValue) does not leak
// them. Store, Logger and the providers are left out: a store may hold a
// connection's own secrets, and none has a JSON form to read back.
// Unmarshalling is unchanged: a Config can still be read from a JSON file.
func (c Config) MarshalJSON() ([]byte, error) {
	// The fields are named one by one, so that a field added to Config
	// later stays out until someone decides it is safe to show.
	return json.Marshal(struct {
		Username     string
		Password     string
		AuthURL      string
		LoginTimeout time.Duration
	}{c.Username, secret.Mask(c.Password), secret.URL(c.AuthURL), c.LoginTimeout})
}

// LogValue describes c to log/slog without its password, nor the password
// in AuthURL's userinfo. AuthURL is shown as set, "" for the default, as
// String and MarshalJSON show it: one rule for every description.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("username", c.Username),
		slog.String("password", secret.Mask(c.Password)),
		slog.String("auth_url", secret.URL(c.AuthURL)),
	)
}

// ServiceTokenSource returns a source that always hands out token, a
// service token made in recital's organisation settings, as a bearer token
// with no expiry. It never makes a network call and is safe for concurrent
// use. Surrounding white space (a newline from a file or a shell) is
// trimmed; an empty or malformed token makes every Token call fail.
//
// Formatting the source with fmt or log/slog never shows the token.
func ServiceTokenSource(token string) oauth2.TokenSource {
	return newServiceTokenSource(token)
}
