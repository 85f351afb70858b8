// Recitaltoken prints an access token for recital.ai's APIs, for use in
// shell scripts:
//
//	curl -H "Authorization: Bearer $(recitaltoken)" https://extract.api.recital.ai/extract/api/v1/config/
//
// Install it with
//
//	go install github.com/seed9ffb1f9c/recitaloauth/cmd/recitaltoken@latest
//
// With no flags, it prints the access token and a newline, and nothing
// else, on standard output. The flags, as recitaltoken -h lists them:
//
//	-check           GET $RECITAL_API_URL/config/ with the token; the status on
//	                 stderr, exit 0 on 200
//	-json            print access_token, token_type and expiry as JSON
//	-status          who, login host, cache, the cached token's expiry; never the
//	                 token, never a login, never a write
//	-logout          forget this account's cached token
//	-refresh         log in now, replace the cached token, print it
//	-no-cache        neither read nor write the cache: log in every run
//	-password-stdin  read the password from the first line of stdin
//	-timeout D       bound the whole run, waits and login, to D (default 30s)
//	-v               say on stderr what the run does, each event once
//
// There is no -password flag: a password on the command line shows in ps.
// With a username set and no password, on a terminal, the command asks
// for it without echo, as gh, az and psql do; not on a terminal, that is
// a configuration error. Try -check first with new credentials.
//
// # Environment
//
// The credentials come from RECITAL_API_TOKEN, or RECITAL_USERNAME and
// RECITAL_PASSWORD, with RECITAL_AUTH_URL and RECITAL_LOG, by the rules of
// [recitaloauth.DefaultTokenSource]. RECITAL_API_URL, the command's own,
// is the API base URL for -check (default [recitaloauth.DefaultAPIURL]).
//
// # Cache
//
// A login's token is kept in the library's file store
// ([filestore.Store]) in its default directory (-h prints it), shared with
// every program on the machine that uses filestore.New(""), sealed with a
// key derived from the password, and reused while it has more than a
// minute to live: a script that runs recitaltoken a hundred times logs in
// once, and runs started together take turns on its lock and log in once
// between them. After the server
// revoked a cached token, -refresh replaces it (and -check drops it and
// logs in again). -logout deletes it, by the store's compare-and-delete;
// -status shows it. A service token is never cached: -status says
// "service token", -logout says there is nothing to forget (exit 0), and
// -refresh that there is nothing to refresh (exit 2: the environment
// chose a mode in which the flag means nothing).
//
// # Exit status
//
//	0  success; for -status, a cached token with a minute to live, or a
//	   service token
//	1  the login was refused, the network failed, -timeout ran out,
//	   -check got no 200, the cache failed, or -status found no token
//	2  a usage or configuration error, checked before anything is sent:
//	   no credentials, a password that is not UTF-8, a bad URL
//
// Messages go to standard error, start with "recitaltoken: ", and never
// hold the password or a token; an error of the library's keeps its own
// "recitaloauth: " after it (recitaltoken: recitaloauth: login refused:
// 401 Unauthorized: ...). -v says each event once. Interrupting a
// run (Ctrl-C, or SIGTERM) ends it at once, even while it waits for
// another's login, and a password prompt gives the terminal its echo back.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth"
	"github.com/seed9ffb1f9c/recitaloauth/filestore"
	envvar "github.com/seed9ffb1f9c/recitaloauth/internal/env"
	"github.com/seed9ffb1f9c/recitaloauth/internal/syncio"
	"golang.org/x/oauth2"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // refused login, network failure, timeout, -check without 200, no cached token for -status
	exitUsage   = 2 // usage or configuration error
)

// envAPIURL is the command's own variable; the library reads the others.
const envAPIURL = "RECITAL_API_URL"

// minLife is the least a printed token has left to live: a script uses
// it after this process has exited, and cannot refresh it.
const minLife = time.Minute

func main() {
	// The same ctx serves the source: Ctrl-C also ends a wait for another
	// run's login. SIGTERM ends a run the same way, so that a password
	// prompt gives the terminal its echo back.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], surroundings{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv,
	})
	stop()
	os.Exit(code)
}

// surroundings are what a run reads and writes, injected so that tests
// run the command in process.
type surroundings struct {
	stdin          io.Reader // an *os.File on a terminal gets the password prompt
	stdout, stderr io.Writer
	getenv         func(string) string
	storeDir       string        // "": the library's default, filestore.New("")
	timeout        time.Duration // -timeout's default; 0: the library's login timeout
}

