//go:build windows

package filestore_test

import (
	"github.com/seed9ffb1f9c/recitaloauth/internal/tempdir"

	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/seed9ffb1f9c/recitaloauth/filestore"
	"github.com/seed9ffb1f9c/recitaloauth/internal/storetest"
)

const (
	systemSID   = "S-1-5-18"
	everyoneSID = "S-1-1-0"
)

func userSID(t *testing.T) string {
	t.Helper()
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	return u.User.Sid.String()
}

// security returns the owner of path, and the SIDs that the ALLOW entries
// of its DACL that apply to it name, with the rights they allow.
func security(t *testing.T, path string) (owner string, allowed map[string]windows.ACCESS_MASK) {
	t.Helper()
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := windows.CreateFile(p, windows.READ_CONTROL, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_EXISTING, windows.FILE_FLAG_BACKUP_SEMANTICS|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer windows.CloseHandle(h)
	sd, err := windows.GetSecurityInfo(h, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	allowed = make(map[string]windows.ACCESS_MASK)
	o, _, err := sd.Owner()
	if err != nil {
		t.Fatal(err)
	}
	dacl, _, err := sd.DACL()
	if err != nil || dacl == nil {
		t.Fatalf("%s: DACL %v, %v", path, dacl, err)
	}
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			t.Fatal(err)
		}
		if ace.Header.AceType == windows.ACCESS_ALLOWED_ACE_TYPE && ace.Header.AceFlags&windows.INHERIT_ONLY_ACE == 0 {
			allowed[(*windows.SID)(unsafe.Pointer(&ace.SidStart)).String()] |= ace.Mask
		}
	}
	return o.String(), allowed
}

// withSecurity makes a directory, or a file holding data, at path, with
// the security descriptor of sddl.
func withSecurity(t *testing.T, path, sddl string, dir bool, data string) {
	t.Helper()
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		t.Fatal(err)
	}
	sa := &windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd}
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		t.Fatal(err)
	}
	if dir {
		if err := windows.CreateDirectory(p, sa); err != nil {
			t.Fatalf("mkdir %s: %v", path, err)
		}
		return
	}
	h, err := windows.CreateFile(p, windows.GENERIC_WRITE, 0, sa, windows.CREATE_NEW, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
	defer windows.CloseHandle(h)
	if _, err := windows.Write(h, []byte(data)); err != nil {
		t.Fatal(err)
	}
}

// What the store creates is the user's, and open to the user and SYSTEM
// alone.
func TestWindowsDACL(t *testing.T) {
	dir := storeDir(t)
	storeWithFiles(t, dir)
	me := userSID(t)
	want := []string{me, systemSID}
	slices.Sort(want)
	for _, path := range []string{dir, filepath.Join(dir, "k.token"), filepath.Join(dir, "k.lock"), filepath.Join(dir, "k.mutex")} {
		owner, allowed := security(t, path)
		if owner != me {
			t.Errorf("%s belongs to %s, want the user %s", path, owner, me)
		}
		if got := slices.Sorted(maps.Keys(allowed)); !slices.Equal(got, want) {
			t.Errorf("%s allows %v, want %v", path, got, want)
		}
	}
}

