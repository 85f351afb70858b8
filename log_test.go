package recitaloauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth/internal/event"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/seed9ffb1f9c/recitaloauth/internal/syncio"
)

// logRecorder keeps every record a handler at Debug writes, as JSON lines.
type logRecorder struct{ buf syncio.Buffer }

func (r *logRecorder) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(&r.buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (r *logRecorder) text() string { return r.buf.String() }

// logged is one record as the JSON handler wrote it: level, message
// without the package's prefix, and every attribute but the time.
type logged struct {
	Level, Msg string
	Attrs      map[string]any
}

// between stands, in a wanted record, for a duration attribute with
// jitter: any value from lo to hi matches.
type between struct{ lo, hi time.Duration }

// record is a wanted record; attrs are pairs of name and value, as slog
// takes them: durations, ints, strings, bools, or between.
func record(level, msg string, attrs ...any) logged {
	want := logged{Level: level, Msg: msg, Attrs: map[string]any{}}
	for i := 0; i < len(attrs); i += 2 {
		want.Attrs[attrs[i].(string)] = attrs[i+1]
	}
	return want
}

// records returns the records written since the last call, in order.
func (r *logRecorder) records(t *testing.T) []logged {
	t.Helper()
	var out []logged
	for line := range strings.Lines(r.text()) {
		var attrs map[string]any
		if err := json.Unmarshal([]byte(line), &attrs); err != nil {
			t.Fatalf("record %q: %v", line, err)
		}
		rec := logged{Level: attrs["level"].(string), Msg: strings.TrimPrefix(attrs["msg"].(string), "recitaloauth: "), Attrs: attrs}
		delete(attrs, "time")
		delete(attrs, "level")
		delete(attrs, "msg")
		out = append(out, rec)
	}
	return out
}

// matchRecords reports the difference between want and got, (-want +got),
// with want's values put in JSON's terms (a duration is its nanoseconds,
// an int a float64) and each between that got's value falls in replaced
// by that value.
func matchRecords(want, got []logged) string {
	var norm []logged
	for i, w := range want {
		n := logged{Level: w.Level, Msg: w.Msg, Attrs: map[string]any{}}
		for k, v := range w.Attrs {
			switch v := v.(type) {
			case time.Duration:
				n.Attrs[k] = float64(v)
			case int:
				n.Attrs[k] = float64(v)
			case between:
				n.Attrs[k] = fmt.Sprintf("between %v and %v", v.lo, v.hi)
				if i < len(got) {
					if g, ok := got[i].Attrs[k].(float64); ok && g >= float64(v.lo) && g <= float64(v.hi) {
						n.Attrs[k] = g
					}
				}
			default:
				n.Attrs[k] = v
			}
		}
		norm = append(norm, n)
	}
	return cmp.Diff(norm, got, cmpopts.EquateEmpty())
}

// TestLogWholeLife follows a source through a whole life with a logger at
// Debug: first login, a transient failure retried, an early refresh in the
// background, a refused token, a failed login, and a store that fails then
// works. Each event is one record at its level with its attributes (the
// jittered pauses within their bounds), cached Token calls write
// none, and no record holds the password or a token.
func TestLogWholeLife(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login, store := newLoginServer(), newMemStore()
		var rec logRecorder
		src := storeSource(store, login, func(c *Config) { c.Logger = rec.logger() }).(*cachedSource)
		store.fail = errors.New("disk full")
		login.set(func(s *loginServer) { s.transient = 1 })
		var all string
		step := func(want ...logged) {
			t.Helper()
			synctest.Wait()
			got := rec.records(t)
			all += rec.text()
			rec.buf.Reset()
			if diff := matchRecords(want, got); diff != "" {
				t.Errorf("records mismatch (-want +got):\n%s", diff)
			}
		}
		// The one retry's pause: firstRetryPause less up to half, as jitter.
		retried := between{firstRetryPause / 2, firstRetryPause}

		if _, err := src.credential(context.Background()); err != nil {
			t.Fatal(err)
		}
		step(record("WARN", "token store failed, going on without it", "event", event.StoreFailed, "op", "load", "error", "disk full"),
			record("DEBUG", "login attempt failed, retrying", "attempt", 1,
				"error", "recitaloauth: login refused: 503 Service Unavailable: Incorrect username or password",
				"pause", retried, "retry_after_honoured", false),
			record("INFO", "logged in", "event", event.LoggedIn, "reason", reasonFirstUse, "duration", retried, "attempts", 2, "lifetime", time.Hour),
			record("DEBUG", "callers waited for a token", "event", event.Waited, "callers", 1, "waited", retried))

		for range 1000 {
			src.Token()
		}
		step() // the fast path says nothing

		store.mu.Lock()
		store.fail = nil
		store.mu.Unlock()
		time.Sleep(56 * time.Minute)
		src.Token()
		step(record("INFO", "token store works again", "event", event.StoreWorks),
			record("INFO", "logged in", "event", event.LoggedIn, "reason", reasonRefresh, "duration", 0, "attempts", 1, "lifetime", time.Hour))

		src.refuse(src.current.Load())
		login.set(func(s *loginServer) { s.status = http.StatusUnauthorized })
		if _, err := src.Token(); err == nil {
			t.Fatal("Token succeeded with a wrong password")
		}
		step(record("WARN", "token refused, dropped", "event", event.Refused, "status", 401, "age", 0, "from_store", false),
			record("WARN", "login failed", "event", event.LoginFailed, "reason", reasonRefused,
				"error", "recitaloauth: login refused: 401 Unauthorized: Incorrect username or password",
				"attempts", 1, "retry_in", between{firstBackoff * 9 / 10, firstBackoff}, "status", 401),
			record("DEBUG", "callers waited for a token", "event", event.Waited, "callers", 1, "waited", 0))

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
