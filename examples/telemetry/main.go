// Telemetry shows what an OpenTelemetry collector receives from recitaloauth:
// it installs the SDK with stdout exporters as the global providers, sets
// nothing else on the Config, and plays a short scene against the fake
// server: a first request that waits for a login, a cached one, a revoked
// token healed, and a wrong password. The spans are printed as they end,
// the metrics once at the end.
//
//	cd examples/telemetry && go run .
//
// It has a go.mod of its own, so that the SDK and its exporters are no
// dependency of the library.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"

	"github.com/seed9ffb1f9c/recitaloauth"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(w io.Writer) error {
	ctx := context.Background()
	spans, err := stdouttrace.New(stdouttrace.WithWriter(w), stdouttrace.WithPrettyPrint(), stdouttrace.WithoutTimestamps())
	if err != nil {
		return err
	}
	metrics, err := stdoutmetric.New(stdoutmetric.WithWriter(w), stdoutmetric.WithPrettyPrint(), stdoutmetric.WithoutTimestamps())
	if err != nil {
		return err
	}
	// Spans as they end; metrics when the provider shuts down, at the end.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metrics)))
	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)

	server := recitaltest.NewServer()
	defer server.Close()
	server.AddUser("ana@example.com", "correct horse battery staple")
	cfg := &recitaloauth.Config{Username: "ana@example.com", Password: "correct horse battery staple", AuthURL: server.AuthURL()}
	client := cfg.Client(ctx)
	tracer := otel.Tracer("example")
	get := func(name string) error {
		ctx, span := tracer.Start(ctx, name)
		defer span.End()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, server.APIURL()+"/config/", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", name, resp.Status)
		}
		return nil
	}

	fmt.Fprintln(w, "# A first request waits for a login: the login's span is its child.")
	if err := get("first request"); err != nil {
		return err
	}
	fmt.Fprintln(w, "# A second request uses the cached token: nothing is recorded.")
	if err := get("second request"); err != nil {
		return err
	}
	fmt.Fprintln(w, "# The server revokes the token: the 401 is counted, a login after_a_401 heals it.")
	server.RevokeAll()
	if err := get("request after a revocation"); err != nil {
		return err
	}
	fmt.Fprintln(w, "# A wrong password: a failed login, error.type refused.")
	wrong := *cfg
	wrong.Password = "hunter2"
	if _, err := wrong.TokenSource(ctx).Token(); err == nil {
		return errors.New("a wrong password logged in")
	}
	fmt.Fprintln(w, "# The metrics, as the collector receives them.")
	return errors.Join(mp.Shutdown(ctx), tp.Shutdown(ctx))
}
