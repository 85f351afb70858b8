package main

import (
	"os"
	"path/filepath"
)

// storeDirHelp names, for -h, the directory the library's NewFileStore("")
// keeps the tokens in for this user on this system (under %LocalAppData%
// on Windows, ~/Library/Caches on macOS, $XDG_CACHE_HOME or ~/.cache
// elsewhere), so that the help never shows one system's path on another.
func storeDirHelp() string {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "none: the user cache directory is unknown here (" + err.Error() + ")"
	}
	return filepath.Join(cache, "recitaloauth")
}
