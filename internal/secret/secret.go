// Package secret holds the rules that keep secrets out of what the
// library and the recitaltoken command say: the scrubber for what a
// server echoes, URL and request redaction, and the one-line form of a
// server's text.
package secret

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Redacted stands where a secret would have been.
const Redacted = "[redacted]"

// Mask is what output shows for a secret: whether it is set, never
// what it is.
func Mask(s string) string {
	if s == "" {
		return ""
	}
	return Redacted
}

// Request is what a refused login's error keeps of the request that
// was sent: where it went and how, without the form (Body, GetBody, Form,
// PostForm), the headers net/http adds from userinfo and a cookie jar, and
// the password of the URL's userinfo. The error outlives the login (a
// source keeps it during its back-off) and goes to code that knows nothing
// of secrets: a retry helper that replays a failed request, a logger that
// dumps it.
func Request(req *http.Request) *http.Request {
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

// URL is rawURL with the password of its userinfo hidden, as
// [url.URL.Redacted] does: a URL such as https://user:secret@host/ holds a
// secret too. A URL without one is kept as written. One that does not
// parse is hidden whole if it could hold userinfo, since where its
// password would start cannot be told.
func URL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		if strings.Contains(rawURL, "@") {
			return Redacted
		}
		return rawURL
	}
	if _, ok := u.User.Password(); !ok {
		return rawURL
	}
	return u.Redacted()
}

// Scrubber replaces the password in what a server says, in any spelling a
// server could echo it with. The zero scrubber (no password) changes
// nothing.
type Scrubber struct {
	echo    *regexp.Regexp // nil: no password
	longest int            // the most bytes one echo can span
	all     bool           // no pattern: hide everything
}

// maxScrubbedPassword bounds the pattern's size, and the time to build it.
const maxScrubbedPassword = 4 << 10

// NewScrubber returns the Scrubber for password.
func NewScrubber(password string) Scrubber {
	if password == "" {
		return Scrubber{}
	}
	if len(password) > maxScrubbedPassword {
		return Scrubber{all: true}
	}
	pattern, longest := echoPattern(password)
	echo, err := regexp.Compile(pattern)
	if err != nil {
		return Scrubber{all: true} // hiding everything is the one safe way out
	}
	return Scrubber{echo: echo, longest: longest}
}

// Prefix returns text scrubbed, and cut once at least limit of its bytes
// are done with: only a short part of an answer is ever kept, and
// scrubbing the whole of a 1 MiB answer would cost a tenth of a second. An
// echo that starts before limit is replaced whole, however far it runs;
// what follows it is dropped, so that no part of an echo is left at the
// end.
func (s Scrubber) Prefix(text []byte, limit int) []byte {
	switch {
	case s.all:
		return []byte(Redacted)
	case s.echo == nil:
		return text
	}
	end := len(text)
	if end > limit+s.longest {
		end = limit + s.longest // an echo starting before limit ends by then
	}
	var out []byte
	done := 0
	for _, m := range s.echo.FindAllIndex(text[:end], -1) {
		if m[0] >= limit && end < len(text) {
			break
		}
		out = append(out, text[done:m[0]]...)
		out = append(out, Redacted...)
		done = m[1]
	}
	if end < len(text) {
		end = max(limit, done)
	}
	if out == nil && end == len(text) {
		return text // no echo: the answer as the server wrote it
	}
	return append(out, text[done:end]...)
}

