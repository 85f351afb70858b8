package recitaloauth

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/oauth2"

	"github.com/seed9ffb1f9c/recitaloauth/internal/telemetry"
)

// otelSDK is OpenTelemetry's SDK, recording in memory, for a Config's
// MeterProvider and TracerProvider.
type otelSDK struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	mp     *sdkmetric.MeterProvider
	tp     *sdktrace.TracerProvider
	seen   int // spans already returned by newSpans
}

func newOtelSDK() *otelSDK {
	o := &otelSDK{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	o.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(o.reader))
	o.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(o.spans))
	return o
}

func (o *otelSDK) configure(c *Config) { c.MeterProvider, c.TracerProvider = o.mp, o.tp }

// start starts a span of the test's own, a caller's: a request's.
func (o *otelSDK) start(name string) (context.Context, trace.Span) {
	return o.tp.Tracer("test").Start(context.Background(), name)
}

func (o *otelSDK) collect(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := o.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return rm
}

// points returns every point recorded so far, as "name{attributes}" and
// its value: a counter's sum, a histogram's count.
func (o *otelSDK) points(t *testing.T) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	for _, sm := range o.collect(t).ScopeMetrics {
		for _, m := range sm.Metrics {
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range data.DataPoints {
					got[m.Name+"{"+encoded(p.Attributes)+"}"] += p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range data.DataPoints {
					got[m.Name+"{"+encoded(p.Attributes)+"}"] += int64(p.Count)
				}
			default:
				t.Errorf("metric %s is a %T", m.Name, m.Data)
			}
		}
	}
	return got
}

func encoded(set attribute.Set) string { return set.Encoded(attribute.DefaultEncoder()) }

// span is what a test checks of a login's span: its parent by name
// ("" for none: a trace of its own), its attributes but the server's
// ("key=value", sorted) and its status.
type span struct {
	Parent string
	Attrs  []string
	Status string
}

// newSpans returns the login spans ended since the last call.
func (o *otelSDK) newSpans(t *testing.T) []span {
	t.Helper()
	ended := o.spans.Ended()
	names := map[trace.SpanID]string{}
	for _, s := range ended {
		names[s.SpanContext().SpanID()] = s.Name()
	}
	var got []span
	for _, s := range ended[o.seen:] {
		if s.InstrumentationScope().Name != telemetry.Scope {
			continue // the test's own
		}
		if s.Name() != "recitaloauth.login" || s.SpanKind() != trace.SpanKindClient {
			t.Errorf("span %q of kind %v, want recitaloauth.login of kind client", s.Name(), s.SpanKind())
		}
		sp := span{Status: s.Status().Code.String()}
		if s.Status().Description != "" {
			sp.Status += ": " + s.Status().Description
		}
		if p := s.Parent(); p.IsValid() {
			sp.Parent = names[p.SpanID()]
			if p.TraceID() != s.SpanContext().TraceID() {
				t.Errorf("a child of %q in another trace", sp.Parent)
			}
		}
		for _, kv := range s.Attributes() {
			if kv.Key != "server.address" && kv.Key != "server.port" {
				sp.Attrs = append(sp.Attrs, string(kv.Key)+"="+kv.Value.String())
			}
		}
		slices.Sort(sp.Attrs)
		got = append(got, sp)
	}
	o.seen = len(ended)
	return got
}

