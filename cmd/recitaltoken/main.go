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
//	recitaltoken [-check | -json] [-no-cache] [-password-stdin]
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
//	-h               print the usage, with the variables
//
// There is no -password flag: a password on the command line shows in ps.
// Try -check first with new credentials.
//
// # Environment
//
// The credentials come from the environment, as
// [recitaloauth.DefaultTokenSource] reads it:
//
//	RECITAL_API_TOKEN  a service token (Settings → API Tokens); it wins
//	                   over a username and password, and is never cached
//	RECITAL_USERNAME   the account to log in with
//	RECITAL_PASSWORD   its password (or -password-stdin)
//	RECITAL_AUTH_URL   the login URL; default recitaloauth.DefaultAuthURL
//	RECITAL_API_URL    the API base URL for -check; default
//	                   recitaloauth.DefaultAPIURL
//
// An empty variable counts as unset.
//
// # Cache
//
// A login's token is kept in a file under the user cache directory
// (os.UserCacheDir, e.g. ~/.cache/recitaloauth on Linux), one per login URL
// and username, and reused while it has more than a minute to live, so
// that a script that runs recitaltoken a hundred times logs in once. The
// file is private to the user (mode 0600) and the token in it is encrypted
// with a key derived from the password: a run with another password logs
// in instead of reusing it. A damaged file, or one others may read, is
// ignored and replaced. Runs started together (xargs -P, make -j) take
// turns with a lock file beside it, so that they log in once between them.
// If the server refuses a cached token before its
// expiry (revoked, or bound to another IP address), recitaltoken -check
// drops it and logs in again.
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
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth"
	"golang.org/x/oauth2"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // refused login, network failure, -check without 200
	exitUsage   = 2 // usage or configuration error
)

// The environment variables; DefaultTokenSource reads the first four too.
const (
	envAPIToken = "RECITAL_API_TOKEN"
	envUsername = "RECITAL_USERNAME"
	envPassword = "RECITAL_PASSWORD"
	envAuthURL  = "RECITAL_AUTH_URL"
	envAPIURL   = "RECITAL_API_URL"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command's flags.
type options struct {
	check         bool
	json          bool
	noCache       bool
	passwordStdin bool
}

func newFlagSet(opts *options) *flag.FlagSet {
	fs := flag.NewFlagSet("recitaltoken", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run writes the messages, with its prefix
	fs.BoolVar(&opts.check, "check", false, "GET $"+envAPIURL+"/config/ with the token, recital's connection test;\nreport the status on stderr, exit 0 only on 200")
	fs.BoolVar(&opts.json, "json", false, "print the token as JSON: access_token, token_type, expiry")
	fs.BoolVar(&opts.noCache, "no-cache", false, "neither read nor write the token cache: log in every run")
	fs.BoolVar(&opts.passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	return fs
}

const shortUsage = "usage: recitaltoken [-check | -json] [-no-cache] [-password-stdin]\n"

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
  `+envAPIToken+`  a service token (Settings → API Tokens); wins over the
                     username and password, and is never cached
  `+envUsername+`   the account to log in with
  `+envPassword+`   its password (or -password-stdin)
  `+envAuthURL+`   the login URL (default `+recitaloauth.DefaultAuthURL+`)
  `+envAPIURL+`    the API base URL for -check (default `+recitaloauth.DefaultAPIURL+`)

A login's token is cached, encrypted with a key derived from the password,
under the user cache directory, and reused while it has more than a minute
left. Try -check first with new credentials.

Exit status: 0 success; 1 login refused, network failure, or -check without
200; 2 usage or configuration error.
`)
}

// run is the command, with its surroundings passed in; it returns the exit
// code. The environment is the process's, which DefaultTokenSource reads.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var opts options
	fs := newFlagSet(&opts)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout, fs)
			return exitOK
		}
		return usageError(stderr, err.Error())
	}
	switch {
	case fs.NArg() > 0:
		return usageError(stderr, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	case opts.check && opts.json:
		return usageError(stderr, "-check and -json cannot be used together")
	}

	var checkURL string
	if opts.check {
		var err error
		if checkURL, err = configURL(); err != nil {
			return configError(stderr, err)
		}
	}
	s, err := newSession(ctx, opts, stdin, stderr)
	if err != nil {
		return configError(stderr, err)
	}
	if opts.check {
		return s.check(ctx, checkURL)
	}

	tok, _, err := s.token()
	if err != nil {
		fmt.Fprintln(stderr, message(err))
		return exitFailure
	}
	if err := printToken(stdout, tok, opts.json); err != nil {
		fmt.Fprintln(stderr, message(err))
		return exitFailure
	}
	return exitOK
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

// message is the line to print for err: the library's errors start with
// its own prefix, which gives way to the command's.
func message(err error) string {
	return "recitaltoken: " + strings.TrimPrefix(err.Error(), "recitaloauth: ")
}
