package recitaloauth

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/seed9ffb1f9c/recitaloauth/internal/bearer"
	"golang.org/x/oauth2"
)

// serviceTokenSource hands out one static token.
type serviceTokenSource struct {
	cred *credential
	err  error
}

func newServiceTokenSource(token string) *serviceTokenSource {
	token = strings.TrimSpace(token)
	if err := bearer.Check(token, "the service token"); err != nil {
		return &serviceTokenSource{err: err}
	}
	return &serviceTokenSource{cred: &credential{token: &oauth2.Token{AccessToken: token, TokenType: "Bearer"}}}
}

// Token returns a new *oauth2.Token each time: oauth2.ReuseTokenSource
// writes into the token it receives, so a shared one would be a data race.
func (s *serviceTokenSource) Token() (*oauth2.Token, error) {
	if s.err != nil {
		return nil, s.err
	}
	return s.cred.copyToken(), nil
}

func (s *serviceTokenSource) credential(context.Context) (*credential, error) {
	return s.cred, s.err
}

// refuse is always false: a refused service token stays refused, so
// trying again would only repeat the 401.
func (s *serviceTokenSource) refuse(*credential) bool { return false }

// String keeps the token out of fmt's %v, %+v and %s.
func (s *serviceTokenSource) String() string { return "recitaloauth.ServiceTokenSource([redacted])" }

// Format keeps the token out of every other fmt verb, %#v included: fmt
// asks a Formatter before a GoStringer.
func (s *serviceTokenSource) Format(f fmt.State, verb rune) { io.WriteString(f, s.String()) }

// LogValue keeps the token out of log/slog output.
func (s *serviceTokenSource) LogValue() slog.Value { return slog.StringValue(s.String()) }