// want checks the spans ended since the last look, and the points
// recorded so far.
func (o *otelSDK) want(t *testing.T, spans []span, points map[string]int64) {
	t.Helper()
	if diff := cmp.Diff(spans, o.newSpans(t)); diff != "" {
		t.Errorf("spans mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(points, o.points(t)); diff != "" {
		t.Errorf("points mismatch (-want +got):\n%s", diff)
	}
}

// loginSpan is a wanted span: attrs as "key=value" strings.
func loginSpan(parent, status string, attrs ...string) span {
	slices.Sort(attrs)
	return span{Parent: parent, Attrs: attrs, Status: status}
}

// exported is every text the SDK would export, walked field by field:
// the resource, the scopes, the names, units and descriptions of the
// metrics, the attributes of each point and of its exemplars, and the
// names, attributes, events, links and statuses of the spans.
func (o *otelSDK) exported(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	attrs := func(kvs ...attribute.KeyValue) {
		for _, kv := range kvs {
			fmt.Fprintf(&b, " %s=%s", kv.Key, kv.Value.String())
		}
		b.WriteString("\n")
	}
	scope := func(s instrumentation.Scope) {
		fmt.Fprintln(&b, s.Name, s.Version, s.SchemaURL)
		attrs(s.Attributes.ToSlice()...)
	}
	rm := o.collect(t)
	attrs(rm.Resource.Attributes()...)
	for _, sm := range rm.ScopeMetrics {
		scope(sm.Scope)
		for _, m := range sm.Metrics {
			fmt.Fprintln(&b, m.Name, m.Unit, m.Description)
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range data.DataPoints {
					attrs(p.Attributes.ToSlice()...)
					for _, e := range p.Exemplars {
						attrs(e.FilteredAttributes...)
					}
				}
			case metricdata.Histogram[float64]:
				for _, p := range data.DataPoints {
					attrs(p.Attributes.ToSlice()...)
					for _, e := range p.Exemplars {
						attrs(e.FilteredAttributes...)
					}
				}
			default:
				t.Errorf("metric %s is a %T, which exported does not walk", m.Name, m.Data)
			}
		}
	}
	for _, s := range o.spans.Ended() {
		scope(s.InstrumentationScope())
		fmt.Fprintln(&b, s.Name(), s.Status().Code, s.Status().Description)
		attrs(s.Attributes()...)
		for _, e := range s.Events() {
			b.WriteString(e.Name)
			attrs(e.Attributes...)
		}
		for _, l := range s.Links() {
			attrs(l.Attributes...)
		}
		attrs(s.Resource().Attributes()...)
	}
	return b.String()
}

// checkNoSecret fails t if anything the SDK would export holds the
// password, the username, the login URL's query, an Authorization value,
// a token or a value sealed in the store, in any of the spellings a form,
// a URL or an encoding gives them.
func (o *otelSDK) checkNoSecret(t *testing.T, cfg *Config, secrets ...string) {
	t.Helper()
	text := o.exported(t)
	for _, s := range []string{cfg.Password, cfg.Username} {
		secrets = append(secrets, s, url.QueryEscape(s), url.PathEscape(s))
	}
	secrets = append(secrets, "noAuth", "Bearer", "bearer")
	if store, ok := cfg.Store.(*memStore); ok {
		store.mu.Lock()
		for _, v := range store.values {
			secrets = append(secrets, string(v), base64.StdEncoding.EncodeToString(v), base64.RawURLEncoding.EncodeToString(v), hex.EncodeToString(v))
		}
		store.mu.Unlock()
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("the exported telemetry holds %q:\n%s", s, text)
		}
	}
	if found := regexp.MustCompile(`token-[0-9]`).FindAllString(text, -1); len(found) > 0 {
		t.Errorf("the exported telemetry holds tokens %v:\n%s", found, text)
	}
}

