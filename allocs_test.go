package recitaloauth

import "testing"

// TestCachedTokenAllocations: a cached Token call costs well under one
// allocation: the copies are carved out of batches (copyToken), so a
// program that calls Token on every request does not allocate a token per
// request.
func TestCachedTokenAllocations(t *testing.T) {
	src := newTestSource(newLoginServer())
	if _, err := src.Token(); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := src.Token(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0.25 {
		t.Errorf("%.2f allocations per cached Token call, want at most 0.25", allocs)
	}
}
