package telemetry

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"

	"golang.org/x/oauth2"
)

// The values of error.type for a failed login: a short, fixed vocabulary,
// so that an operator can count failures by kind. The error's text is
// never recorded: it may quote what the server said.
const (
	Refused       = "refused"        // 401 or 403: the server refused the credentials
	Rejected      = "rejected"       // another 4xx (400, 404, 422, ...): the server refused the request
	RateLimited   = "rate_limited"   // 429, after the retries
	ServerError   = "server_error"   // 5xx, after the retries
	Redirect      = "redirect"       // 3xx: the login never follows one
	InvalidAnswer = "invalid_answer" // 2xx without a usable token
	Timeout       = "timeout"        // the login timeout, or the network's
	Canceled      = "canceled"       // the source's context ended
	Network       = "network"        // no answer: connection, DNS, TLS, ...
	Other         = "_OTHER"         // anything else: a Config that cannot log in, ...
)

// ErrorType is the error.type of err, a login's failure; status is the
// HTTP status of the login's last answer, 0 if none came.
func ErrorType(err error, status int) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		status = re.Response.StatusCode
		if status < 200 || status > 299 {
			return statusType(status)
		}
	}
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return Timeout
	case errors.Is(err, context.Canceled):
		return Canceled
	case errors.As(err, &netErr) && netErr.Timeout():
		return Timeout
	case netErr != nil, errors.Is(err, io.ErrUnexpectedEOF): // no answer, or one cut short
		return Network
	case status >= 200 && status <= 299:
		return InvalidAnswer
	}
	return Other
}

// statusType is the error.type of a login answered with status, not 2xx.
func statusType(status int) string {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return Refused
	case status == http.StatusTooManyRequests:
		return RateLimited
	case status >= 500:
		return ServerError
	case status >= 400:
		return Rejected
	case status >= 300:
		return Redirect
	}
	return Other
}