// TestTelemetryWholeLife follows a source through the life TestLogWholeLife
// logs, with the SDK: a first login for a request (a transient failure
// retried, a store that fails), cached calls, an early refresh in the
// background, a refused token and a wrong password. Each event is its
// points and spans, with their attributes; cached calls record nothing;
// nothing exported holds a secret.
func TestTelemetryWholeLife(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newOtelSDK()
		login, store := newLoginServer(), newMemStore()
		src := storeSource(store, login, o.configure).(*cachedSource)
		store.fail = errors.New("disk full")
		login.set(func(s *loginServer) { s.transient = 1 })
		step := func(wantSpans []span, wantPoints map[string]int64) {
			t.Helper()
			synctest.Wait()
			o.want(t, wantSpans, wantPoints)
		}
		const (
			duration = "recitaloauth.login.duration"
			waited   = "recitaloauth.login.callers_waited"
			failed   = "recitaloauth.store.errors"
			refused  = "recitaloauth.token.refused"
		)

		ctx, request := o.start("request")
		if _, err := src.credential(ctx); err != nil {
			t.Fatal(err)
		}
		request.End()
		// The store fails each call: the look before the login, the lock,
		// the save after it; the log says so once.
		points := map[string]int64{
			duration + "{recitaloauth.login.reason=first_use}": 1,
			waited + "{recitaloauth.login.reason=first_use}":   1,
			failed + "{recitaloauth.store.operation=load}":     1,
			failed + "{recitaloauth.store.operation=lock}":     1,
			failed + "{recitaloauth.store.operation=save}":     1,
		}
		step([]span{loginSpan("request", "Unset", "recitaloauth.login.reason=first_use", "recitaloauth.login.attempts=2",
			"http.response.status_code=200", "recitaloauth.token.origin=login")}, points)

		ctx, request = o.start("cached")
		for range 1000 {
			src.Token()
			src.credential(ctx)
		}
		request.End()
		step(nil, points) // the fast path records nothing

		store.mu.Lock()
		store.fail = nil
		store.mu.Unlock()
		time.Sleep(56 * time.Minute)
		ctx, request = o.start("request after 56 min")
		if _, err := src.credential(ctx); err != nil { // the stale token, at once
			t.Fatal(err)
		}
		request.End()
		points[duration+"{recitaloauth.login.reason=early_refresh}"] = 1
		step([]span{loginSpan("", "Unset", "recitaloauth.login.reason=early_refresh", "recitaloauth.login.attempts=1",
			"http.response.status_code=200", "recitaloauth.token.origin=login")}, points)

		src.refuse(src.current.Load())
		login.set(func(s *loginServer) { s.status = http.StatusUnauthorized })
		if _, err := src.Token(); err == nil {
			t.Fatal("Token succeeded with a wrong password")
		}
		points[refused+"{recitaloauth.token.dropped=true,recitaloauth.token.origin=login}"] = 1
		points[duration+"{error.type=refused,recitaloauth.login.reason=after_a_401}"] = 1
		points[waited+"{recitaloauth.login.reason=after_a_401}"] = 1
		step([]span{loginSpan("", "Error: refused", "recitaloauth.login.reason=after_a_401", "recitaloauth.login.attempts=1",
			"http.response.status_code=401", "error.type=refused")}, points)

		cfg := testConfig()
		cfg.Store = store
		o.checkNoSecret(t, cfg)
	})
}

