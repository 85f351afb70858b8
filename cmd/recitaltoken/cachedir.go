package main

import "github.com/seed9ffb1f9c/recitaloauth/filestore"

// storeDirHelp names, for -h, the directory the library's filestore.New("")
// keeps the tokens in for this user on this system, as the library decides
// it, so that the help never shows one system's path on another.
func storeDirHelp() string {
	dir, err := filestore.New("").Dir()
	if err != nil {
		return "none: " + err.Error()
	}
	return dir
}
