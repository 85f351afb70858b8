// Tour shows recitaloauth at work, in a few seconds and with nothing but
// Go: it starts a fake recital on 127.0.0.1 (package recitaltest) and plays
// short scenes against it, printing what happens, the library's own log
// records, and the figures the fake server counted.
//
//	go run ./examples/tour
package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/seed9ffb1f9c/recitaloauth/internal/syncio"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/seed9ffb1f9c/recitaloauth"
	"github.com/seed9ffb1f9c/recitaloauth/filestore"
	"github.com/seed9ffb1f9c/recitaloauth/internal/event"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
)

const (
	user     = "ana@example.com"
	password = "correct horse"

	// Every login of the fake takes loginDelay, so that a request which
	// waits for a login shows: it is slower than waitThreshold, while one
	// served with a cached token takes about a millisecond.
	loginDelay    = 200 * time.Millisecond
	waitThreshold = loginDelay / 2

	coldRequests = 100

	// A token of tokenLifetime is refreshed in the background once a
	// quarter of its life remains, and handed out until a twentieth does
	// (see the package documentation): here 750 ms and 150 ms before
	// expiry, room enough for a 200 ms login.
	tokenLifetime   = 3 * time.Second
	rolloverWorkers = 8
	// Each worker's "work" between requests: enough traffic to fill the
	// background login, not so much that it starves the machine, where a
	// request held up by the scheduler would look like one that waited.
	rolloverPace = 10 * time.Millisecond

	revokedRequests = 20

	// wrongFor is long enough for the back-off's second login (1 s after
	// the first) and short of its third (2 s after the second).
	wrongCallers = 8
	wrongFor     = 2 * time.Second
	wrongPace    = 10 * time.Millisecond
)

func main() {
	if _, err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tour:", err)
		os.Exit(1)
	}
}

// figures are what the tour counted, one set per scene.
type figures struct {
	Cold struct {
		Requests, OK, Logins int
	}
	Rollover struct {
		Requests, OK, DuringLogin, Waited, Logins int
		Slowest                                   time.Duration
	}
	Revoked struct {
		Requests, OK, Refused, Logins int
	}
	WrongPassword struct {
		Calls, Failed, FromBackoff, Logins, APIRequests int
	}
	Shared struct {
		Sources, OK, Logins int
	}
}

// run plays the scenes one after another, writing the narration and the
// log records to w, and returns the figures.
func run(w io.Writer) (figures, error) {
	out := &syncio.Writer{W: w} // the narration and the records, from the library's login goroutines
	var f figures
	started := time.Now()
	fmt.Fprintf(out, "recitaloauth tour: each scene starts a fake recital on 127.0.0.1 (package recitaltest)\n")
	fmt.Fprintf(out, "whose logins take %v, so that a request waiting for one shows. Lines marked log:\n", loginDelay)
	fmt.Fprintf(out, "are the library's own records, from Config.Logger.\n")
	scenes := []func(io.Writer, *figures) error{cold, rollover, revoked, wrongPassword, shared}
	for _, scene := range scenes {
		if err := scene(out, &f); err != nil {
			return f, err
		}
	}
	fmt.Fprintf(out, "\nThe tour took %v.\n", time.Since(started).Round(100*time.Millisecond))
	return f, nil
}

// scene is one fake recital, with a user, and the context and logger the
// scene's sources use.
type scene struct {
	out     io.Writer
	recital *recitaltest.Server
	http    *http.Transport
	ctx     context.Context // its oauth2.HTTPClient is used for logins and API requests
	log     *slog.Logger
	waiters *atomic.Int64 // callers its sources' records say waited for a login
}

func newScene(out io.Writer, title string) *scene {
	fmt.Fprintf(out, "\n%s\n", title)
	recital := recitaltest.NewServer()
	recital.AddUser(user, password)
	recital.SetLoginDelay(loginDelay)
	// Room for every concurrent request's connection, so that they are
	// reused rather than opened and closed by the thousand.
	tr := &http.Transport{MaxIdleConnsPerHost: coldRequests}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: tr})
	waiters := new(atomic.Int64)
	return &scene{out: out, recital: recital, http: tr, ctx: ctx, waiters: waiters,
		log: slog.New(&lineHandler{out: out, waiters: waiters})}
}

func (s *scene) close() {
	s.http.CloseIdleConnections()
	s.recital.Close()
}

// say writes a line of narration.
func (s *scene) say(format string, args ...any) {
	fmt.Fprintf(s.out, "  "+format+"\n", args...)
}

// config is a Config for the scene's user, logging to the scene's logger.
func (s *scene) config(password string) *recitaloauth.Config {
	return &recitaloauth.Config{Username: user, Password: password, AuthURL: s.recital.AuthURL(), Logger: s.log}
}

// get asks the API for /config/ and returns the answer's status.
func (s *scene) get(client *http.Client) (int, error) {
	resp, err := client.Get(s.recital.APIURL() + "/config/")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body) // drained, so that the connection is reused
	return resp.StatusCode, err
}

