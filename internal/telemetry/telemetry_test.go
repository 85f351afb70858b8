package telemetry

import (
	"context"
	"errors"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

const loginURL = "https://auth.example.com/auth/api/v1/login/?noAuth=true"

// sdk is OpenTelemetry's SDK, recording in memory.
type sdk struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	mp     *sdkmetric.MeterProvider
	tp     *sdktrace.TracerProvider
}

func newSDK() *sdk {
	s := &sdk{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	s.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(s.reader))
	s.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(s.spans))
	return s
}

// points returns each point the SDK holds, as "name{attributes}" and its
// value: a counter's sum, a histogram's count.
func (s *sdk) points(t *testing.T) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := s.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range data.DataPoints {
					got[m.Name+"{"+p.Attributes.Encoded(attribute.DefaultEncoder())+"}"] += p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range data.DataPoints {
					got[m.Name+"{"+p.Attributes.Encoded(attribute.DefaultEncoder())+"}"] += int64(p.Count)
				}
			default:
				t.Errorf("metric %s is a %T", m.Name, m.Data)
			}
		}
	}
	return got
}

// attrs returns a span's attributes as "key=value" strings, sorted.
func attrs(span sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, kv := range span.Attributes() {
		out = append(out, string(kv.Key)+"="+kv.Value.String())
	}
	slices.Sort(out)
	return out
}

// TestLogin: a login's span (name, kind, parent, attributes, status) and
// its points, for a login that succeeded, one that failed, and one whose
// token came from the store.
func TestLogin(t *testing.T) {
	s := newSDK()
	inst := New(s.mp, s.tp, loginURL)
	ctx, request := s.tp.Tracer("test").Start(context.Background(), "request")
	parent := request.SpanContext()

	_, login := inst.StartLogin(context.Background(), parent, "first use")
	loginCtx := login.ctx
	Answered(loginCtx, 503)
	Answered(loginCtx, 200)
	login.End(2, 3, false, nil)

	_, login = inst.StartLogin(context.Background(), trace.SpanContext{}, "after a 401")
	Answered(login.ctx, 401)
	login.End(1, 1, false, refused(401))

	_, login = inst.StartLogin(ctx, trace.SpanContext{}, "early refresh") // ctx's span is no parent
	login.End(0, 0, true, nil)
	request.End()

	spans := s.spans.Ended()
	if len(spans) != 4 {
		t.Fatalf("%d spans, want 4", len(spans))
	}
	type span struct {
		Name        string
		Kind        trace.SpanKind
		Child       bool // of the request
		Root        bool
		Attrs       []string
		Status      codes.Code
		Description string
	}
	var got []span
	for _, sp := range spans[:3] {
		got = append(got, span{sp.Name(), sp.SpanKind(), sp.Parent().SpanID() == parent.SpanID() && sp.SpanContext().TraceID() == parent.TraceID(),
			!sp.Parent().IsValid(), attrs(sp), sp.Status().Code, sp.Status().Description})
	}
	server := []string{"server.address=auth.example.com", "server.port=443"}
	want := []span{
		{LoginSpan, trace.SpanKindClient, true, false, append([]string{"http.response.status_code=200", "recitaloauth.login.attempts=2",
			"recitaloauth.login.reason=first_use", "recitaloauth.token.origin=login"}, server...), codes.Unset, ""},
		{LoginSpan, trace.SpanKindClient, false, true, append([]string{"error.type=refused", "http.response.status_code=401", "recitaloauth.login.attempts=1",
			"recitaloauth.login.reason=after_a_401"}, server...), codes.Error, "refused"},
		{LoginSpan, trace.SpanKindClient, false, true, append([]string{"recitaloauth.login.attempts=0",
			"recitaloauth.login.reason=early_refresh", "recitaloauth.token.origin=store"}, server...), codes.Unset, ""},
	}
	for i := range want {
		slices.Sort(want[i].Attrs)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("spans mismatch (-want +got):\n%s", diff)
	}
	for _, sp := range spans[:3] {
		if sp.InstrumentationScope().Name != Scope || len(sp.Events()) != 0 || len(sp.Links()) != 0 {
			t.Errorf("span scope %q, %d events, %d links; want %q, none, none", sp.InstrumentationScope().Name, len(sp.Events()), len(sp.Links()), Scope)
		}
	}

	wantPoints := map[string]int64{
		LoginDuration + "{recitaloauth.login.reason=first_use}":                      1,
		LoginDuration + "{error.type=refused,recitaloauth.login.reason=after_a_401}": 1,
		CallersWaited + "{recitaloauth.login.reason=first_use}":                      3,
		CallersWaited + "{recitaloauth.login.reason=after_a_401}":                    1,
	}
	if diff := cmp.Diff(wantPoints, s.points(t)); diff != "" {
		t.Errorf("points mismatch (-want +got):\n%s", diff)
	}
}