// echoPattern is a regular expression for the password as a server could
// echo it, and the most bytes one match can span: each character as it is
// or in any escape of the formats below, mixed freely, since encoders
// disagree on which characters to escape (Go's JSON escapes < > & and not
// é, Python's ensure_ascii the reverse):
//
//   - JSON and JavaScript: \uXXXX in either case, surrogate pairs for what
//     is beyond the BMP, \" \\ \/ \b \f \n \r \t;
//   - Python's repr of a str (\' \xXX \uXXXX \UXXXXXXXX) and of bytes
//     (\xXX for each UTF-8 byte);
//   - HTML: &#N; &#xH; (with up to 4 leading zeros) and &amp; &lt; &gt;
//     &quot; &apos; &nbsp;
//   - forms and paths: %XX for each UTF-8 byte, in either case, + for a
//     space.
//
// So a JSON answer needs no decoding to be scrubbed. An echo that nests
// two of them (JSON inside an HTML page's entities) is not caught.
func echoPattern(password string) (pattern string, longest int) {
	var b strings.Builder
	for i := 0; i < len(password); {
		r, size := utf8.DecodeRuneInString(password[i:])
		alts := runeEchoes(r, password[i:i+size])
		b.WriteString("(?:")
		for j, alt := range alts {
			if j > 0 {
				b.WriteString("|")
			}
			b.WriteString(alt.pattern)
		}
		b.WriteString(")")
		longest += slices.MaxFunc(alts, func(a, b echo) int { return a.size - b.size }).size
		i += size
	}
	return b.String(), longest
}

// echo is one spelling of one character: a pattern, and the most bytes it
// can match.
type echo struct {
	pattern string
	size    int
}

// runeEchoes lists the spellings of one character r, whose bytes in the
// password are raw (an invalid byte is r == utf8.RuneError, and a literal
// U+FFFD in a pattern matches an invalid byte of the text, as regexp
// reads those as U+FFFD).
func runeEchoes(r rune, raw string) []echo {
	alts := []echo{{regexp.QuoteMeta(string(r)), max(len(raw), utf8.RuneLen(r))}}
	add := func(pattern string, size int) { alts = append(alts, echo{pattern, size}) }
	escape := func(s string) { add(anyCase(s), len(s)) }
	if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
		escape(fmt.Sprintf(`\u%04x\u%04x`, r1, r2))
		escape(fmt.Sprintf(`\U%08x`, r))
	} else {
		escape(fmt.Sprintf(`\u%04x`, r))
	}
	if r < 0x100 {
		escape(fmt.Sprintf(`\x%02x`, r))
	}
	var utf8Hex, percent strings.Builder
	for i := range len(raw) {
		fmt.Fprintf(&utf8Hex, `\x%02x`, raw[i])
		fmt.Fprintf(&percent, `%%%02x`, raw[i])
	}
	if r >= 0x80 {
		escape(utf8Hex.String())
	}
	escape(percent.String())
	hex, decimal := strconv.FormatInt(int64(r), 16), strconv.Itoa(int(r))
	add(`&#[xX]0{0,4}`+anyCase(hex)+`;`, len("&#x0000;")+len(hex))
	add(`&#0{0,4}`+decimal+`;`, len("&#0000;")+len(decimal))
	if short, ok := shortEscapes[r]; ok {
		add(regexp.QuoteMeta(short), len(short))
	}
	if entity, ok := namedEntities[r]; ok {
		add(regexp.QuoteMeta(entity), len(entity))
	}
	if r == ' ' {
		add(`\+`, 1)
	}
	return alts
}

// anyCase is a pattern for s with each ASCII letter in either case: the
// hex digits, and the u and x of escapes. A class per letter, not (?i),
// whose folding would let k match the Kelvin sign, of three bytes.
func anyCase(s string) string {
	var p strings.Builder
	for _, c := range s {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			fmt.Fprintf(&p, "[%c%c]", unicode.ToLower(c), unicode.ToUpper(c))
		} else {
			p.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return p.String()
}

// shortEscapes are the backslash escapes of JSON, JavaScript and Python.
var shortEscapes = map[rune]string{
	'"': `\"`, '\'': `\'`, '\\': `\\`, '/': `\/`,
	'\b': `\b`, '\f': `\f`, '\n': `\n`, '\r': `\r`, '\t': `\t`,
}

// namedEntities are the HTML entities escapers write by name.
var namedEntities = map[rune]string{
	'&': "&amp;", '<': "&lt;", '>': "&gt;", '"': "&quot;", '\'': "&apos;", '\u00a0': "&nbsp;",
}

// Printable makes text from a server safe to put in one line of an error
// message: control characters become spaces, and it is cut to max bytes.
func Printable(s string, max int) string {
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
