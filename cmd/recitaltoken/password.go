package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	envvar "github.com/seed9ffb1f9c/recitaloauth/internal/env"
	"golang.org/x/term"
)

// maxPasswordLine bounds what -password-stdin reads.
const maxPasswordLine = 4 << 10

// readSettings reads the environment by the library's rules (package
// env), with the password from standard input for -password-stdin, or
// asked for on a terminal when the environment lacks only the password.
// Its errors are configuration errors: nothing has been sent yet.
func readSettings(ctx context.Context, opts options, env surroundings) (envvar.Settings, error) {
	v := envvar.Lookup(env.getenv)
	from := envvar.Password // names the password in messages
	switch {
	case opts.passwordStdin && v.APIToken != "":
		return envvar.Settings{}, errors.New("-password-stdin cannot be used with " + envvar.APIToken + " set")
	case opts.passwordStdin && v.Username == "":
		return envvar.Settings{}, errors.New("-password-stdin needs " + envvar.Username)
	case opts.passwordStdin:
		pass, err := readPassword(env.stdin)
		if err != nil {
			return envvar.Settings{}, err
		}
		v.Password, from = pass, "-password-stdin"
	case v.PasswordMissing():
		tty, ok := env.stdin.(*os.File)
		if !ok || !term.IsTerminal(int(tty.Fd())) {
			break // not on a terminal: the environment's error
		}
		pass, err := prompt(ctx, tty, env.stderr, v.Username)
		if err != nil {
			return envvar.Settings{}, err
		}
		v.Password, from = pass, "the password typed"
	}
	return v.Settings(from, env.stderr)
}

// prompt asks for username's password on the terminal tty, without echo.
// Echo goes off before the wait, not inside the goroutine that reads, so
// that every way out of the wait puts it back after it went off: the
// password typed, an error, or Ctrl-C or SIGTERM (ctx), which end the
// wait at once and leave the read blocked (the process is exiting).
func prompt(ctx context.Context, tty *os.File, w io.Writer, username string) (string, error) {
	restore, err := echoOff(int(tty.Fd()))
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	defer restore()
	fmt.Fprintf(w, "Password for %s: ", username)
	type typed struct {
		pass string
		err  error
	}
	done := make(chan typed, 1)
	go func() {
		pass, err := passwordLine(tty)
		done <- typed{pass, err}
	}()
	defer fmt.Fprintln(w) // the Enter typed was not echoed
	select {
	case t := <-done:
		switch {
		case t.err != nil:
			return "", fmt.Errorf("reading the password: %w", t.err)
		case t.pass == "":
			return "", errors.New("no password typed")
		}
		return t.pass, nil
	case <-ctx.Done():
		return "", fmt.Errorf("no password typed: %w", context.Cause(ctx))
	}
}

// readPassword reads -password-stdin's password from r.
func readPassword(r io.Reader) (string, error) {
	line, err := passwordLine(r)
	if err != nil {
		return "", fmt.Errorf("-password-stdin: %w", err)
	}
	if line == "" {
		return "", errors.New("-password-stdin: standard input holds no password")
	}
	return line, nil
}

// passwordLine reads a password: the first line of r, without its "\n"
// or "\r\n", at most maxPasswordLine bytes.
func passwordLine(r io.Reader) (string, error) {
	// Two bytes more than the longest password: room for "\r\n".
	line, err := bufio.NewReader(io.LimitReader(r, maxPasswordLine+2)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if len(line) > maxPasswordLine {
		return "", fmt.Errorf("the first line is longer than %d bytes", maxPasswordLine)
	}
	return line, nil
}
