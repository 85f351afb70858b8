// Fleetchild is one process of a fleet, for the fleet tests of package
// recitaloauth: it logs in as their user through the store its
// environment names, and prints what it got. It is built without the race
// detector, so that twenty of them start in a second even when the tests
// run under it.
//
// Environment:
//
//	FLEET_USERNAME  the user
//	FLEET_PASSWORD  its password
//	FLEET_AUTH_URL  the login URL
//	FLEET_API_URL   the API base URL
//	FLEET_STORE     file:DIR or redis:ADDR
//	FLEET_FOR       a duration: send GET requests through Config.Client
//	                for that long, printing "refused CODE" for each not
//	                answered 200; unset: one Token call, printing
//	                "token TOKEN"
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/seed9ffb1f9c/recitaloauth"
	"github.com/seed9ffb1f9c/recitaloauth/redisstore"
)

func main() {
	cfg := &recitaloauth.Config{
		Username: os.Getenv("FLEET_USERNAME"),
		Password: os.Getenv("FLEET_PASSWORD"),
		AuthURL:  os.Getenv("FLEET_AUTH_URL"),
		Store:    store(os.Getenv("FLEET_STORE")),
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	ctx := context.Background()
	span, _ := time.ParseDuration(os.Getenv("FLEET_FOR"))
	if span == 0 {
		tok, err := cfg.TokenSource(ctx).Token()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("token", tok.AccessToken)
		return
	}
	client := cfg.Client(ctx)
	for end := time.Now().Add(span); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		resp, err := client.Get(os.Getenv("FLEET_API_URL") + "/config/")
		if err != nil {
			log.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			fmt.Println("refused", resp.StatusCode)
		}
	}
}

func store(spec string) recitaloauth.Store {
	kind, where, _ := strings.Cut(spec, ":")
	switch kind {
	case "file":
		return recitaloauth.NewFileStore(where)
	case "redis":
		return redisstore.New(redis.NewClient(&redis.Options{Addr: where}))
	}
	log.Fatalf("unknown store %q", spec)
	return nil
}
