package recitaloauth_test

import "syscall"

// machineAttr starts a child as another machine: in a UTS namespace of
// its own, where it sets a host name of its own, and killed with the test.
func machineAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS, Pdeathsig: syscall.SIGKILL}
}
