// Package recitaloauth authenticates Go programs to recital.ai's APIs. It
// implements [oauth2.TokenSource] for recital's two ways to log in, so that
// [oauth2.NewClient], or this package's own [NewClient], gives an
// [http.Client] that puts a valid bearer token on every request.
//
// # Which mode
//
// A service token, made in the organisation's settings (Settings → API
// Tokens), is recital's recommended way for programs: [ServiceTokenSource]
// hands it out as it is, never expires it and never calls the network.
//
// A username and password, set in a [Config], log in with a form POST to
// [Config.AuthURL] ([DefaultAuthURL] by default). The answer's access token
// lives one hour by the documentation; the package trusts, in this order,
// the answer's expires_in, the token's own JWT exp claim, and then
// [DefaultTokenLifetime]. [Config.TokenSource] caches the token and logs in
// again before it expires; [Config.Client] is an HTTP client on top of it.
//
// [DefaultTokenSource] picks the mode from the environment: RECITAL_API_TOKEN
// (which wins when both are set), else RECITAL_USERNAME and RECITAL_PASSWORD,
// with RECITAL_AUTH_URL when set. Empty variables count as unset. The
// recitaltoken command (cmd/recitaltoken) prints a token from the same
// variables for shell scripts.
//
// # How refresh works
//
// For a token of lifetime L, counted from the start of its login, the source
// from [Config.TokenSource]:
//
//   - logs in on first use; any number of concurrent callers share that one
//     login;
//   - once less than min(5 min, L/4) remains, still answers at once with the
//     cached token, and starts one login in the background; no caller waits
//     for it;
//   - once less than min(5 s, L/20) remains, no longer hands the old token
//     out: callers wait for the new login;
//   - after a failed login, answers with that error, without a new attempt,
//     for a back-off that starts at 1 s and doubles up to 1 min; a success
//     resets it. While the cached token is still good, a failed background
//     login is not seen by callers and is tried again after the same
//     back-off. A login cut short because the source's context ended is not
//     held against the server;
//   - retries transient failures (network errors, 429, 500, 502, 503, 504)
//     twice within one login, honouring a Retry-After of up to 5 s; 400,
//     401, 403 and 422 are never retried. [Config.LoginTimeout] (30 s by
//     default) bounds the whole login.
//
// An idle source runs no goroutine and no timer, and needs no Close. Each
// Token call returns a token of the caller's own, so one source can feed
// several [oauth2.NewClient] clients at once.
//
// [NewClient] adds what [oauth2.Transport] lacks: a token the server refuses
// with 401 (revoked, bound to another IP address) is replaced by one new
// login and the request sent again (unless the token is only seconds old:
// a server refusing even fresh tokens gets at most one login per gap, from
// 1 s doubling to 1 min); the token goes only to the host the caller asked
// for, not to another host it is redirected to, nor back from there; and a
// request in clear text is refused unless it goes straight to a loopback
// host.
//
// # Errors
//
// Every error this package makes starts with "recitaloauth: ". A login the
// server refuses (any answer that is not 2xx) is an error that [errors.As]
// finds as an [*oauth2.RetrieveError], with the answer's Response and its
// Body (at most 1 KiB); the Response's Request says where the login went,
// without the form that carried the password. Its message names the HTTP
// status and FastAPI's detail when the server gave one, e.g.
//
//	recitaloauth: login refused: 401 Unauthorized: Incorrect username or password
//
// A redirect is such an error too: the login never follows one, and the
// message names where it points (scheme, host and path), e.g.
//
//	recitaloauth: login answered 307 Temporary Redirect to https://auth.example.com/login/: redirects are not followed
//
// which is what FastAPI answers a login URL without its trailing slash.
//
// A 2xx answer without a usable access_token, an answer over 1 MiB, or a
// login URL in clear text to a host that is not loopback, or to one through
// a proxy, are plain errors. No error, and no fmt, log/slog or JSON output
// of a [Config] or of a source, ever holds the password or a token; a
// password the server echoes back is scrubbed.
//
// # HTTP client
//
// Following oauth2's convention, logins use the [http.Client] stored in the
// context under [oauth2.HTTPClient], else [http.DefaultClient]:
//
//	ctx = context.WithValue(ctx, oauth2.HTTPClient, myClient)
//	client := cfg.Client(ctx)
//
// [NewClient] and [Config.Client] take their transport, CheckRedirect, Jar
// and Timeout from that client too.
package recitaloauth
