// Package form holds the rule for what the login form may carry, for the
// login and for the reader of the environment, which refuses such a
// value as a configuration error before anything is sent.
package form

import (
	"errors"
	"unicode/utf8"
)

// Check refuses a username or password that is not valid UTF-8: Starlette
// decodes the form as UTF-8, with U+FFFD for what is not, so such a value
// can never log in, and FastAPI would echo the mangled password back,
// where no scrub recognises it. name says what value it is.
func Check(value, name string) error {
	if !utf8.ValidString(value) {
		return errors.New("recitaloauth: " + name + " is not valid UTF-8: the server would read another one")
	}
	return nil
}
