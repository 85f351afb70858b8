// Package redistest starts a real redis-server, for tests and examples: on
// a free port of 127.0.0.1, with nothing written to disk.
package redistest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/seed9ffb1f9c/recitaloauth/internal/tempdir"
)

// procAttr ties the server's life to the test's where the system can.
var procAttr *syscall.SysProcAttr

// Start starts a redis-server for tb, stopped when tb ends, and returns
// its address. Without redis-server the test skips, except in CI (CI
// set) on Unix, where it fails: CI must test against Redis. CI's Windows
// tests run under wine, which cannot start Linux's redis-server: they skip.
func Start(tb testing.TB) string {
	tb.Helper()
	addr, stop, err := Run(tempdir.New(tb))
	if err != nil {
		if os.Getenv("CI") != "" && runtime.GOOS != "windows" {
			tb.Fatalf("CI needs redis-server (apt-get install redis-server): %v", err)
		}
		tb.Skipf("needs redis-server: %v", err)
	}
	tb.Cleanup(stop)
	return addr
}

// Run starts a redis-server working in dir, and returns its address and
// how to stop it.
func Run(dir string) (addr string, stop func(), err error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, err
	}
	// A port found free can be taken before redis-server binds it: try
	// another then.
	for range 3 {
		if addr, stop, err = startOnce(path, dir); err == nil {
			return addr, stop, nil
		}
	}
	return "", nil, err
}

func startOnce(path, dir string) (addr string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	cmd := exec.Command(path,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir,
		"--daemonize", "no", "--loglevel", "warning")
	cmd.SysProcAttr = procAttr
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = func() {
		cmd.Process.Kill()
		<-exited
	}

	client := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer client.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := client.Ping(ctx).Err()
		cancel()
		if err == nil {
			return addr, stop, nil
		}
		select {
		case waitErr := <-exited:
			return "", nil, fmt.Errorf("redis-server exited (%v): %s", waitErr, out.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("redis-server on %s does not answer PING: %v", addr, err)
		}
	}
}
