//go:build !unix

package main

import "io/fs"

// private is always true on systems without Unix file modes and owners.
// On Windows, mode bits say nothing about who may read a file, and the
// user cache directory (%LocalAppData%) is private to the user by its
// access control list.
func private(fs.FileInfo) bool { return true }
