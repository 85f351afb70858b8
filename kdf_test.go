package recitaloauth

// The package's tests derive keys at a cost of microseconds instead of
// argon2id's production cost (tens of milliseconds, more under -race, and
// paid once per salt): the derivation is in nearly every store test, and
// the mutation run (.ci/mutation) runs the whole suite once per mutant.
// TestKDFProduction is what still pins the production derivation, and the
// benchmarks that time the derivation put the production cost back.

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"testing"

	"golang.org/x/crypto/argon2"
)

// productionCost is argonCost as the package sets it, before init lowers it.
var productionCost = argonCost

// testCost keeps t=2, the production time, so that a derivation that
// ignores argonCost.time still changes every key; memory is argon2's
// floor of 8 KiB per thread.
var testCost = struct{ time, memory uint32 }{2, 8}

func init() { argonCost = testCost }

// withProductionKDF gives b the production derivation, for a benchmark
// that times it. Benchmarks run after every test, so no test sees it.
func withProductionKDF(b *testing.B) {
	argonCost = productionCost
	b.Cleanup(func() { argonCost = testCost })
}

// TestKDFProduction pins the production derivation with a known answer,
// computed once with argon2id(m=19 MiB, t=2, p=1, 32 bytes): a change to
// the cost or the key size fails here; and it checks that derive uses the
// cost in argonCost, its threads and key size, and AES-256-GCM, so that
// lowering the cost in tests tests the same code.
func TestKDFProduction(t *testing.T) {
	password, salt := []byte("s3cret"), bytes.Repeat([]byte{7}, saltSize)
	const want = "450cabdf43ba83e1e3c944ce5e1c8a66f092e22932ae135f8cf0a609ff0dd8bb"
	if got := hex.EncodeToString(argon2.IDKey(password, salt, productionCost.time, productionCost.memory, argonThreads, keySize)); got != want {
		t.Errorf("production argon2id key = %s, want %s: the production cost or key size changed", got, want)
	}

	s := newSealer("https://auth.example/login/", "ana@example.com", string(password))
	derived := s.derive(salt)
	block, err := aes.NewCipher(argon2.IDKey(password, s.kdfSalt(salt), argonCost.time, argonCost.memory, 1, 32))
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, nonceSize)
	if got, want := derived.Seal(nil, nonce, []byte("plain"), nil), aead.Seal(nil, nonce, []byte("plain"), nil); !bytes.Equal(got, want) {
		t.Errorf("derive's cipher sealed %x, want %x: argon2id(argonCost, 1 thread, 32 bytes) under AES-GCM", got, want)
	}
}
