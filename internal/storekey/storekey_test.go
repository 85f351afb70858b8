package storekey

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		key  string
		good bool
	}{
		{"a", true},
		{"Token-0123456789-abcXYZ", true},
		{strings.Repeat("k", MaxLen), true},
		{"", false},
		{strings.Repeat("k", MaxLen+1), false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{`a\b`, false},
		{"a.token", false},
		{"a:lock", false},
		{"{a}", false},
		{"a b", false},
		{"a_b", false},
		{"ä", false},
		{"a\x00", false},
	} {
		if err := Check(tt.key); (err == nil) != tt.good {
			t.Errorf("Check(%.20q) = %v, want good: %v", tt.key, err, tt.good)
		}
	}
}

// TestKeysStable: the keys are the ones earlier versions used (SHA-256
// of the inputs, computed apart from this code): a changed key would lose
// every token already stored, and make processes of two versions log in
// each for itself. They are valid keys, and each input changes them.
func TestKeysStable(t *testing.T) {
	const url, user = "https://auth.example/login/", "ana@example.com"
	key := For(url, user)
	if want := "6994a094e2708f42ad6f8dfd62d9879673688eb9b14daea9a6155e6272e00ebf"; key != want {
		t.Errorf("For = %s, want %s", key, want)
	}
	machine := ForMachine(key, "host-a")
	if want := "c3ab0305fd84424144fe9452436f97d8a0ec6dfd8b50f7550772f8733b9f9611"; machine != want {
		t.Errorf("ForMachine = %s, want %s", machine, want)
	}
	others := []string{For(url+"x", user), For(url, user+"x"), ForMachine(key, "host-b"), ForMachine(For(url, "bob"), "host-a")}
	for _, k := range append(others, key, machine) {
		if err := Check(k); err != nil {
			t.Error(err)
		}
	}
	for i, k := range others {
		if k == key || k == machine {
			t.Errorf("key %d is the same for other inputs", i)
		}
	}
}
