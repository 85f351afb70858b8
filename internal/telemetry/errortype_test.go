package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"testing"

	"golang.org/x/oauth2"
)

// refused is a login error as the source makes one for an answer with
// status: wrapping an *oauth2.RetrieveError.
func refused(status int) error {
	return fmt.Errorf("recitaloauth: login refused: %w", &oauth2.RetrieveError{Response: &http.Response{StatusCode: status}})
}

// timeoutError is a network error that timed out, as a dial's or a
// read's deadline gives.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestErrorType(t *testing.T) {
	noAnswer := func(err error) error {
		return fmt.Errorf("recitaloauth: login failed: %w", &url.Error{Op: "Post", URL: "https://auth.example/", Err: err})
	}
	tests := []struct {
		name   string
		err    error
		status int // the last answer's, as Answered recorded it
		want   string
	}{
		{"401", refused(401), 401, Refused},
		{"403", refused(403), 403, Refused},
		{"400", refused(400), 400, Rejected},
		{"422 echoing the input", refused(422), 422, Rejected},
		{"404", refused(404), 404, Rejected},
		{"429", refused(429), 429, RateLimited},
		{"500", refused(500), 500, ServerError},
		{"503", refused(503), 503, ServerError},
		{"307", refused(307), 307, Redirect},
		// A RetrieveError of a 2xx is no refusal: the answer had no token.
		{"a RetrieveError of a 200", refused(200), 0, InvalidAnswer},
		{"a RetrieveError of a 299", refused(299), 0, InvalidAnswer},
		{"a RetrieveError of a 300", refused(300), 0, Redirect},
		{"a RetrieveError of a 199", refused(199), 0, Other},
		{"a RetrieveError with no Response", fmt.Errorf("x: %w", &oauth2.RetrieveError{}), 0, Other},
		{"a 2xx answer without a token", errors.New("recitaloauth: login answer has no access_token"), 200, InvalidAnswer},
		{"a 201 answer that is not JSON", errors.New("recitaloauth: login answer is not a JSON object"), 201, InvalidAnswer},
		{"the login timeout", noAnswer(context.DeadlineExceeded), 0, Timeout},
		{"the login timeout after a 503", noAnswer(context.DeadlineExceeded), 503, Timeout},
		{"a waited turn given up", fmt.Errorf("recitaloauth: gave up waiting for another process's login: %w", context.DeadlineExceeded), 0, Timeout},
		{"a network timeout", noAnswer(&net.OpError{Op: "dial", Err: timeoutError{}}), 0, Timeout},
		{"the source's context ended", noAnswer(context.Canceled), 0, Canceled},
		{"connection refused", noAnswer(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), 0, Network},
		{"no such host", noAnswer(&net.DNSError{Err: "no such host", Name: "auth.example", IsNotFound: true}), 0, Network},
		{"a network failure after a 503", noAnswer(errors.New("EOF")), 503, Network},
		{"a 200 answer cut short", fmt.Errorf("recitaloauth: login answer cut short: %w", io.ErrUnexpectedEOF), 200, Network},
		{"an empty password", errors.New("recitaloauth: Config.Password is empty"), 0, Other},
		{"a plain error after a 503", errors.New("recitaloauth: login failed: scrubbed"), 503, Other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrorType(tt.err, tt.status); got != tt.want {
				t.Errorf("ErrorType(%v, %d) = %q, want %q", tt.err, tt.status, got, tt.want)
			}
		})
	}
}

// TestStatusType covers the bounds of each class of status.
func TestStatusType(t *testing.T) {
	tests := []struct {
		status int
		want   string
	}{
		{0, Other}, {200, Other}, {299, Other}, {300, Redirect}, {399, Redirect},
		{400, Rejected}, {401, Refused}, {402, Rejected}, {403, Refused}, {428, Rejected}, {429, RateLimited}, {430, Rejected},
		{499, Rejected}, {500, ServerError}, {599, ServerError},
	}
	for _, tt := range tests {
		if got := statusType(tt.status); got != tt.want {
			t.Errorf("statusType(%d) = %q, want %q", tt.status, got, tt.want)
		}
	}
}
