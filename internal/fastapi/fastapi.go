// Package fastapi reads what recital's FastAPI server says when it
// refuses a request: the status line and the error detail, as short
// printable text without secrets, for the library's login errors and the
// recitaltoken command's -check alike.
package fastapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/seed9ffb1f9c/recitaloauth/internal/secret"
)

// MaxDetail bounds the server's words in an error message.
const MaxDetail = 200

// MaxBody bounds the part of an answer's body that is read for its
// detail, and that a refused login's error keeps.
const MaxBody = 1 << 10

// StatusLine is the status line for code, e.g. "401 Unauthorized",
// rebuilt from the code alone: the reason phrase a server sends is its
// free text, as hostile as its body.
func StatusLine(code int) string {
	return strings.TrimSpace(fmt.Sprintf("%03d %s", code, http.StatusText(code)))
}

// Detail is FastAPI's error detail in a JSON answer body, as in
// [DetailOf]; "" when the body is not a JSON object.
func Detail(body []byte, scrub secret.Scrubber) string {
	var fields map[string]any
	if json.Unmarshal(body, &fields) != nil {
		return ""
	}
	return DetailOf(fields, scrub)
}

// DetailOf reads FastAPI's error detail: a string, or a list of
// {"loc": [...], "msg": "..."} as in its 422 answers. The result is one
// short line of printable text; each of the server's strings is scrubbed
// on its own, so that the separators written here never are.
func DetailOf(fields map[string]any, scrub secret.Scrubber) string {
	clean := func(s string) string { return string(scrub.Prefix([]byte(s), MaxBody)) }
	var parts []string
	switch detail := fields["detail"].(type) {
	case string:
		parts = append(parts, clean(detail))
	case []any:
		for _, item := range detail {
			entry, _ := item.(map[string]any)
			msg, _ := entry["msg"].(string)
			if msg == "" {
				continue
			}
			msg = clean(msg)
			if loc := location(entry["loc"]); loc != "" {
				msg = clean(loc) + ": " + msg
			}
			parts = append(parts, msg)
		}
	}
	return secret.Printable(strings.Join(parts, "; "), MaxDetail)
}

// location joins FastAPI's loc, e.g. ["body", "password"] → body.password.
func location(loc any) string {
	items, _ := loc.([]any)
	var parts []string
	for _, item := range items {
		switch v := item.(type) {
		case string:
			parts = append(parts, v)
		case float64:
			parts = append(parts, strconv.FormatFloat(v, 'f', -1, 64))
		}
	}
	return strings.Join(parts, ".")
}
