package main

import (
	"strings"
	"testing"
)

// TestTelemetry runs the scene and checks that what the exporters print
// names the login span and the instruments the scene records (no store:
// no borrowed token, no store error), and holds no password.
func TestTelemetry(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, name := range []string{
		`"Name": "recitaloauth.login"`,
		`"Name": "recitaloauth.login.duration"`,
		`"Name": "recitaloauth.login.callers_waited"`,
		`"Name": "recitaloauth.token.refused"`,
		`"Value": "after_a_401"`,
		`"Value": "refused"`,
	} {
		if !strings.Contains(text, name) {
			t.Errorf("the output has no %s:\n%s", name, text)
		}
	}
	for _, secret := range []string{"correct horse", "hunter2", "ana@example.com"} {
		if strings.Contains(text, secret) {
			t.Errorf("the output holds %q", secret)
		}
	}
}
