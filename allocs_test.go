package recitaloauth

import "testing"

// TestCachedTokenAllocations: a cached Token call costs well under one
// allocation: the copies are carved out of batches (copyToken), so a
// program that calls Token on every request does not allocate a token per
// request. AllocsPerRun truncates to whole allocations per run, so each
// run is many calls.
func TestCachedTokenAllocations(t *testing.T) {
	src := newTestSource(newLoginServer())
	if _, err := src.Token(); err != nil {
		t.Fatal(err)
	}
	const calls = 10 * tokenBatchSize
	allocs := testing.AllocsPerRun(20, func() {
		for range calls {
			if _, err := src.Token(); err != nil {
				t.Fatal(err)
			}
		}
	}) / calls
	if allocs > 0.05 {
		t.Errorf("%.3f allocations per cached Token call, want at most 0.05", allocs)
	}
}
