package recitaloauth

import (
	"os"
	"testing"
)

// TestMain is the setup of every test in this package's test binary, the
// external tests (package recitaloauth_test) included:
//
//   - keys are derived at testCost, microseconds, instead of argon2id's
//     production cost (tens of milliseconds, more under -race, and paid
//     once per salt): the derivation is in nearly every store test, and
//     .ci/mutation runs the whole suite once per mutant. TestKDFProduction
//     still pins the production derivation, and the benchmarks that time
//     it put the production cost back (withProductionKDF);
//   - what AfterTests was given runs once every test has run.
func TestMain(m *testing.M) {
	argonCost = testCost
	code := m.Run()
	for _, f := range afterTests {
		f()
	}
	os.Exit(code)
}

var afterTests []func()

// AfterTests has f run once every test of the binary has run: for what
// several tests share, such as the fleet's child binary (fleet_test.go),
// built once. Exported for the external tests; it exists only in tests.
func AfterTests(f func()) { afterTests = append(afterTests, f) }
