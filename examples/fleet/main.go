// Fleet shows a fleet of machines sharing one login through Redis: four
// machines (each a source with a Redis connection of its own, as four pods
// would have) send requests through three token lifetimes, then their
// token is revoked.
//
//	go run ./examples/fleet                          # starts its own redis-server
//	go run ./examples/fleet -redis 127.0.0.1:6379    # or uses yours (keys under recitaloauth:)
//
// Its own redis-server needs Debian's redis-server package (apt-get install
// redis-server) or any redis-server on PATH.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/seed9ffb1f9c/recitaloauth"
	"github.com/seed9ffb1f9c/recitaloauth/internal/redistest"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
	"github.com/seed9ffb1f9c/recitaloauth/redisstore"
	"golang.org/x/oauth2"
)

const (
	machines  = 4
	lifetime  = time.Second // short, so that three lifetimes pass in seconds
	lifetimes = 3
	pace      = 20 * time.Millisecond
)

func main() {
	addr := flag.String("redis", "", "address of a Redis server to use (default: start a redis-server of its own)")
	flag.Parse()
	if _, err := run(os.Stdout, *addr); err != nil {
		log.Fatal(err)
	}
}

// figures are what the run counted.
type figures struct {
	startLogins       int                      // for the machines' first tokens, taken together
	requests, refused int                      // through the lifetimes; refused: answered other than 200
	sent              [machines][lifetimes]int // requests each machine sent in each lifetime
	logins            int                      // through the lifetimes, after the start's
	healLogins        int                      // after the revocation
	healed            int                      // machines whose next request got 200 after it
}

func run(w io.Writer, redisAddr string) (figures, error) {
	var f figures
	if redisAddr == "" {
		dir, err := os.MkdirTemp("", "recitaloauth-fleet-")
		if err != nil {
			return f, err
		}
		defer os.RemoveAll(dir)
		addr, stop, err := redistest.Run(dir)
		if err != nil {
			return f, fmt.Errorf("starting redis-server: %w", err)
		}
		defer stop()
		redisAddr = addr
	}

	server := recitaltest.NewServer()
	defer server.Close()
	server.AddUser("fleet@example.com", "correct horse battery staple")
	server.SetTokenLifetime(lifetime)
	ctx := context.Background()

	logs := slog.NewTextHandler(w, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	var sources []oauth2.TokenSource
	var clients []*http.Client
	for i := range machines {
		rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
		defer rdb.Close()
		cfg := &recitaloauth.Config{
			Username: "fleet@example.com",
			Password: "correct horse battery staple",
			AuthURL:  server.AuthURL(),
			Store:    redisstore.New(rdb),
			Logger:   slog.New(logs).With("machine", i+1),
		}
		src := cfg.TokenSource(ctx)
		sources = append(sources, src)
		clients = append(clients, recitaloauth.NewClient(ctx, src))
	}

	// The lifetimes count from the moment every machine has its token: a
	// busy machine's slow start (each derives its key) takes none of them.
	fmt.Fprintf(w, "%d machines share one Redis; tokens live %v. They start together.\n", machines, lifetime)
	var wg sync.WaitGroup
	errs := make([]error, machines)
	for i, src := range sources {
		wg.Go(func() { _, errs[i] = src.Token() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return f, err
	}
	f.startLogins = server.Logins()
	fmt.Fprintf(w, "→ %d login for the %d machines' first tokens.\n\n", f.startLogins, machines)

	fmt.Fprintf(w, "Each machine sends a request every %v for %v.\n", pace, lifetimes*lifetime)
	var mu sync.Mutex
	start := time.Now()
	end := start.Add(lifetimes * lifetime)
	for m, client := range clients {
		wg.Go(func() {
			for ; time.Now().Before(end); time.Sleep(pace) {
				n := min(int(time.Since(start)/lifetime), lifetimes-1)
				code := get(client, server.APIURL())
				mu.Lock()
				f.requests++
				f.sent[m][n]++
				if code != http.StatusOK {
					f.refused++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	f.logins = server.Logins() - f.startLogins
	fmt.Fprintf(w, "→ %d requests, %d refused, %d logins for the whole fleet: about one per token lifetime, not one per machine.\n\n",
		f.requests, f.refused, f.logins)

	// An hour, as recital's tokens live: no rollover mixes with the
	// healing, however long a busy machine makes it.
	server.SetTokenLifetime(time.Hour)
	tok, err := sharedToken(sources, time.Hour/2)
	if err != nil {
		return f, err
	}
	loggedIn := server.Logins()
	server.Revoke(tok.AccessToken)
	fmt.Fprintln(w, "Tokens now live an hour. Once every machine has the fleet's first such token, it is revoked; each machine sends one request.")
	for _, client := range clients {
		wg.Go(func() {
			if get(client, server.APIURL()) == http.StatusOK {
				mu.Lock()
				f.healed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	f.healLogins = server.Logins() - loggedIn
	fmt.Fprintf(w, "→ %d of %d machines answered 200 after %d login: one machine logged in, the others found its token in Redis.\n",
		f.healed, machines, f.healLogins)
	return f, nil
}

// sharedToken waits until every source holds the same token, with more
// than left to live, and returns it.
func sharedToken(sources []oauth2.TokenSource, left time.Duration) (*oauth2.Token, error) {
	for ; ; time.Sleep(pace) {
		var first *oauth2.Token
		same := true
		for _, src := range sources {
			tok, err := src.Token()
			if err != nil {
				return nil, err
			}
			if first == nil {
				first = tok
			}
			same = same && tok.AccessToken == first.AccessToken && time.Until(tok.Expiry) > left
		}
		if same {
			return first, nil
		}
	}
}

// get GETs the API's config through client and returns the status (0 on
// a network error).
func get(client *http.Client, apiURL string) int {
	resp, err := client.Get(apiURL + "/config/")
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
