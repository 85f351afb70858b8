//go:build windows

package filestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// errPlatform is nil: Windows has what the store needs, in other words
// than Unix (LockFileEx for flock, security descriptors for owners and
// modes, FILE_FLAG_OPEN_REPARSE_POINT for O_NOFOLLOW).
var errPlatform error

// fileDeleteChild is FILE_DELETE_CHILD, which golang.org/x/sys/windows
// does not name: the right to remove or rename any entry of a directory.
const fileDeleteChild = 0x40

// Access rights that let their holder change a file or directory, its
// entries, or who may: any of them granted to someone else is refused.
const writeRights = windows.FILE_WRITE_DATA | windows.FILE_APPEND_DATA | windows.FILE_WRITE_EA |
	fileDeleteChild | windows.FILE_WRITE_ATTRIBUTES | windows.DELETE |
	windows.WRITE_DAC | windows.WRITE_OWNER | windows.GENERIC_WRITE | windows.GENERIC_ALL

// readRights let their holder read a file: refused for the store's files.
const readRights = windows.FILE_READ_DATA | windows.GENERIC_READ | windows.GENERIC_ALL

// renameRights in a parent let their holder rename or remove the entries
// in it, ours too (FILE_DELETE_CHILD), or give themselves that right.
// Adding entries alone (FILE_ADD_FILE, FILE_ADD_SUBDIRECTORY, which the
// root of a drive grants every user) is what a sticky directory allows on
// Unix: it cannot move ours away.
const renameRights = fileDeleteChild | windows.DELETE | windows.WRITE_DAC |
	windows.WRITE_OWNER | windows.GENERIC_ALL

// identity is who this process is, and the security descriptors it gives
// what it creates: a protected DACL (nothing inherited) granting full
// access to the user and SYSTEM alone.
type identity struct {
	user, owner   *windows.SID // the token's user, and its default owner of new objects
	trusted       []*windows.SID
	dirSD, fileSD *windows.SECURITY_DESCRIPTOR
}

var currentIdentity = sync.OnceValues(func() (*identity, error) {
	token := windows.GetCurrentProcessToken()
	tu, err := token.GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("recitaloauth: file store: the current user: %w", err)
	}
	user, err := tu.User.Sid.Copy()
	if err != nil {
		return nil, fmt.Errorf("recitaloauth: file store: the current user: %w", err)
	}
	owner, err := tokenOwner(token)
	if err != nil {
		return nil, fmt.Errorf("recitaloauth: file store: the current user: %w", err)
	}
	id := &identity{user: user, owner: owner}
	// SYSTEM and Administrators can take any file over (backup, restore
	// and take-ownership privileges): an entry granting them access
	// grants nothing they lack, and every profile directory has one.
	// TrustedInstaller, the servicing account, owns C:\ and the system's
	// directories. CREATOR OWNER and OWNER RIGHTS stand for the owner,
	// checked apart.
	for _, s := range []string{"S-1-5-18", "S-1-5-32-544", "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464", "S-1-3-0", "S-1-3-4"} {
		sid, err := windows.StringToSid(s)
		if err != nil {
			return nil, fmt.Errorf("recitaloauth: file store: %w", err)
		}
		id.trusted = append(id.trusted, sid)
	}
	id.trusted = append(id.trusted, user, owner)
	me := user.String()
	if id.dirSD, err = windows.SecurityDescriptorFromString("O:" + me + "D:P(A;OICI;FA;;;" + me + ")(A;OICI;FA;;;SY)"); err != nil {
		return nil, fmt.Errorf("recitaloauth: file store: %w", err)
	}
	if id.fileSD, err = windows.SecurityDescriptorFromString("O:" + me + "D:P(A;;FA;;;" + me + ")(A;;FA;;;SY)"); err != nil {
		return nil, fmt.Errorf("recitaloauth: file store: %w", err)
	}
	return id, nil
})

// tokenOwner is the owner token gives the objects it creates: the user,
// or the Administrators group for an elevated administrator.
func tokenOwner(token windows.Token) (*windows.SID, error) {
	n := uint32(64)
	for {
		buf := make([]byte, n)
		err := windows.GetTokenInformation(token, windows.TokenOwner, &buf[0], n, &n)
		if errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return (*(**windows.SID)(unsafe.Pointer(&buf[0]))).Copy()
	}
}

func (id *identity) isTrusted(sid *windows.SID) bool {
	for _, t := range id.trusted {
		if t.Equals(sid) {
			return true
		}
	}
	return false
}

