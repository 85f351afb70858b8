package recitaloauth_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/seed9ffb1f9c/recitaloauth"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
	"golang.org/x/oauth2"
)

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
