package recitaloauth

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestConfigString: String says whether a password is set, never what it
// is, and names LoginTimeout only when it is set.
func TestConfigString(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"a password", Config{Username: "ana", Password: "s3cret", AuthURL: "https://a.example/login/"},
			`recitaloauth.Config{Username: "ana", Password: [redacted], AuthURL: "https://a.example/login/"}`},
		{"no password", Config{Username: "ana", AuthURL: "https://a.example/login/"},
			`recitaloauth.Config{Username: "ana", Password: "", AuthURL: "https://a.example/login/"}`},
		{"a login timeout", Config{Username: "ana", Password: "s3cret", LoginTimeout: 5 * time.Second},
			`recitaloauth.Config{Username: "ana", Password: [redacted], AuthURL: "", LoginTimeout: 5s}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.cfg.String()); diff != "" {
				t.Errorf("String mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConfigAuthURLOneRule: String and LogValue show AuthURL by one rule,
// as it is set ("" stays ""), with a userinfo password hidden.
func TestConfigAuthURLOneRule(t *testing.T) {
	for authURL, want := range map[string]string{
		"": "",
		"https://ana:hunter2@auth.example.com/login/": "https://ana:xxxxx@auth.example.com/login/",
		"http://127.0.0.1:8000/login/":                "http://127.0.0.1:8000/login/",
	} {
		c := Config{Username: "ana", Password: "hunter2", AuthURL: authURL}
		var logged string
		for _, a := range c.LogValue().Group() {
			if a.Key == "auth_url" {
				logged = a.Value.String()
			}
		}
		if !strings.Contains(c.String(), "AuthURL: "+strconv.Quote(want)) || logged != want {
			t.Errorf("AuthURL %q: String %s, LogValue auth_url %q; want both %q", authURL, c.String(), logged, want)
		}
	}
}