// A directory or file that others may write (or read, for a file), or a
// parent in which others may remove entries, is refused.
func TestWindowsRefuses(t *testing.T) {
	me := userSID(t)
	private := "D:P(A;OICI;FA;;;" + me + ")(A;OICI;FA;;;SY)"
	for _, tt := range []struct {
		name    string
		setup   func(t *testing.T, dir string) (path string, granted windows.ACCESS_MASK)
		wantErr string
	}{
		{
			name: "directory others may write",
			setup: func(t *testing.T, dir string) (string, windows.ACCESS_MASK) {
				withSecurity(t, dir, private+"(A;OICI;FA;;;WD)", true, "")
				return dir, windows.FILE_WRITE_DATA
			},
			wantErr: "lets " + everyoneSID + " write it",
		},
		{
			name: "value others may read",
			setup: func(t *testing.T, dir string) (string, windows.ACCESS_MASK) {
				withSecurity(t, dir, private, true, "")
				path := filepath.Join(dir, "k.token")
				withSecurity(t, path, "D:P(A;;FA;;;"+me+")(A;;FR;;;WD)", false, "planted")
				return path, windows.FILE_READ_DATA
			},
			wantErr: "lets " + everyoneSID + " read or write it",
		},
		{
			name: "parent in which others may remove entries",
			setup: func(t *testing.T, dir string) (string, windows.ACCESS_MASK) {
				parent := filepath.Dir(dir)
				withSecurity(t, parent, "D:P(A;OICI;FA;;;"+me+")(A;;0x40;;;WD)", true, "")
				return parent, 0x40 // FILE_DELETE_CHILD
			},
			wantErr: "lets " + everyoneSID + " rename entries in it",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(tempdir.New(t), "parent", "store")
			if !strings.Contains(tt.name, "parent") {
				if err := os.Mkdir(filepath.Dir(dir), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			path, granted := tt.setup(t, dir)
			if _, allowed := security(t, path); allowed[everyoneSID]&granted == 0 {
				// Wine keeps no DACL: it makes one up from the Unix mode
				// it derived from the one set, which loses this right.
				t.Skipf("%s reads back allowing Everyone %#x, not the %#x set: this system does not keep DACLs", path, allowed[everyoneSID], granted)
			}
			s := filestore.New(dir)
			_, err := s.Load(context.Background(), "k")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Load: error %v, want one saying %q", err, tt.wantErr)
			}
		})
	}
}

// holdLock takes the LockFileEx lock the store takes on path, as another
// process would, until release.
func holdLock(t *testing.T, path string) (release func()) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &windows.Overlapped{}); err != nil {
		f.Close()
		t.Fatal(err)
	}
	return func() { f.Close() }
}

// A symbolic link in place of the directory or of a value is refused, and
// what it points to left alone. Making one needs a privilege (or
// developer mode), which the test may not have.
func TestWindowsRefusesLinks(t *testing.T) {
	for _, tt := range []struct {
		name string
		link func(dir string) (link string)
	}{
		{"directory", func(dir string) string { return dir }},
		{"value", func(dir string) string { return filepath.Join(dir, "k.token") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := tempdir.New(t)
			dir := filepath.Join(base, "store")
			s := filestore.New(dir)
			if tt.name != "directory" {
				storetest.Save(t, s, "other", "v") // makes the directory
			}
			target := filepath.Join(base, "target")
			if err := os.Mkdir(target, 0o700); err != nil {
				t.Fatal(err)
			}
			planted := filepath.Join(target, "k.token")
			if err := os.WriteFile(planted, []byte("planted"), 0o600); err != nil {
				t.Fatal(err)
			}
			to := target
			if tt.name != "directory" {
				to = planted
			}
			link := tt.link(dir)
			if err := os.Symlink(to, link); err != nil {
				t.Skipf("cannot make a symbolic link here: %v", err)
			}
			if info, err := os.Lstat(link); err != nil || info.Mode()&os.ModeSymlink == 0 {
				t.Skipf("os.Symlink made no symbolic link here (Lstat: %v, %v)", info, err)
			}
			_, err := s.Load(context.Background(), "k")
			if err == nil || !strings.Contains(err.Error(), "symbolic link") && !strings.Contains(err.Error(), "reparse point") {
				t.Errorf("Load through a link: error %v, want one saying it is a link", err)
			}
			s.Save(context.Background(), "k", []byte("new"), time.Now().Add(time.Hour))
			if got, err := os.ReadFile(planted); string(got) != "planted" || err != nil {
				t.Errorf("the link's target now holds %q (%v); want it untouched", got, err)
			}
		})
	}
}
