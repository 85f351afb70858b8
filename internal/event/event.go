// Package event names the library's log records, so that a program
// reading them (the recitaltoken command's -v) acts on a name written
// once, here, and never on a message: a reworded message cannot change
// what such a program does.
package event

import "log/slog"

// Key is the attribute that names a record's event.
const Key = "event"

// The events. Their values are part of the records a Logger receives,
// and stay as they are when messages change.
const (
	LoggedIn     = "logged_in"
	LoginFailed  = "login_failed"
	FromStore    = "token_from_store"
	Refused      = "token_refused"
	StoreFailed  = "store_failed"
	StoreWorks   = "store_works"
	LockHeldLong = "store_lock_held_long"
	BoundToIP    = "tokens_bound_to_ip"
	Waited       = "callers_waited"
)

// Attr is the attribute for event name, first on a record.
func Attr(name string) slog.Attr { return slog.String(Key, name) }
