// Package storekey holds the one rule for the keys a store is given, and
// the one bound on its values, so that the source, the file store and
// the redis store agree on them.
package storekey

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// MaxValue bounds a value, for every store and for the source that opens
// it: a sealed token is a few hundred bytes, and a larger value is not one
// of ours. A store reads no more than this of what it holds, so that a
// huge value planted in it costs no memory.
const MaxValue = 64 << 10

// MaxLen bounds a key, so that a file store's "<key>.token" stays well
// inside the 255 bytes a file name may have.
const MaxLen = 200

// Check returns an error unless key is 1 to [MaxLen] ASCII letters,
// digits and '-': such a key is a safe file name on every system (no
// separator, no dot, no "..") and cannot reach into a redis store's
// "<key>:lock" names.
func Check(key string) error {
	if key == "" || len(key) > MaxLen {
		return fmt.Errorf("recitaloauth: store key of %d bytes: want 1 to %d", len(key), MaxLen)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("recitaloauth: store key %.40q: want only letters, digits and '-'", key)
		}
	}
	return nil
}

// For names a user's value in a store: a hash of the login URL and
// username only, never of the password, so every process finds the same
// value whatever password it holds.
func For(authURL, username string) string {
	sum := sha256.Sum256([]byte("recitaloauth/v1\x00" + authURL + "\x00" + username))
	return hex.EncodeToString(sum[:])
}

// ForMachine names the value the processes of one machine share once
// tokens are found bound to IP addresses: a hash of the shared key and
// the machine's name.
func ForMachine(key, machine string) string {
	sum := sha256.Sum256([]byte("recitaloauth/v1 machine\x00" + key + "\x00" + machine))
	return hex.EncodeToString(sum[:])
}