// errTimedOut is the cause of a run that -timeout ended.
var errTimedOut = errors.New("-timeout reached")

// run is the command; it returns the exit code. ctx ends the run, waits
// included.
func run(ctx context.Context, args []string, env surroundings) int {
	// -v's records come from the source's login goroutine too.
	env.stderr = &syncio.Writer{W: env.stderr}
	var opts options
	fs := newFlagSet(&opts, cmp.Or(env.timeout, recitaloauth.DefaultLoginTimeout))
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(env.stdout, fs)
			return exitOK
		}
		return usageError(env.stderr, fs, err.Error())
	}
	if msg := fs.conflict(opts); msg != "" {
		return usageError(env.stderr, fs, msg)
	}
	if fs.NArg() > 0 {
		return usageError(env.stderr, fs, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}

	var checkURL string
	if opts.check {
		var err error
		if checkURL, err = configURL(env.getenv); err != nil {
			return configError(env.stderr, err)
		}
	}
	// The environment (and the prompt, which waits for a person) before
	// the clock of -timeout starts.
	settings, err := readSettings(ctx, opts, env)
	switch {
	case err != nil && ctx.Err() != nil:
		printError(env.stderr, err) // interrupted at the prompt
		return exitFailure
	case err != nil:
		return configError(env.stderr, err)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, opts.timeout, errTimedOut)
	defer cancel()
	a := newAccount(ctx, opts, env, settings)
	r := runner{ctx: ctx, opts: opts, env: env, account: a}
	switch {
	case opts.status:
		return r.status()
	case opts.logout:
		return r.logout()
	case opts.refresh:
		return r.refreshToken()
	case opts.check:
		return r.failed(check(ctx, a.src, checkURL, env.stderr))
	}
	return r.print()
}

// account is what the environment describes: a service token, or a
// login whose cache is cfg.Store.
type account struct {
	service bool
	cfg     *recitaloauth.Config // nil for a service token
	src     oauth2.TokenSource
}

// newAccount makes the run's source for s; ctx serves its logins.
func newAccount(ctx context.Context, opts options, env surroundings, s envvar.Settings) *account {
	if s.ServiceToken != "" {
		return &account{service: true, src: recitaloauth.ServiceTokenSource(s.ServiceToken)} // never stored
	}
	cfg := &recitaloauth.Config{Username: s.Username, Password: s.Password, AuthURL: s.AuthURL, Logger: s.Logger}
	if opts.verbose {
		cfg.Logger = slog.New(newBriefHandler(env.stderr))
	}
	if !opts.noCache {
		cfg.Store = filestore.New(env.storeDir)
	}
	cfg.LoginTimeout = opts.timeout
	return &account{cfg: cfg, src: cfg.TokenSource(ctx)}
}

// runner runs one of the command's modes.
type runner struct {
	ctx     context.Context
	opts    options
	env     surroundings
	account *account
}

// print is the default: a token with minLife to live, on stdout.
func (r runner) print() int {
	tok, err := recitaloauth.TokenLasting(r.ctx, r.account.src, minLife)
	if err != nil {
		return r.fail(err)
	}
	if err := printToken(r.env.stdout, tok, r.opts.json); err != nil {
		return r.fail(err)
	}
	return exitOK
}

// refreshToken is -refresh: the cached token is forgotten, so that the
// token printed comes from a login (or from another run that logged in
// after the forget, which is as new).
func (r runner) refreshToken() int {
	if r.account.service {
		fmt.Fprintln(r.env.stderr, "recitaltoken: a service token ("+envvar.APIToken+") is never cached: nothing to refresh")
		return exitUsage
	}
	// A cache that cannot be used is no reason not to log in: the run
	// goes on without it, as a plain run does.
	if _, err := r.account.cfg.ForgetStoredToken(r.ctx); err != nil {
		fmt.Fprintf(r.env.stderr, "recitaltoken: %v; logging in all the same\n", err)
	}
	return r.print()
}

