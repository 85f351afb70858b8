package recitaltest_test

import (
	"context"
	"net"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
)

// clientFrom is an HTTP client whose connections leave from ip, a
// loopback address of its own, as another machine's would.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	transport := &http.Transport{DialContext: dialer.DialContext}
	t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{Transport: transport}
}

// TestBindTokensToIP: with SetBindTokensToIP, a token is accepted only
// from the address that logged in; from another it gets 401 with a
// detail, and counts once per token and address; a service token is not
// bound; turned off, the token travels again.
func TestBindTokensToIP(t *testing.T) {
	s := recitaltest.NewServer()
	defer s.Close()
	s.AddUser("alice", "s3cret")
	s.AddServiceToken("svc")
	here, there := clientFrom(t, "127.0.0.2"), clientFrom(t, "127.0.0.3")
	tok := accessToken(t, here, s.AuthURL(), "alice", "s3cret")
	boundElsewhere := reply{
		Status:      http.StatusUnauthorized,
		ContentType: "application/json",
		WWWAuth:     "Bearer",
		Body:        mustJSON(`{"detail":"Token is bound to another IP address"}`),
	}
	ok := reply{Status: http.StatusOK, ContentType: "application/json",
		Body: mustJSON(`{"organisation":"recitaltest","user":"alice"}`)}
	svc := reply{Status: http.StatusOK, ContentType: "application/json",
		Body: mustJSON(`{"organisation":"recitaltest","user":"service"}`)}

	steps := []struct {
		name        string
		bind        bool
		client      *http.Client
		token       string
		want        reply
		wantRefused int
	}{
		{"not bound, another address", false, there, tok, ok, 0},
		{"bound, the login's address", true, here, tok, ok, 0},
		{"bound, another address", true, there, tok, boundElsewhere, 1},
		{"bound, another address again", true, there, tok, boundElsewhere, 1},
		{"bound, a service token from another address", true, there, "svc", svc, 1},
		{"turned off again", false, there, tok, ok, 1},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			s.SetBindTokensToIP(st.bind)
			got := do(t, st.client, configRequest(t, s.APIURL(), "Bearer "+st.token))
			if diff := cmp.Diff(st.want, got); diff != "" {
				t.Errorf("answer mismatch (-want +got):\n%s", diff)
			}
			if n := s.RefusedFromOtherAddress(); n != st.wantRefused {
				t.Errorf("RefusedFromOtherAddress() = %d, want %d", n, st.wantRefused)
			}
		})
	}
}

// TestRevokeAll: every token issued so far is refused, and a token issued
// after the call is not.
func TestRevokeAll(t *testing.T) {
	s := recitaltest.NewServer()
	defer s.Close()
	s.AddUser("alice", "s3cret")
	s.AddServiceToken("svc")
	c := s.Client()
	before := []string{accessToken(t, c, s.AuthURL(), "alice", "s3cret"), accessToken(t, c, s.AuthURL(), "alice", "s3cret"), "svc"}
	s.RevokeAll()
	after := accessToken(t, c, s.AuthURL(), "alice", "s3cret")
	var got []int
	for _, tok := range append(before, after) {
		req := configRequest(t, s.APIURL(), "Bearer "+tok)
		req = req.WithContext(context.Background())
		got = append(got, do(t, c, req).Status)
	}
	if diff := cmp.Diff([]int{401, 401, 401, 200}, got); diff != "" {
		t.Errorf("statuses after RevokeAll (-want +got):\n%s", diff)
	}
}
