package recitaloauth

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"
)

// TestCopiesAreTheCallersOwn: goroutines taking tokens at once, across
// many batches and the refills between them, each get tokens no one else
// got, equal to the source's, and may write into them (as
// oauth2.ReuseTokenSource does) without the race detector or the next
// caller noticing.
func TestCopiesAreTheCallersOwn(t *testing.T) {
	src := newTestSource(newLoginServer())
	want, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, calls = 4, 10 * tokenBatchSize
	got := make([][]*oauth2.Token, goroutines)
	var wg sync.WaitGroup
	for g := range got {
		wg.Go(func() {
			for range calls {
				tok, err := src.Token()
				if err != nil {
					t.Error(err)
					return
				}
				if tok.AccessToken != want.AccessToken || !tok.Expiry.Equal(want.Expiry) || tok.Extra("expires_in") == nil {
					t.Errorf("Token() = %q expiring %v, want a copy of %q expiring %v, with its Extra",
						tok.AccessToken, tok.Expiry, want.AccessToken, want.Expiry)
					return
				}
				tok.AccessToken = "scribbled"
				got[g] = append(got[g], tok)
			}
		})
	}
	wg.Wait()
	seen := map[*oauth2.Token]bool{want: true}
	for _, toks := range got {
		for _, tok := range toks {
			seen[tok] = true
		}
	}
	if len(seen) != goroutines*calls+1 {
		t.Errorf("%d calls handed out %d distinct tokens, want each its own", goroutines*calls+1, len(seen))
	}
	if tok, _ := src.Token(); tok.AccessToken != want.AccessToken {
		t.Errorf("after callers wrote into their tokens, Token() = %q, want %q", tok.AccessToken, want.AccessToken)
	}
}

// TestFirstCopyMadeAlone: a source asked once holds no batch; the second
// copy starts one.
func TestFirstCopyMadeAlone(t *testing.T) {
	src := newTestSource(newLoginServer())
	if _, err := src.Token(); err != nil {
		t.Fatal(err)
	}
	cred := src.current.Load()
	if cred.batch.Load() != nil {
		t.Fatal("a source asked for one token holds a batch")
	}
	src.Token()
	if cred.batch.Load() == nil {
		t.Fatal("a source asked for a second token holds no batch")
	}
}

// TestSlowCallerMakesNoBatch: a source asked batchIdle or more apart
// makes each copy alone, not a batch of 64 for one slot.
func TestSlowCallerMakesNoBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newTestSource(newLoginServer())
		if _, err := src.Token(); err != nil {
			t.Fatal(err)
		}
		cred := src.current.Load()
		for i := range 10 {
			time.Sleep(batchIdle)
			src.Token()
			if cred.batch.Load() != nil {
				t.Fatalf("call %d, %v after the one before, made a batch", i+2, batchIdle)
			}
		}
		src.Token() // asked again at once: now a batch pays
		if cred.batch.Load() == nil {
			t.Error("two calls at once made no batch")
		}
	})
}

// TestBusySourceLetsGoOnceIdle: a source used up several batches in a
// row, then idle, lets go of its last batch: the idle check set for its
// first batch looks again at the newer one. A source still busy keeps
// its batch.
func TestBusySourceLetsGoOnceIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newTestSource(newLoginServer())
		if _, err := src.Token(); err != nil {
			t.Fatal(err)
		}
		cred := src.current.Load()
		// Busy for 3 batchIdle: a batch and a half every tenth of it.
		for range 30 {
			for range 3 * tokenBatchSize / 2 {
				src.Token()
			}
			time.Sleep(batchIdle / 10)
		}
		if cred.batch.Load() == nil {
			t.Fatal("a busy source let go of its batch")
		}
		time.Sleep(3 * batchIdle)
		synctest.Wait()
		if cred.batch.Load() != nil {
			t.Errorf("a source idle for %v after using batches up still holds one", 3*batchIdle)
		}
	})
}

// TestTokenCallersHoldNoHeader: a source only asked for tokens never
// makes the Authorization header; a request makes it once, right.
func TestTokenCallersHoldNoHeader(t *testing.T) {
	login := newLoginServer()
	src := newTestSource(login)
	tok, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	cred := src.current.Load()
	if cred.header.Load() != nil {
		t.Fatal("Token made the Authorization header")
	}
	var sent []string
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		sent = append(sent, req.Header.Get("Authorization"))
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
	})
	client := &http.Client{Transport: &transport{base: base, source: src}}
	for range 2 {
		resp, err := client.Get("https://api.recital.invalid/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	header := cred.header.Load()
	if want := "Bearer " + tok.AccessToken; len(sent) != 2 || sent[0] != want || sent[1] != want || header == nil || *header != want {
		t.Errorf("requests sent Authorization %q, want %q twice, made once", sent, want)
	}
}

// TestForeignCredentialKept: NewClient over a source of another kind
// makes one credential per token that source gives, not one per request,
// and a new one when the token changes in place.
func TestForeignCredentialKept(t *testing.T) {
	tok := &oauth2.Token{AccessToken: "foreign-1", TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}
	src := credentialSourceOf(oauth2.StaticTokenSource(tok))
	first, err := src.credential(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	again, _ := src.credential(context.Background())
	if first != again || first.token != tok || first.authorization() != "Bearer foreign-1" {
		t.Errorf("two requests with one token made credentials %p and %p for %q, want one, for the token", first, again, first.authorization())
	}
	tok.AccessToken = "foreign-1b" // the source's owner changes its token in place
	if cred, _ := src.credential(context.Background()); cred.authorization() != "Bearer foreign-1b" {
		t.Errorf("after the token changed in place, requests send %q, want the new token", cred.authorization())
	}
	other := credentialSourceOf(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "foreign-2"}))
	if cred, _ := other.credential(context.Background()); cred.authorization() != "Bearer foreign-2" {
		t.Errorf("a second source's credential says %q, want its own token", cred.authorization())
	}
}
