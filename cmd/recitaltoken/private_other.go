//go:build !unix

package main

import (
	"io/fs"
	"os"
)

// openNoFollow is os.Open: the Lstat before it is the check here.
func openNoFollow(path string) (*os.File, error) { return os.Open(path) }

// lockFile does nothing here: concurrent runs may each log in, and the
// atomic rename still keeps the file whole.
func lockFile(*os.File) bool { return false }

// private is always true on systems without Unix file modes and owners.
// On Windows, mode bits say nothing about who may read a file, and the
// user cache directory (%LocalAppData%) is private to the user by its
// access control list.
func private(fs.FileInfo) bool { return true }
