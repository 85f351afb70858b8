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
