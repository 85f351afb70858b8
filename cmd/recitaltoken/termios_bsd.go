//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package main

import "golang.org/x/sys/unix"

// The ioctls that read and set a terminal's settings here.
const (
	getTermios = unix.TIOCGETA
	setTermios = unix.TIOCSETA
)
