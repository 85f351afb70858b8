//go:build unix

package main

import (
	"io/fs"
	"os"
	"syscall"
	"testing"
	"time"
)

// fakeInfo is a file's FileInfo with the owner and mode a test chooses, so
// that the owner check is tested without root.
type fakeInfo struct {
	mode fs.FileMode
	uid  uint32
}

func (i fakeInfo) Name() string       { return "token" }
func (i fakeInfo) Size() int64        { return 0 }
func (i fakeInfo) Mode() fs.FileMode  { return i.mode }
func (i fakeInfo) ModTime() time.Time { return time.Time{} }
func (i fakeInfo) IsDir() bool        { return false }
func (i fakeInfo) Sys() any           { return &syscall.Stat_t{Uid: i.uid} }

func TestPrivate(t *testing.T) {
	me := uint32(os.Geteuid())
	for _, tt := range []struct {
		name string
		info fakeInfo
		want bool
	}{
		{"mine, 0600", fakeInfo{0o600, me}, true},
		{"mine, 0400", fakeInfo{0o400, me}, true},
		{"another user's, 0600", fakeInfo{0o600, me + 1}, false},
		{"mine, group-readable", fakeInfo{0o640, me}, false},
		{"mine, world-writable", fakeInfo{0o602, me}, false},
	} {
		if got := private(tt.info); got != tt.want {
			t.Errorf("%s: private = %v, want %v", tt.name, got, tt.want)
		}
	}
}
