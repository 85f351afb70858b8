//go:build aix || linux || solaris || zos

package main

import "golang.org/x/sys/unix"

// The ioctls that read and set a terminal's settings here.
const (
	getTermios = unix.TCGETS
	setTermios = unix.TCSETS
)
