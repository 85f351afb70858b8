// Package telemetry is recitaloauth's OpenTelemetry side: its instruments,
// the attributes they carry, the error.type vocabulary, and the one call
// per event that records them. The package documentation of recitaloauth
// ("Telemetry") is the list of what is recorded; this package is the one
// place that records it, so that the token source says "a login ended"
// in one line where it already logs it.
//
// Only OpenTelemetry's API modules are used: with no SDK installed every
// call is a no-op, and a program that installs one later still receives
// the records (the global providers delegate).
package telemetry

import (
	"context"
	"errors"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Scope is the instrumentation scope's name: the module path.
const Scope = "github.com/seed9ffb1f9c/recitaloauth"

// The metrics and the span.
const (
	LoginDuration = "recitaloauth.login.duration"
	CallersWaited = "recitaloauth.login.callers_waited"
	TokenBorrowed = "recitaloauth.token.borrowed"
	TokenRefused  = "recitaloauth.token.refused"
	StoreErrors   = "recitaloauth.store.errors"
	LoginSpan     = "recitaloauth.login"
)

// The attributes of recitaloauth's own; the others are OpenTelemetry's
// semantic conventions (error.type, http.response.status_code,
// server.address, server.port).
const (
	ReasonKey       = attribute.Key("recitaloauth.login.reason")
	AttemptsKey     = attribute.Key("recitaloauth.login.attempts")
	OriginKey       = attribute.Key("recitaloauth.token.origin")
	DroppedKey      = attribute.Key("recitaloauth.token.dropped")
	OtherMachineKey = attribute.Key("recitaloauth.token.other_machine")
	OperationKey    = attribute.Key("recitaloauth.store.operation")
)

// The values of recitaloauth.token.origin: where a token came from.
var (
	fromLogin = OriginKey.String("login")
	fromStore = OriginKey.String("store")
)

// loginBuckets are the histogram's bounds, in seconds: the semantic
// conventions' for HTTP durations, and the default login timeout.
var loginBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30}

// Instruments are one token source's instruments and tracer. They are
// safe for concurrent use. A nil *Instruments records nothing (a sharer
// of Config.StoredToken's, which is no source).
type Instruments struct {
	tracer        trace.Tracer
	loginDuration metric.Float64Histogram
	callersWaited metric.Int64Counter
	tokenBorrowed metric.Int64Counter
	tokenRefused  metric.Int64Counter
	storeErrors   metric.Int64Counter
	server        []attribute.KeyValue // the login URL's host and port, never its path or query
}

// New makes the instruments of a source that logs in at loginURL; a nil
// provider is OpenTelemetry's global one. An instrument the provider
// cannot make is reported to otel.Handle and records nothing.
func New(mp metric.MeterProvider, tp trace.TracerProvider, loginURL string) *Instruments {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	v := version()
	meter := mp.Meter(Scope, metric.WithInstrumentationVersion(v), metric.WithSchemaURL(semconv.SchemaURL))
	i := &Instruments{
		tracer: tp.Tracer(Scope, trace.WithInstrumentationVersion(v), trace.WithSchemaURL(semconv.SchemaURL)),
		server: serverAttrs(loginURL),
	}
	var errs [5]error
	i.loginDuration, errs[0] = meter.Float64Histogram(LoginDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of logins to recital, all attempts of each; a token taken from the store is not one."),
		metric.WithExplicitBucketBoundaries(loginBuckets...))
	i.callersWaited, errs[1] = meter.Int64Counter(CallersWaited, metric.WithUnit("{caller}"),
		metric.WithDescription("Token and request calls that waited for a login (or for the store)."))
	i.tokenBorrowed, errs[2] = meter.Int64Counter(TokenBorrowed, metric.WithUnit("{token}"),
		metric.WithDescription("Tokens taken from the store instead of a login."))
	i.tokenRefused, errs[3] = meter.Int64Counter(TokenRefused, metric.WithUnit("{refusal}"),
		metric.WithDescription("401 answers to the source's current token: one per token dropped, and one per 401 the reject gap kept it through."))
	i.storeErrors, errs[4] = meter.Int64Counter(StoreErrors, metric.WithUnit("{error}"),
		metric.WithDescription("Token store calls that failed."))
	if err := errors.Join(errs[:]...); err != nil {
		otel.Handle(err)
	}
	// A provider's instrument (or tracer) is used on the source's login
	// goroutine, where a nil one would end the process: such a one
	// records nothing.
	i.loginDuration = orNoop[metric.Float64Histogram](i.loginDuration, noop.Float64Histogram{})
	i.tracer = orNoop[trace.Tracer](i.tracer, tracenoop.Tracer{})
	for _, c := range []*metric.Int64Counter{&i.callersWaited, &i.tokenBorrowed, &i.tokenRefused, &i.storeErrors} {
		*c = orNoop[metric.Int64Counter](*c, noop.Int64Counter{})
	}
	return i
}

func orNoop[T comparable](inst, none T) T {
	var zero T
	if inst == zero {
		return none
	}
	return inst
}

// serverAttrs are server.address and server.port for loginURL, or none
// when it does not parse.
func serverAttrs(loginURL string) []attribute.KeyValue {
	u, err := url.Parse(loginURL)
	if err != nil || u.Hostname() == "" {
		return nil
	}
	attrs := []attribute.KeyValue{semconv.ServerAddress(u.Hostname())}
	port := u.Port()
	switch {
	case port != "":
	case u.Scheme == "https":
		port = "443"
	case u.Scheme == "http":
		port = "80"
	}
	if n, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, semconv.ServerPort(n))
	}
	return attrs
}

