package recitaloauth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/seed9ffb1f9c/recitaloauth"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
)

// These examples run against recitaltest, a fake recital on 127.0.0.1. With
// the real service, leave AuthURL empty (or use DefaultAuthURL) and call
// DefaultAPIURL.

// A service token, made in recital's organisation settings, works with any
// oauth2 code: wrap it in oauth2.NewClient.
func ExampleServiceTokenSource() {
	recital := recitaltest.NewServer()
	defer recital.Close()
	recital.AddServiceToken("my-service-token")

	ctx := context.Background()
	client := oauth2.NewClient(ctx, recitaloauth.ServiceTokenSource("my-service-token"))

	resp, err := client.Get(recital.APIURL() + "/config/")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	fmt.Println(resp.Status)
	// Output: 200 OK
}

// With a username and password, Config.TokenSource logs in once, caches
// the token and logs in again before it expires; oauth2.NewClient puts it
// on every request.
func ExampleConfig_TokenSource() {
	recital := recitaltest.NewServer()
	defer recital.Close()
	recital.AddUser("ana@example.com", "correct horse")

	cfg := &recitaloauth.Config{
		Username: "ana@example.com",
		Password: "correct horse",
		AuthURL:  recital.AuthURL(), // "" means recitaloauth.DefaultAuthURL
	}
	ctx := context.Background()
	client := oauth2.NewClient(ctx, cfg.TokenSource(ctx))

	for range 3 {
		resp, err := client.Get(recital.APIURL() + "/config/")
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println(resp.Status)
	}
	fmt.Println("logins:", recital.Logins())
	// Output:
	// 200 OK
	// 200 OK
	// 200 OK
	// logins: 1
}

// Config.Client does more than oauth2.NewClient: when the server revokes
// the token, the refused request is sent again with a new one.
func ExampleConfig_Client() {
	recital := recitaltest.NewServer()
	defer recital.Close()
	recital.AddUser("ana@example.com", "correct horse")

	cfg := &recitaloauth.Config{Username: "ana@example.com", Password: "correct horse", AuthURL: recital.AuthURL()}
	ctx := context.Background()
	src := cfg.TokenSource(ctx)
	client := recitaloauth.NewClient(ctx, src) // what cfg.Client(ctx) does, keeping src at hand

	get := func() {
		resp, err := client.Get(recital.APIURL() + "/config/")
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s %s\n", resp.Status, body)
	}
	get()
	tok, _ := src.Token()
	recital.Revoke(tok.AccessToken) // e.g. an administrator logs the session out
	get()
	fmt.Println("logins:", recital.Logins())
	// Output:
	// 200 OK {"organisation":"recitaltest","user":"ana@example.com"}
	// 200 OK {"organisation":"recitaltest","user":"ana@example.com"}
	// logins: 2
}

// A refused login is an *oauth2.RetrieveError, as in any oauth2 code; the
// message is short and never holds the password.
func ExampleConfig_Token_refused() {
	recital := recitaltest.NewServer()
	defer recital.Close()
	recital.AddUser("ana@example.com", "correct horse")

	cfg := &recitaloauth.Config{Username: "ana@example.com", Password: "wrong", AuthURL: recital.AuthURL()}
	_, err := cfg.Token(context.Background())

	var refused *oauth2.RetrieveError
	if errors.As(err, &refused) && refused.Response.StatusCode == http.StatusUnauthorized {
		fmt.Println("check the password:", err)
	}
	// Output: check the password: recitaloauth: login refused: 401 Unauthorized: Incorrect username or password
}

// LoginURL says where a Config logs in, its default included: what a
// status line shows.
func ExampleConfig_LoginURL() {
	cfg := &recitaloauth.Config{Username: "ana@example.com"}
	fmt.Println(cfg.LoginURL())
	cfg.AuthURL = "https://auth.example.com/login/"
	fmt.Println(cfg.LoginURL())
	// Output:
	// https://extract.auth.recital.ai/auth/api/v1/login/?noAuth=true
	// https://auth.example.com/login/
}

// DefaultTokenSource takes the credentials from the environment, as a
// program run by a CI job or in a container would. Here the variables are
// set by the example itself.
func ExampleDefaultTokenSource() {
	recital := recitaltest.NewServer()
	defer recital.Close()
	recital.AddUser("ana@example.com", "correct horse")
	for name, value := range map[string]string{
		"RECITAL_API_TOKEN": "", // empty counts as unset; set, it would win
		"RECITAL_USERNAME":  "ana@example.com",
		"RECITAL_PASSWORD":  "correct horse",
		"RECITAL_AUTH_URL":  recital.AuthURL(),
	} {
		os.Setenv(name, value)
		defer os.Unsetenv(name)
	}

	ctx := context.Background()
	src, err := recitaloauth.DefaultTokenSource(ctx)
	if err != nil {
		log.Fatal(err)
	}
	resp, err := recitaloauth.NewClient(ctx, src).Get(recital.APIURL() + "/config/")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output: 200 OK
}

// perRPC is a gRPC-style per-request credential (the shape of
// credentials.PerRPCCredentials) written over a source: code that sets
// the token itself, and so tells the source with Invalidate when the
// server refuses it.
type perRPC struct {
	src  oauth2.TokenSource
	last atomic.Pointer[oauth2.Token] // the token last sent, for Invalidate
}

func (c *perRPC) GetRequestMetadata(ctx context.Context, uri ...string) (map[string]string, error) {
	tok, err := c.src.Token()
	if err != nil {
		return nil, err
	}
	c.last.Store(tok)
	return map[string]string{"authorization": "Bearer " + tok.AccessToken}, nil
}

func (c *perRPC) RequireTransportSecurity() bool { return true }

// Code that is not an http.Client from this package (a gRPC per-request
// credential, a header set by hand) hands a refused token back with
// Invalidate: the next Token logs in again.
func ExampleInvalidate() {
	recital := recitaltest.NewServer()
	defer recital.Close()
	recital.AddUser("ana@example.com", "correct horse")
	cfg := &recitaloauth.Config{Username: "ana@example.com", Password: "correct horse", AuthURL: recital.AuthURL()}
	creds := &perRPC{src: cfg.TokenSource(context.Background())}

	call := func() int { // one "RPC": metadata from the credential, then the request
		md, err := creds.GetRequestMetadata(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		req, _ := http.NewRequest("GET", recital.APIURL()+"/config/", nil)
		req.Header.Set("Authorization", md["authorization"])
		resp, err := recital.Client().Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println(call())
	// An administrator logs the session out; the next call is refused
	// (gRPC: codes.Unauthenticated) and the token handed back.
	recital.Revoke(creds.last.Load().AccessToken)
	if status := call(); status == http.StatusUnauthorized {
		fmt.Println(status)
		recitaloauth.Invalidate(creds.src, creds.last.Load())
	}
	fmt.Println(call())
	fmt.Println("logins:", recital.Logins())
	// Output:
	// 200
	// 401
	// 200
	// logins: 2
}

// A credential helper (git's, docker's, a kubectl exec plugin) prints a
// token and exits: it asks for one that outlives it, since no background
// refresh will.
func ExampleTokenLasting() {
	server := recitaltest.NewServer()
	defer server.Close()
	server.AddUser("ana@example.com", "correct horse")

	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, server.Client())
	cfg := &recitaloauth.Config{Username: "ana@example.com", Password: "correct horse", AuthURL: server.AuthURL()}
	tok, err := recitaloauth.TokenLasting(ctx, cfg.TokenSource(ctx), 10*time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(time.Until(tok.Expiry) >= 10*time.Minute)
	// Output: true
}