// TestTelemetryRevokedTokenHeals: through Config.Client, over sockets,
// each request that waits for a login is its span's parent: the first
// one's, and after a revocation the one whose 401 dropped the token and
// whose resend waited for the new login. The refusal is counted once.
func TestTelemetryRevokedTokenHeals(t *testing.T) {
	o := newOtelSDK()
	srv, cfg := newRecital(t)
	// In front of the server, to learn the Authorization values sent.
	var mu sync.Mutex
	var sent []string
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get("Authorization"); v != "" {
			mu.Lock()
			sent = append(sent, v, strings.TrimPrefix(v, "Bearer "))
			mu.Unlock()
		}
		srv.ServeHTTP(w, r)
	}))
	defer front.Close()
	cfg.AuthURL = strings.Replace(srv.AuthURL(), srv.URL(), front.URL, 1)
	o.configure(cfg)
	client := cfg.Client(context.Background())
	get := func(name string) {
		t.Helper()
		ctx, request := o.start(name)
		defer request.End()
		req, _ := http.NewRequestWithContext(ctx, "GET", front.URL+"/extract/api/v1/config/", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d, want 200", name, resp.StatusCode)
		}
	}
	get("first request")
	srv.RevokeAll()
	get("request after the revocation")

	ok := []string{"http.response.status_code=200", "recitaloauth.token.origin=login", "recitaloauth.login.attempts=1"}
	want := []span{
		loginSpan("first request", "Unset", append(ok, "recitaloauth.login.reason=first_use")...),
		loginSpan("request after the revocation", "Unset", append(ok, "recitaloauth.login.reason=after_a_401")...),
	}
	wantPoints := map[string]int64{
		"recitaloauth.login.duration{recitaloauth.login.reason=first_use}":                            1,
		"recitaloauth.login.duration{recitaloauth.login.reason=after_a_401}":                          1,
		"recitaloauth.login.callers_waited{recitaloauth.login.reason=first_use}":                      1,
		"recitaloauth.login.callers_waited{recitaloauth.login.reason=after_a_401}":                    1,
		"recitaloauth.token.refused{recitaloauth.token.dropped=true,recitaloauth.token.origin=login}": 1,
	}
	o.want(t, want, wantPoints)
	// The server's address and port, from the login URL.
	u, _ := url.Parse(cfg.AuthURL)
	for _, s := range o.spans.Ended() {
		if s.Name() != "recitaloauth.login" {
			continue
		}
		var server []string
		for _, kv := range s.Attributes() {
			if kv.Key == "server.address" || kv.Key == "server.port" {
				server = append(server, kv.Value.String())
			}
		}
		if want := []string{u.Hostname(), u.Port()}; !slices.Equal(server, want) {
			t.Errorf("server.address and server.port %v, want %v", server, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sent) != 6 { // 3 requests, each value with and without "Bearer "
		t.Errorf("Authorization values sent: %q, want 3", sent)
	}
	o.checkNoSecret(t, cfg, sent...)
}

// TestTelemetryTokenFromStore: a second process that takes the first's
// token from the store counts it, makes no login point, and its span
// says where the token came from. Its refusals are counted by where the
// token came from, and whether the reject gap kept it.
func TestTelemetryTokenFromStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newOtelSDK()
		login, store := newLoginServer(), newMemStore()
		if _, err := storeSource(store, login, o.configure).Token(); err != nil {
			t.Fatal(err)
		}
		second := storeSource(store, login, o.configure).(*cachedSource)
		if _, err := second.Token(); err != nil {
			t.Fatal(err)
		}
		second.refuse(second.current.Load()) // borrowed: dropped at once
		if _, err := second.Token(); err != nil {
			t.Fatal(err)
		}
		second.refuse(second.current.Load()) // its own login's: dropped, and the reject gap is 1 s
		if _, err := second.Token(); err != nil {
			t.Fatal(err)
		}
		second.refuse(second.current.Load()) // refused at once: kept
		synctest.Wait()
		want := []span{
			loginSpan("", "Unset", "recitaloauth.login.reason=first_use", "recitaloauth.login.attempts=1",
				"http.response.status_code=200", "recitaloauth.token.origin=login"),
			loginSpan("", "Unset", "recitaloauth.login.reason=first_use", "recitaloauth.login.attempts=0", "recitaloauth.token.origin=store"),
			loginSpan("", "Unset", "recitaloauth.login.reason=after_a_401", "recitaloauth.login.attempts=1",
				"http.response.status_code=200", "recitaloauth.token.origin=login"),
			loginSpan("", "Unset", "recitaloauth.login.reason=after_a_401", "recitaloauth.login.attempts=1",
				"http.response.status_code=200", "recitaloauth.token.origin=login"),
		}
		wantPoints := map[string]int64{
			"recitaloauth.login.duration{recitaloauth.login.reason=first_use}":                                        1,
			"recitaloauth.login.duration{recitaloauth.login.reason=after_a_401}":                                      2,
			"recitaloauth.login.callers_waited{recitaloauth.login.reason=first_use}":                                  2,
			"recitaloauth.login.callers_waited{recitaloauth.login.reason=after_a_401}":                                2,
			"recitaloauth.token.borrowed{recitaloauth.login.reason=first_use,recitaloauth.token.other_machine=false}": 1,
			"recitaloauth.token.refused{recitaloauth.token.dropped=true,recitaloauth.token.origin=store}":             1,
			"recitaloauth.token.refused{recitaloauth.token.dropped=true,recitaloauth.token.origin=login}":             1,
			"recitaloauth.token.refused{recitaloauth.token.dropped=false,recitaloauth.token.origin=login}":            1,
		}
		o.want(t, want, wantPoints)
		cfg := testConfig()
		cfg.Store = store
		o.checkNoSecret(t, cfg)
	})
}

