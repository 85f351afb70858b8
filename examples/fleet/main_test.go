package main

import (
	"io"
	"testing"

	"github.com/seed9ffb1f9c/recitaloauth/internal/redistest"
)

// TestFleet runs the example against a redis-server of its own and checks
// its figures: no request refused through three lifetimes, about one
// login per lifetime for the four machines, and one login to heal them
// all after a revocation.
func TestFleet(t *testing.T) {
	f, err := run(io.Discard, redistest.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	if f.requests < 100 || f.refused != 0 {
		t.Errorf("%d requests, %d refused; want over 100, none refused", f.requests, f.refused)
	}
	if f.logins < 3 || f.logins > 5 {
		t.Errorf("%d logins over 3 lifetimes for %d machines, want 3 to 5: one per lifetime", f.logins, machines)
	}
	if f.healLogins != 1 || f.healed != machines {
		t.Errorf("after the revocation %d of %d machines healed with %d logins, want all with 1", f.healed, machines, f.healLogins)
	}
}
