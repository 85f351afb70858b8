package recitaloauth

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/oauth2"
)

// A sealed value is what a Store sees of a token:
//
//	version (1 byte) | salt (16 bytes) | nonce (12 bytes) | AES-256-GCM ciphertext and tag
//
// The key is argon2id(password, SHA-256(salt, login URL, username)): a
// derivation tests a guess for one account only, and a salt planted in a
// store buys nothing for another. The associated data is the version and
// salt, then the login URL and username, so that a value opens only for
// the same password, user and login URL, and only in this format. A value
// that does not open is never trusted: the source logs in and replaces
// it, and never adopts its salt.
const (
	sealVersion = 2
	saltSize    = 16
	nonceSize   = 12 // GCM's standard nonce
	headerSize  = 1 + saltSize + nonceSize

	// argon2id at OWASP's minimum (m=19 MiB, t=2, p=1). The derivation is
	// what a guess of the password against a stolen value costs; a source
	// pays it once per salt, and at most maxOpenDerivations+1 times per
	// login whatever the store holds.
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	keySize      = 32 // AES-256

	// maxOpenDerivations bounds the keys one login derives to open values
	// under salts it has no key for: a store writer rotating salts must
	// not buy a derivation per look. Sealing derives at most once more,
	// the first time a source has no key at all.
	maxOpenDerivations = 1
)

// argonCost is argonTime and argonMemory, in a variable only so that the
// package's tests can lower it (kdf_test.go, where TestKDFProduction pins
// the production derivation).
var argonCost = struct{ time, memory uint32 }{argonTime, argonMemory}

// errSealed is why a value did not open. It says no more on purpose.
var errSealed = errors.New("recitaloauth: a stored value does not open with this password, user and login URL")

// sealedToken is what a sealed value holds: times are wall-clock UTC, so a
// process on another machine, or after a sleep, reads them right.
type sealedToken struct {
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	Expiry      time.Time `json:"expiry"`
	Obtained    time.Time `json:"obtained"` // when the login that made it started
	Machine     string    `json:"machine"`  // the saver's machine: see sharer.machine
}

// sealer seals and opens the values of one source. It derives a key once
// per salt, and seals with the salt of the last value it opened, so that
// every process sharing a store soon uses one salt and derives once; a
// value that does not open leaves its key and salt as they were. It is
// used only by a source's login goroutine (one at a time), so it needs no
// lock.
type sealer struct {
	password []byte
	context  []byte // login URL and username, bound to every value
	salt     []byte // the salt of aead: of a value that opened, or fresh; nil until then
	aead     cipher.AEAD

	opensLeft   int // derivations open may still make in this login; see newLogin
	derivations int // made by this sealer, for tests
}

func newSealer(authURL, username, password string) *sealer {
	return &sealer{password: []byte(password), context: []byte(authURL + "\x00" + username)}
}

// newLogin gives a login its share of derivations.
func (s *sealer) newLogin() { s.opensLeft = maxOpenDerivations }

// seal makes the value for cred's token, saved by machine.
func (s *sealer) seal(cred *credential, machine string) ([]byte, error) {
	if s.aead == nil {
		salt := make([]byte, saltSize)
		rand.Read(salt)
		s.salt, s.aead = salt, s.derive(salt)
	}
	plain, err := json.Marshal(sealedToken{
		AccessToken: cred.token.AccessToken,
		TokenType:   cred.token.TokenType,
		Expiry:      cred.token.Expiry.UTC(),
		Obtained:    cred.obtained.UTC(),
		Machine:     machine,
	})
	if err != nil {
		return nil, err
	}
	value := make([]byte, headerSize, headerSize+len(plain)+s.aead.Overhead())
	value[0] = sealVersion
	copy(value[1:], s.salt)
	rand.Read(value[1+saltSize : headerSize])
	return s.aead.Seal(value, value[1+saltSize:headerSize], plain, s.additional(value[:1+saltSize])), nil
}

// open returns the credential a value holds, or errSealed.
func (s *sealer) open(value []byte) (*credential, error) {
	if len(value) < headerSize || value[0] != sealVersion {
		return nil, errSealed
	}
	salt, aead := value[1:1+saltSize], s.aead
	if !bytes.Equal(salt, s.salt) {
		if s.opensLeft <= 0 {
			return nil, errSealed
		}
		s.opensLeft--
		aead = s.derive(salt)
	}
	plain, err := aead.Open(nil, value[1+saltSize:headerSize], value[headerSize:], s.additional(value[:1+saltSize]))
	if err != nil {
		return nil, errSealed
	}
	var stored sealedToken
	if json.Unmarshal(plain, &stored) != nil || !isBearerToken(stored.AccessToken) ||
		stored.Expiry.IsZero() || !stored.Obtained.Before(stored.Expiry) {
		return nil, errSealed
	}
	if aead != s.aead { // only a value that opened chooses the salt
		s.salt, s.aead = bytes.Clone(salt), aead
	}
	tok := &oauth2.Token{AccessToken: stored.AccessToken, TokenType: stored.TokenType, Expiry: stored.Expiry.Local()}
	cred := newCredential(tok, stored.Obtained.Local())
	cred.origin = &origin{sealed: value, machine: stored.Machine}
	return cred, nil
}

// derive makes the key for salt: the slow step (some 35 ms). The salt
// argon2id gets binds the login URL and username, so that one derivation
// tests a guess for one account only.
func (s *sealer) derive(salt []byte) cipher.AEAD {
	block, _ := aes.NewCipher(s.key(salt)) // a 32-byte key always makes a cipher
	aead, _ := cipher.NewGCM(block)
	return aead
}

func (s *sealer) key(salt []byte) []byte {
	s.derivations++
	return argon2.IDKey(s.password, s.kdfSalt(salt), argonCost.time, argonCost.memory, argonThreads, keySize)
}

// kdfSalt is what argon2id gets for a value's salt: a hash of it with the
// login URL and username.
func (s *sealer) kdfSalt(salt []byte) []byte {
	bound := sha256.Sum256(append(append([]byte("recitaloauth/v2 kdf\x00"), salt...), s.context...))
	return bound[:]
}

func (s *sealer) additional(header []byte) []byte {
	return append(append(bytes.Clone(header), 0), s.context...)
}
