package main

import (
	"bytes"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestExitCodes checks, on the built command, the exit status a shell
// sees.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(*fixture)
		args  []string
		want  int
	}{
		{name: "token", want: 0},
		{name: "refused login", setup: func(f *fixture) { f.env["RECITAL_PASSWORD"] = "Tr0ub4dor&3" }, want: 1},
		{name: "no credentials", setup: func(f *fixture) { f.env = map[string]string{} }, want: 2},
		{name: "unknown flag", args: []string{"-nope"}, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			if r := f.exec("", append([]string{"-no-cache"}, tt.args...)...); r.Code != tt.want {
				t.Errorf("exit %d (stderr %q), want %d", r.Code, r.Stderr, tt.want)
			}
		})
	}
}

// TestConcurrentRuns starts runs at once, as xargs -P does: they take
// turns on the store's lock and log in once between them.
func TestConcurrentRuns(t *testing.T) {
	t.Parallel()
	const runs = 8
	f := newFixture(t)
	built(t)
	f.server.SetLoginDelay(100 * time.Millisecond) // so that the runs overlap
	results := make([]result, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() { results[i] = f.exec("") })
	}
	wg.Wait()
	tokens := map[string]bool{}
	for i, r := range results {
		if r.Code != 0 || r.Stderr != "" {
			t.Errorf("run %d: exit %d, stderr %q; want 0 and nothing", i, r.Code, r.Stderr)
			continue
		}
		tokens[oneLine(t, r.Stdout)] = true
	}
	f.wantLogins(1)
	if len(tokens) != 1 {
		t.Errorf("%d runs printed %d different tokens, want one", runs, len(tokens))
	}
}

// TestInterrupt checks that Ctrl-C ends a run at once, even one waiting
// for another run's login that hangs.
func TestInterrupt(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs Unix signals: os.Process.Signal(os.Interrupt) is not implemented on Windows")
	}
	t.Parallel()
	f := newFixture(t)
	f.server.SetLoginDelay(time.Hour)

	var holderErr bytes.Buffer
	holder := f.command("")
	holder.Stderr = &holderErr
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	for f.server.Logins() == 0 { // the holder is in its login, lock held
		time.Sleep(5 * time.Millisecond)
	}
	var waiterErr bytes.Buffer
	waiter := f.command("")
	waiter.Stderr = &waiterErr
	if err := waiter.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { waiter.Wait(); close(done) }()
	select {
	case <-done:
		t.Fatalf("the waiting run ended before Ctrl-C: %q", waiterErr.String())
	case <-time.After(500 * time.Millisecond): // waiting on the lock
	}

	interrupted := time.Now()
	waiter.Process.Signal(os.Interrupt)
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		waiter.Process.Kill()
		t.Fatal("the waiting run did not end within 2 s of Ctrl-C")
	}
	if took := time.Since(interrupted); took > time.Second {
		t.Errorf("the waiting run ended %v after Ctrl-C, want at once", took)
	}
	if code := waiter.ProcessState.ExitCode(); code != 1 || !strings.Contains(waiterErr.String(), "interrupt") {
		t.Errorf("waiting run: exit %d, stderr %q; want 1 and a message that it was interrupted", code, waiterErr.String())
	}

	holder.Process.Signal(os.Interrupt) // in its login
	if err := holder.Wait(); holder.ProcessState.ExitCode() != 1 {
		t.Errorf("interrupted login: %v, stderr %q; want exit 1", err, holderErr.String())
	}
	f.wantLogins(1)
}

// TestTenRunsOneLogin: ten runs of the built command, one after another
// as a shell script makes them, log in once between them, through the
// library's default store (under XDG_CACHE_HOME, or %LocalAppData% on
// Windows, where CI runs it under wine), which holds the token sealed.
func TestTenRunsOneLogin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var tokens []string
	for i := range 10 {
		r := f.exec("")
		if r.Code != 0 || r.Stderr != "" {
			t.Fatalf("run %d: exit %d, stderr %q; want 0 and nothing", i+1, r.Code, r.Stderr)
		}
		tokens = append(tokens, strings.TrimSpace(r.Stdout))
	}
	f.wantLogins(1)
	for i, tok := range tokens {
		if tok != tokens[0] {
			t.Errorf("run %d printed another token than the first", i+1)
		}
	}
	files := f.storedTokens()
	if len(files) != 1 {
		t.Fatalf("the default store (%s) holds %q, want one token", f.storeDir(), files)
	}
	value, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(value, []byte(tokens[0])) || bytes.Contains(value, []byte(password)) {
		t.Errorf("the stored value holds the token or the password in clear")
	}
}
