package tempdir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestRemoveAll removes a tree with files, an empty directory and a
// nested one: what TempDir's cleanup fails on under wine.
func TestRemoveAll(t *testing.T) {
	root := filepath.Join(New(t), "tree")
	for _, dir := range []string{"empty", filepath.Join("a", "b")} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, file := range []string{"top", filepath.Join("a", "mid"), filepath.Join("a", "b", "deep")} {
		if err := os.WriteFile(filepath.Join(root, file), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveAll(root); err != nil {
		t.Fatalf("RemoveAll: %v", err)
	}
	if _, err := os.Lstat(root); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after RemoveAll, Lstat: %v; want it gone", err)
	}
	if err := RemoveAll(root); err != nil {
		t.Errorf("RemoveAll of a missing path: %v, want nil", err)
	}
}

// TestNew: the directory exists, is empty, and is gone once the test has
// ended.
func TestNew(t *testing.T) {
	var dir string
	t.Run("use", func(t *testing.T) {
		dir = New(t)
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) != 0 {
			t.Fatalf("ReadDir(New(t)): %d entries, %v; want an empty directory", len(entries), err)
		}
		if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after the test, Lstat(%s): %v; want it removed", dir, err)
	}
}
