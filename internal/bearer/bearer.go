// Package bearer holds the syntax of a bearer token, the one check for
// every token the library hands out or reads: a login's answer, a stored
// value, a service token from code or from the environment.
package bearer

import "errors"

// Valid reports whether s fits RFC 6750's b64token, the syntax of a
// bearer token. It keeps anything that could break the Authorization
// header (spaces, control characters, newlines) out of it.
func Valid(s string) bool {
	if s == "" {
		return false
	}
	padding := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '=':
			padding = true
		case padding:
			return false
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return s[0] != '='
}

// Check returns an error unless token, already trimmed, is a bearer
// token; name says where it came from, for the message.
func Check(token, name string) error {
	switch {
	case token == "":
		return errors.New("recitaloauth: " + name + " is empty")
	case !Valid(token):
		return errors.New("recitaloauth: " + name + " has characters a bearer token cannot have")
	}
	return nil
}
