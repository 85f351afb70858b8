// Fleetchild is one process of a fleet, for the fleet tests of package
// recitaloauth: it logs in as their user through the store its
// environment names, and prints what it got. It is built without the race
// detector, so that twenty of them start in a second even when the tests
// run under it.
//
// Environment:
//
//	FLEET_USERNAME    the user
//	FLEET_PASSWORD    its password
//	FLEET_AUTH_URL    the login URL
//	FLEET_API_URL     the API base URL
//	FLEET_STORE       file:DIR or redis:ADDR; unset: no store
//	FLEET_FOR         a duration: send GET requests through Config.Client
//	                  for that long, one every FLEET_EVERY (a duration,
//	                  20 ms if unset), printing "refused CODE BODY" for
//	                  each answered other than 200 (BODY: the server's
//	                  detail, quoted), "failed ERROR" for each
//	                  without an answer, and "requests N" at the end;
//	                  "stdin": the same until stdin ends, answering each
//	                  line read from it (a mark) with "after MARK STATUS"
//	                  once the first request sent after it is answered
//	                  (STATUS: the code, or "failed"), so that a test
//	                  waits for the fleet to have acted, however slow the
//	                  machine; unset: one Token call, printing "token TOKEN"
//	FLEET_LOG         "debug": the library's records on stderr from Debug
//	                  up, for a test that shows them when it fails; else
//	                  from Warn
//	FLEET_HOSTNAME    a host name to take, in a UTS namespace of the
//	                  child's own (Linux, root): another machine
//	FLEET_LOCAL_ADDR  an IP address to dial from (127.0.0.N): that
//	                  machine's address
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/seed9ffb1f9c/recitaloauth"
	"github.com/seed9ffb1f9c/recitaloauth/filestore"
	"github.com/seed9ffb1f9c/recitaloauth/redisstore"
	"golang.org/x/oauth2"
)

func main() {
	if name := os.Getenv("FLEET_HOSTNAME"); name != "" {
		if err := setHostname(name); err != nil {
			log.Fatalf("set the host name: %v", err)
		}
	}
	cfg := &recitaloauth.Config{
		Username: os.Getenv("FLEET_USERNAME"),
		Password: os.Getenv("FLEET_PASSWORD"),
		AuthURL:  os.Getenv("FLEET_AUTH_URL"),
		Store:    store(os.Getenv("FLEET_STORE")),
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel(os.Getenv("FLEET_LOG"))})),
	}
	ctx := context.Background()
	if addr := os.Getenv("FLEET_LOCAL_ADDR"); addr != "" {
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}}
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.DialContext = dialer.DialContext
		ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: transport})
	}
	spec := os.Getenv("FLEET_FOR")
	span, _ := time.ParseDuration(spec)
	if span == 0 && spec != "stdin" {
		tok, err := cfg.TokenSource(ctx).Token()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("token", tok.AccessToken)
		return
	}
	every, err := time.ParseDuration(os.Getenv("FLEET_EVERY"))
	if err != nil {
		every = 20 * time.Millisecond
	}
	untilStdin := spec == "stdin"
	var marks chan string // the lines of stdin; nil for a span
	if untilStdin {
		marks = make(chan string)
		go func() {
			defer close(marks)
			for in := bufio.NewScanner(os.Stdin); in.Scan(); {
				marks <- in.Text()
			}
		}()
	}
	client := cfg.Client(ctx)
	requests := 0
	var pending []string // marks read before the request about to be sent
	for end := time.Now().Add(span); untilStdin || time.Now().Before(end); time.Sleep(every) {
		var open bool
		if pending, open = readMarks(pending, marks); !open {
			break
		}
		requests++
		status := get(client, os.Getenv("FLEET_API_URL")+"/config/")
		for _, mark := range pending {
			fmt.Println("after", mark, status)
		}
		pending = pending[:0]
	}
	fmt.Println("requests", requests)
}

func logLevel(name string) slog.Level {
	if name == "debug" {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

// readMarks adds to pending the marks read so far, without waiting for
// more, and reports whether stdin is still open (always, for nil marks).
func readMarks(pending []string, marks <-chan string) ([]string, bool) {
	for {
		select {
		case mark, ok := <-marks:
			if !ok {
				return pending, false
			}
			pending = append(pending, mark)
		default:
			return pending, true
		}
	}
}

// get sends a GET request to url through client, printing "refused CODE BODY"
// or "failed ERROR" unless it is answered with 200, and returns its status:
// the code, or "failed".
func get(client *http.Client, url string) string {
	resp, err := client.Get(url)
	if err != nil {
		fmt.Println("failed", err)
		return "failed"
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Printf("refused %d %q\n", resp.StatusCode, body)
	}
	return strconv.Itoa(resp.StatusCode)
}

func store(spec string) recitaloauth.Store {
	kind, where, _ := strings.Cut(spec, ":")
	switch kind {
	case "":
		return nil
	case "file":
		return filestore.New(where)
	case "redis":
		return redisstore.New(redis.NewClient(&redis.Options{Addr: where}))
	}
	log.Fatalf("unknown store %q", spec)
	return nil
}