// hostile answers each login as a server that echoes what it got: the
// password, the username and the form, in its detail and its headers.
func hostile(status int, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("X-Debug-Form", r.PostForm.Encode())
		w.Header().Set("Location", "/login/?password="+url.QueryEscape(r.PostForm.Get("password")))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, body, r.PostForm.Get("password"), r.PostForm.Get("username"))
	})
}

// answersOnce answers its first login with 503, and fails every later one
// with a network error: a server that goes away.
func answersOnce() http.RoundTripper {
	var n atomic.Int32
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if n.Add(1) > 1 {
			return nil, errors.New("connection reset by peer")
		}
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Header: http.Header{},
			Body: io.NopCloser(strings.NewReader(`{"detail":"down"}`)), Request: r}, nil
	})
}

// TestTelemetryHostileServer: whatever a server answers, and echoes, a
// failed login's span and points hold its error.type, never the error's
// text, and nothing exported holds a secret.
func TestTelemetryHostileServer(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string // with the password and the username for %[1]s and %[2]s
		errorType string
		attempts  int
	}{
		{"422 echoing the input", http.StatusUnprocessableEntity, `{"detail":[{"msg":"bad","input":"%[1]s","user":"%[2]s"}]}`, "rejected", 1},
		{"401 with the password in its detail", http.StatusUnauthorized, `{"detail":"wrong password %[1]s for %[2]s"}`, "refused", 1},
		{"307 to a URL with the password", http.StatusTemporaryRedirect, `%[1]s %[2]s`, "redirect", 1},
		{"503 echoing it, retried", http.StatusServiceUnavailable, `{"detail":"down, %[1]s %[2]s"}`, "server_error", 3},
		{"429 echoing it, retried", http.StatusTooManyRequests, `{"detail":"slow down, %[1]s %[2]s"}`, "rate_limited", 3},
		{"200 with no token, echoing it", http.StatusOK, `{"detail":"%[1]s %[2]s"}`, "invalid_answer", 1},
		{"200 with a token that is the password", http.StatusOK, `{"access_token":"%[1]s %[2]s","token_type":"bearer"}`, "invalid_answer", 1},
		// No status: a 503, then no answer (answersOnce); a span's status
		// code is the last attempt's.
		{"503, then gone", 0, "", "network", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				o := newOtelSDK()
				cfg := testConfig()
				o.configure(cfg)
				srcCtx := withHandler(hostile(tt.status, tt.body))
				if tt.status == 0 {
					srcCtx = context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: answersOnce()})
				}
				src := cfg.TokenSource(srcCtx)
				ctx, request := o.start("request")
				if _, err := TokenLasting(ctx, src, time.Minute); err == nil {
					t.Fatal("the login succeeded")
				}
				request.End()
				synctest.Wait()
				attrs := []string{"recitaloauth.login.reason=first_use", fmt.Sprint("recitaloauth.login.attempts=", tt.attempts), "error.type=" + tt.errorType}
				if tt.status != 0 {
					attrs = append(attrs, fmt.Sprint("http.response.status_code=", tt.status))
				}
				want := []span{loginSpan("request", "Error: "+tt.errorType, attrs...)}
				wantPoints := map[string]int64{
					"recitaloauth.login.duration{error.type=" + tt.errorType + ",recitaloauth.login.reason=first_use}": 1,
					"recitaloauth.login.callers_waited{recitaloauth.login.reason=first_use}":                           1,
				}
				o.want(t, want, wantPoints)
				o.checkNoSecret(t, cfg)
			})
		})
	}
}

