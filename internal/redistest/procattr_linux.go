package redistest

import "syscall"

// A test binary that crashes or times out takes its redis-server with it.
func init() { procAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
