//go:build unix

package filestore

import (
	"github.com/seed9ffb1f9c/recitaloauth/internal/tempdir"

	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Someone who can rename entries in the store directory's parent (one the
// parent rules accept only when it is the user's own or root's, but a
// store run as root, or a rule got wrong, would meet) swaps the directory
// for a symbolic link after the store checked it: the call still works
// on the directory it checked, and nothing is read from, written to or
// left in the link's target.
func TestDirectorySwapped(t *testing.T) {
	for _, tt := range []struct {
		name string
		op   func(s *Store) (string, error)
		want string // what op returns
	}{
		{"Load", func(s *Store) (string, error) {
			v, err := s.Load(context.Background(), "k")
			return string(v), err
		}, "mine"},
		{"Save", func(s *Store) (string, error) {
			return "", s.Save(context.Background(), "k", []byte("new"), time.Now().Add(time.Hour))
		}, ""},
		{"Save with a past expiry", func(s *Store) (string, error) {
			return "", s.Save(context.Background(), "k", []byte("new"), time.Now().Add(-time.Hour))
		}, ""},
		{"Delete", func(s *Store) (string, error) {
			return "", s.Delete(context.Background(), "k", []byte("planted"))
		}, ""},
		{"TryLock", func(s *Store) (string, error) {
			unlock, _, err := s.TryLock(context.Background(), "k", time.Minute)
			if unlock != nil {
				unlock()
			}
			return "", err
		}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := tempdir.New(t)
			dir, moved, target := filepath.Join(base, "store"), filepath.Join(base, "moved"), filepath.Join(base, "target")
			s := New(dir)
			if err := s.Save(context.Background(), "k", []byte("mine"), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			// The target is a private directory of the user's holding a
			// value of the swapper's: all the store's checks would pass.
			if err := os.Mkdir(target, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(target, "k.token"), []byte("planted"), 0o600); err != nil {
				t.Fatal(err)
			}
			swaps := 0
			testHookDirOpened = func(string) {
				if swaps++; swaps > 1 {
					return
				}
				if err := os.Rename(dir, moved); err != nil {
					t.Error(err)
				}
				if err := os.Symlink(target, dir); err != nil {
					t.Error(err)
				}
			}
			t.Cleanup(func() { testHookDirOpened = nil })

			got, err := tt.op(s)
			if err != nil || got != tt.want {
				t.Errorf("%s across the swap = %q, %v; want %q, nil", tt.name, got, err, tt.want)
			}
			if swaps != 1 {
				t.Fatalf("the directory was swapped %d times, want 1", swaps)
			}
			entries, err := os.ReadDir(target)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if diff := cmp.Diff([]string{"k.token"}, names); diff != "" {
				t.Errorf("files in the link's target mismatch (-want +got):\n%s", diff)
			}
			if data, err := os.ReadFile(filepath.Join(target, "k.token")); string(data) != "planted" || err != nil {
				t.Errorf("the target's value is now %q (%v), want it untouched", data, err)
			}
		})
	}
}
