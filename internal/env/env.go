// Package env reads the RECITAL_* variables, by the rules the package
// documentation of recitaloauth gives at DefaultTokenSource, for it and
// for the recitaltoken command: one reader, so that both read the same
// environment the same way.
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

	// Password, when not nil, gives the password in RECITAL_PASSWORD's
	// place (the command's -password-stdin, which PasswordFrom names in
	// messages). It is called only when a username is set and no service
	// token is.
	Password     func() (string, error)
	PasswordFrom string

	// Prompt, when not nil, asks for the password of username when a
	// username is set, no password is, and no service token is (the
	// command's prompt on a terminal).
	Prompt func(username string) (string, error)

	// LogTo receives RECITAL_LOG's records.
	LogTo io.Writer
}

// Read reads the settings. Its errors are configuration errors, which
// never hold the password or a token.
func Read(src Sources) (Settings, error) {
	token := strings.TrimSpace(src.Getenv(APIToken))
	switch {
	case token != "" && src.Password != nil:
		return Settings{}, errors.New("recitaloauth: " + src.PasswordFrom + " cannot be used with " + APIToken + " set")
	case token != "":
		if err := bearer.Check(token, APIToken); err != nil {
			return Settings{}, err
		}
		return Settings{ServiceToken: token}, nil
	}
	username := src.Getenv(Username)
	var pass string
	var err error
	from := Password // names the password in messages
	switch {
	case src.Password != nil && username == "":
		return Settings{}, errors.New("recitaloauth: " + src.PasswordFrom + " needs " + Username)
	case src.Password != nil:
		pass, err = src.Password()
		from = src.PasswordFrom
	default:
		pass = src.Getenv(Password)
		if pass == "" && username != "" && src.Prompt != nil {
			pass, err = src.Prompt(username)
			from = "the password typed"
		}
	}
	if err != nil {
		return Settings{}, err
	}
	switch {
	case username == "" && pass == "":
		return Settings{}, errors.New("recitaloauth: no credentials in the environment: set " +
			APIToken + ", or " + Username + " and " + Password)
	case pass == "":
		return Settings{}, errors.New("recitaloauth: " + Username + " is set but " + Password + " is not")
	case username == "":
		return Settings{}, errors.New("recitaloauth: " + Password + " is set but " + Username + " is not")
	}
	if err := form.Check(pass, from); err != nil {
		return Settings{}, err
	}
	if err := form.Check(username, Username); err != nil {
		return Settings{}, err
	}
	logger, err := logger(src.Getenv(Log), src.LogTo)
	if err != nil {
		return Settings{}, err
	}
	s := Settings{Username: username, Password: pass, AuthURL: src.Getenv(AuthURL), Logger: logger}
	if s.AuthURL != "" {
		// Every login would refuse it: say so now, as a configuration error.
		if err := cleartext.Check(s.AuthURL, AuthURL); err != nil {
			return Settings{}, err
		}
	}
	return s, nil
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
