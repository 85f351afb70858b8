package recitaloauth

// The sealed value itself, below the store tests: its format, its
// randomness, and what a value must hold to open.

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/argon2"
	"golang.org/x/oauth2"
)

const (
	goldenURL, goldenUser, goldenPassword = "https://auth.example/login/", "ana@example.com", "s3cret"
	// goldenValue was sealed once by this package for golden-token,
	// expiring at goldenExpiry, obtained an hour before, saved by
	// goldenMachine, under testCost
	// (kdf_test.go). A change of the sealed format must update it, and
	// bump sealVersion: the values in stores out there stop opening.
	goldenValue = "02458ada8c2d2f8af7636ddfaf20122307926af5a7a154ca76620f1bee56e4a0620f7959ac9f396bcd76b71695000061743a2dbd92f3e37bc1f6333c8d4ba41e3a4d13c18cca4237470aa10303fe9757ddcce589a0427721ae7b0d96b00949694490b16df66aee30c6065ddc31c689696a8ae2bd691a1ad0c5d94db89bf41d9841250ae9cba4b5a85558861adf1fdfcc3669522851d4b94428bbb598fec0c30c13d630ae670a10e88d3a8197a6222f09826e570c63fceeba8fd60c97"
)

var goldenExpiry = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// goldenMachine is the saver's machine sealed into the values here.
const goldenMachine = "golden-host"

// opener is a sealer at the start of a login, with its share of
// derivations to open a value under a salt it has no key for.
func opener() *sealer {
	s := newSealer(goldenURL, goldenUser, goldenPassword)
	s.newLogin()
	return s
}

// sealedFields is what a test compares of a credential that opened.
func sealedFields(cred *credential) []any {
	return []any{cred.token.AccessToken, cred.token.TokenType, cred.token.Expiry.UTC(), cred.obtained.UTC(), cred.authorization(), cred.origin.machine}
}

// TestSealGolden: a value of the current format opens, with every field,
// for its password, user and login URL.
func TestSealGolden(t *testing.T) {
	value, err := hex.DecodeString(goldenValue)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := opener().open(value)
	if err != nil {
		t.Fatalf("the golden value does not open: %v", err)
	}
	want := []any{"golden-token", "Bearer", goldenExpiry, goldenExpiry.Add(-time.Hour), "Bearer golden-token", goldenMachine}
	if diff := cmp.Diff(want, sealedFields(cred)); diff != "" {
		t.Errorf("the golden value opened to (-want +got):\n%s", diff)
	}
}

// TestSealRandom: each value has a nonce of its own; a source's values
// share its salt (one derivation), and two sources' first values do not;
// neither is left zero.
func TestSealRandom(t *testing.T) {
	cred := newCredential(&oauth2.Token{AccessToken: "tok", TokenType: "Bearer", Expiry: goldenExpiry}, goldenExpiry.Add(-time.Hour))
	seal := func(s *sealer) (salt, nonce []byte) {
		t.Helper()
		value, err := s.seal(cred, goldenMachine)
		if err != nil {
			t.Fatal(err)
		}
		return value[1 : 1+saltSize], value[1+saltSize : headerSize]
	}
	a, b := newSealer(goldenURL, goldenUser, goldenPassword), newSealer(goldenURL, goldenUser, goldenPassword)
	salt1, nonce1 := seal(a)
	salt2, nonce2 := seal(a)
	salt3, nonce3 := seal(b)
	if !bytes.Equal(salt1, salt2) {
		t.Errorf("one source sealed with salts %x and %x, want one", salt1, salt2)
	}
	if bytes.Equal(salt1, salt3) {
		t.Errorf("two sources sealed with the same salt %x", salt1)
	}
	if bytes.Equal(nonce1, nonce2) || bytes.Equal(nonce1, nonce3) || bytes.Equal(nonce2, nonce3) {
		t.Errorf("nonces repeat: %x %x %x", nonce1, nonce2, nonce3)
	}
	zero := make([]byte, saltSize)
	for _, v := range [][]byte{salt1, salt3, nonce1, nonce2, nonce3} {
		if bytes.Equal(v, zero[:len(v)]) {
			t.Errorf("a salt or nonce is all zeros: %x", v)
		}
	}
}

