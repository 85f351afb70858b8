// Recitaltoken prints an access token for recital.ai's APIs, for use in
// shell scripts:
//
//	curl -H "Authorization: Bearer $(recitaltoken)" https://extract.api.recital.ai/extract/api/v1/config/
//
// Install it with
//
//	go install github.com/seed9ffb1f9c/recitaloauth/cmd/recitaltoken@latest
//
// Usage:
//
//	recitaltoken [-check | -json] [-no-cache] [-password-stdin] [-v]
//
// With no flags, it prints the access token and a newline, and nothing
// else, on standard output. The flags are:
//
//	-check           GET $RECITAL_API_URL/config/ with the token, recital's
//	                 own connection test; report the status on standard
//	                 error (standard output stays empty), exit 0 only on 200
//	-json            print the token as one line of JSON: access_token,
//	                 token_type and expiry (RFC 3339, UTC; left out for a
//	                 service token, which does not expire)
//	-no-cache        neither read nor write the token cache: log in every run
//	-password-stdin  read the password from the first line of standard
//	                 input instead of RECITAL_PASSWORD
//	-v               say on standard error what the run does: a login and
//	                 how long it took, a token from the cache and how long
//	                 it has left, a failure, a refused token
//	-h               print the usage, with the variables
//
// There is no -password flag: a password on the command line shows in ps.
// Try -check first with new credentials.
//
// # Environment
//
// The credentials come from the environment, by
// [recitaloauth.DefaultTokenSource]'s rules:
//
//	RECITAL_API_TOKEN  a service token (Settings → API Tokens); it wins
//	                   over a username and password, and is never cached
//	RECITAL_USERNAME   the account to log in with
//	RECITAL_PASSWORD   its password (or -password-stdin)
//	RECITAL_AUTH_URL   the login URL; default recitaloauth.DefaultAuthURL
//	RECITAL_LOG        debug, info or warn: the library's own log records,
//	                   as text on standard error (-v is the short form)
//	RECITAL_API_URL    the API base URL for -check; default
//	                   recitaloauth.DefaultAPIURL
//
// An empty variable counts as unset.
//
// # Cache
//
// A login's token is kept in the library's [recitaloauth.FileStore] in
// its default directory ("recitaloauth" under os.UserCacheDir, e.g.
// ~/.cache/recitaloauth on Linux, %LocalAppData%\recitaloauth on Windows;
// -h prints it), shared with every program on the
// machine that uses NewFileStore(""), and reused while it has more than a
// minute to live, so that a script that runs recitaltoken a hundred times
// logs in once. The token in it is sealed with a key derived from the
// password with argon2id: a run with another password logs in instead of
// reusing it. Runs started together (xargs -P, make -j) take turns on the
// store's lock, so that they log in once between them, and give up
// together when that login fails or hangs. If the server refuses a cached
// token before its expiry (revoked, or bound to another IP address),
// recitaltoken -check drops it and logs in again. Interrupting a run
// (Ctrl-C) ends it at once, even while it waits for another's login.
//
// # Exit status
//
//	0  success
//	1  the login was refused, the network failed, or -check got no 200
//	2  a usage or configuration error, such as no credentials at all
//
// Messages go to standard error, start with "recitaltoken: ", and never
// hold the password or a token.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth"
	"github.com/seed9ffb1f9c/recitaloauth/internal/hooks"
	"golang.org/x/oauth2"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // refused login, network failure, -check without 200
	exitUsage   = 2 // usage or configuration error
)

// envAPIURL is the command's own variable; the library reads the others.
const envAPIURL = "RECITAL_API_URL"

// minLife is the least a printed token has left to live: a script uses
// it after this process has exited, and cannot refresh it.
const minLife = time.Minute

// maxPasswordLine bounds what -password-stdin reads.
const maxPasswordLine = 4 << 10

func main() {
	// The same ctx serves the source: Ctrl-C also ends a wait for another
	// run's login.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], surroundings{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv,
	})
	stop()
	os.Exit(code)
}

// surroundings are what a run reads and writes, injected so that tests
// run the command in process.
type surroundings struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	storeDir       string        // "": the library's default, NewFileStore("")
	loginTimeout   time.Duration // 0: the library's default
}

// options are the command's flags.
type options struct {
	check         bool
	json          bool
	noCache       bool
	passwordStdin bool
	verbose       bool
}

