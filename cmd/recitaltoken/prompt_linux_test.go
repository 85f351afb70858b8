package main

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPty opens a pseudo-terminal pair by hand (no pty library): the
// master, where the test plays the person at the keyboard, and the slave,
// the terminal the command reads.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	master = os.NewFile(uintptr(fd), "/dev/ptmx")
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking the pty: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("naming the pty: %v", err)
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slave.Close() })
	return master, slave
}

// TestPasswordPrompt: with a username and no password, on a terminal, the
// command asks "Password for <user>: " on it, reads the password without
// echo, and goes on as usual: the token on stdout. The person takes longer
// to type than -timeout: the clock starts once the password is in.
func TestPasswordPrompt(t *testing.T) {
	f := newFixture(t)
	delete(f.env, "RECITAL_PASSWORD")
	master, slave := openPty(t)

	// The terminal's output, as the person sees it.
	var mu sync.Mutex
	var screen bytes.Buffer
	prompted := make(chan struct{})
	go func() {
		buf := make([]byte, 256)
		once := sync.Once{}
		for {
			n, err := master.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			asked := strings.Contains(screen.String(), "Password for "+username+": ")
			mu.Unlock()
			if asked {
				once.Do(func() { close(prompted) })
			}
			if err != nil {
				return
			}
		}
	}()
	type outcome struct {
		code   int
		stdout string
	}
	done := make(chan outcome, 1)
	go func() {
		var stdout bytes.Buffer
		env := f.env
		code := run(t.Context(), []string{"-no-cache", "-timeout", "1s"}, surroundings{
			stdin: slave, stdout: &stdout, stderr: slave,
			getenv:   func(name string) string { return env[name] },
			storeDir: f.storeDir(),
		})
		done <- outcome{code, stdout.String()}
	}()
	select {
	case <-prompted:
	case <-time.After(5 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("no prompt on the terminal; it shows %q", screen.String())
	}
	time.Sleep(1200 * time.Millisecond) // a person typing, slower than -timeout
	io.WriteString(master, password+"\r")
	var got outcome
	select {
	case got = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the command did not go on after the password was typed")
	}
	if got.code != 0 {
		t.Errorf("exit %d, want 0", got.code)
	}
	token := oneLine(t, got.stdout)
	if code, user := f.configUser(token); code != 200 || user != username {
		t.Errorf("the token gets %d for %q, want 200 for %q", code, user, username)
	}
	slave.Close() // the reader ends
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(screen.String(), password) {
		t.Errorf("the password was echoed: the terminal shows %q", screen.String())
	}
}

// TestPromptSignalRestoresEcho: Ctrl-C or SIGTERM at the password prompt
// ends the built command at once, and the terminal has its echo back.
// (Before, SIGTERM killed it with echo off, and Ctrl-C could put echo
// back before the reader had turned it off.)
func TestPromptSignalRestoresEcho(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, unix.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			f := newFixture(t)
			delete(f.env, "RECITAL_PASSWORD")
			master, slave := openPty(t)
			cmd := f.command("", "-no-cache")
			cmd.Stdin, cmd.Stderr = slave, slave
			var stdout bytes.Buffer
			cmd.Stdout = &stdout
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			screen := make(chan string, 1)
			go func() {
				var seen []byte
				buf := make([]byte, 256)
				for !strings.Contains(string(seen), "Password for ") {
					n, err := master.Read(buf)
					seen = append(seen, buf[:n]...)
					if err != nil {
						break
					}
				}
				screen <- string(seen)
			}()
			select {
			case s := <-screen:
				if !strings.Contains(s, "Password for ") {
					t.Fatalf("no prompt; the terminal shows %q", s)
				}
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				t.Fatal("no prompt within 5 s")
			}
			cmd.Process.Signal(sig)
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case <-exited:
			case <-time.After(2 * time.Second):
				cmd.Process.Kill()
				t.Fatal("the command did not end within 2 s of the signal")
			}
			if code := cmd.ProcessState.ExitCode(); code != 1 || stdout.Len() != 0 {
				t.Errorf("exit %d, stdout %q; want 1 and nothing", code, stdout.String())
			}
			termios, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
			if err != nil {
				t.Fatal(err)
			}
			if termios.Lflag&unix.ECHO == 0 {
				t.Error("the terminal was left without echo")
			}
		})
	}
}

// TestPromptNothingTyped: Enter alone (or Ctrl-D) at the prompt is "no
// password typed", a usage error, not a missing variable.
func TestPromptNothingTyped(t *testing.T) {
	f := newFixture(t)
	delete(f.env, "RECITAL_PASSWORD")
	master, slave := openPty(t)
	go io.Copy(io.Discard, master)
	io.WriteString(master, "\r") // typed ahead: the terminal holds the line until it is read
	var stdout, stderr bytes.Buffer
	env := f.env
	code := run(t.Context(), []string{"-no-cache"}, surroundings{
		stdin: slave, stdout: &stdout, stderr: &stderr,
		getenv:   func(name string) string { return env[name] },
		storeDir: f.storeDir(),
	})
	if code != 2 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "no password typed") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing, and that no password was typed", code, stdout.String(), stderr.String())
	}
}