// TestLoginDuration: the histogram's point is the login's time in
// seconds (on synctest's clock: exactly), with the bounds loginBuckets.
func TestLoginDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSDK()
		inst := New(s.mp, s.tp, loginURL)
		_, login := inst.StartLogin(context.Background(), trace.SpanContext{}, "first use")
		time.Sleep(1500 * time.Millisecond)
		login.End(1, 0, false, nil)

		var rm metricdata.ResourceMetrics
		if err := s.reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		m := rm.ScopeMetrics[0].Metrics[0]
		h := m.Data.(metricdata.Histogram[float64])
		if m.Name != LoginDuration || m.Unit != "s" || len(h.DataPoints) != 1 {
			t.Fatalf("metric %s in %q with %d points, want %s in s with 1", m.Name, m.Unit, len(h.DataPoints), LoginDuration)
		}
		p := h.DataPoints[0]
		if p.Sum != 1.5 || p.Count != 1 {
			t.Errorf("%d points summing to %v s, want 1 of 1.5 s", p.Count, p.Sum)
		}
		if !slices.Equal(p.Bounds, loginBuckets) {
			t.Errorf("bounds %v, want %v", p.Bounds, loginBuckets)
		}
		if scope := rm.ScopeMetrics[0].Scope; scope.Name != Scope || scope.SchemaURL == "" {
			t.Errorf("scope %+v, want %q with a schema URL", scope, Scope)
		}
	})
}

// TestEvents: the counters of the other events, each with its attributes.
func TestEvents(t *testing.T) {
	s := newSDK()
	inst := New(s.mp, s.tp, loginURL)
	ctx := context.Background()
	inst.Borrowed(ctx, "first use", false)
	inst.Borrowed(ctx, "first use", false)
	inst.Borrowed(ctx, "expired", true)
	inst.Refused(false, true)
	inst.Refused(true, true)
	inst.Refused(false, false)
	inst.Refused(false, false)
	inst.StoreFailed(ctx, "load")
	inst.StoreFailed(ctx, "save")
	inst.StoreFailed(ctx, "load")
	want := map[string]int64{
		TokenBorrowed + "{recitaloauth.login.reason=first_use,recitaloauth.token.other_machine=false}": 2,
		TokenBorrowed + "{recitaloauth.login.reason=expired,recitaloauth.token.other_machine=true}":    1,
		TokenRefused + "{recitaloauth.token.dropped=true,recitaloauth.token.origin=login}":             1,
		TokenRefused + "{recitaloauth.token.dropped=true,recitaloauth.token.origin=store}":             1,
		TokenRefused + "{recitaloauth.token.dropped=false,recitaloauth.token.origin=login}":            2,
		StoreErrors + "{recitaloauth.store.operation=load}":                                            2,
		StoreErrors + "{recitaloauth.store.operation=save}":                                            1,
	}
	if diff := cmp.Diff(want, s.points(t)); diff != "" {
		t.Errorf("points mismatch (-want +got):\n%s", diff)
	}
	if n := len(s.spans.Ended()) + len(s.spans.Started()); n != 0 {
		t.Errorf("%d spans, want none: only a login has one", n)
	}
}

// TestAnsweredElsewhere: Answered on a context of no login (Config.Token's,
// or a caller's) records nothing, and sets nothing on the span there.
func TestAnsweredElsewhere(t *testing.T) {
	s := newSDK()
	ctx, span := s.tp.Tracer("test").Start(context.Background(), "caller's")
	Answered(ctx, 200)
	Answered(context.Background(), 200)
	span.End()
	if got := attrs(s.spans.Ended()[0]); len(got) != 0 {
		t.Errorf("the caller's span got attributes %v", got)
	}
}

// TestNil: a nil *Instruments (a sharer that is no source's) records
// nothing, and does not panic.
func TestNil(t *testing.T) {
	var inst *Instruments
	inst.Borrowed(context.Background(), "first use", true)
	inst.Refused(true, true)
	inst.StoreFailed(context.Background(), "load")
}

// TestGlobalProviders: with nil providers, the instruments are the
// global ones, and receive what is recorded once a program installs an
// SDK, even after they were made: DefaultTokenSource's are made before
// main may install one. (It sets the globals: the package's only test
// that does.)
func TestGlobalProviders(t *testing.T) {
	inst := New(nil, nil, loginURL)
	s := newSDK()
	otel.SetMeterProvider(s.mp)
	otel.SetTracerProvider(s.tp)
	_, login := inst.StartLogin(context.Background(), trace.SpanContext{}, "first use")
	login.End(1, 1, false, nil)
	inst.StoreFailed(context.Background(), "lock")
	want := map[string]int64{
		LoginDuration + "{recitaloauth.login.reason=first_use}": 1,
		CallersWaited + "{recitaloauth.login.reason=first_use}": 1,
		StoreErrors + "{recitaloauth.store.operation=lock}":     1,
	}
	if diff := cmp.Diff(want, s.points(t)); diff != "" {
		t.Errorf("points mismatch (-want +got):\n%s", diff)
	}
	if spans := s.spans.Ended(); len(spans) != 1 || spans[0].Name() != LoginSpan {
		t.Errorf("spans %v, want one %s", spans, LoginSpan)
	}
}