// version is the module's version as the program was built with it: its
// version among the main module's dependencies, or the main module's own
// when recitaloauth is the main module (its tests); "" when the build
// does not say (go run in the module, a build without module information).
var version = sync.OnceValue(func() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	return moduleVersion(info)
})

func moduleVersion(info *debug.BuildInfo) string {
	mod := &info.Main
	for _, dep := range info.Deps {
		if dep.Path == Scope {
			mod = dep
		}
	}
	if mod.Path != Scope {
		return ""
	}
	if mod.Replace != nil {
		mod = mod.Replace
	}
	if mod.Version == "(devel)" {
		return ""
	}
	return mod.Version
}

// Reason is the recitaloauth.login.reason of reason, one of the reasons
// the source's log records give ("first use", "early refresh", "expired",
// "after a 401"), spelt as OpenTelemetry spells values: first_use, ...
func Reason(reason string) attribute.KeyValue {
	return ReasonKey.String(strings.ReplaceAll(reason, " ", "_"))
}

// origin is recitaloauth.token.origin for a token borrowed from the
// store, or not.
func origin(borrowed bool) attribute.KeyValue {
	if borrowed {
		return fromStore
	}
	return fromLogin
}

// Login is one login, from StartLogin to End: its span, and what its
// duration point needs. Its methods are called on the login's goroutine.
type Login struct {
	inst    *Instruments
	ctx     context.Context // the span's
	span    trace.Span
	started time.Time
	reason  attribute.KeyValue
	status  int // the last answer's HTTP status, 0 before any
}

type loginKey struct{}

// StartLogin starts the span of a login for reason. Its parent is parent,
// the span of the caller that started the login (a request waiting for
// it), or none: a background refresh, or a caller with no span, starts a
// trace of its own, whatever span ctx (the source's context) carries.
// The returned context is ctx with the login's span, for the login's HTTP
// requests and store calls: an instrumented HTTP client or store makes
// their spans its children.
func (i *Instruments) StartLogin(ctx context.Context, parent trace.SpanContext, reason string) (context.Context, *Login) {
	l := &Login{inst: i, started: time.Now(), reason: Reason(reason)}
	ctx = trace.ContextWithSpanContext(ctx, parent)
	attrs := append([]attribute.KeyValue{l.reason}, i.server...)
	ctx, l.span = i.tracer.Start(ctx, LoginSpan, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	l.ctx = context.WithValue(ctx, loginKey{}, l)
	return l.ctx, l
}

// Answered records the HTTP status of an answer to the login whose
// context ctx is; for any other context (Config.Token's), nothing.
func Answered(ctx context.Context, status int) {
	if l, ok := ctx.Value(loginKey{}).(*Login); ok {
		l.status = status
	}
}

// End ends the login's span, with attempts (the POSTs it made), and
// records its duration, unless its token was borrowed from the store
// (then it was no login), and the callers that waited for it. err is its
// failure, or nil: what is recorded of it is its ErrorType, never its
// text, which may quote the server.
func (l *Login) End(attempts, waiters int, borrowed bool, err error) {
	span := l.span
	span.SetAttributes(AttemptsKey.Int(attempts))
	if l.status != 0 {
		span.SetAttributes(semconv.HTTPResponseStatusCode(l.status))
	}
	attrs := []attribute.KeyValue{l.reason}
	if err != nil {
		kind := semconv.ErrorTypeKey.String(ErrorType(err, l.status))
		attrs = append(attrs, kind)
		span.SetAttributes(kind)
		span.SetStatus(codes.Error, kind.Value.AsString())
	} else {
		span.SetAttributes(origin(borrowed))
	}
	span.End()
	if !borrowed {
		l.inst.loginDuration.Record(l.ctx, time.Since(l.started).Seconds(), metric.WithAttributes(attrs...))
	}
	if waiters > 0 {
		l.inst.callersWaited.Add(l.ctx, int64(waiters), metric.WithAttributes(l.reason))
	}
}

// Borrowed records a token taken from the store for a login for reason;
// otherMachine says another machine saved it.
func (i *Instruments) Borrowed(ctx context.Context, reason string, otherMachine bool) {
	if i == nil {
		return
	}
	i.tokenBorrowed.Add(ctx, 1, metric.WithAttributes(Reason(reason), OtherMachineKey.Bool(otherMachine)))
}

// Refused records a 401 for the source's current token: borrowed says it
// came from the store, dropped that the source dropped it (else the
// reject gap kept it, and the 401 went to the caller).
func (i *Instruments) Refused(borrowed, dropped bool) {
	if i == nil {
		return
	}
	i.tokenRefused.Add(context.Background(), 1, metric.WithAttributes(origin(borrowed), DroppedKey.Bool(dropped)))
}

// StoreFailed records a store call that failed, for op: load, save,
// lock, unlock, delete, or seal (sealing the value to save).
func (i *Instruments) StoreFailed(ctx context.Context, op string) {
	if i == nil {
		return
	}
	i.storeErrors.Add(ctx, 1, metric.WithAttributes(OperationKey.String(op)))
}
