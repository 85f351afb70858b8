package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestTour plays the whole tour once and checks each figure it tells a
// reader, and that the library's log records are in its output.
func TestTour(t *testing.T) {
	var out bytes.Buffer
	f, err := run(&out)
	if err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	t.Logf("output:\n%s", out.String())

	tests := []struct {
		name      string
		got, want int
	}{
		{"cold client: every request answered", f.Cold.OK, coldRequests},
		{"cold client: one login for all the requests", f.Cold.Logins, 1},

		{"rollover: every request answered", f.Rollover.OK, f.Rollover.Requests},
		{"rollover: no request waited for a login", f.Rollover.Waited, 0},
		// The first login and one in the background: a second would mean
		// the flow ran past the rollover it is about.
		{"rollover: the token was replaced once", f.Rollover.Logins, 2},

		{"revoked: every request answered 200 after the replay", f.Revoked.OK, revokedRequests},
		{"revoked: one login replaced the refused token", f.Revoked.Logins, 1},

		{"wrong password: every call failed", f.WrongPassword.Failed, f.WrongPassword.Calls},
		// 2 s hold the first login and the second, 1 s (less up to a
		// tenth) after it; the third comes 2 s after the second.
		{"wrong password: logins only as the back-off allows", f.WrongPassword.Logins, 2},
		{"wrong password: no request reached the API without a token", f.WrongPassword.APIRequests, 0},

		{"file store: both sources answered", f.Shared.OK, 2},
		{"file store: one login for the two sources", f.Shared.Logins, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %d, want %d", tt.got, tt.want)
			}
		})
	}

	// Figures that vary from run to run, but must be there for the
	// exact ones above to mean anything.
	atLeast := []struct {
		name     string
		got, min int
	}{
		// Without a refused request, "healed" would be about nothing.
		{"revoked: some requests were refused and replayed", f.Revoked.Refused, 1},
		// A client that waited on every call would have no call answered
		// from the back-off; the ones waiting for the two logins are at
		// most one per caller per login.
		{"wrong password: the other calls were answered from the back-off", f.WrongPassword.FromBackoff,
			f.WrongPassword.Calls - 2*wrongCallers},
		// "No request waited" means something only for requests sent
		// while the next token's login was under way.
		{"rollover: requests flowed during the background login", f.Rollover.DuringLogin, rolloverWorkers},
	}
	for _, tt := range atLeast {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got < tt.min {
				t.Errorf("got %d, want at least %d", tt.got, tt.min)
			}
		})
	}

	for _, record := range []string{
		"log: INFO  logged in reason=first use",
		"log: INFO  logged in reason=early refresh",
		"log: WARN  token refused, dropped status=401",
		"log: INFO  logged in reason=after a 401",
		"log: WARN  login failed reason=first use error=recitaloauth: login refused: 401 Unauthorized",
		"token from the store source=",
	} {
		t.Run("output has "+record, func(t *testing.T) {
			if !strings.Contains(out.String(), record) {
				t.Errorf("no line with %q", record)
			}
		})
	}
}
