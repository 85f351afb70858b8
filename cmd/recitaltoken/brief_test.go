package main

import (
	"bytes"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/seed9ffb1f9c/recitaloauth/internal/event"
)

// TestVerbose checks -v's lines on stderr, and that stdout stays the
// token alone.
func TestVerbose(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const refused = `recitaltoken: recitaloauth: login refused: 401 Unauthorized: Incorrect username or password\n`
	steps := []struct {
		name   string
		setup  func()
		args   []string
		code   int
		stderr string // a regular expression for the whole of it
	}{
		{
			name:   "login",
			code:   0,
			stderr: `^recitaltoken: logged in in \d+ ms \(first use\), the token lives 1 h\n$`,
		},
		{
			name:   "from the store",
			code:   0,
			stderr: `^recitaltoken: token from the cache, (59 min|1 h) left\n$`,
		},
		{
			// The server revokes the cached token; -check's 401 drops it
			// and logs in again, and -v says each once.
			name: "refused token",
			setup: func() {
				f.server.Revoke(oneLine(t, f.run("").Stdout))
			},
			args: []string{"-check"},
			code: 0,
			stderr: `^recitaltoken: token from the cache, (59 min|1 h) left\n` +
				`recitaltoken: the server refused the token \(401\): dropped from the cache\n` +
				`recitaltoken: logged in in \d+ ms \(after a 401\), the token lives 1 h\n` +
				`recitaltoken: GET .*: 200 OK\n$`,
		},
		{
			// A failed login is said once, by the exit message: no
			// "login failed: login failed", no "next try".
			name:   "refused login",
			setup:  func() { f.env["RECITAL_PASSWORD"] = "Tr0ub4dor&3" },
			code:   1,
			stderr: `^` + refused + `$`,
		},
	}
	for _, step := range steps {
		if step.setup != nil {
			step.setup()
		}
		r := f.run("", append([]string{"-v"}, step.args...)...)
		if r.Code != step.code || !regexp.MustCompile(step.stderr).MatchString(r.Stderr) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", step.name, r.Code, r.Stderr, step.code, step.stderr)
		}
		if step.code == 0 && step.args == nil {
			if _, user := f.configUser(oneLine(t, r.Stdout)); user != username {
				t.Errorf("%s: stdout %q is not the token alone", step.name, r.Stdout)
			}
		}
	}
}

// TestBrief: -v knows a record by its event, whatever its message says
// (each case logs a message the library never writes), says a failed
// login not at all (the exit message does), and never "next try".
func TestBrief(t *testing.T) {
	const reworded = "recitaloauth: words that may change"
	tests := []struct {
		name string
		log  func(*slog.Logger)
		want string
	}{
		{
			name: "logged in",
			log: func(l *slog.Logger) {
				l.Info(reworded, event.Attr(event.LoggedIn), "reason", "early refresh", "duration", 1500*time.Millisecond,
					"attempts", 2, "lifetime", 90*time.Minute)
			},
			want: "recitaltoken: logged in in 1 s (early refresh), the token lives 1 h 30 min\n",
		},
		{
			name: "token from the store",
			log: func(l *slog.Logger) {
				l.Info(reworded, event.Attr(event.FromStore), "reason", "first use", "left", 41*time.Minute+30*time.Second)
			},
			want: "recitaltoken: token from the cache, 41 min left\n",
		},
		{
			name: "login failed: the exit message says it",
			log: func(l *slog.Logger) {
				l.Warn(reworded, event.Attr(event.LoginFailed), "reason", "first use", "error", "recitaloauth: login failed: dial tcp: refused",
					"attempts", 3, "retry_in", time.Second, "status", 503)
			},
		},
		{
			name: "token refused",
			log: func(l *slog.Logger) {
				l.Warn(reworded, event.Attr(event.Refused), "status", 401, "age", time.Minute)
			},
			want: "recitaltoken: the server refused the token (401): dropped from the cache\n",
		},
		{
			name: "store failed",
			log: func(l *slog.Logger) {
				l.Warn(reworded, event.Attr(event.StoreFailed), "op", "load", "error", errors.New("permission denied").Error())
			},
			want: "recitaltoken: the cache failed, going on without it: permission denied\n",
		},
		{
			name: "store works again",
			log:  func(l *slog.Logger) { l.Info(reworded, event.Attr(event.StoreWorks)) },
			want: "recitaltoken: the cache works again\n",
		},
		{
			name: "lock held long",
			log:  func(l *slog.Logger) { l.Warn(reworded, event.Attr(event.LockHeldLong), "waited", time.Second) },
			want: "recitaltoken: another run held the cache's lock too long: logging in without it\n",
		},
		{
			name: "event from WithAttrs",
			log:  func(l *slog.Logger) { l.With(event.Attr(event.StoreWorks)).Info(reworded) },
			want: "recitaltoken: the cache works again\n",
		},
		{
			name: "unknown record",
			log:  func(l *slog.Logger) { l.With("a", 1).Info("recitaloauth: something new", "b", "two words") },
			want: "recitaltoken: recitaloauth: something new a=1 b=two words\n",
		},
		{
			name: "debug left out",
			log:  func(l *slog.Logger) { l.Debug("recitaloauth: callers waited for a token", "callers", 2) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			tt.log(slog.New(newBriefHandler(&b)))
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("line mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHuman(t *testing.T) {
	tests := map[time.Duration]string{
		312 * time.Millisecond:                "312 ms",
		59*time.Second + 900*time.Millisecond: "59 s",
		41*time.Minute + 59*time.Second:       "41 min",
		time.Hour:                             "1 h",
		2*time.Hour + 5*time.Minute:           "2 h 5 min",
	}
	var got, want []string
	for d, w := range tests {
		got, want = append(got, d.String()+" "+human(d)), append(want, d.String()+" "+w)
	}
	if diff := cmp.Diff(strings.Join(want, "\n"), strings.Join(got, "\n")); diff != "" {
		t.Errorf("human mismatch (-want +got):\n%s", diff)
	}
}

// TestVerboseOnce: -v says a failed login once (the exit message), never
// "next try", and no prefix twice: the command's once, the library's
// once, in its error.
func TestVerboseOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.env["RECITAL_AUTH_URL"] = "http://127.0.0.1:1/auth/api/v1/login/" // no listener
	r := f.run("", "-v", "-no-cache")
	lines := strings.Split(strings.TrimSuffix(r.Stderr, "\n"), "\n")
	if r.Code != 1 || len(lines) != 1 {
		t.Fatalf("exit %d, stderr %q; want 1 and one line", r.Code, r.Stderr)
	}
	for _, bad := range []string{"login failed: login failed", "next try"} {
		if strings.Contains(r.Stderr, bad) {
			t.Errorf("stderr %q holds %q", r.Stderr, bad)
		}
	}
	for _, prefix := range []string{"recitaltoken: ", "recitaloauth: "} {
		if n := strings.Count(r.Stderr, prefix); n != 1 {
			t.Errorf("stderr %q holds %q %d times, want once", r.Stderr, prefix, n)
		}
	}
}
