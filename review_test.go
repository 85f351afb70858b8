package recitaloauth

// What a second reader's attack found: a refused login's headers holding
// the password, a status showing another token than a run uses, and
// TokenLasting logging in without end after a stall.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestRefusedHeadersScrubbed: a refused login's headers are the server's
// text, reachable from the error through its RetrieveError: a password
// they echo (a Location, a debug header) is scrubbed there too.
func TestRefusedHeadersScrubbed(t *testing.T) {
	const password = "hunter2-secret"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("X-Debug-Form", r.PostForm.Encode())
		w.Header().Set("Location", "/login/?password="+r.PostForm.Get("password"))
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	cfg := &Config{Username: "ana", Password: password, AuthURL: srv.URL + "/login"}
	_, err := cfg.Token(context.Background())
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error %v, want a RetrieveError", err)
	}
	if dump := fmt.Sprintf("%v %+v %#v", err, re.Response.Header, re.Response); strings.Contains(dump, password) {
		t.Errorf("the password is reachable from the error: %v", re.Response.Header)
	}
}

// TestStoredTokenIsWhatARunUses: with a value under this machine's key
// (left by a process that found tokens bound to IP addresses) and one
// under the shared key, StoredToken (-status) reports the one a new
// process uses, the shared one.
func TestStoredTokenIsWhatARunUses(t *testing.T) {
	login := newLoginServer()
	ctx := withHandler(login)
	store := newMemStore()
	if _, err := storeSource(store, login).Token(); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Store = store
	s := newSharer(cfg, cfg.logger(), func() storeLimits { return storeLimits{machineOnly: true} })
	s.sealer.newLogin()
	now := time.Now().Round(0)
	s.save(ctx, newCredential(&oauth2.Token{AccessToken: "machine-token", TokenType: "Bearer", Expiry: now.Add(30 * time.Second)}, now.Add(-time.Hour)))

	stored, err := cfg.StoredToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	used, err := TokenLasting(ctx, cfg.TokenSource(ctx), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if stored.AccessToken != used.AccessToken {
		t.Errorf("StoredToken reports %q, a new process uses %q", stored.AccessToken, used.AccessToken)
	}
}
