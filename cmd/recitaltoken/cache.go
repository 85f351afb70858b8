package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/oauth2"
)

// The token cache keeps the last login's token, so that a shell loop
// running the command a hundred times logs in once, not a hundred times
// (recital may lock an account that logs in too often).
//
// A file holds the token encrypted with AES-256-GCM under a key derived
// from the password with PBKDF2-HMAC-SHA256 and a random salt; the auth
// URL and username are the additional data, so a file moved to another
// account's name does not open either. Encryption rather than a stored
// password verifier: a run with another password cannot even read the
// token, so it logs in (and gets the server's 401 if the password is
// wrong), and the file holds nothing to check a guessed password against
// but the slow derivation itself. The file name is a hash of the auth URL
// and username only, never of the password.
const (
	cacheDirName = "recitaloauth"
	cacheVersion = 1

	// pbkdf2Iterations sets the cost of one derivation, paid once per run
	// (up to twice when a run logs in) and once per guess of the password
	// against a stolen file. 150,000 iterations took 30 ms on one AMD EPYC
	// core with Go 1.26: a run stays quick, and a shell loop of a hundred
	// runs spends 3 s on it. A guess costs as much as 150,000 HMACs, not
	// one hash, though a farm of GPUs still guesses faster than recital's
	// login would let anyone; OWASP's 600,000 iterations would cost 120 ms
	// per run for a fourfold gain. The file is private to the user (0600),
	// so whoever can read it can usually act as that user already.
	pbkdf2Iterations = 150_000
	saltSize         = 16
	keySize          = 32 // AES-256
	nonceSize        = 12 // GCM's standard nonce

	// maxCacheFile bounds what is read; a real file is a few hundred bytes.
	maxCacheFile = 64 << 10

	// minLifeLeft is how long a cached token must still live to be handed
	// out: a script needs a little time to use it.
	minLifeLeft = time.Minute
)

// cacheFile is the JSON on disk. Byte slices are base64.
type cacheFile struct {
	Version    int    `json:"version"`
	Iterations int    `json:"iterations"`
	Salt       []byte `json:"salt"`
	Nonce      []byte `json:"nonce"`
	Sealed     []byte `json:"sealed"` // the sealed cachedToken
}

// cachedToken is what is encrypted.
type cachedToken struct {
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	Expiry      time.Time `json:"expiry"`
}

// cacheEntry is the cache file of one username at one login URL, with the
// password that opens it. It is not safe for concurrent use, but files
// are replaced atomically, so concurrent processes are safe.
type cacheEntry struct {
	dir      string
	path     string
	aad      []byte // binds the file to its login URL and username
	password string
}

// defaultCacheDir is os.UserCacheDir()/recitaloauth.
func defaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, cacheDirName), nil
}

func newCacheEntry(dir, authURL, username, password string) *cacheEntry {
	id := authURL + "\x00" + username
	sum := sha256.Sum256([]byte(id))
	return &cacheEntry{
		dir:      dir,
		path:     filepath.Join(dir, "token-"+hex.EncodeToString(sum[:])+".json"),
		aad:      []byte("recitaltoken v1\x00" + id),
		password: password,
	}
}

// load returns the cached token, or nil if there is none this password
// opens with more than minLifeLeft to live. A file that is not a private
// regular file of the user's, or is malformed in any way, counts as none:
// it is never trusted, and the next store replaces it.
func (e *cacheEntry) load() *oauth2.Token {
	data, ok := readPrivate(e.path)
	if !ok {
		return nil
	}
	var f cacheFile
	if json.Unmarshal(data, &f) != nil || f.Version != cacheVersion || f.Iterations != pbkdf2Iterations ||
		len(f.Salt) != saltSize || len(f.Nonce) != nonceSize {
		return nil
	}
	aead, err := e.aead(f.Salt)
	if err != nil {
		return nil
	}
	plain, err := aead.Open(nil, f.Nonce, f.Sealed, e.aad)
	if err != nil {
		return nil // another password, another account, or a damaged file; the tag check is constant-time
	}
	var tok cachedToken
	if json.Unmarshal(plain, &tok) != nil || tok.AccessToken == "" || time.Until(tok.Expiry) <= minLifeLeft {
		return nil
	}
	return &oauth2.Token{AccessToken: tok.AccessToken, TokenType: tok.TokenType, Expiry: tok.Expiry}
}

// store replaces the cache file with one holding tok, atomically: another
// process reads the old file or the new one, never half of one.
func (e *cacheEntry) store(tok *oauth2.Token) error {
	plain, err := json.Marshal(cachedToken{AccessToken: tok.AccessToken, TokenType: tok.Type(), Expiry: tok.Expiry})
	if err != nil {
		return err
	}
	salt := make([]byte, saltSize)
	nonce := make([]byte, nonceSize)
	rand.Read(salt)
	rand.Read(nonce)
	aead, err := e.aead(salt)
	if err != nil {
		return err
	}
	data, err := json.Marshal(cacheFile{
		Version:    cacheVersion,
		Iterations: pbkdf2Iterations,
		Salt:       salt,
		Nonce:      nonce,
		Sealed:     aead.Seal(nil, nonce, plain, e.aad),
	})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(e.dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(e.dir, 0o700); err != nil { // MkdirAll leaves an old directory as it was
		return err
	}
	return writeAtomic(e.path, data)
}

// lock takes the cache directory's lock, so that runs started together
// log in once between them, and returns its release. It is best effort: a
// lock that cannot be taken costs a login, never the run.
func (e *cacheEntry) lock() (unlock func()) {
	if err := os.MkdirAll(e.dir, 0o700); err != nil {
		return func() {}
	}
	f, err := os.OpenFile(filepath.Join(e.dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return func() {}
	}
	if !lockFile(f) {
		f.Close()
		return func() {}
	}
	return func() { f.Close() } // closing releases the lock
}

// remove deletes the cache file, if there is one.
func (e *cacheEntry) remove() error {
	if err := os.Remove(e.path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// aead derives the key from the password and salt: the slow step.
func (e *cacheEntry) aead(salt []byte) (cipher.AEAD, error) {
	key, err := pbkdf2.Key(sha256.New, e.password, salt, pbkdf2Iterations, keySize)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// readPrivate reads path if it is a regular file, owned by the user, that
// nobody else may read or write, and not larger than maxCacheFile. The
// checks apply to the file opened, not just to the name, so that a file
// swapped in between is caught.
func readPrivate(path string) ([]byte, bool) {
	named, err := os.Lstat(path)
	if err != nil || !named.Mode().IsRegular() {
		return nil, false // missing, a symbolic link, a directory, a pipe...
	}
	f, err := openNoFollow(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	opened, err := f.Stat()
	if err != nil || !os.SameFile(named, opened) || !opened.Mode().IsRegular() ||
		!private(opened) || opened.Size() > maxCacheFile {
		return nil, false
	}
	data, err := io.ReadAll(io.LimitReader(f, maxCacheFile+1))
	if err != nil || len(data) > maxCacheFile {
		return nil, false
	}
	return data, true
}

// writeAtomic writes data to a new private file next to path, flushes it
// to disk and renames it over path.
func writeAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".token-*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
