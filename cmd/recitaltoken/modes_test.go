package main

// The modes besides printing a token: -status, -logout, -refresh, and what
// each does with a service token.

import (
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestStatus: -status says who, the login host, the cache and the cached
// token's expiry, on stdout; never the token (fixture.checked looks in
// stderr, this test in stdout), never a login; exit 0 with a token of a
// minute or more, 1 without.
func TestStatus(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	host := strings.TrimPrefix(f.server.URL(), "http://")

	r := f.run("", "-status")
	want := "user:  " + username + "\nlogin: " + host + "\ncache: " + f.storeDir() + "\ntoken: none cached\n"
	if diff := cmp.Diff(result{Code: 1, Stdout: want}, r); diff != "" {
		t.Errorf("-status before any login (-want +got):\n%s", diff)
	}
	f.wantLogins(0)

	token := f.token()
	r = f.run("", "-status")
	if strings.Contains(r.Stdout, token) {
		t.Errorf("-status printed the token:\n%s", r.Stdout)
	}
	expiry := regexp.MustCompile(`(?m)^token: expires (\S+) \((\d+) min left\)$`).FindStringSubmatch(r.Stdout)
	if r.Code != 0 || expiry == nil {
		t.Fatalf("-status after a login: exit %d, stdout %q; want 0 and the expiry", r.Code, r.Stdout)
	}
	if when, err := time.Parse(time.RFC3339, expiry[1]); err != nil || !strings.HasSuffix(expiry[1], "Z") ||
		when.Before(time.Now().Add(58*time.Minute)) || expiry[2] != "59" {
		t.Errorf("expiry %q, %s min left: want UTC RFC 3339 about an hour from now, 59 min", expiry[1], expiry[2])
	}
	f.wantLogins(1)
}

// TestStatusWritesNothing: -status is a question, and leaves the disk
// as it found it: no store directory made before any login, no file
// added, changed or removed after one.
func TestStatusWritesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, when := range []string{"before any login", "after a login"} {
		if when == "after a login" {
			f.token()
		}
		before := files(t, f.home)
		if r := f.run("", "-status"); r.Stdout == "" {
			t.Fatalf("-status %s: exit %d, stderr %q, no status", when, r.Code, r.Stderr)
		}
		if diff := cmp.Diff(before, files(t, f.home)); diff != "" {
			t.Errorf("-status %s changed the files (-before +after):\n%s", when, diff)
		}
	}
}

