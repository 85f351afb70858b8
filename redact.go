package recitaloauth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// redactedText stands where a secret would have been.
const redactedText = "[redacted]"

// redacted is what output shows for a secret: whether it is set, never
// what it is.
func redacted(secret string) string {
	if secret == "" {
		return ""
	}
	return redactedText
}

func quote(s string) string { return strconv.Quote(s) }

// redactedURL is rawURL with the password of its userinfo hidden, as
// [url.URL.Redacted] does: a URL such as https://user:secret@host/ holds a
// secret too. A URL without one is kept as written. One that does not
// parse is hidden whole if it could hold userinfo, since where its
// password would start cannot be told.
func redactedURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		if strings.Contains(rawURL, "@") {
			return redactedText
		}
		return rawURL
	}
	if _, ok := u.User.Password(); !ok {
		return rawURL
	}
	return u.Redacted()
}

// withoutSecrets is what a refused login's error keeps of the request that
// was sent: where it went and how, without the form (Body, GetBody, Form,
// PostForm), the headers net/http adds from userinfo and a cookie jar, and
// the password of the URL's userinfo. The error outlives the login (a
// source keeps it during its back-off) and goes to code that knows nothing
// of secrets: a retry helper that replays a failed request, a logger that
// dumps it.
func withoutSecrets(req *http.Request) *http.Request {
	if req == nil {
		return nil
	}
	u := *req.URL
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	// Only the headers the login sets itself are kept: Authorization
	// (Basic, from userinfo) and Cookie (from a jar) are secrets too.
	header := http.Header{}
	for _, name := range []string{"Content-Type", "Accept", "User-Agent"} {
		if values := req.Header.Values(name); len(values) > 0 {
			header[name] = slices.Clone(values)
		}
	}
	return &http.Request{
		Method: req.Method, URL: &u, Host: req.Host, Header: header,
		Proto: req.Proto, ProtoMajor: req.ProtoMajor, ProtoMinor: req.ProtoMinor,
		Body: http.NoBody,
	}
}

// scrubJSON replaces the password in every string and key of a decoded JSON
// value, whatever escapes spelled it in the answer. It reports whether it
// replaced anything, so that an answer without the password is kept as
// the server wrote it.
func scrubJSON(value any, password string) (any, bool) {
	switch v := value.(type) {
	case string:
		scrubbed := scrubString(v, password)
		return scrubbed, scrubbed != v
	case []any:
		changed := false
		for i, item := range v {
			var c bool
			v[i], c = scrubJSON(item, password)
			changed = changed || c
		}
		return v, changed
	case map[string]any:
		out := make(map[string]any, len(v))
		changed := false
		for key, item := range v {
			scrubbedKey, keyChanged := scrubJSON(key, password)
			scrubbedItem, itemChanged := scrubJSON(item, password)
			out[scrubbedKey.(string)] = scrubbedItem
			changed = changed || keyChanged || itemChanged
		}
		return out, changed
	}
	return value, false
}

// scrub replaces in body every spelling of the password a server could echo
// back: FastAPI's 422 answers repeat the input, as JSON (with or without
// \u escapes) or as it came (form-encoded). It is the net under scrubJSON,
// for answers that are not JSON.
func scrub(body []byte, password string) []byte {
	for _, spelling := range spellings(password) {
		body = bytes.ReplaceAll(body, []byte(spelling), []byte(redactedText))
	}
	return body
}

// scrubString is scrub for a string.
func scrubString(s, password string) string {
	for _, spelling := range spellings(password) {
		s = strings.ReplaceAll(s, spelling, redactedText)
	}
	return s
}

// spellings lists the ways the password can appear in an answer, longest
// first so that a spelling containing another is replaced whole.
func spellings(password string) []string {
	if password == "" {
		return nil
	}
	htmlEscaped, _ := json.Marshal(password)
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(password) // a string always encodes
	unquote := func(s string) string { return strings.TrimSuffix(strings.TrimPrefix(s, `"`), `"`) }
	candidates := []string{
		password,
		unquote(string(htmlEscaped)),
		unquote(strings.TrimSpace(plain.String())),
		asciiJSON(password),
		url.QueryEscape(password),
		url.PathEscape(password),
	}
	var out []string
	for _, c := range candidates {
		if c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// asciiJSON is the body of a JSON string as Python's json.dumps writes it by
// default (ensure_ascii): every non-ASCII character as \uXXXX.
func asciiJSON(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r > 0x7e:
			if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
				fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// printable makes text from a server safe to put in one line of an error
// message: control characters become spaces, and it is cut to max bytes.
func printable(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