// getAll makes n requests at once and returns how many were answered 200.
func (s *scene) getAll(client *http.Client, n int) (ok int, err error) {
	statuses := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { statuses[i], errs[i] = s.get(client) })
	}
	wg.Wait()
	for _, status := range statuses {
		if status == http.StatusOK {
			ok++
		}
	}
	return ok, errors.Join(errs...)
}

func cold(out io.Writer, f *figures) error {
	s := newScene(out, "1. A cold client: one login for a hundred requests")
	defer s.close()
	s.say("A new client gets %d requests at once. None has a token yet, so all of them need a login.", coldRequests)
	client := s.config(password).Client(s.ctx)
	ok, err := s.getAll(client, coldRequests)
	if err != nil {
		return err
	}
	c := &f.Cold
	c.Requests, c.OK, c.Logins = coldRequests, ok, s.recital.Logins()
	s.say("→ %d requests, %d answered 200, %s.", c.Requests, c.OK, plural(c.Logins, "login"))
	s.say("They all waited for the same login: a burst at start-up is not a burst of logins.")
	return nil
}

func rollover(out io.Writer, f *figures) error {
	s := newScene(out, "2. Rollover: the next token arrives while requests flow")
	defer s.close()
	s.recital.SetTokenLifetime(tokenLifetime)
	s.say("Tokens now live %v. %d workers each send a request every %v until the token has", tokenLifetime, rolloverWorkers, rolloverPace)
	s.say("been replaced.")
	src := s.config(password).TokenSource(s.ctx)
	client := recitaloauth.NewClient(s.ctx, src)
	if _, err := s.get(client); err != nil { // the first login, not part of the flow
		return err
	}
	first, err := src.Token()
	if err != nil {
		return err
	}
	s.waiters.Store(0) // the first login's caller waited: it is not the flow's

	var (
		rolled                     atomic.Bool
		requests, ok, during, slow atomic.Int64
	)
	deadline := time.Now().Add(2 * tokenLifetime)
	errs := make([]error, rolloverWorkers)
	var wg sync.WaitGroup
	for i := range rolloverWorkers {
		wg.Go(func() {
			for !rolled.Load() && time.Now().Before(deadline) {
				loginsBefore := s.recital.Logins()
				start := time.Now()
				status, err := s.get(client)
				took := time.Since(start)
				if err != nil {
					errs[i] = err
					return
				}
				requests.Add(1)
				if status == http.StatusOK {
					ok.Add(1)
				}
				for d := int64(took); ; {
					if old := slow.Load(); d <= old || slow.CompareAndSwap(old, d) {
						break
					}
				}
				tok, err := src.Token()
				if err != nil {
					errs[i] = err
					return
				}
				switch {
				case tok.AccessToken != first.AccessToken:
					rolled.Store(true)
				case loginsBefore > 1:
					// Sent after the new token's login had begun, and
					// answered before the login ended.
					during.Add(1)
				}
				time.Sleep(rolloverPace)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if !rolled.Load() {
		return fmt.Errorf("rollover: the token was not replaced within %v", 2*tokenLifetime)
	}
	r := &f.Rollover
	r.Requests, r.OK, r.DuringLogin = int(requests.Load()), int(ok.Load()), int(during.Load())
	r.Waited, r.Slowest, r.Logins = int(s.waiters.Load()), time.Duration(slow.Load()), s.recital.Logins()
	s.say("→ %d requests, %d answered 200, %d of them while the next token's login was under way;",
		r.Requests, r.OK, r.DuringLogin)
	s.say("  %d waited for a login (the slowest took %v); %s in all.",
		r.Waited, r.Slowest.Round(time.Millisecond), plural(r.Logins, "login"))
	s.say("The new token was fetched in the background while the old one still served: no request")
	s.say("paid for the %v login. (With golang.org/x/oauth2's ReuseTokenSource, requests wait for", loginDelay)
	s.say("the login at every rollover.)")
	return nil
}

func revoked(out io.Writer, f *figures) error {
	s := newScene(out, "3. A revoked token: one login heals it")
	defer s.close()
	s.say("A client logs in; then the server revokes its token (an administrator logs the session")
	s.say("out, say), and the client sends %d requests at once.", revokedRequests)
	src := s.config(password).TokenSource(s.ctx)
	client := recitaloauth.NewClient(s.ctx, src)
	if _, err := s.get(client); err != nil {
		return err
	}
	tok, err := src.Token()
	if err != nil {
		return err
	}
	s.recital.Revoke(tok.AccessToken)
	logins, apiRequests := s.recital.Logins(), s.recital.APIRequests()
	ok, err := s.getAll(client, revokedRequests)
	if err != nil {
		return err
	}
	r := &f.Revoked
	r.Requests, r.OK = revokedRequests, ok
	r.Refused = s.recital.APIRequests() - apiRequests - revokedRequests // each refused request was sent twice
	r.Logins = s.recital.Logins() - logins
	s.say("→ %d requests: %d refused with 401 and sent again, %d answered 200 in the end; %s.",
		r.Requests, r.Refused, r.OK, plural(r.Logins, "login"))
	s.say("The caller never saw the 401: the refused token was dropped, one login replaced it for")
	s.say("all the refused requests, and each was sent again.")
	return nil
}

func wrongPassword(out io.Writer, f *figures) error {
	s := newScene(out, "4. A wrong password does not become a storm of logins")
	defer s.close()
	s.say("%d callers send a request every %v for %v, with a wrong password.", wrongCallers, wrongPace, wrongFor)
	client := s.config("wrong password").Client(s.ctx)
	var (
		calls, failed, fromBackoff atomic.Int64
		wg                         sync.WaitGroup
	)
	end := time.Now().Add(wrongFor)
	for range wrongCallers {
		wg.Go(func() {
			for time.Now().Before(end) {
				start := time.Now()
				_, err := s.get(client)
				calls.Add(1)
				if err != nil {
					failed.Add(1)
					if time.Since(start) < waitThreshold {
						fromBackoff.Add(1)
					}
				}
				time.Sleep(wrongPace)
			}
		})
	}
	wg.Wait()
	r := &f.WrongPassword
	r.Calls, r.Failed, r.FromBackoff = int(calls.Load()), int(failed.Load()), int(fromBackoff.Load())
	r.Logins, r.APIRequests = s.recital.Logins(), s.recital.APIRequests()
	s.say("→ %d calls, %d failed with the login's error, %d of them at once from the back-off;",
		r.Calls, r.Failed, r.FromBackoff)
	s.say("  %s; %s reached the API.", plural(r.Logins, "login"), plural(r.APIRequests, "request"))
	s.say("After a failed login, calls get its error without a new login for 1 s, then 2 s,")
	s.say("doubling up to a minute: a wrong password costs recital a login now and then, not one per call.")
	return nil
}

func shared(out io.Writer, f *figures) error {
	s := newScene(out, "5. Two processes share one login through a file store")
	defer s.close()
	dir, err := os.MkdirTemp("", "recitaloauth-tour-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s.say("Two sources start at the same moment, each with its own file store on one directory, as two")
	s.say("processes on one machine would. Their records are marked source=A and source=B.")
	var clients []*http.Client
	for _, name := range []string{"A", "B"} {
		cfg := s.config(password)
		cfg.Store = filestore.New(dir)
		cfg.Logger = s.log.With("source", name)
		clients = append(clients, cfg.Client(s.ctx))
	}
	statuses := make([]int, len(clients))
	errs := make([]error, len(clients))
	var wg sync.WaitGroup
	for i, client := range clients {
		wg.Go(func() { statuses[i], errs[i] = s.get(client) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r := &f.Shared
	r.Sources, r.Logins = len(clients), s.recital.Logins()
	for _, status := range statuses {
		if status == http.StatusOK {
			r.OK++
		}
	}
	s.say("→ %d sources, %d requests answered 200, %s.", r.Sources, r.OK, plural(r.Logins, "login"))
	s.say("They took turns at the store's lock: one logged in, the other found its token there.")
	s.say("The store only ever holds tokens sealed with a key derived from the password.")
	return nil
}

// plural writes n and the noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// lineHandler is a slog.Handler that writes each record on one short line
// under the narration, without the time and the "recitaloauth: " prefix:
//
//	log: INFO  logged in reason=first use duration=201ms attempts=1 lifetime=3s
//
// It writes every level, Debug included.
type lineHandler struct {
	out     io.Writer     // shared by the handlers WithAttrs makes; must write a line at a time
	attrs   string        // from WithAttrs, formatted
	waiters *atomic.Int64 // callers the records say waited for a login; shared too
}

func (h *lineHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "  log: %-5s %s%s", r.Level, strings.TrimPrefix(r.Message, "recitaloauth: "), h.attrs)
	waited := false
	r.Attrs(func(a slog.Attr) bool {
		switch {
		case a.Key == event.Key: // a name for programs; the message says it
			waited = a.Value.String() == event.Waited
		case waited && a.Key == "callers":
			h.waiters.Add(a.Value.Int64())
			fallthrough
		default:
			writeAttr(&b, a)
		}
		return true
	})
	b.WriteByte('\n')
	_, err := io.WriteString(h.out, b.String())
	return err
}

func (h *lineHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range attrs {
		writeAttr(&b, a)
	}
	return &lineHandler{out: h.out, attrs: b.String(), waiters: h.waiters}
}

// WithGroup is not used by the library; the tour's records stay flat.
func (h *lineHandler) WithGroup(string) slog.Handler { return h }

func writeAttr(b *strings.Builder, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindDuration {
		fmt.Fprintf(b, " %s=%s", a.Key, shortDuration(v.Duration()))
		return
	}
	fmt.Fprintf(b, " %s=%s", a.Key, v)
}

// shortDuration is d to the millisecond, without zero units: 1h, not
// 1h0m0s; 203ms, not 203.221568ms.
func shortDuration(d time.Duration) string {
	s := d.Round(time.Millisecond).String()
	s = strings.Replace(s, "m0s", "m", 1)
	return strings.Replace(s, "h0m", "h", 1)
}