func newFlagSet(opts *options) *flag.FlagSet {
	fs := flag.NewFlagSet("recitaltoken", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run writes the messages, with its prefix
	fs.BoolVar(&opts.check, "check", false, "GET $"+envAPIURL+"/config/ with the token, recital's connection test;\nreport the status on stderr, exit 0 only on 200")
	fs.BoolVar(&opts.json, "json", false, "print the token as JSON: access_token, token_type, expiry")
	fs.BoolVar(&opts.noCache, "no-cache", false, "neither read nor write the token cache: log in every run")
	fs.BoolVar(&opts.passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	fs.BoolVar(&opts.verbose, "v", false, "say on stderr what the run does: login, cache, failures")
	return fs
}

const shortUsage = "usage: recitaltoken [-check | -json] [-no-cache] [-password-stdin] [-v]\n"

// printUsage is -h.
func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, shortUsage+`
recitaltoken prints an access token for recital.ai's APIs on standard output:

  curl -H "Authorization: Bearer $(recitaltoken)" https://extract.api.recital.ai/extract/api/v1/config/

Flags:
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprint(w, `
Environment:
  RECITAL_API_TOKEN  a service token (Settings → API Tokens); wins over the
                     username and password, and is never cached
  RECITAL_USERNAME   the account to log in with
  RECITAL_PASSWORD   its password (or -password-stdin)
  RECITAL_AUTH_URL   the login URL (default `+recitaloauth.DefaultAuthURL+`)
  RECITAL_LOG        debug, info or warn: the library's log records on stderr
  `+envAPIURL+`    the API base URL for -check (default `+recitaloauth.DefaultAPIURL+`)

A login's token is cached, sealed with a key derived from the password, and
reused while it has more than a minute left, in the library's file store:
  `+storeDirHelp()+`
Try -check first with new credentials.

Exit status: 0 success; 1 login refused, network failure, or -check without
200; 2 usage or configuration error.
`)
}

// run is the command; it returns the exit code. ctx ends the run, waits
// included.
func run(ctx context.Context, args []string, env surroundings) int {
	// -v's records come from the source's login goroutine too.
	env.stderr = &syncWriter{w: env.stderr}
	var opts options
	fs := newFlagSet(&opts)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(env.stdout, fs)
			return exitOK
		}
		return usageError(env.stderr, err.Error())
	}
	switch {
	case fs.NArg() > 0:
		return usageError(env.stderr, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	case opts.check && opts.json:
		return usageError(env.stderr, "-check and -json cannot be used together")
	}

	var checkURL string
	if opts.check {
		var err error
		if checkURL, err = configURL(env.getenv); err != nil {
			return configError(env.stderr, err)
		}
	}
	src, err := newSource(ctx, opts, env)
	if err != nil {
		return configError(env.stderr, err)
	}
	if opts.check {
		return check(ctx, src, checkURL, env.stderr)
	}
	tok, err := hooks.TokenFor(ctx, src, minLife)
	if err != nil {
		fmt.Fprintln(env.stderr, message(err))
		return exitFailure
	}
	if err := printToken(env.stdout, tok, opts.json); err != nil {
		fmt.Fprintln(env.stderr, message(err))
		return exitFailure
	}
	return exitOK
}

// newSource makes the run's token source from the environment, by the
// library's rules. Its errors are configuration errors: nothing has been
// sent yet.
func newSource(ctx context.Context, opts options, env surroundings) (oauth2.TokenSource, error) {
	var password func() (string, error)
	if opts.passwordStdin {
		password = func() (string, error) { return readPassword(env.stdin) }
	}
	service, config, err := hooks.Env(env.getenv, password, "-password-stdin", env.stderr)
	if err != nil {
		return nil, err
	}
	if service != "" {
		return recitaloauth.ServiceTokenSource(service), nil // never stored
	}
	cfg := config.(*recitaloauth.Config)
	if opts.verbose {
		cfg.Logger = slog.New(newBriefHandler(env.stderr))
	}
	if !opts.noCache {
		cfg.Store = recitaloauth.NewFileStore(env.storeDir)
	}
	cfg.LoginTimeout = env.loginTimeout
	return cfg.TokenSource(ctx), nil
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

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprint(stderr, "recitaltoken: "+msg+"\n"+shortUsage+"Run 'recitaltoken -h' for help.\n")
	return exitUsage
}

func configError(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, message(err))
	return exitUsage
}

// syncWriter makes w safe for concurrent use, one Write at a time.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// message is the line to print for err: the library's errors start with
// its own prefix, which gives way to the command's.
func message(err error) string {
	return "recitaltoken: " + strings.TrimPrefix(err.Error(), "recitaloauth: ")
}
