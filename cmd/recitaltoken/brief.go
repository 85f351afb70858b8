package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth/internal/event"
)

// briefHandler is -v: it turns the library's log records into short lines
// for a person at a terminal, e.g.
//
//	recitaltoken: logged in in 312 ms (first use), the token lives 1 h
//	recitaltoken: token from the cache, 41 min left
//
// It knows a record by its event attribute (package event), never by its
// message, so that a reworded message cannot change -v. A failed login is
// left out: the run ends on it, and its exit message says it once. A
// record it does not know is its message and attributes. The library's
// records hold no secret, so neither do the lines. Debug records are left
// out: they are RECITAL_LOG=debug's.
//
// Each line is one Write to w, which must be safe for concurrent use:
// records come from the source's login goroutine too.
type briefHandler struct {
	w     io.Writer
	attrs []slog.Attr
}

func newBriefHandler(w io.Writer) *briefHandler { return &briefHandler{w: w} }

func (h *briefHandler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= slog.LevelInfo
}

func (h *briefHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append(h.attrs[:len(h.attrs):len(h.attrs)], attrs...)
	return &h2
}

// WithGroup is not used by the library; a brief line has no groups.
func (h *briefHandler) WithGroup(string) slog.Handler { return h }

func (h *briefHandler) Handle(_ context.Context, r slog.Record) error {
	attrs := map[string]slog.Value{}
	var order []string
	add := func(a slog.Attr) {
		if _, seen := attrs[a.Key]; !seen {
			order = append(order, a.Key)
		}
		attrs[a.Key] = a.Value.Resolve()
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(func(a slog.Attr) bool { add(a); return true })

	line, ok := brief(r.Message, attrs, order)
	if !ok {
		return nil
	}
	_, err := io.WriteString(h.w, "recitaltoken: "+line+"\n")
	return err
}

// brief is the line for a record of message msg, and false for one that
// -v leaves out.
func brief(msg string, attrs map[string]slog.Value, order []string) (string, bool) {
	str := func(key string) string { return attrs[key].String() }
	dur := func(key string) string { return human(attrs[key].Duration()) }
	switch attrs[event.Key].String() {
	case event.LoggedIn:
		return fmt.Sprintf("logged in in %s (%s), the token lives %s", dur("duration"), str("reason"), dur("lifetime")), true
	case event.FromStore:
		return fmt.Sprintf("token from the cache, %s left", dur("left")), true
	case event.LoginFailed:
		return "", false // the exit message says it
	case event.Refused:
		return "the server refused the token (401): dropped from the cache", true
	case event.StoreFailed:
		return "the cache failed, going on without it: " + str("error"), true
	case event.StoreWorks:
		return "the cache works again", true
	case event.LockHeldLong:
		return "another run held the cache's lock too long: logging in without it", true
	}
	var b strings.Builder
	b.WriteString(msg)
	for _, key := range order {
		fmt.Fprintf(&b, " %s=%s", key, attrs[key])
	}
	return b.String(), true
}

// human writes d the way a person says it: 312 ms, 4 s, 41 min, 1 h,
// 1 h 30 min. Longer than a second, it is cut, not rounded: a token
// said to have 41 min left has at least that.
func human(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	h, m := int(d.Hours()), int((d % time.Hour).Minutes())
	if m == 0 {
		return fmt.Sprintf("%d h", h)
	}
	return fmt.Sprintf("%d h %d min", h, m)
}
