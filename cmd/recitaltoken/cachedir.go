package main

import "github.com/seed9ffb1f9c/recitaloauth"

// storeDirHelp names, for -h, the directory the library's NewFileStore("")
// keeps the tokens in for this user on this system, as the library decides
// it, so that the help never shows one system's path on another.
func storeDirHelp() string {
	dir, err := recitaloauth.NewFileStore("").Dir()
	if err != nil {
		return "none: " + err.Error()
	}
	return dir
}
