//go:build !unix && !windows

package main

import (
	"errors"
	"fmt"
	"runtime"
)

// echoOff is not there: no terminal here has an echo to turn off.
func echoOff(int) (restore func(), err error) {
	return nil, fmt.Errorf("no password prompt on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
