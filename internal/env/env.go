// Package env reads the RECITAL_* variables, by the rules the package
// documentation of recitaloauth gives at DefaultTokenSource, for it and
// for the recitaltoken command: one reader, so that both read the same
// environment the same way. The library calls Read; the command, which
// may take the password from elsewhere (standard input, a prompt), calls
// Lookup, puts its password in, and calls Settings.
package env

import (
	"errors"
	"io"
	"log/slog"
	"strings"

	"github.com/seed9ffb1f9c/recitaloauth/internal/bearer"
	"github.com/seed9ffb1f9c/recitaloauth/internal/cleartext"
	"github.com/seed9ffb1f9c/recitaloauth/internal/form"
)

// The variables.
const (
	APIToken = "RECITAL_API_TOKEN"
	Username = "RECITAL_USERNAME"
	Password = "RECITAL_PASSWORD"
	AuthURL  = "RECITAL_AUTH_URL"
	Log      = "RECITAL_LOG"
)

// logLevels are RECITAL_LOG's values.
var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn}

// Settings are what the environment describes: either ServiceToken, or a
// username and password login with the rest.
type Settings struct {
	ServiceToken string // trimmed; "" for a login

	Username string
	Password string
	AuthURL  string       // "": the default
	Logger   *slog.Logger // RECITAL_LOG's; nil when unset
}

// Sources are where Read looks.
type Sources struct {
	Getenv func(string) string
	LogTo  io.Writer // receives RECITAL_LOG's records
}

// Read reads the settings: Lookup, then Variables.Settings with the
// password from RECITAL_PASSWORD. Its errors are configuration errors,
// which never hold the password or a token.
func Read(src Sources) (Settings, error) {
	return Lookup(src.Getenv).Settings(Password, src.LogTo)
}

// Variables are the variables as set; "" is unset.
type Variables struct {
	APIToken string // trimmed of white space: a token of white space is unset
	Username string
	Password string
	AuthURL  string
	Log      string
}

// Lookup reads the variables with getenv.
func Lookup(getenv func(string) string) Variables {
	return Variables{
		APIToken: strings.TrimSpace(getenv(APIToken)),
		Username: getenv(Username),
		Password: getenv(Password),
		AuthURL:  getenv(AuthURL),
		Log:      getenv(Log),
	}
}

// PasswordMissing reports whether v describes a login that lacks only its
// password: a username, no password, no service token. A caller with a
// password from elsewhere (the command's prompt) puts it in v.Password.
func (v Variables) PasswordMissing() bool {
	return v.APIToken == "" && v.Username != "" && v.Password == ""
}

// Settings checks v and returns what it describes. passwordFrom names
// v.Password in messages: Password, unless the caller put a password from
// elsewhere in its place. logTo receives RECITAL_LOG's records. Its
// errors are configuration errors, which never hold the password or a
// token.
func (v Variables) Settings(passwordFrom string, logTo io.Writer) (Settings, error) {
	if v.APIToken != "" { // it wins over a username and password
		if err := bearer.Check(v.APIToken, APIToken); err != nil {
			return Settings{}, err
		}
		return Settings{ServiceToken: v.APIToken}, nil
	}
	switch {
	case v.Username == "" && v.Password == "":
		return Settings{}, errors.New("recitaloauth: no credentials in the environment: set " +
			APIToken + ", or " + Username + " and " + Password)
	case v.Password == "":
		return Settings{}, errors.New("recitaloauth: " + Username + " is set but " + Password + " is not")
	case v.Username == "":
		return Settings{}, errors.New("recitaloauth: " + Password + " is set but " + Username + " is not")
	}
	if err := form.Check(v.Password, passwordFrom); err != nil {
		return Settings{}, err
	}
	if err := form.Check(v.Username, Username); err != nil {
		return Settings{}, err
	}
	logger, err := logger(v.Log, logTo)
	if err != nil {
		return Settings{}, err
	}
	if v.AuthURL != "" {
		// Every login would refuse it: say so now, as a configuration error.
		if err := cleartext.Check(v.AuthURL, AuthURL); err != nil {
			return Settings{}, err
		}
	}
	return Settings{Username: v.Username, Password: v.Password, AuthURL: v.AuthURL, Logger: logger}, nil
}

// logger is the logger RECITAL_LOG's value name asks for, or nil.
func logger(name string, w io.Writer) (*slog.Logger, error) {
	if name == "" {
		return nil, nil
	}
	level, ok := logLevels[strings.ToLower(name)]
	if !ok {
		return nil, errors.New("recitaloauth: " + Log + " must be debug, info or warn")
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), nil
}
