package recitaloauth

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
	"golang.org/x/oauth2"
)

// TestLocalhostPinned: http://localhost is trusted as loopback, so the
// login POST and a Config.Client request to it go to 127.0.0.1 whatever
// the resolver says localhost is. The test's dialer plays a resolver
// whose answer for "localhost" is another machine (as DNS may be asked
// when the hosts file has no localhost line): that machine, a listener
// recording what it gets, must get nothing, and the real server must
// answer both.
func TestLocalhostPinned(t *testing.T) {
	s := recitaltest.NewServer()
	defer s.Close()
	s.AddUser("alice", "hunter2-secret")

	elsewhere, err := net.Listen("tcp", "127.0.0.2:0") // "another machine"
	if err != nil {
		t.Fatal(err)
	}
	defer elsewhere.Close()
	var mu sync.Mutex
	var stolen bytes.Buffer
	go func() {
		for {
			conn, err := elsewhere.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				b, _ := io.ReadAll(io.LimitReader(conn, 4<<10))
				mu.Lock()
				stolen.Write(b)
				mu.Unlock()
			}()
		}
	}()

	var dialled []string
	var dialMu sync.Mutex
	resolver := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialMu.Lock()
		dialled = append(dialled, addr)
		dialMu.Unlock()
		if host, _, _ := net.SplitHostPort(addr); strings.EqualFold(host, "localhost") {
			addr = elsewhere.Addr().String() // what the resolver answered
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	defer resolver.CloseIdleConnections()
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: resolver})

	toLocalhost := func(u string) string { return strings.Replace(u, "127.0.0.1", "localhost", 1) }
	cfg := &Config{Username: "alice", Password: "hunter2-secret", AuthURL: toLocalhost(s.AuthURL()), LoginTimeout: time.Second}
	resp, err := cfg.Client(ctx).Get(toLocalhost(s.APIURL()) + "/config/")
	if err != nil {
		t.Fatalf("GET through Config.Client: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET answered %d, want 200", resp.StatusCode)
	}
	if got := resp.Request.URL.Hostname(); got != "localhost" {
		t.Errorf("resp.Request's host is %q, want the caller's localhost", got)
	}
	if got := s.Logins(); got != 1 {
		t.Errorf("%d logins reached the server, want 1", got)
	}
	mu.Lock()
	got := stolen.String()
	mu.Unlock()
	if got != "" {
		t.Errorf("the address the resolver gave for localhost got %q", got)
	}
	dialMu.Lock()
	defer dialMu.Unlock()
	for _, addr := range dialled {
		if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" {
			t.Errorf("dialled %s, want 127.0.0.1 only", addr)
		}
	}
}

// TestPinKeepsHostHeader: a request pinned to 127.0.0.1 still names the
// host its caller asked for in its Host header (a virtual host on the
// local server answers by it), and a Host the caller set is kept.
func TestPinKeepsHostHeader(t *testing.T) {
	for _, tt := range []struct {
		name, url, host   string
		wantURL, wantHost string
	}{
		{"no Host set", "http://localhost:8080/x", "", "http://127.0.0.1:8080/x", "localhost:8080"},
		{"the caller's Host", "http://localhost:8080/x", "api.example", "http://127.0.0.1:8080/x", "api.example"},
		{"not pinned", "https://localhost:8080/x", "", "https://localhost:8080/x", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = tt.host
			pin(req)
			if diff := cmp.Diff([2]string{tt.wantURL, tt.wantHost}, [2]string{req.URL.String(), req.Host}); diff != "" {
				t.Errorf("URL and Host mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
