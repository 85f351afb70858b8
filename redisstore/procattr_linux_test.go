package redisstore_test

import "syscall"

// A test binary that crashes or times out takes its redis-server with it.
func init() { redisProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
