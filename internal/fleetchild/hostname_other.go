//go:build !linux

package main

import "errors"

// setHostname is Linux's only: elsewhere the fleet tests skip.
func setHostname(string) error { return errors.New("host names of their own need Linux") }
