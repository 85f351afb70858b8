package recitaloauth

import (
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// copies is where a credential's copies of its token come from. Each
// caller of Token gets a token of its own: oauth2.ReuseTokenSource writes
// into the tokens it receives, so one source feeding several
// oauth2.NewClient clients must not hand them one token. An allocation
// per call was most of a cached Token call's time, so a busy credential
// carves its copies out of batches of tokenBatchSize, made and filled in
// one go. Each slot is taken by one atomic add, handed out once, and never
// written again by the source.
//
// An idle source keeps no batch, and a source asked now and then makes
// none: copies are made alone until two are asked within batchIdle (many
// sources are asked once: a command, a cron job), and a batch that goes
// unused for batchIdle is let go (checkIdle).
type copies struct {
	batch     atomic.Pointer[tokenBatch] // the batch copies come from; nil while copies are made alone
	lastAlone atomic.Int64               // when a copy was last asked with no batch in place, in Unix nanoseconds; 0 if never
	idleCheck atomic.Bool                // a checkIdle is due
}

// tokenBatch is copies of one credential's token, handed out in order:
// next counts the slots taken, and the calls that found none left (64
// bits, so that it never wraps).
type tokenBatch struct {
	next   atomic.Int64
	tokens [tokenBatchSize]oauth2.Token
}

// tokenBatchSize is how many copies one allocation makes: enough that the
// allocation weighs little per call. A caller that keeps one token keeps
// its whole batch (about 6.6 KiB) until it lets go of it: an
// oauth2.NewClient client keeps one token at a time.
const tokenBatchSize = 64

// batchIdle is how long a batch may go without being used up before its
// credential lets go of it: a source asked fewer than tokenBatchSize times
// in batchIdle does not hold a batch for long.
const batchIdle = time.Second

// copyToken returns a copy of c's token, the caller's own. The caller
// that takes a batch's last slot puts the next batch in place, so each
// batch is made once and used up, and no caller waits for another; one
// that finds the batch used up before the next is in place gets a copy
// made alone.
func (c *credential) copyToken() *oauth2.Token {
	if b := c.batch.Load(); b != nil {
		if i := b.next.Add(1); i <= tokenBatchSize {
			if i == tokenBatchSize {
				c.useBatch(c.newBatch())
			}
			return &b.tokens[i-1]
		}
	} else if c.askedAgainSoon() {
		b := c.newBatch()
		b.next.Store(1)
		c.useBatch(b)
		return &b.tokens[0]
	}
	tok := *c.token
	return &tok
}

// askedAgainSoon reports whether a copy was last asked with no batch in
// place less than batchIdle ago, and records this call as the last: then
// a batch pays.
func (c *credential) askedAgainSoon() bool {
	now := time.Now().UnixNano()
	last := c.lastAlone.Swap(now)
	return last != 0 && now-last < int64(batchIdle)
}

// newBatch returns a batch filled with copies of c's token, none taken.
// Each copy doubles the filled part: a few bulk copies, not one per slot.
func (c *credential) newBatch() *tokenBatch {
	b := new(tokenBatch)
	b.tokens[0] = *c.token
	// equivalent mutant CONDITIONALS_BOUNDARY: at n == tokenBatchSize the copy has no room left and copies nothing
	for n := 1; n < tokenBatchSize; n *= 2 {
		copy(b.tokens[n:], b.tokens[:n])
	}
	return b
}

// useBatch makes b the batch copies come from.
func (c *credential) useBatch(b *tokenBatch) {
	c.batch.Store(b)
	c.checkIdleLater(b)
}

// checkIdleLater makes sure a checkIdle is due, for b if none is. A
// check set inside a testing/synctest bubble that ends first never runs:
// a source made outside a bubble and asked inside one then keeps its
// batch (one at a time) after the bubble.
func (c *credential) checkIdleLater(b *tokenBatch) {
	if c.idleCheck.CompareAndSwap(false, true) {
		time.AfterFunc(batchIdle, func() { c.checkIdle(b) })
	}
}

// checkIdle lets go of the batch seen batchIdle ago if it is still the
// one in use: nobody used it up since. A busy credential has moved on to
// a newer batch, which gets a check of its own. The check is marked done
// first, so that a batch put in place meanwhile arms the next one.
func (c *credential) checkIdle(seen *tokenBatch) {
	c.idleCheck.Store(false)
	if c.batch.CompareAndSwap(seen, nil) {
		return
	}
	if b := c.batch.Load(); b != nil {
		c.checkIdleLater(b)
	}
}
