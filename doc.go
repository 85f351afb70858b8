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
// [DefaultTokenSource] picks the mode from the RECITAL_* variables; its
// documentation is their one full description. The recitaltoken command
// (cmd/recitaltoken) prints a token from the same variables for shell
// scripts; [TokenLasting] is what it, or any program that hands a token on
// and exits (a credential helper), needs from a source, and
// [Config.StoredToken] and [Config.ForgetStoredToken] are its -status and
// -logout.
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
// Every expiry decision is on the wall clock, as in x/oauth2: Go's
// monotonic clock stops while a machine sleeps, and a laptop that wakes
// after two hours must not hand out a token that expired an hour ago.
// When the answer has no expires_in (FastAPI's does not), the lifetime is
// read from the JWT on the server's own clock: exp − iat, else exp − the
// answer's Date header, so a server clock minutes off ours changes
// nothing. Those times are whole seconds, so a second of that lifetime is
// counted against the token; and when exp, read on our clock, comes
// sooner than the lifetime says by at most a minute and half the lifetime
// (a server whose clock is ours, with a Date that lags, as uvicorn's
// does), exp is the expiry. So on a server whose clock is ours, with a
// Date that lags by less than that, a token never expires later than its
// exp. (A JWT whose exp is already past, and the claims of a server whose
// times disagree, are not trusted: the documented hour applies.)
//
// An idle source runs no goroutine and no timer, and needs no Close. Each
// Token call returns a token of the caller's own, so one source can feed
// several [oauth2.NewClient] clients at once.
//
// [TokenLasting] asks for a token that lasts a given time, for a program
// that hands it on and exits: its documentation says how it differs.
//
// # Refused tokens
//
// The API refuses a token with 401 when it was revoked, or, where the
// organisation binds tokens to IP addresses, when another machine logged
// in for it. [Config.Client] and [NewClient] hand such a token back to
// its source; code that puts the token on its requests itself (a gRPC
// per-request credential, a header set by hand) does so with
// [Invalidate]. [oauth2.NewClient]'s transport never does: its callers
// get the 401 until the token expires. Then, for a source from
// [Config.TokenSource]:
//
//   - if the token is still the source's current one, it is dropped: the
//     next caller waits for one new login, shared by every request refused
//     meanwhile, and that login deletes the token from the store;
//   - a token of the source's own login refused sooner than a gap after
//     its login is kept, and the 401 goes to the caller: a server refusing
//     even fresh tokens gets at most one login per gap, not a login per
//     request. The gap starts at zero, goes from 1 s doubling to 1 min
//     while such refusals go on, and falls back to zero once a token lasts
//     2 min. A token borrowed from the store is never kept: a login of
//     the source's own may succeed where it failed;
//   - [Config.Client] sends the request again with the new token, once,
//     if its body can be replayed (no body, or GetBody set); a third time
//     only when the new token was borrowed from the store and refused too.
//     Otherwise the caller gets the 401. A service token is never resent;
//   - from then on, no stored token obtained at or before the refused one
//     is used, so that a store writer putting an older value back does
//     not win;
//   - a token another machine saved in the store that is refused before it
//     ever worked may be bound to that machine's address. A revocation
//     looks alike at first, so one refusal proves nothing: a source
//     concludes that tokens are bound to IP addresses when two tokens
//     other machines saved (a sealed value names its saver's host name)
//     are refused before either ever worked, with none of its own logins'
//     refused in between. It says so once at Warn and from then on shares
//     only with the processes of its own machine, under a key of that
//     machine's, so the fleet pays at most two refused tokens per
//     process, not one at every refresh. A refusal counts even when a
//     background refresh replaced the token while its request was out,
//     and a borrowed token it rules out is dropped at once. A revocation
//     refuses tokens that had worked: sharing goes on after it.
//
// # Sharing tokens between processes
//
// A source with [Config.Store] shares its tokens with every process that
// logs in as the same user at the same login URL: the filestore package
// for the processes of one machine (CLI tools, cron jobs), the redisstore
// package for a fleet. Then:
//
//   - before it logs in, a source looks in the store; a token there with
//     more than the hard limit left is used without a login, on its
//     remaining life, so every process refreshes at the same moment;
//   - processes that need a login at the same moment take turns on the
//     store's lock ([Locker]): one logs in and saves the token, the others
//     look in the store every 50 ms or so and take it. A holder that keeps
//     the lock a third of the login timeout (stopped, dead, or on a login
//     that hangs) is not waited for longer: the others log in without it.
//     One login timeout bounds the wait and the login together, so
//     processes waiting on a login that hangs end with it;
//   - a refused token leaves the store as "Refused tokens" says, by
//     compare-and-delete, so that a newer one another process saved
//     stays;
//   - the store never makes things worse: the store calls of one login
//     are bounded together by a second, even calls that ignore their
//     context (then the login leaves the store alone); looks the store
//     answers while another process logs in are the wait's cost, not
//     the store's, and the third of the login timeout bounds them; an
//     unlock is waited for only within that second, a store call that
//     panics is a failure (and the login leaves that store alone),
//     never the end of the process, and a store that fails costs a
//     login, never a Token call that a login would serve.
//
// Stored times are the wall clock of the process that saved them: the
// machines of a fleet need synchronised clocks (NTP), as for any token
// they share; a few seconds apart is covered by the hard limit.
//
// A store sees only sealed values: the token, its times and the saver's
// host name, encrypted with AES-256-GCM under a key derived from the
// password with argon2id (m=19 MiB, t=2, p=1: some 35 ms of one core,
// paid once per salt), whose salt binds the login URL and username, and
// bound to them and the format. The value's key is a hash of the login URL and username
// (and of the host name, once tokens are bound to IP addresses). Without
// the password, nothing in a store lets anyone use a token, or test a
// guess faster than argon2id allows, for more than one account per
// derivation; a value that does not open (another password, tampered, an
// old format) is ignored and replaced, and its salt is never adopted: a
// source seals under the salt of a value that opened, else a fresh random
// one. One login derives at most two keys (one to open a value under a
// new salt, one to seal), whatever the store returns. Once the source's
// context has ended, Token calls make no store call. Service tokens are
// never stored.
//
// # Logging
//
// With [Config.Logger] set (or RECITAL_LOG for [DefaultTokenSource]), a
// source says what it does, with log/slog:
//
//   - Info: each login that succeeded (reason: first use, early refresh,
//     expired or after a 401; duration; attempts; the token's lifetime),
//     each token taken from the store instead of a login, and a store
//     that works again after it failed;
//   - Warn: each failed login (error with the server's detail, HTTP
//     status, attempts, when the next may happen), each token refused
//     with 401 and dropped (and whether it came from the store), a store
//     that fails (once, until it works again), a store lock held so long
//     that the source logs in without it, and, once, tokens found bound
//     to IP addresses;
//   - Debug: a transient failure retried (and whether Retry-After set the
//     pause), a token refused too soon after its login to be dropped, how
//     many callers waited for a login and for how long, a stored value
//     ignored.
//
// The store working again after a failure is said at Info. The records
// of the Info and Warn lists carry an "event" attribute naming them
// (logged_in, token_from_store, login_failed, token_refused, store_failed,
// store_works, store_lock_held_long, tokens_bound_to_ip), and so does the
// Debug record of callers who waited (callers_waited): a program that acts on records
// should match it, not the message, whose words may change.
//
// A cached Token call logs nothing, and no record holds the password or
// a token.
//
// # Telemetry
//
// [Config.MeterProvider] and [Config.TracerProvider] receive a source's
// OpenTelemetry metrics and a span per login (nil: OpenTelemetry's global
// providers, which record nothing until the program installs an SDK); the
// scope is the module path, with its version. A cached Token records nothing.
//
//	name                               kind       unit       attributes
//	recitaloauth.login.duration        histogram  s          reason; error.type on failure
//	recitaloauth.login.callers_waited  counter    {caller}   reason
//	recitaloauth.token.borrowed        counter    {token}    reason, recitaloauth.token.other_machine
//	recitaloauth.token.refused         counter    {refusal}  recitaloauth.token.origin, recitaloauth.token.dropped
//	recitaloauth.store.errors          counter    {error}    recitaloauth.store.operation
//	recitaloauth.login                 span       client     reason, recitaloauth.login.attempts,
//	                                                         recitaloauth.token.origin or error.type,
//	                                                         http.response.status_code, server.address, server.port
//
// reason is recitaloauth.login.reason: first_use, early_refresh, expired or
// after_a_401; the store's operation load, lock, unlock, save, seal or
// delete. A token taken from the store is no login: it counts in
// token.borrowed, and its span says origin store. token.refused counts each
// token dropped, and each 401 one was kept through, too soon after its
// login (dropped false). error.type, also the status description of a
// failed login's span, is refused (401, 403), rejected (another 4xx),
// rate_limited, server_error, redirect, invalid_answer, timeout, canceled,
// network or _OTHER.
//
// A login's span is the child of the span of the caller that waits for it
// (a request through [Config.Client], [TokenLasting]); a background refresh
// starts a trace of its own. Nothing recorded holds the username, the
// password, a token, a URL's path or query, or an error's text.
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
