package main

import (
	"io"
	"testing"

	"github.com/seed9ffb1f9c/recitaloauth/internal/redistest"
)

// TestFleet runs the example against a redis-server of its own and checks
// its figures: every machine at work in each of the three lifetimes, none
// of its requests refused; about one login per lifetime for the four
// machines, not one per machine (each would replace its token when a
// quarter of its life is left: 16 logins); and one login to heal them all
// after a revocation. The lifetimes count from the moment every machine
// has its first token, so a busy machine's slow start takes none of them.
func TestFleet(t *testing.T) {
	f, err := run(io.Discard, redistest.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	for m, sent := range f.sent {
		for n, requests := range sent {
			if requests == 0 {
				t.Errorf("machine %d sent no request in lifetime %d of %d: the fleet did not work through them (%v)", m+1, n+1, lifetimes, f.sent)
			}
		}
	}
	if f.refused != 0 {
		t.Errorf("%d of %d requests refused, want none", f.refused, f.requests)
	}
	// A token is replaced when a quarter of its life is left: 4 logins in
	// 3 lifetimes on a quiet machine, fewer when a loaded one lags, and
	// one more when a token a machine finds in the store has too little
	// life left to be used.
	if f.logins < 2 || f.logins > 5 {
		t.Errorf("%d logins over %d lifetimes for %d machines, want 2 to 5: about one per lifetime", f.logins, lifetimes, machines)
	}
	if f.healLogins != 1 || f.healed != machines {
		t.Errorf("after the revocation %d of %d machines healed with %d logins, want all with 1", f.healed, machines, f.healLogins)
	}
}
