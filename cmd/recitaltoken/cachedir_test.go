package main

import (
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed9ffb1f9c/recitaloauth/internal/syncio"

	"github.com/seed9ffb1f9c/recitaloauth/internal/tempdir"
)

// TestHelpStoreDir: -h names the directory in which a run on the default
// store (filestore.New(""), as a user's run) keeps its token, whatever the
// system: the help shows no other system's path.
func TestHelpStoreDir(t *testing.T) {
	// os.UserCacheDir reads the process's environment: each system's
	// variable points into root.
	root := tempdir.New(t)
	t.Setenv("XDG_CACHE_HOME", filepath.Join(root, "xdg")) // Linux, FreeBSD
	t.Setenv("HOME", filepath.Join(root, "home"))          // macOS: ~/Library/Caches
	t.Setenv("LocalAppData", filepath.Join(root, "local")) // Windows
	f := newFixture(t)
	var stderr syncio.Buffer
	code := run(t.Context(), nil, surroundings{
		stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr,
		getenv: func(name string) string { return f.env[name] },
	})
	if code != 0 || stderr.String() != "" {
		t.Fatalf("run on the default store: exit %d, stderr %q; want 0 and nothing", code, stderr.String())
	}
	var tokens []string
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".token") {
			tokens = append(tokens, path)
		}
		return nil
	})
	if len(tokens) != 1 {
		t.Fatalf("the default store holds %q under %s, want one token", tokens, root)
	}
	dir := filepath.Dir(tokens[0])
	if help := f.run("", "-h").Stdout; !strings.Contains(help, "\n  "+dir+"\n") {
		t.Errorf("-h does not name the store's directory %s on a line of its own:\n%s", dir, help)
	}
}
