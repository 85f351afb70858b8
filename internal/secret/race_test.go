//go:build race

package secret

// raceEnabled says the tests run under the race detector, which makes
// building the pattern of a 4 KiB password take half a minute.
const raceEnabled = true
