package recitaloauth

// recital can bind access tokens to IP addresses (an organisation's "Bind
// Access Tokens to IPs" setting): the API then refuses a token from any
// address but the one that logged in, and a token another machine saved
// in a shared store is of no use here. A revocation looks alike at first
// (a borrowed token refused), so one refusal proves nothing: binding is
// concluded only when tokens other machines saved are refused twice
// before any of them ever worked, with no token of this source's own
// login refused in between. From then on the source shares only with the
// processes of its own machine, under a key of that machine's.

// sharing is how far a source takes tokens from its store.
type sharing int

const (
	acrossMachines  sharing = iota // any machine's token: they travel, as far as we know
	doubted                        // a token another machine saved was refused before it ever worked
	thisMachineOnly                // twice: tokens are bound to IP addresses
)

// sharingEvent is what a token's fate says about whether tokens travel.
type sharingEvent int

const (
	ownRefused     sharingEvent = iota // this source's own login's token refused: a revocation, or a server refusing all
	foreignWorked                      // a token another machine saved was accepted: tokens travel
	foreignRefused                     // a token another machine saved was refused before it ever worked
)

// after is the one rule for how sharing changes: binding, once
// concluded, is kept for the source's life.
func (st sharing) after(e sharingEvent) sharing {
	switch {
	case st == thisMachineOnly:
		return thisMachineOnly
	case e == foreignRefused && st == doubted:
		return thisMachineOnly
	case e == foreignRefused:
		return doubted
	default:
		return acrossMachines
	}
}

// refusalEvent is what the 401 of cred says, and whether it says anything.
func refusalEvent(cred *credential) (sharingEvent, bool) {
	switch {
	case !cred.isBorrowed():
		return ownRefused, true
	case !cred.isForeign(): // a sibling process's token: a revocation, no clue about addresses
		return 0, false
	case cred.hasWorked():
		return foreignWorked, true // it worked here before: revoked since
	}
	return foreignRefused, true
}
