package recitaloauth

import (
	"bytes"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
)

// TestInvalidate: a refused token handed back makes the next Token log
// in and leaves the store, if it is still current; a token no longer
// current, or one only seconds old after a refusal (the reject gap),
// changes nothing.
func TestInvalidate(t *testing.T) {
	tests := []struct {
		name string
		// invalidate hands back tokens, given the first token, and
		// returns the token Invalidate is then called with.
		invalidate func(t *testing.T, src oauth2.TokenSource, first *oauth2.Token) *oauth2.Token
		wantLogins int
		wantToken  string
	}{
		{"current token", func(_ *testing.T, _ oauth2.TokenSource, first *oauth2.Token) *oauth2.Token {
			time.Sleep(5 * time.Minute)
			return first
		}, 2, "token-2"},
		{"token no longer current", func(t *testing.T, src oauth2.TokenSource, first *oauth2.Token) *oauth2.Token {
			time.Sleep(5 * time.Minute)
			Invalidate(src, first)
			if _, err := src.Token(); err != nil {
				t.Fatal(err)
			}
			return first
		}, 2, "token-2"},
		{"seconds old, after a refusal", func(t *testing.T, src oauth2.TokenSource, first *oauth2.Token) *oauth2.Token {
			Invalidate(src, first) // the gap is now a second
			second, err := src.Token()
			if err != nil {
				t.Fatal(err)
			}
			return second
		}, 2, "token-2"},
		{"a copy of the current token", func(_ *testing.T, _ oauth2.TokenSource, first *oauth2.Token) *oauth2.Token {
			time.Sleep(5 * time.Minute)
			return &oauth2.Token{AccessToken: first.AccessToken}
		}, 2, "token-2"},
		{"another token", func(_ *testing.T, _ oauth2.TokenSource, _ *oauth2.Token) *oauth2.Token {
			time.Sleep(5 * time.Minute)
			return &oauth2.Token{AccessToken: "token-9"}
		}, 1, "token-1"},
		{"nil token", func(_ *testing.T, _ oauth2.TokenSource, _ *oauth2.Token) *oauth2.Token {
			time.Sleep(5 * time.Minute)
			return nil
		}, 1, "token-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				login, store := newLoginServer(), newMemStore()
				src := storeSource(store, login)
				first, err := src.Token()
				if err != nil {
					t.Fatal(err)
				}
				Invalidate(src, tt.invalidate(t, src, first))
				tok, err := src.Token()
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff([2]any{tt.wantToken, tt.wantLogins}, [2]any{tok.AccessToken, login.count()}); diff != "" {
					t.Errorf("token and logins mismatch (-want +got):\n%s", diff)
				}
				// The store holds the token in use, never a refused one.
				if _, value := store.only(t); !bytes.Equal(value, src.(*cachedSource).current.Load().origin.sealed) {
					t.Error("the store does not hold the current token")
				}
			})
		})
	}
}

// TestInvalidateOtherSources: a source that is not this package's is left
// alone, without panic.
func TestInvalidateOtherSources(t *testing.T) {
	tok := &oauth2.Token{AccessToken: "svc-token"}
	for name, src := range map[string]oauth2.TokenSource{
		"service token": ServiceTokenSource("svc-token"),
		"static":        oauth2.StaticTokenSource(tok),
		"reuse wrapper": oauth2.ReuseTokenSource(nil, oauth2.StaticTokenSource(tok)),
		"nil":           nil,
	} {
		t.Run(name, func(t *testing.T) {
			Invalidate(src, tok)
			if src == nil {
				return
			}
			if got, err := src.Token(); err != nil || got.AccessToken != "svc-token" {
				t.Errorf("after Invalidate: %v, %v; want svc-token", got, err)
			}
		})
	}
}

// TestInvalidateConcurrent: 20 goroutines that each hand back the same
// refused token and call Token share one login.
func TestInvalidateConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		login := newLoginServer()
		login.delay = 100 * time.Millisecond
		src := newTestSource(login) // no store, whose lock would hide a login per caller
		first, err := src.Token()
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Minute)
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				Invalidate(src, first)
				if tok, err := src.Token(); err != nil || tok.AccessToken != "token-2" {
					t.Errorf("got %v, %v; want token-2", tok, err)
				}
			})
		}
		wg.Wait()
		if n := login.count(); n != 2 {
			t.Errorf("%d logins, want 2: the first, and one for 20 Invalidate calls", n)
		}
	})
}