// failingMeter makes no instrument: each is nil, with an error.
type failingMeter struct{ noop.Meter }

var errNoInstrument = errors.New("no instrument")

func (failingMeter) Int64Counter(string, ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return nil, errNoInstrument
}

func (failingMeter) Float64Histogram(string, ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	return nil, errNoInstrument
}

type failingProvider struct{ noop.MeterProvider }

func (failingProvider) Meter(string, ...metric.MeterOption) metric.Meter { return failingMeter{} }

// TestProviderFails: a provider that makes no instrument costs no panic;
// its errors go to OpenTelemetry's error handler, once per instrument.
func TestProviderFails(t *testing.T) {
	var handled []error
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { handled = append(handled, err) }))
	defer otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
	inst := New(failingProvider{}, nil, loginURL)
	_, login := inst.StartLogin(context.Background(), trace.SpanContext{}, "first use")
	login.End(1, 2, false, errors.New("x"))
	inst.Borrowed(context.Background(), "first use", false)
	inst.Refused(false, true)
	inst.StoreFailed(context.Background(), "load")
	if len(handled) != 1 || strings.Count(handled[0].Error(), errNoInstrument.Error()) != 5 {
		t.Errorf("handled %v, want one error naming 5 instruments", handled)
	}
}

type nilTracerProvider struct{ tracenoop.TracerProvider }

func (nilTracerProvider) Tracer(string, ...trace.TracerOption) trace.Tracer { return nil }

// TestNilTracer: a tracer provider that gives no tracer costs no panic: a
// login's span is then a no-op one.
func TestNilTracer(t *testing.T) {
	inst := New(nil, nilTracerProvider{}, loginURL)
	_, login := inst.StartLogin(context.Background(), trace.SpanContext{}, "first use")
	login.End(1, 0, false, nil)
}

func TestReason(t *testing.T) {
	for reason, want := range map[string]string{
		"first use": "first_use", "early refresh": "early_refresh", "expired": "expired", "after a 401": "after_a_401",
	} {
		if got := Reason(reason); got != ReasonKey.String(want) {
			t.Errorf("Reason(%q) = %v, want %v", reason, got.Value.String(), want)
		}
	}
}

// TestServerAttrs: the login URL's host and port, never its userinfo,
// path or query.
func TestServerAttrs(t *testing.T) {
	tests := []struct {
		url  string
		want string
	}{
		{loginURL, "server.address=auth.example.com server.port=443"},
		{"http://127.0.0.1:8080/login/", "server.address=127.0.0.1 server.port=8080"},
		{"http://localhost/login/", "server.address=localhost server.port=80"},
		{"https://ana:secret@[::1]:8443/login/?password=secret", "server.address=::1 server.port=8443"},
		{"ftp://auth.example.com/", "server.address=auth.example.com"},
		{"://", ""},
		{"/login/", ""},
	}
	for _, tt := range tests {
		var got []string
		for _, kv := range serverAttrs(tt.url) {
			got = append(got, string(kv.Key)+"="+kv.Value.String())
		}
		if s := strings.Join(got, " "); s != tt.want {
			t.Errorf("serverAttrs(%q) = %q, want %q", tt.url, s, tt.want)
		}
	}
}

func TestModuleVersion(t *testing.T) {
	other := &debug.Module{Path: "example.com/other", Version: "v1.0.0"}
	tests := []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{"a dependency", debug.BuildInfo{Main: debug.Module{Path: "example.com/app", Version: "(devel)"},
			Deps: []*debug.Module{other, {Path: Scope, Version: "v1.2.3"}}}, "v1.2.3"},
		{"a replaced dependency", debug.BuildInfo{Main: debug.Module{Path: "example.com/app"},
			Deps: []*debug.Module{{Path: Scope, Version: "v1.2.3", Replace: &debug.Module{Path: "../recitaloauth", Version: ""}}}}, ""},
		{"replaced by another version", debug.BuildInfo{Main: debug.Module{Path: "example.com/app"},
			Deps: []*debug.Module{{Path: Scope, Version: "v1.2.3", Replace: &debug.Module{Path: "example.com/fork", Version: "v1.2.4"}}}}, "v1.2.4"},
		{"the main module, built in its repository", debug.BuildInfo{Main: debug.Module{Path: Scope, Version: "(devel)"}}, ""},
		{"the main module, installed at a version", debug.BuildInfo{Main: debug.Module{Path: Scope, Version: "v1.2.3"}}, "v1.2.3"},
		{"not in the build", debug.BuildInfo{Main: debug.Module{Path: "example.com/app", Version: "v9.0.0"}, Deps: []*debug.Module{other}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := moduleVersion(&tt.info); got != tt.want {
				t.Errorf("moduleVersion = %q, want %q", got, tt.want)
			}
		})
	}
	_ = version() // the test binary's own: whatever it is, reading it must not panic
}
