package recitaloauth

import (
	"context"
	"sync/atomic"
	"time"
	"weak"

	"github.com/seed9ffb1f9c/recitaloauth/internal/bearer"

	"golang.org/x/oauth2"
)

// credential is a token made ready for requests: its Authorization header
// value is built once, not on every request, and the cache's timings are
// worked out once, not on every Token call.
type credential struct {
	token  *oauth2.Token // never handed out: callers get copies
	header string        // "Bearer " + token.AccessToken

	obtained  time.Time // when the login that made it started
	refreshAt time.Time // from then on, Token starts a background login
	hardLimit time.Time // from then on, Token waits for a new login

	*storeCopy // nil until it is saved to or taken from the store

	batch atomic.Pointer[weak.Pointer[tokenBatch]] // copyToken's current batch, or nil
}

// storeCopy is what a credential has to do with the store: apart, so that
// a source without a store (or before it saves) does not carry it. Its
// methods answer for a nil one: a token the store never saw.
type storeCopy struct {
	sealed []byte // its value in the store, for compare-and-delete; nil if none
	key    string // the store key sealed is under

	// Where it came from, for what a 401 means (cachedSource.rejected).
	borrowed bool         // taken from the store, not this source's own login
	foreign  bool         // borrowed, and saved by another machine
	machine  string       // the machine that saved it, for a borrowed one
	worked   *atomic.Bool // for a foreign one: a request with it got an answer other than 401
}

// isBorrowed reports whether the token was taken from the store, not made
// by this source's own login.
func (c *storeCopy) isBorrowed() bool { return c != nil && c.borrowed }

// isForeign reports whether the token was borrowed, and saved by another
// machine.
func (c *storeCopy) isForeign() bool { return c != nil && c.foreign }

// sealedValue is the token's value in the store, or nil if none.
func (c *storeCopy) sealedValue() []byte {
	if c == nil {
		return nil
	}
	return c.sealed
}

// hasWorked reports whether a request with a foreign c got an answer
// other than 401.
func (c *storeCopy) hasWorked() bool { return c != nil && c.worked != nil && c.worked.Load() }

// answered records that a request with c got an answer other than 401:
// then a foreign token travels, and a later 401 is a revocation, not
// binding to an IP address. Only the first answer writes.
func (c *storeCopy) answered() {
	if c != nil && c.worked != nil && !c.worked.Load() {
		c.worked.Store(true)
	}
}

func newCredential(tok *oauth2.Token) *credential {
	return &credential{token: tok, header: "Bearer " + tok.AccessToken}
}

// copyToken returns a token of the caller's own: oauth2.ReuseTokenSource
// writes into the tokens it receives, so one source feeding several
// oauth2.NewClient clients must not hand them one token. Allocating and
// filling each copy was most of a cached Token call's time; so copies
// come in batches of tokenBatchSize, allocated and filled in one go, and
// each call takes the next slot with one atomic add. Each slot is handed
// out once and never written again by the source. The credential holds
// its batch through a weak pointer: the tokens handed out from it keep it
// alive, the source does not, so an idle source holds no batch.
func (c *credential) copyToken() *oauth2.Token {
	if ref := c.batch.Load(); ref != nil {
		if b := ref.Value(); b != nil {
			if i := b.next.Add(1); i <= tokenBatchSize {
				return &b.tokens[i-1]
			}
		}
	}
	return c.newBatch()
}

// newBatch fills a new batch with copies of c's token, makes it c's
// batch, and returns its first slot. Callers that find the old batch
// used up at the same moment each make one; the last stays.
func (c *credential) newBatch() *oauth2.Token {
	b := new(tokenBatch)
	for i := range b.tokens {
		b.tokens[i] = *c.token
	}
	b.next.Store(1)
	ref := weak.Make(b)
	c.batch.Store(&ref)
	return &b.tokens[0]
}

// tokenBatchSize is how many tokens one allocation makes: enough that
// the allocation, the filling and the weak pointer's making weigh little
// per call (at 16 they made Token slower than a sync.Pool of batches
// filled at hand-out). A caller that keeps one token keeps its whole
// batch (about 6.6 KiB) until it lets go of it: an oauth2.NewClient
// client keeps one token at a time.
const tokenBatchSize = 64

// tokenBatch is copies of one credential's token, handed out in order:
// next counts the slots taken.
type tokenBatch struct {
	next   atomic.Int32
	tokens [tokenBatchSize]oauth2.Token
}

// credentialSource is what the transport needs from a token source: a
// credential, and a way to report that the server refused one.
type credentialSource interface {
	// credential returns the credential to use now; ctx bounds a wait.
	credential(ctx context.Context) (*credential, error)

	// rejected reports that a request sent with c got 401. It returns
	// whether a retry with a new credential may succeed.
	rejected(c *credential) bool
}

// reuseSource adapts a token source of another kind (the caller's own) to
// the transport, cached with oauth2.ReuseTokenSource just as oauth2.NewClient
// would.
type reuseSource struct{ src oauth2.TokenSource }

func (r reuseSource) credential(context.Context) (*credential, error) {
	tok, err := r.src.Token()
	if err != nil {
		return nil, err
	}
	return &credential{token: tok, header: tok.Type() + " " + tok.AccessToken}, nil
}

func (reuseSource) rejected(*credential) bool { return false }

// isBearerToken is the one syntax check of a bearer token: see package
// bearer.
func isBearerToken(s string) bool { return bearer.Valid(s) }
