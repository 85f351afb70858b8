package recitaloauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// logRecorder keeps every record a handler at Debug writes, as JSON lines.
type logRecorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *logRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *logRecorder) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(r, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (r *logRecorder) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

// records returns the records' levels and messages, in order.
func (r *logRecorder) records(t *testing.T) []string {
	t.Helper()
	var out []string
	for line := range strings.Lines(r.text()) {
		var rec struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("record %q: %v", line, err)
		}
		out = append(out, rec.Level+" "+strings.TrimPrefix(rec.Msg, "recitaloauth: "))
	}
	return out
}

// TestLogWholeLife follows a source through a whole life with a logger at
// Debug: first login, a transient failure retried, an early refresh in the
// background, a refused token, a failed login, and a store that fails then
// works. Each event is one record at its level, cached Token calls write
// none, and no record holds the password or a token.
func TestLogWholeLife(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login, store := newLoginServer(), newMemStore()
		var rec logRecorder
		src := storeSource(store, login, func(c *Config) { c.Logger = rec.logger() }).(*cachedSource)
		store.fail = errors.New("disk full")
		login.set(func(s *loginServer) { s.transient = 1 })
		var all string
		step := func(want ...string) {
			t.Helper()
			synctest.Wait()
			got := rec.records(t)
			all += rec.text()
			rec.buf.Reset()
			if !slices.Equal(got, want) {
				t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}

		if _, err := src.credential(context.Background()); err != nil {
			t.Fatal(err)
		}
		step("WARN token store failed, going on without it",
			"DEBUG login attempt failed, retrying",
			"INFO logged in",
			"DEBUG callers waited for a token")

		for range 1000 {
			src.Token()
		}
		step() // the fast path says nothing

		store.mu.Lock()
		store.fail = nil
		store.mu.Unlock()
		time.Sleep(56 * time.Minute)
		src.Token()
		step("INFO token store works again", "INFO logged in")

		src.rejected(src.current.Load())
		login.set(func(s *loginServer) { s.status = http.StatusUnauthorized })
		if _, err := src.Token(); err == nil {
			t.Fatal("Token succeeded with a wrong password")
		}
		step("WARN token refused, dropped", "WARN login failed", "DEBUG callers waited for a token")

		text := all
		for _, secret := range []string{testConfig().Password, "s3cret"} {
			if strings.Contains(text, secret) {
				t.Errorf("a record holds the password: %s", text)
			}
		}
		if tokens := regexp.MustCompile(`token-[0-9]`).FindAllString(text, -1); len(tokens) > 0 {
			t.Errorf("records hold tokens %v", tokens)
		}
	})
}
