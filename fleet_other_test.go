//go:build !linux

package recitaloauth_test

import "syscall"

// machineAttr is Linux's only: elsewhere TestFleetIPBound skips.
func machineAttr() *syscall.SysProcAttr { return nil }