// logout is -logout.
func (r runner) logout() int {
	if r.account.service {
		fmt.Fprintln(r.env.stderr, "recitaltoken: a service token ("+envvar.APIToken+") is never cached: nothing to forget")
		return exitOK
	}
	forgot, err := r.account.cfg.ForgetStoredToken(r.ctx)
	switch {
	case err != nil:
		return r.fail(err)
	case forgot:
		fmt.Fprintf(r.env.stderr, "recitaltoken: forgot the cached token of %s\n", r.account.cfg.Username)
	default:
		fmt.Fprintf(r.env.stderr, "recitaltoken: no cached token for %s\n", r.account.cfg.Username)
	}
	return exitOK
}

// status is -status, on stdout: it never prints the token, never logs in,
// and writes nothing: it loads the cached token, as a run would, and so
// tells whether the cache can be read, not whether it can be written
// (-v on a run says when a save fails).
func (r runner) status() int {
	w := r.env.stdout
	if r.account.service {
		fmt.Fprintln(w, "user:  service token ("+envvar.APIToken+")")
		fmt.Fprintln(w, "cache: none: a service token is never cached")
		return exitOK
	}
	cfg := r.account.cfg
	fmt.Fprintln(w, "user:  "+cfg.Username)
	fmt.Fprintln(w, "login: "+loginHost(cfg.LoginURL()))
	where := "?"
	if fs, ok := cfg.Store.(*filestore.Store); ok {
		if dir, err := fs.Dir(); err == nil {
			where = dir
		} // else StoredToken fails, saying why
	}
	tok, err := cfg.StoredToken(r.ctx)
	if err != nil {
		fmt.Fprintf(w, "cache: %s: cannot be used: %v\n", where, err)
		fmt.Fprintln(w, "token: unknown")
		return r.failed(exitFailure)
	}
	fmt.Fprintln(w, "cache: "+where)
	if tok == nil {
		fmt.Fprintln(w, "token: none cached")
		return exitFailure
	}
	left := time.Until(tok.Expiry)
	if left <= 0 {
		fmt.Fprintf(w, "token: expired at %s\n", tok.Expiry.UTC().Format(time.RFC3339))
		return exitFailure
	}
	fmt.Fprintf(w, "token: expires %s (%d min left)\n", tok.Expiry.UTC().Format(time.RFC3339), int(left.Minutes()))
	if left < minLife {
		return exitFailure
	}
	return exitOK
}

// loginHost is loginURL's host.
func loginHost(loginURL string) string {
	u, err := url.Parse(loginURL)
	if err != nil {
		return "?"
	}
	return u.Host
}

// fail reports err, naming -timeout if it ended the run, and returns
// exitFailure.
func (r runner) fail(err error) int {
	if r.timedOut() {
		err = fmt.Errorf("gave up after -timeout %v: %w", r.opts.timeout, err)
	}
	printError(r.env.stderr, err)
	return exitFailure
}

// failed is code, after saying that -timeout ended the run if it did:
// for a mode that reported its failure itself.
func (r runner) failed(code int) int {
	if code != exitOK && r.timedOut() {
		fmt.Fprintf(r.env.stderr, "recitaltoken: gave up after -timeout %v\n", r.opts.timeout)
	}
	return code
}

func (r runner) timedOut() bool { return errors.Is(context.Cause(r.ctx), errTimedOut) }

// printToken writes the token, or its JSON, and a newline.
func printToken(w io.Writer, tok *oauth2.Token, asJSON bool) error {
	if !asJSON {
		_, err := fmt.Fprintln(w, tok.AccessToken)
		return err
	}
	out := struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Expiry      string `json:"expiry,omitempty"` // none for a service token
	}{AccessToken: tok.AccessToken, TokenType: tok.Type()}
	if !tok.Expiry.IsZero() {
		out.Expiry = tok.Expiry.UTC().Format(time.RFC3339)
	}
	return json.NewEncoder(w).Encode(out)
}

func usageError(stderr io.Writer, fs *flagSet, msg string) int {
	fmt.Fprint(stderr, "recitaltoken: "+msg+"\n"+fs.usageLine()+"Run 'recitaltoken -h' for help.\n")
	return exitUsage
}

func configError(stderr io.Writer, err error) int {
	printError(stderr, err)
	return exitUsage
}

// printError writes err as the command's message. The library's errors
// keep their own prefix, "recitaloauth: ", as errors wrapped in Go do:
// it says that the library's rules refused, and the command never
// rewords what it did not write.
func printError(w io.Writer, err error) {
	fmt.Fprintln(w, "recitaltoken:", err)
}