// TestLoginSpanParent: a login's span is the child of the span of the
// caller that started it and waits for it, whatever span the source's
// own context carries; a login no caller with a span waits for is a
// trace of its own. The caller's context ending ends its wait, not the
// login.
func TestLoginSpanParent(t *testing.T) {
	tests := []struct {
		name string
		call func(o *otelSDK, src *cachedSource) error
		want string // the parent's name, "" for none
	}{
		{"Token: no context", func(o *otelSDK, src *cachedSource) error {
			_, err := src.Token()
			return err
		}, ""},
		{"a request", func(o *otelSDK, src *cachedSource) error {
			ctx, request := o.start("request")
			defer request.End()
			_, err := src.credential(ctx)
			return err
		}, "request"},
		{"TokenLasting", func(o *otelSDK, src *cachedSource) error {
			ctx, caller := o.start("helper")
			defer caller.End()
			_, err := TokenLasting(ctx, src, time.Minute)
			return err
		}, "helper"},
		{"a request with no span", func(o *otelSDK, src *cachedSource) error {
			_, err := src.credential(context.Background())
			return err
		}, ""},
		{"a request that gives up waiting", func(o *otelSDK, src *cachedSource) error {
			ctx, request := o.start("impatient request")
			ctx, cancel := context.WithTimeout(ctx, time.Second) // the login takes 2 s
			defer cancel()
			_, err := src.credential(ctx)
			request.End()
			if !errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("err = %v, want the caller's deadline", err)
			}
			if _, err = src.Token(); err != nil { // the same login: it went on
				return err
			}
			return nil
		}, "impatient request"},
		{"a request joining another's login", func(o *otelSDK, src *cachedSource) error {
			first, request := o.start("first request")
			defer request.End()
			go src.credential(first)
			synctest.Wait()
			ctx, joining := o.start("joining request")
			defer joining.End()
			_, err := src.credential(ctx)
			return err
		}, "first request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				o := newOtelSDK()
				login := newLoginServer()
				login.delay = 2 * time.Second
				cfg := testConfig()
				o.configure(cfg)
				// The source's own context carries a span, the program's
				// setup: no login is its child.
				setup, setupSpan := o.start("setup")
				setup = context.WithValue(setup, oauth2.HTTPClient, contextClient(withHandler(login)))
				src := cfg.TokenSource(setup).(*cachedSource)
				setupSpan.End()
				if err := tt.call(o, src); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				spans := o.newSpans(t)
				if len(spans) != 1 || spans[0].Parent != tt.want {
					t.Errorf("login spans %+v, want one whose parent is %q", spans, tt.want)
				}
				if n := login.count(); n != 1 {
					t.Errorf("%d logins, want 1", n)
				}
			})
		})
	}
}

// TestCachedPathWithSDK: with an SDK installed, a cached Token call still
// makes one allocation (the copy) and a request's credential none, and
// neither records anything.
func TestCachedPathWithSDK(t *testing.T) {
	o := newOtelSDK()
	cfg := testConfig()
	o.configure(cfg)
	src := cfg.TokenSource(withHandler(newLoginServer())).(*cachedSource)
	if _, err := src.Token(); err != nil {
		t.Fatal(err)
	}
	ctx, request := o.start("request")
	defer request.End()
	before, spans := o.points(t), len(o.spans.Started())
	if allocs := testing.AllocsPerRun(100, func() { src.Token() }); allocs != 1 {
		t.Errorf("%v allocations per cached Token call, want 1: the copy", allocs)
	}
	if allocs := testing.AllocsPerRun(100, func() { src.credential(ctx) }); allocs != 0 {
		t.Errorf("%v allocations per cached credential call, want 0", allocs)
	}
	if diff := cmp.Diff(before, o.points(t)); diff != "" {
		t.Errorf("cached calls recorded points (-before +after):\n%s", diff)
	}
	if n := len(o.spans.Started()) - spans; n != 0 {
		t.Errorf("cached calls made %d spans", n)
	}
}

// TestConfigTokenRecordsNothing: Config.Token is no source's login: it
// records nothing, and leaves the caller's span alone.
func TestConfigTokenRecordsNothing(t *testing.T) {
	o := newOtelSDK()
	cfg := testConfig()
	o.configure(cfg)
	ctx, request := o.start("caller")
	ctx = context.WithValue(ctx, oauth2.HTTPClient, contextClient(withHandler(newLoginServer())))
	if _, err := cfg.Token(ctx); err != nil {
		t.Fatal(err)
	}
	request.End()
	if spans := o.spans.Ended(); len(spans) != 1 || len(spans[0].Attributes()) != 0 {
		t.Errorf("spans %v, want the caller's alone, untouched", spans)
	}
	if got := o.points(t); len(got) != 0 {
		t.Errorf("points %v, want none", got)
	}
}