// isUser reports whether sid is this user, as owner of what it created.
func (id *identity) isUser(sid *windows.SID) bool {
	return sid.Equals(id.user) || sid.Equals(id.owner)
}

// openExisting opens name in dir with flag, opening a reparse point
// itself rather than what it points to, so that checkFile refuses it.
func openExisting(dir *os.Root, name string, flag int) (*os.File, error) {
	return dir.OpenFile(name, flag|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
}

// createPrivate opens name in dir for reading and writing, creating it
// with the user's private DACL if it is missing, or only creating it
// when excl is set. os.Root cannot give a file a security descriptor, so
// this opens it relative to dir's handle as os.Root does, not by path.
func createPrivate(dir *os.Root, name string, excl bool) (*os.File, error) {
	id, err := currentIdentity()
	if err != nil {
		return nil, err
	}
	disposition := uint32(windows.FILE_OPEN_IF)
	if excl {
		disposition = windows.FILE_CREATE
	}
	h, err := createAt(dir, name, id.fileSD, windows.GENERIC_READ|windows.GENERIC_WRITE, disposition, windows.FILE_NON_DIRECTORY_FILE)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(h), filepath.Join(dir.Name(), name)), nil
}

// mkdirPrivate makes the store's directory name in parent, with the
// user's private DACL, inherited by what is created in it.
func mkdirPrivate(parent *os.Root, name string) error {
	id, err := currentIdentity()
	if err != nil {
		return err
	}
	h, err := createAt(parent, name, id.dirSD, windows.FILE_LIST_DIRECTORY, windows.FILE_CREATE, windows.FILE_DIRECTORY_FILE)
	if err != nil {
		return err
	}
	return windows.CloseHandle(h)
}

// createAt is NtCreateFile of name relative to the directory dir has
// open, with the security descriptor sd if it creates it, through no
// reparse point.
func createAt(dir *os.Root, name string, sd *windows.SECURITY_DESCRIPTOR, access, disposition, options uint32) (windows.Handle, error) {
	d, err := dir.Open(".")
	if err != nil {
		return 0, err
	}
	defer d.Close()
	objectName, err := windows.NewNTUnicodeString(name)
	if err != nil {
		return 0, err
	}
	attrs := &windows.OBJECT_ATTRIBUTES{
		RootDirectory:      windows.Handle(d.Fd()),
		ObjectName:         objectName,
		Attributes:         windows.OBJ_CASE_INSENSITIVE | windows.OBJ_DONT_REPARSE,
		SecurityDescriptor: sd,
	}
	attrs.Length = uint32(unsafe.Sizeof(*attrs))
	var h windows.Handle
	err = windows.NtCreateFile(&h, access|windows.READ_CONTROL|windows.SYNCHRONIZE, attrs, &windows.IO_STATUS_BLOCK{}, nil,
		windows.FILE_ATTRIBUTE_NORMAL, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		disposition, options|windows.FILE_SYNCHRONOUS_IO_NONALERT|windows.FILE_OPEN_REPARSE_POINT, 0, 0)
	if err != nil {
		if st, ok := err.(windows.NTStatus); ok {
			err = st.Errno()
		}
		return 0, &fs.PathError{Op: "create", Path: filepath.Join(dir.Name(), name), Err: err}
	}
	return h, nil
}

// isLink reports whether info, from an Lstat, is a reparse point: Go
// reports a symbolic link as ModeSymlink and a junction (mount point) as
// ModeIrregular.
func isLink(info fs.FileInfo) bool {
	return info.Mode()&(fs.ModeSymlink|fs.ModeIrregular) != 0
}

// renameOver renames old over new in dir, atomically (os.Root asks for
// POSIX semantics, and replaces new). Where the file system cannot do a
// POSIX rename, a reader with new open makes the rename fail for the
// moment it reads: it is tried again while the caller holds the mutex,
// for at most maxMutexWait.
func renameOver(ctx context.Context, dir *os.Root, old, new string) error {
	ctx, cancel := context.WithTimeout(ctx, maxMutexWait)
	defer cancel()
	for delay := time.Millisecond; ; delay = min(2*delay, 20*time.Millisecond) {
		err := dir.Rename(old, new)
		if err == nil || !errors.Is(err, windows.ERROR_ACCESS_DENIED) && !errors.Is(err, windows.ERROR_SHARING_VIOLATION) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
	}
}

