//go:build unix

package main

import "golang.org/x/sys/unix"

// echoOff turns the terminal fd's echo off, keeping its line editing and
// Ctrl-C, and returns what puts it back: the settings
// golang.org/x/term's ReadPassword uses, made here so that the prompt
// turns echo off before it waits, and so can put it back whenever it
// stops waiting (see prompt).
func echoOff(fd int) (restore func(), err error) {
	old, err := unix.IoctlGetTermios(fd, getTermios)
	if err != nil {
		return nil, err
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	quiet.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, setTermios, &quiet); err != nil {
		return nil, err
	}
	return func() { unix.IoctlSetTermios(fd, setTermios, old) }, nil
}
