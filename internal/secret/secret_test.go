package secret

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestScrubPrefix: only the start of an answer is scrubbed and kept, and
// an echo that starts there is replaced whole, however far it runs; no
// part of one is left at the end.
func TestScrubPrefix(t *testing.T) {
	const limit = 10
	tail := strings.Repeat("x", 300) // past limit and the longest echo of "secret"
	tests := []struct{ name, text, want string }{
		{"short, echoes anywhere", "0123456789ab secret secret", "0123456789ab [redacted] [redacted]"},
		{"long, no echo: cut at the limit", "0123456789ab" + tail, "0123456789"},
		{"echo across the limit", "012345678secret" + tail, "012345678[redacted]"},
		{"long spelling across the limit", "01234567%73%65%63%72%65%74" + tail, "01234567[redacted]"},
		{"echo from the limit on: dropped", "0123456789secret" + tail, "0123456789"},
		{"echo right after one across the limit", "012345678secretsecret" + tail, "012345678[redacted]"},
	}
	scrub := NewScrubber("secret")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, string(scrub.Prefix([]byte(tt.text), limit))); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEchoLongest: the bound on an echo's length, which decides how much
// of an answer is scrubbed, holds for the longest spelling of each kind of
// character.
func TestEchoLongest(t *testing.T) {
	tests := []struct {
		password string
		longest  []string // its longest spellings, one per format
	}{
		{"p", []string{`&#0000112;`, `&#X000070;`, `\u0070`, `%70`}},
		{"é", []string{`&#0000233;`, `&#x0000E9;`, `\xc3\xa9`, `%C3%A9`, `\u00e9`}},
		{"€", []string{`&#00008364;`, `&#x000020AC;`, `\xe2\x82\xac`, `%E2%82%AC`}},
		{"😀", []string{`&#0000128512;`, `&#x00001F600;`, `\xf0\x9f\x98\x80`, `\uD83D\uDE00`, `\U0001F600`}},
		{" ", []string{`&#000032;`, `&#x000020;`, `\x20`, `%20`, `+`}},
		{"\xe9", []string{`\xe9`, `%E9`, "\xe9", "\uFFFD"}}, // not UTF-8: the fuzzer tries it
	}
	for _, tt := range tests {
		t.Run(tt.password, func(t *testing.T) {
			scrub := NewScrubber(tt.password)
			for _, spelling := range tt.longest {
				if got := scrub.Prefix([]byte(spelling), 1); string(got) != Redacted {
					t.Errorf("%q scrubbed to %q, want %q", spelling, got, Redacted)
				}
				if len(spelling) > scrub.longest {
					t.Errorf("%q is %d bytes long, more than the bound %d", spelling, len(spelling), scrub.longest)
				}
			}
		})
	}
}

// TestScrubEdges: a password of 4 KiB is still scrubbed where it is
// echoed (only a longer one hides the whole text); a rune of 0xff is
// scrubbed in its \xff spelling, one of 0x100 has none, and 0x80 is
// scrubbed in its UTF-8 bytes, \xc2\x80.
func TestScrubEdges(t *testing.T) {
	long := strings.Repeat("a", maxScrubbedPassword)
	tests := []struct{ name, password, text, want string }{
		{"a password of 4 KiB", long, "<" + long + ">", "<" + Redacted + ">"},
		{"a password over 4 KiB", long + "a", "<" + long + "a>", Redacted},
		{`ÿ as \xff`, "ÿ", `<\xff>`, "<" + Redacted + ">"},
		{`Ā has no \x spelling: \x100 is \x10 and 0`, "Ā", `<\x100>`, `<\x100>`},
		{`U+0080 as \xc2\x80`, "\u0080", `<\xc2\x80>`, "<" + Redacted + ">"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if raceEnabled && len(tt.password) == maxScrubbedPassword {
				t.Skip("a 4 KiB password's pattern takes half a minute under -race; the plain run checks it")
			}
			if diff := cmp.Diff(tt.want, string(NewScrubber(tt.password).Prefix([]byte(tt.text), 1<<20))); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRequest: what a refused login's error keeps of its request has
// where it went and how, and none of the secrets net/http or the caller
// put in it: the form (Body, GetBody, Form, PostForm), the userinfo's
// password, Authorization and Cookie; the request itself is unchanged.
func TestRequest(t *testing.T) {
	if Request(nil) != nil {
		t.Error("Request(nil) is not nil")
	}
	u, _ := url.Parse("https://ana:hunter2@auth.example/login/?x=1")
	req := &http.Request{
		Method: http.MethodPost, URL: u, Host: "auth.example", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{
			"Content-Type":  {"application/x-www-form-urlencoded"},
			"Accept":        {"application/json"},
			"User-Agent":    {"recitaloauth"},
			"Authorization": {"Basic YW5hOmh1bnRlcjI="},
			"Cookie":        {"session=cookie-secret"},
		},
		Body:     io.NopCloser(strings.NewReader("password=hunter2")),
		GetBody:  func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("password=hunter2")), nil },
		Form:     url.Values{"password": {"hunter2"}},
		PostForm: url.Values{"password": {"hunter2"}},
	}
	got := Request(req)
	if dump := fmt.Sprintf("%+v %v", *got, got.URL); strings.Contains(dump, "hunter2") || strings.Contains(dump, "cookie-secret") || strings.Contains(dump, "YW5h") {
		t.Errorf("a secret is kept: %s", dump)
	}
	if got.Body != http.NoBody || got.GetBody != nil || got.Form != nil || got.PostForm != nil {
		t.Error("the form is kept")
	}
	want := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}, "User-Agent": {"recitaloauth"}}
	if diff := cmp.Diff(want, got.Header); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if got.Method != http.MethodPost || got.URL.String() != "https://ana:xxxxx@auth.example/login/?x=1" || got.Host != "auth.example" || got.ProtoMajor != 1 {
		t.Errorf("where and how are lost: %s %s %s %s", got.Method, got.URL, got.Host, got.Proto)
	}
	if _, ok := req.URL.User.Password(); !ok || req.Header.Get("Cookie") == "" || req.Form == nil {
		t.Error("the request given was changed")
	}
	got.Header.Set("Accept", "changed")
	if req.Header.Get("Accept") != "application/json" {
		t.Error("the copy shares its headers with the request")
	}
}

// TestMask: a set secret shows as Redacted, an empty one as empty, so
// that output tells whether it is set and nothing more.
func TestMask(t *testing.T) {
	if Mask("hunter2") != Redacted || Mask("") != "" {
		t.Errorf("Mask: %q, %q", Mask("hunter2"), Mask(""))
	}
}