// TestSealOpens: a value opens to what was sealed, and a value whose
// content cannot be a token (no expiry, obtained at or after its expiry,
// not a bearer token) does not, even sealed with the right key.
func TestSealOpens(t *testing.T) {
	for _, tt := range []struct {
		name     string
		token    string
		expiry   time.Time
		obtained time.Time
		wantOpen bool
	}{
		{"a token", "tok", goldenExpiry, goldenExpiry.Add(-time.Hour), true},
		{"obtained a moment before expiry", "tok", goldenExpiry, goldenExpiry.Add(-time.Nanosecond), true},
		{"obtained at its expiry", "tok", goldenExpiry, goldenExpiry, false},
		{"obtained after its expiry", "tok", goldenExpiry, goldenExpiry.Add(time.Hour), false},
		{"no expiry", "tok", time.Time{}, goldenExpiry, false},
		{"no expiry, obtained before it", "tok", time.Time{}, time.Time{}.Add(-time.Hour), false},
		{"not a bearer token", "to k", goldenExpiry, goldenExpiry.Add(-time.Hour), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cred := newCredential(&oauth2.Token{AccessToken: tt.token, TokenType: "Bearer", Expiry: tt.expiry}, tt.obtained)
			cred.origin = &origin{machine: goldenMachine} // as it will open: the saver's machine
			value, err := newSealer(goldenURL, goldenUser, goldenPassword).seal(cred, goldenMachine)
			if err != nil {
				t.Fatal(err)
			}
			got, err := opener().open(value)
			switch {
			case !tt.wantOpen:
				if !errors.Is(err, errSealed) {
					t.Errorf("open = %v, %v; want errSealed", got, err)
				}
			case err != nil:
				t.Errorf("open: %v", err)
			default:
				if diff := cmp.Diff(sealedFields(cred), sealedFields(got)); diff != "" {
					t.Errorf("opened (-want +got):\n%s", diff)
				}
				if !bytes.Equal(got.origin.sealed, value) {
					t.Errorf("the credential does not keep the value it came from")
				}
			}
		})
	}
}

// TestSealAdoptsSalt: a source that has sealed with its salt opens another
// source's value, sealed with another salt, and from then on seals with
// that salt, so that the processes sharing a store soon derive one key.
func TestSealAdoptsSalt(t *testing.T) {
	cred := newCredential(&oauth2.Token{AccessToken: "tok", TokenType: "Bearer", Expiry: goldenExpiry}, goldenExpiry.Add(-time.Hour))
	a, b := newSealer(goldenURL, goldenUser, goldenPassword), newSealer(goldenURL, goldenUser, goldenPassword)
	if _, err := a.seal(cred, goldenMachine); err != nil {
		t.Fatal(err)
	}
	fromB, err := b.seal(cred, goldenMachine)
	if err != nil {
		t.Fatal(err)
	}
	a.newLogin()
	if _, err := a.open(fromB); err != nil {
		t.Fatalf("a source does not open another's value: %v", err)
	}
	fromA, err := a.seal(cred, goldenMachine)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fromA[1:1+saltSize], fromB[1:1+saltSize]; !bytes.Equal(got, want) {
		t.Errorf("after opening a value with salt %x, the source seals with %x", want, got)
	}
}

// productionCost is argonCost as the package sets it, before init lowers it.
var productionCost = argonCost

// testCost keeps t=2, the production time, so that a derivation that
// ignores argonCost.time still changes every key; memory is argon2's
// floor of 8 KiB per thread.
var testCost = struct{ time, memory uint32 }{2, 8}

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
