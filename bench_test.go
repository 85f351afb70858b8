package recitaloauth

// Benchmarks of the claims in docs/performance.md, each beside its
// golang.org/x/oauth2 equivalent as the sub-benchmarks "recitaloauth" and
// "oauth2", so that a claim is a ratio of two figures from the same run.
// The figures there are benchstat's medians of six runs one after the
// other (not -count=6, which repeats each sub-benchmark in a row, so that
// a load that comes and goes falls on one side only); the page has the
// commands. Keep the default -benchtime (1s):
// BenchmarkRollover and BenchmarkWrongPassword run a fixed wall-clock
// scenario per iteration (rolloverRun, wrongPasswordRun), longer than 1s,
// so they run it once; a larger -benchtime repeats it. Their ns/op is
// suppressed and their B/op and allocs/op are per scenario, not per call:
// read their own metrics instead.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth/filestore"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"golang.org/x/oauth2"
)

// Hosts under .invalid never resolve: should a request escape the
// in-memory transport, it fails instead of reaching a network.
const (
	benchAuthURL = "https://auth.recital.invalid/auth/api/v1/login/?noAuth=true"
	benchAPIURL  = "https://api.recital.invalid/extract/api/v1/config/"
)

// benchTokenFunc makes an uncached oauth2.TokenSource of a login, the
// source oauth2.ReuseTokenSource is meant to wrap.
type benchTokenFunc func() (*oauth2.Token, error)

func (f benchTokenFunc) Token() (*oauth2.Token, error) { return f() }

// loginSource is cfg's login with no cache: every Token call logs in.
func loginSource(ctx context.Context, cfg *Config) oauth2.TokenSource {
	return benchTokenFunc(func() (*oauth2.Token, error) { return cfg.Token(ctx) })
}

// benchTransport answers without a socket, so that the hot-path benchmarks
// measure the clients and not the network: logins go to an in-memory
// loginServer (an hour-long token), every other request gets 200 with no
// body.
type benchTransport struct{ login http.RoundTripper }

func (t benchTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == "auth.recital.invalid" {
		return t.login.RoundTrip(req)
	}
	if req.Body != nil {
		req.Body.Close()
	}
	return &http.Response{
		Status:     "200 OK",
		StatusCode: http.StatusOK,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Body:       http.NoBody,
		Request:    req,
	}, nil
}

// benchContext is a context whose HTTP client is benchTransport, for both
// sides of a hot-path benchmark, and a Config that logs in through it.
func benchContext() (context.Context, *Config) {
	client := &http.Client{Transport: benchTransport{recitaltest.InMemoryTransport(newLoginServer())}}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
	return ctx, &Config{Username: "ana@example.com", Password: "s3cret", AuthURL: benchAuthURL}
}

// cachedSources returns both sides of the cached-token benchmarks, warm:
// Config.TokenSource, and oauth2.ReuseTokenSource over the same login,
// uncached, each holding an hour-long token.
func cachedSources(b *testing.B) (ours, theirs oauth2.TokenSource) {
	ctx, cfg := benchContext()
	ours = cfg.TokenSource(ctx)
	theirs = oauth2.ReuseTokenSource(nil, loginSource(ctx, cfg))
	for _, src := range []oauth2.TokenSource{ours, theirs} {
		if _, err := src.Token(); err != nil {
			b.Fatal(err)
		}
	}
	return ours, theirs
}

// benchLogger logs everything, at Debug, to nowhere: the "+logger" sides
// show that a Logger costs the hot path nothing, since it never logs.
func benchLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// loggedSource is ours, warm, with benchLogger.
func loggedSource(b *testing.B) oauth2.TokenSource {
	ctx, cfg := benchContext()
	cfg.Logger = benchLogger()
	src := cfg.TokenSource(ctx)
	if _, err := src.Token(); err != nil {
		b.Fatal(err)
	}
	return src
}

// side is one side of a comparison: ours, or oauth2's.
type side[T any] struct {
	name string
	of   T
}

func bothSides[T any](ours, theirs T) []side[T] {
	return []side[T]{{"recitaloauth", ours}, {"oauth2", theirs}}
}

