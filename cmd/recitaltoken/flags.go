package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// options are the command's flags.
type options struct {
	check         bool
	json          bool
	status        bool
	logout        bool
	refresh       bool
	noCache       bool
	passwordStdin bool
	timeout       time.Duration
	verbose       bool
}

// flagSet is the command's flags, written once, in newFlagSet: they parse
// the arguments, and the usage line, -h's table and the conflicts between
// modes are made from them, in the order they are defined (a
// flag.FlagSet keeps none: it sorts them by name). The package
// documentation and the README copy -h's table; TestFlagTableCopies
// checks the copies.
type flagSet struct {
	*flag.FlagSet
	order []*flag.Flag
	modes []*flag.Flag // what a run does: one at a time (see conflict)
}

// newFlagSet defines the flags into opts; timeout is -timeout's default.
// An argument's name is the back-quoted word of its usage, as in the
// flag package.
func newFlagSet(opts *options, timeout time.Duration) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet("recitaltoken", flag.ContinueOnError)}
	fs.SetOutput(io.Discard) // run writes the messages, with its prefix
	fs.mode(&opts.check, "check", "GET $"+envAPIURL+"/config/ with the token; the status on stderr, exit 0 on 200")
	fs.mode(&opts.json, "json", "print access_token, token_type and expiry as JSON")
	fs.mode(&opts.status, "status", "who, login host, cache, the cached token's expiry; never the token, never a login, never a write")
	fs.mode(&opts.logout, "logout", "forget this account's cached token")
	fs.mode(&opts.refresh, "refresh", "log in now, replace the cached token, print it")
	fs.boolVar(&opts.noCache, "no-cache", "neither read nor write the cache: log in every run")
	fs.boolVar(&opts.passwordStdin, "password-stdin", "read the password from the first line of stdin")
	fs.durationVar(&opts.timeout, "timeout", timeout, "bound the whole run, waits and login, to `D`")
	fs.boolVar(&opts.verbose, "v", "say on stderr what the run does, each event once")
	return fs
}

func (fs *flagSet) boolVar(p *bool, name, usage string) {
	fs.BoolVar(p, name, false, usage)
	fs.order = append(fs.order, fs.Lookup(name))
}

func (fs *flagSet) durationVar(p *time.Duration, name string, value time.Duration, usage string) {
	fs.DurationVar(p, name, value, usage)
	fs.order = append(fs.order, fs.Lookup(name))
}

// mode defines a flag that chooses what a run does.
func (fs *flagSet) mode(p *bool, name, usage string) {
	fs.boolVar(p, name, usage)
	fs.modes = append(fs.modes, fs.Lookup(name))
}

// conflict names flags of o that cannot go together, or is "".
func (fs *flagSet) conflict(o options) string {
	var set []string // the modes chosen, in order
	for _, f := range fs.modes {
		if f.Value.(flag.Getter).Get() == true {
			set = append(set, "-"+f.Name)
		}
	}
	if len(set) == 2 && set[0] == "-json" && set[1] == "-refresh" {
		set = set[1:] // -refresh prints the token: as JSON if asked
	}
	switch {
	case len(set) > 1:
		return set[0] + " and " + set[1] + " cannot be used together"
	case o.noCache && (o.status || o.logout || o.refresh):
		return set[0] + " and -no-cache cannot be used together"
	case o.timeout <= 0:
		return "-timeout must be positive"
	}
	return ""
}

// usageLine is the line that starts -h and follows a usage error: the
// modes as alternatives, then each other flag.
func (fs *flagSet) usageLine() string {
	var modes []string
	for _, f := range fs.modes {
		modes = append(modes, synopsis(f))
	}
	line := "usage: recitaltoken [" + strings.Join(modes, " | ") + "]"
	for _, f := range fs.order {
		if !slices.Contains(fs.modes, f) {
			line += " [" + synopsis(f) + "]"
		}
	}
	return line + "\n"
}

// synopsis is "-name", or "-name ARG" for a flag that takes an argument.
func synopsis(f *flag.Flag) string {
	if arg, _ := flag.UnquoteUsage(f); arg != "" {
		return "-" + f.Name + " " + arg
	}
	return "-" + f.Name
}

// Columns of -h's table.
const (
	tableIndent = 2  // before a flag
	tableUsage  = 19 // where its usage starts
	tableWidth  = 79 // the widest line, wrapped at a space
)

// writeTable writes -h's table of flags, in order: each flag, and its
// usage (with its default, for a flag that takes an argument) wrapped to
// fit tableWidth.
func (fs *flagSet) writeTable(w io.Writer) {
	for _, f := range fs.order {
		arg, usage := flag.UnquoteUsage(f)
		if arg != "" {
			usage += " (default " + f.DefValue + ")"
		}
		line := fmt.Sprintf("%*s%-*s", tableIndent, "", tableUsage-tableIndent-1, synopsis(f))
		for _, word := range strings.Fields(usage) {
			if len(line) >= tableUsage && len(line)+1+len(word) > tableWidth {
				fmt.Fprintln(w, line)
				line = strings.Repeat(" ", tableUsage-1)
			}
			line += " " + word
		}
		fmt.Fprintln(w, line)
	}
}

// printUsage is -h.
func printUsage(w io.Writer, fs *flagSet) {
	fmt.Fprint(w, fs.usageLine()+`
recitaltoken prints an access token for recital.ai's APIs on standard output:

  curl -H "Authorization: Bearer $(recitaltoken)" https://extract.api.recital.ai/extract/api/v1/config/

`)
	fs.writeTable(w)
	fmt.Fprint(w, `
Credentials: RECITAL_API_TOKEN, or RECITAL_USERNAME and RECITAL_PASSWORD
(asked for on a terminal), with RECITAL_AUTH_URL and RECITAL_LOG, as
recitaloauth.DefaultTokenSource reads them; `+envAPIURL+` is the API base
URL for -check. A login's token is cached, sealed with a key derived from
the password, and reused while it has more than a minute left.

The cache is the library's file store:
  `+storeDirHelp()+`

Exit status: 0 success; 1 login refused, network failure, timeout, -check
without 200, cache failure, or no cached token for -status; 2 usage or
configuration error. Details: go doc github.com/seed9ffb1f9c/recitaloauth/cmd/recitaltoken
`)
}
