package recitaloauth

import "testing"

// TestCachedTokenAllocations: a cached Token call makes exactly one
// allocation, the caller's own copy of the token: nothing else on the
// path allocates.
func TestCachedTokenAllocations(t *testing.T) {
	src := newTestSource(newLoginServer())
	if _, err := src.Token(); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := src.Token(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 1 {
		t.Errorf("%v allocations per cached Token call, want 1: the copy", allocs)
	}
}