// files lists what is under root: each file and directory, with its
// size and modification time.
func files(t *testing.T, root string) []string {
	t.Helper()
	var list []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		list = append(list, fmt.Sprintf("%s %v %d %s", path, info.Mode(), info.Size(), info.ModTime().Format(time.RFC3339Nano)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// TestStatusDefaultLoginHost: without RECITAL_AUTH_URL, -status names
// the host of the library's default login URL (no login is made).
func TestStatusDefaultLoginHost(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	delete(f.env, "RECITAL_AUTH_URL")
	r := f.run("", "-status")
	if !strings.Contains(r.Stdout, "\nlogin: extract.auth.recital.ai\n") {
		t.Errorf("-status without RECITAL_AUTH_URL: stdout %q; want the default login host", r.Stdout)
	}
	f.wantLogins(0)
}

// TestStatusShortToken: a cached token with less than a minute to live
// is shown, and -status exits 1: the next run would log in.
func TestStatusShortToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.server.SetTokenLifetime(50 * time.Second)
	f.token()
	r := f.run("", "-status")
	if r.Code != 1 || !strings.Contains(r.Stdout, "(0 min left)") {
		t.Errorf("-status with 50 s left: exit %d, stdout %q; want 1, 0 min left", r.Code, r.Stdout)
	}
}

// TestStatusStoreUnusable: a cache the library refuses (a directory open
// to others) is named with the reason, and -status exits 1.
func TestStatusStoreUnusable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// A file where the store's directory should be: unusable on every
	// system (a mode would be, on Unix only).
	if err := os.MkdirAll(filepath.Dir(f.storeDir()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.storeDir(), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := f.run("", "-status")
	if r.Code != 1 || !regexp.MustCompile(`(?m)^cache: .*: cannot be used: .+$`).MatchString(r.Stdout) {
		t.Errorf("-status on an unusable cache: exit %d, stdout %q; want 1 and why", r.Code, r.Stdout)
	}
}

// TestLogout: -logout deletes this account's cached token (exit 0, and
// again 0 when there is none); -status then exits 1 and the next run
// logs in.
func TestLogout(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	first := f.token()
	if diff := cmp.Diff(result{Code: 0, Stderr: "recitaltoken: forgot the cached token of " + username + "\n"}, f.run("", "-logout")); diff != "" {
		t.Errorf("-logout (-want +got):\n%s", diff)
	}
	if n := len(f.storedTokens()); n != 0 {
		t.Errorf("%d token files after -logout, want 0", n)
	}
	if diff := cmp.Diff(result{Code: 0, Stderr: "recitaltoken: no cached token for " + username + "\n"}, f.run("", "-logout")); diff != "" {
		t.Errorf("-logout again (-want +got):\n%s", diff)
	}
	if r := f.run("", "-status"); r.Code != 1 {
		t.Errorf("-status after -logout: exit %d, want 1", r.Code)
	}
	if second := f.token(); second == first {
		t.Error("the run after -logout printed the forgotten token")
	}
	f.wantLogins(2)
}

// TestLogoutOtherPassword: -logout with another password does not open
// the value, so it deletes nothing: only the account's own password
// forgets its token.
func TestLogoutOtherPassword(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.token()
	f.env["RECITAL_PASSWORD"] = "another password"
	if r := f.run("", "-logout"); r.Code != 0 || !strings.Contains(r.Stderr, "no cached token") {
		t.Errorf("-logout with another password: exit %d, stderr %q; want 0, no cached token", r.Code, r.Stderr)
	}
	if n := len(f.storedTokens()); n != 1 {
		t.Errorf("%d token files, want the 1 that another password cannot open", n)
	}
}

// TestRefreshAfterRevocation: a revoked cached token is printed by plain
// runs until -refresh, which logs in, replaces it and prints the new one;
// plain runs then print the new one too.
func TestRefreshAfterRevocation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	old := f.token()
	f.server.Revoke(old)
	if got := f.token(); got != old {
		t.Fatal("a plain run after the revocation logged in; the test needs it to use the cache")
	}
	r := f.run("", "-refresh")
	if r.Code != 0 || r.Stderr != "" {
		t.Fatalf("-refresh: exit %d, stderr %q; want 0 and nothing", r.Code, r.Stderr)
	}
	fresh := oneLine(t, r.Stdout)
	if fresh == old {
		t.Fatal("-refresh printed the revoked token")
	}
	if code, _ := f.configUser(fresh); code != http.StatusOK {
		t.Errorf("the refreshed token gets %d, want 200", code)
	}
	if got := f.token(); got != fresh {
		t.Errorf("the run after -refresh printed %q, want the refreshed token", got)
	}
	f.wantLogins(2)
}

// TestServiceTokenModes: with a service token, -status says so (exit 0),
// -logout that nothing is cached (exit 0), -refresh that there is nothing
// to refresh (exit 2); none prints the token or calls the server.
func TestServiceTokenModes(t *testing.T) {
	t.Parallel()
	const service = "service-token-0123"
	tests := []struct {
		flag string
		want result
	}{
		{"-status", result{Code: 0, Stdout: "user:  service token (RECITAL_API_TOKEN)\ncache: none: a service token is never cached\n"}},
		{"-logout", result{Code: 0, Stderr: "recitaltoken: a service token (RECITAL_API_TOKEN) is never cached: nothing to forget\n"}},
		{"-refresh", result{Code: 2, Stderr: "recitaltoken: a service token (RECITAL_API_TOKEN) is never cached: nothing to refresh\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.env = map[string]string{"RECITAL_API_TOKEN": service}
			if diff := cmp.Diff(tt.want, f.run("", tt.flag)); diff != "" {
				t.Errorf("recitaltoken %s (-want +got):\n%s", tt.flag, diff)
			}
			f.wantLogins(0)
		})
	}
}