// removeAt removes name in dir. os.Root asks for POSIX semantics, which
// some systems lack (wine answers ERROR_INVALID_FUNCTION): then the file
// is opened relative to dir to be deleted on close.
func removeAt(dir *os.Root, name string) error {
	err := dir.Remove(name)
	if !errors.Is(err, windows.ERROR_INVALID_FUNCTION) {
		return err
	}
	f, err := dir.OpenFile(name, os.O_RDONLY|windows.FILE_FLAG_DELETE_ON_CLOSE|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

// syncDir does nothing: Windows cannot flush a directory (FlushFileBuffers
// needs write access to it), and NTFS journals the rename itself.
func syncDir(*os.Root) error { return nil }

// tryLock takes an exclusive LockFileEx lock on f's first byte without
// waiting, and reports whether it did. Windows releases it when f is
// closed or the process ends.
func tryLock(f *os.File) (bool, error) {
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &windows.Overlapped{})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, windows.ERROR_LOCK_VIOLATION), errors.Is(err, windows.ERROR_IO_PENDING):
		return false, nil
	default:
		return false, fmt.Errorf("recitaloauth: file store: lock %s: %w", f.Name(), err)
	}
}

// checkParent returns an error if someone other than the user, SYSTEM or
// Administrators owns the store directory's parent, or may rename or
// remove the entries in it.
func checkParent(path string, f *os.File, _ fs.FileInfo) error {
	return checkSecurity(path, f, func(id *identity, owner *windows.SID) error {
		if !id.isTrusted(owner) {
			return fmt.Errorf("recitaloauth: file store: %s, the store's parent, belongs to %s, not to this user", path, owner)
		}
		return nil
	}, renameRights, "rename entries in it")
}

// checkDir returns an error unless the store's directory belongs to the
// user, is no reparse point, and lets nobody else write it (reading and
// listing are left: the files are sealed and private).
func checkDir(path string, f *os.File, _ fs.FileInfo) error {
	if err := notReparse(path, f); err != nil {
		return err
	}
	return checkSecurity(path, f, ownedByUser(path), writeRights, "write it")
}

// checkFile returns an error unless the file belongs to the user, is no
// reparse point, and lets nobody else read or write it.
func checkFile(path string, f *os.File, _ fs.FileInfo) error {
	if err := notReparse(path, f); err != nil {
		return err
	}
	return checkSecurity(path, f, ownedByUser(path), writeRights|readRights, "read or write it")
}

func ownedByUser(path string) func(id *identity, owner *windows.SID) error {
	return func(id *identity, owner *windows.SID) error {
		if !id.isUser(owner) {
			return fmt.Errorf("recitaloauth: file store: %s belongs to %s, not to this user (%s)", path, owner, id.user)
		}
		return nil
	}
}

func notReparse(path string, f *os.File) error {
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(windows.Handle(f.Fd()), &info); err != nil {
		return fmt.Errorf("recitaloauth: file store: %s: %w", path, err)
	}
	if info.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0 {
		return fmt.Errorf("recitaloauth: file store: %s is a reparse point (a symbolic link or a junction)", path)
	}
	return nil
}

// checkSecurity reads the owner and DACL of the file or directory f has
// open, checks the owner with checkOwner, and refuses an entry of the
// DACL that applies to f and allows someone not trusted any of rights
// (what they could then do is said by what).
func checkSecurity(path string, f *os.File, checkOwner func(*identity, *windows.SID) error, rights windows.ACCESS_MASK, what string) error {
	id, err := currentIdentity()
	if err != nil {
		return err
	}
	sd, err := windows.GetSecurityInfo(windows.Handle(f.Fd()), windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("recitaloauth: file store: %s: %w", path, err)
	}
	owner, _, err := sd.Owner()
	if err != nil || owner == nil {
		return fmt.Errorf("recitaloauth: file store: %s has no owner", path)
	}
	if err := checkOwner(id, owner); err != nil {
		return err
	}
	dacl, _, err := sd.DACL()
	if err != nil || dacl == nil {
		return fmt.Errorf("recitaloauth: file store: %s has no DACL: everyone may %s", path, what)
	}
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return fmt.Errorf("recitaloauth: file store: %s: %w", path, err)
		}
		switch {
		case ace.Header.AceType == windows.ACCESS_DENIED_ACE_TYPE:
			continue // it can only take rights away
		case ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE:
			return fmt.Errorf("recitaloauth: file store: %s has an access control entry of type %d, which the store does not read", path, ace.Header.AceType)
		case ace.Header.AceFlags&windows.INHERIT_ONLY_ACE != 0:
			continue // it applies to what is created inside, not to f
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		if ace.Mask&rights != 0 && !id.isTrusted(sid) {
			return fmt.Errorf("recitaloauth: file store: %s lets %s %s (access mask %#x)", path, sid, what, ace.Mask)
		}
	}
	return nil
}
