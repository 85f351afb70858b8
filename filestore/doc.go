// Package filestore keeps recitaloauth's tokens in files, so that the
// processes of one user on one machine (CLI tools, cron jobs) that log in
// as the same user share one login between them:
//
//	cfg := &recitaloauth.Config{
//		Username: username,
//		Password: password,
//		Store:    filestore.New(""), // "recitaloauth" in the user's cache directory
//	}
//	client := cfg.Client(ctx) // an *http.Client for recital's API
//
// A [Store] is a [github.com/seed9ffb1f9c/recitaloauth.Store] and a
// [github.com/seed9ffb1f9c/recitaloauth.Locker]. It holds only sealed
// tokens, which whoever reads its files can neither open nor forge; its
// lock lets one process log in while the others wait for its token. For
// the processes of a fleet of machines, the redisstore package is the
// store.
//
// # Files
//
// For a key k, the directory holds k.token (the value), k.lock (the lock
// of [Store.TryLock]) and k.mutex (held for an instant by Save and
// Delete); the last two are empty and stay, because a lock file removed
// while another process waits on it would let two processes lock two
// different files of the same name.
//
// # Trust
//
// The directory must be the user's own, not a symbolic link, and closed
// to writes by group and others (0700, 0750, 0755 and 0711 are all
// right: the values are sealed, and a directory made with mkdir works);
// each file in it must be a regular file of the user's, closed to group
// and others (0600), because a file that others can read gives them a
// sealed token to guess the password against offline. The directory's
// parent must not let others rename entries in it: owned by root or the
// user, and writable by no one else unless it is sticky (as /tmp is), so
// that nobody can swap the directory for a link of their own. Whatever
// breaks these rules is refused with an error, so that the source goes on
// without the store; the store never changes a mode and never takes a
// file over. A missing directory is created with mode 0700 (as are
// missing parents). Each call opens the directory once, without following
// a link, checks what it opened, and then opens, creates, renames and
// removes its files relative to that open directory, never by path, so
// that a directory swapped after the check cannot redirect them; files
// too are checked as opened, not by name.
//
// # Atomicity
//
// Save writes a new file, flushes it to disk and renames it over k.token,
// so that a reader, or a crash, sees the old value or the new one, never
// half of one. Save's rename and Delete's read-compare-remove both hold
// k.mutex (an flock, or LockFileEx on Windows, taken with a poll that
// gives up after 2 s or when the context ends), so that a Delete never
// removes a value another process has just saved.
//
// # Windows
//
// On Windows the rules of trust are read in the security descriptors: the
// directory and its files must be owned by the user, and no access
// control entry may let anyone but the user, SYSTEM and Administrators
// write them (nor read the files, nor remove or rename entries in the
// parent); SYSTEM and Administrators are trusted because they can take
// any file over anyway. The store creates the directory and files with a
// protected DACL granting only the user and SYSTEM, and refuses reparse
// points (symbolic links, junctions). SECURITY.md says what differs.
//
// The store works on Unix systems and on Windows; on the others (plan9,
// js/wasm, wasip1) every method returns an error.
package filestore
