package main

import "syscall"

// setHostname names the machine, in the UTS namespace the test started
// the child in.
func setHostname(name string) error { return syscall.Sethostname([]byte(name)) }