// BenchmarkTokenCached is Token on a warm source from one goroutine. The
// claim: within 2× of ReuseTokenSource's time. Ours hands each caller a
// copy of its own, since ReuseTokenSource writes into the tokens it gets,
// where oauth2 hands out its cached token itself: the one allocation and
// the B/op of the recitaloauth side are that copy.
func BenchmarkTokenCached(b *testing.B) {
	ours, theirs := cachedSources(b)
	for _, side := range append(bothSides(ours, theirs), side[oauth2.TokenSource]{"recitaloauth+logger", loggedSource(b)}) {
		b.Run(side.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := side.of.Token(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTokenCachedParallel is BenchmarkTokenCached from GOMAXPROCS
// goroutines at once: ours is an atomic load, a clock read and the copy,
// with no lock; oauth2's a mutex. The claim: within 2× too.
func BenchmarkTokenCachedParallel(b *testing.B) {
	ours, theirs := cachedSources(b)
	for _, side := range bothSides(ours, theirs) {
		b.Run(side.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := side.of.Token(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// requestClients returns both sides of the request benchmarks over the same
// in-memory base transport: Config.Client, warm, and oauth2.NewClient over
// a static hour-long token, so that the oauth2 side costs what oauth2
// itself costs (NewClient wraps it in ReuseTokenSource).
func requestClients(b *testing.B) (ours, theirs *http.Client) {
	ctx, cfg := benchContext()
	ours = cfg.Client(ctx)
	static := &oauth2.Token{AccessToken: "token-1", TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}
	theirs = oauth2.NewClient(ctx, oauth2.StaticTokenSource(static))
	for _, client := range []*http.Client{ours, theirs} {
		resp, err := client.Get(benchAPIURL)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
	return ours, theirs
}

// benchGet sends req through client; the request is reused, which net/http
// allows once the response body is closed.
func benchGet(client *http.Client, req *http.Request) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// BenchmarkRequest is a GET with a cached token through Config.Client and
// through oauth2.NewClient, from one goroutine. The claim: within 1.1× of
// oauth2's time, with no more allocations. Ours makes no copy of the token
// (its transport writes into nothing) and builds the Authorization value
// on each request, as oauth2's does.
func BenchmarkRequest(b *testing.B) {
	ours, theirs := requestClients(b)
	ctx, _ := benchContext()
	logged := NewClient(ctx, loggedSource(b))
	for _, side := range append(bothSides(ours, theirs), side[*http.Client]{"recitaloauth+logger", logged}) {
		b.Run(side.name, func(b *testing.B) {
			req, err := http.NewRequest(http.MethodGet, benchAPIURL, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := benchGet(side.of, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRequestParallel is BenchmarkRequest from GOMAXPROCS goroutines,
// with the same claim.
func BenchmarkRequestParallel(b *testing.B) {
	ours, theirs := requestClients(b)
	for _, side := range bothSides(ours, theirs) {
		b.Run(side.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req, err := http.NewRequest(http.MethodGet, benchAPIURL, nil)
				if err != nil {
					b.Error(err)
					return
				}
				for pb.Next() {
					if err := benchGet(side.of, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// The rollover scenario: logins take rolloverLoginDelay and tokens live
// rolloverLifetime, and rolloverCallers goroutines each call Token, then
// "work" for rolloverPace, for rolloverRun after the first login.
//
// With a lifetime L of 2s, ours refreshes in the background from
// min(earlyRefresh, L/4) = 500ms before expiry, well ahead of a 300ms
// login, and stops handing the token out min(expiryMargin, L/20) = 100ms
// before expiry.
//
// For oauth2 the same login goes through ReuseTokenSourceWithExpiry with
// that same 100ms as its early expiry, so both stop handing out a token at
// the same instant and the only difference is when the next login starts.
// Plain ReuseTokenSource would not do: its default early expiry (10s; an
// earlyExpiry of 0 means that default too) exceeds the token's whole life,
// so it would log in on every call.
const (
	rolloverLoginDelay = 300 * time.Millisecond
	rolloverLifetime   = 2 * time.Second
	rolloverRun        = 4 * time.Second
	rolloverCallers    = 8
	rolloverPace       = time.Millisecond
)

// rolloverSources are the two sides of BenchmarkRollover, each over its
// config's login.
var rolloverSources = []struct {
	name string
	new  func(ctx context.Context, cfg *Config) oauth2.TokenSource
}{
	{"recitaloauth", func(ctx context.Context, cfg *Config) oauth2.TokenSource {
		return cfg.TokenSource(ctx)
	}},
	{"oauth2", func(ctx context.Context, cfg *Config) oauth2.TokenSource {
		return oauth2.ReuseTokenSourceWithExpiry(nil, loginSource(ctx, cfg), min(expiryMargin, rolloverLifetime/20))
	}},
}

// BenchmarkRollover measures how long Token makes callers wait while tokens
// roll over, after the first login. The claim: the largest wait is about
// zero for ours, the full login for ReuseTokenSource. Metrics, per run:
// max-wait-ms and p99-wait-ms over all calls, stalls (calls that waited
// 50ms or more) and logins (the first included).
func BenchmarkRollover(b *testing.B) {
	for _, side := range rolloverSources {
		b.Run(side.name, func(b *testing.B) {
			var waits []time.Duration
			logins := 0
			for b.Loop() {
				w, n := rollover(b, side.new)
				waits = append(waits, w...)
				logins += n
			}
			slices.Sort(waits)
			stalls := len(waits) - sortedIndex(waits, 50*time.Millisecond)
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(ms(waits[len(waits)-1]), "max-wait-ms")
			b.ReportMetric(ms(waits[len(waits)*99/100]), "p99-wait-ms")
			b.ReportMetric(float64(stalls)/float64(b.N), "stalls")
			b.ReportMetric(float64(logins)/float64(b.N), "logins")
		})
	}
}

// rollover runs the scenario once against a fresh fake server and returns
// the waits of the calls made after the first login, and how many logins
// the server got.
func rollover(b *testing.B, newSource func(context.Context, *Config) oauth2.TokenSource) ([]time.Duration, int) {
	srv := recitaltest.NewServer()
	defer srv.Close()
	srv.AddUser("ana@example.com", "s3cret")
	srv.SetTokenLifetime(rolloverLifetime)
	srv.SetLoginDelay(rolloverLoginDelay)
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client()))
	defer cancel() // before srv.Close: ends a background login in flight
	src := newSource(ctx, &Config{Username: "ana@example.com", Password: "s3cret", AuthURL: srv.AuthURL()})

	if _, err := src.Token(); err != nil {
		b.Fatal(err)
	}
	end := time.Now().Add(rolloverRun)
	waits := make([][]time.Duration, rolloverCallers)
	var wg sync.WaitGroup
	for i := range waits {
		wg.Go(func() {
			for time.Now().Before(end) {
				start := time.Now()
				_, err := src.Token()
				waits[i] = append(waits[i], time.Since(start))
				if err != nil {
					b.Error(err)
					return
				}
				time.Sleep(rolloverPace)
			}
		})
	}
	wg.Wait()
	return slices.Concat(waits...), srv.Logins()
}

// The wrong-password scenario: wrongPasswordCallers goroutines call Token
// in a tight loop for wrongPasswordRun, and every login answers 401 at
// once. Ours backs off (1s, then 2s, less up to a tenth), so about two
// logins; ReuseTokenSource caches no failure, so one login per call.
const (
	wrongPasswordRun     = 2 * time.Second
	wrongPasswordCallers = 8
)

// BenchmarkWrongPassword counts, per run, the logins the server got and
// the Token calls made, all of which fail.
func BenchmarkWrongPassword(b *testing.B) {
	for _, side := range []struct {
		name string
		new  func(ctx context.Context, cfg *Config) oauth2.TokenSource
	}{
		{"recitaloauth", func(ctx context.Context, cfg *Config) oauth2.TokenSource {
			return cfg.TokenSource(ctx)
		}},
		{"oauth2", func(ctx context.Context, cfg *Config) oauth2.TokenSource {
			return oauth2.ReuseTokenSource(nil, loginSource(ctx, cfg))
		}},
	} {
		b.Run(side.name, func(b *testing.B) {
			var logins, calls int
			for b.Loop() {
				l, c := wrongPassword(b, side.new)
				logins += l
				calls += c
			}
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(logins)/float64(b.N), "logins")
			b.ReportMetric(float64(calls)/float64(b.N), "calls")
		})
	}
}

// wrongPassword runs the scenario once against a fresh fake server and
// returns how many logins it got and how many Token calls were made.
func wrongPassword(b *testing.B, newSource func(context.Context, *Config) oauth2.TokenSource) (logins, calls int) {
	srv := recitaltest.NewServer()
	defer srv.Close()
	srv.AddUser("ana@example.com", "s3cret")
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client()))
	defer cancel()
	src := newSource(ctx, &Config{Username: "ana@example.com", Password: "wrong", AuthURL: srv.AuthURL()})

	var n atomic.Int64
	end := time.Now().Add(wrongPasswordRun)
	var wg sync.WaitGroup
	for range wrongPasswordCallers {
		wg.Go(func() {
			for time.Now().Before(end) {
				if _, err := src.Token(); err == nil {
					b.Error("Token succeeded with a wrong password")
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return srv.Logins(), int(n.Load())
}

// sortedIndex is the index of the first wait in sorted waits that is at
// least d.
func sortedIndex(waits []time.Duration, d time.Duration) int {
	i, _ := slices.BinarySearch(waits, d)
	return i
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkFirstToken is the first Token call of a fresh process, against
// recitaltest over a real socket: ours with a warm file store (another
// process logged in: one argon2id derivation and a file read, no login),
// oauth2's with nothing to share (ReuseTokenSource's first call is a
// login). Each iteration is a new source, as a new process would have.
func BenchmarkFirstToken(b *testing.B) {
	withProductionKDF(b)
	server := recitaltest.NewServer()
	defer server.Close()
	server.AddUser("ana@example.com", "s3cret")
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, server.Client())
	cfg := &Config{Username: "ana@example.com", Password: "s3cret", AuthURL: server.AuthURL(),
		Store: filestore.New(b.TempDir() + "/store")}
	if _, err := cfg.TokenSource(ctx).Token(); err != nil { // warms the store
		b.Fatal(err)
	}
	plain := *cfg
	plain.Store = nil
	newSource := bothSides(
		func() oauth2.TokenSource { return cfg.TokenSource(ctx) },
		func() oauth2.TokenSource { return oauth2.ReuseTokenSource(nil, loginSource(ctx, &plain)) },
	)
	for _, side := range newSource {
		b.Run(side.name, func(b *testing.B) {
			before := server.Logins()
			for b.Loop() {
				if _, err := side.of().Token(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(server.Logins()-before)/float64(b.N), "logins/op")
		})
	}
}

// BenchmarkKDF is the argon2id derivation alone: what a source pays once,
// and what each guess of the password against a stolen value costs.
func BenchmarkKDF(b *testing.B) {
	withProductionKDF(b)
	s := newSealer("https://auth.example/login/", "ana@example.com", "s3cret")
	salt := make([]byte, saltSize)
	for b.Loop() {
		s.derive(salt)
	}
}

// BenchmarkTelemetry is a cached Token call and a request through
// Config.Client, warm, with no OpenTelemetry SDK (nil providers: the
// global ones, which record nothing) and with one installed (a
// ManualReader and a tracer provider that records every span). The
// claim, in docs/telemetry.md: both cost the same with and without an
// SDK, since the cached path records nothing.
func BenchmarkTelemetry(b *testing.B) {
	for _, sdk := range []bool{false, true} {
		ctx, cfg := benchContext()
		name := "no-SDK"
		if sdk {
			name = "SDK"
			cfg.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			cfg.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
		}
		src := cfg.TokenSource(ctx)
		client := NewClient(ctx, src)
		b.Run("Token/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := src.Token(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Client/"+name, func(b *testing.B) {
			req, err := http.NewRequest(http.MethodGet, benchAPIURL, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := benchGet(client, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
