package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPrintsToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token := f.token()
	status, user := f.configUser(token)
	if diff := cmp.Diff([]any{http.StatusOK, username}, []any{status, user}); diff != "" {
		t.Errorf("GET /config/ with the printed token (-want +got):\n%s", diff)
	}
	f.wantLogins(1)
}

func TestServiceToken(t *testing.T) {
	t.Parallel()
	const service = "service-token-0123456789"
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"alone", map[string]string{"RECITAL_API_TOKEN": service}},
		{"with white space", map[string]string{"RECITAL_API_TOKEN": "\t" + service + "\n"}},
		{"wins over username and password", map[string]string{
			"RECITAL_API_TOKEN": service, "RECITAL_USERNAME": username, "RECITAL_PASSWORD": password,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.server.AddServiceToken(service)
			f.env = tt.env
			f.env["RECITAL_AUTH_URL"] = f.server.AuthURL()
			for range 2 {
				if got := f.token(); got != service {
					t.Errorf("printed %q, want the service token %q", got, service)
				}
			}
			f.wantLogins(0)
			if names := f.storedTokens(); len(names) != 0 {
				t.Errorf("store holds %q, want nothing: service tokens are never stored", names)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		service     string // RECITAL_API_TOKEN, else the password flow
		wantExpires bool
	}{
		{name: "password flow", wantExpires: true},
		{name: "service token", service: "service-token-0123456789"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			if tt.service != "" {
				f.server.AddServiceToken(tt.service)
				f.env["RECITAL_API_TOKEN"] = tt.service
			}
			r := f.run("", "-json")
			if r.Code != 0 || r.Stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing", r.Code, r.Stderr)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(oneLine(t, r.Stdout)), &got); err != nil {
				t.Fatalf("stdout %q is not JSON: %v", r.Stdout, err)
			}
			token, _ := got["access_token"].(string)
			if status, _ := f.configUser(token); status != http.StatusOK {
				t.Errorf("GET /config/ with access_token %q: %d, want 200", token, status)
			}
			want := map[string]any{"access_token": token, "token_type": "Bearer"}
			if tt.wantExpires {
				expiry, _ := got["expiry"].(string)
				when, err := time.Parse(time.RFC3339, expiry)
				if left := time.Until(when); err != nil || left < 59*time.Minute || left > 61*time.Minute {
					t.Errorf("expiry %q (%v): want an RFC 3339 time an hour from now", expiry, err)
				}
				want["expiry"] = expiry
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("JSON mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestErrors checks the failures: exit 1 for a refused login or a network
// failure, 2 for a usage or configuration error, each with a message that
// says what is wrong and holds no secret (fixture.run checks that).
func TestErrors(t *testing.T) {
	t.Parallel()
	// Port 1 (tcpmux) has no listener here: a closed server's port could be
	// taken by another test's server meanwhile.
	const downAuthURL = "http://127.0.0.1:1/auth/api/v1/login/?noAuth=true"

	const noCredentials = "recitaltoken: recitaloauth: no credentials in the environment: set RECITAL_API_TOKEN, or RECITAL_USERNAME and RECITAL_PASSWORD\n"
	tests := []struct {
		name       string
		setup      func(*fixture)
		stdin      string
		args       []string
		wantCode   int
		wantStderr string // exact, unless wantPrefix
		wantPrefix bool
		wantLogins int
	}{
		{
			name:       "wrong password",
			setup:      func(f *fixture) { f.env["RECITAL_PASSWORD"] = "Tr0ub4dor&3" },
			wantCode:   1,
			wantStderr: "recitaltoken: recitaloauth: login refused: 401 Unauthorized: Incorrect username or password\n",
			wantLogins: 1,
		},
		{
			name:       "unknown user",
			setup:      func(f *fixture) { f.env["RECITAL_USERNAME"] = "bob@example.com" },
			wantCode:   1,
			wantStderr: "recitaltoken: recitaloauth: login refused: 401 Unauthorized: Incorrect username or password\n",
			wantLogins: 1,
		},
		{
			name:       "account locked",
			setup:      func(f *fixture) { f.server.FailLogins(1, http.StatusForbidden, `{"detail":"Account locked"}`) },
			wantCode:   1,
			wantStderr: "recitaltoken: recitaloauth: login refused: 403 Forbidden: Account locked\n",
			wantLogins: 1,
		},
		{
			name:       "server down",
			setup:      func(f *fixture) { f.env["RECITAL_AUTH_URL"] = downAuthURL },
			wantCode:   1,
			wantStderr: "recitaltoken: recitaloauth: login failed: ",
			wantPrefix: true,
		},
		{
			name:       "password not UTF-8",
			setup:      func(f *fixture) { f.env["RECITAL_PASSWORD"] = "caf\xe9" },
			wantCode:   2,
			wantStderr: "recitaltoken: recitaloauth: RECITAL_PASSWORD is not valid UTF-8: the server would read another one\n",
		},
		{
			name:       "password on stdin not UTF-8",
			setup:      func(f *fixture) { delete(f.env, "RECITAL_PASSWORD") },
			stdin:      "caf\xe9\n",
			args:       []string{"-password-stdin"},
			wantCode:   2,
			wantStderr: "recitaltoken: recitaloauth: -password-stdin is not valid UTF-8: the server would read another one\n",
		},
		{
			name:       "username not UTF-8",
			setup:      func(f *fixture) { f.env["RECITAL_USERNAME"] = "jos\xe9" },
			wantCode:   2,
			wantStderr: "recitaltoken: recitaloauth: RECITAL_USERNAME is not valid UTF-8: the server would read another one\n",
		},
		{
			name:       "-status with -logout",
			args:       []string{"-status", "-logout"},
			wantCode:   2,
			wantStderr: "recitaltoken: -status and -logout cannot be used together\nusage: recitaltoken [-check | -json | -status | -logout | -refresh] [-no-cache] [-password-stdin] [-timeout D] [-v]\nRun 'recitaltoken -h' for help.\n",
		},
		{
			name:       "-refresh with -no-cache",
			args:       []string{"-refresh", "-no-cache"},
			wantCode:   2,
			wantStderr: "recitaltoken: -refresh and -no-cache cannot be used together\nusage: recitaltoken [-check | -json | -status | -logout | -refresh] [-no-cache] [-password-stdin] [-timeout D] [-v]\nRun 'recitaltoken -h' for help.\n",
		},
		{
			name:       "-timeout not positive",
			args:       []string{"-timeout", "0s"},
			wantCode:   2,
			wantStderr: "recitaltoken: -timeout must be positive\nusage: recitaltoken [-check | -json | -status | -logout | -refresh] [-no-cache] [-password-stdin] [-timeout D] [-v]\nRun 'recitaltoken -h' for help.\n",
		},
		{
			name:       "no credentials",
			setup:      func(f *fixture) { f.env = map[string]string{"RECITAL_AUTH_URL": f.server.AuthURL()} },
			wantCode:   2,
			wantStderr: noCredentials,
		},
		{
			name: "empty variables",
			setup: func(f *fixture) {
				f.env = map[string]string{"RECITAL_API_TOKEN": "", "RECITAL_USERNAME": "", "RECITAL_PASSWORD": ""}
			},
			wantCode:   2,
			wantStderr: noCredentials,
		},
		{
			name:       "no password",
			setup:      func(f *fixture) { delete(f.env, "RECITAL_PASSWORD") },
			wantCode:   2,
			wantStderr: "recitaltoken: recitaloauth: RECITAL_USERNAME is set but RECITAL_PASSWORD is not\n",
		},
		{
			name:       "no username",
			setup:      func(f *fixture) { delete(f.env, "RECITAL_USERNAME") },
			wantCode:   2,
			wantStderr: "recitaltoken: recitaloauth: RECITAL_PASSWORD is set but RECITAL_USERNAME is not\n",
		},
		{
			name:       "malformed service token",
			setup:      func(f *fixture) { f.env["RECITAL_API_TOKEN"] = "two words" },
			wantCode:   2,
			wantStderr: "recitaltoken: recitaloauth: RECITAL_API_TOKEN has characters a bearer token cannot have\n",
		},
		{
			name:       "auth URL in clear text",
			setup:      func(f *fixture) { f.env["RECITAL_AUTH_URL"] = "http://auth.example/login/" },
			wantCode:   2,
			wantStderr: "recitaltoken: recitaloauth: RECITAL_AUTH_URL: refusing to send credentials in clear text to http://auth.example: use https\n",
		},
		{
			name:       "API URL in clear text",
			setup:      func(f *fixture) { f.env["RECITAL_API_URL"] = "http://api.example/extract/api/v1" },
			args:       []string{"-check"},
			wantCode:   2,
			wantStderr: "recitaltoken: recitaloauth: RECITAL_API_URL: refusing to send credentials in clear text to http://api.example: use https\n",
		},
		{
			name:       "API URL not absolute",
			setup:      func(f *fixture) { f.env["RECITAL_API_URL"] = "extract/api/v1" },
			args:       []string{"-check"},
			wantCode:   2,
			wantStderr: "recitaltoken: recitaloauth: RECITAL_API_URL is not an absolute URL\n",
		},
		{
			name:       "unknown flag",
			args:       []string{"-password", password},
			wantCode:   2,
			wantStderr: "recitaltoken: flag provided but not defined: -password\nusage: recitaltoken [-check | -json | -status | -logout | -refresh] [-no-cache] [-password-stdin] [-timeout D] [-v]\nRun 'recitaltoken -h' for help.\n",
		},
		{
			name:       "argument",
			args:       []string{"token"},
			wantCode:   2,
			wantStderr: "recitaltoken: unexpected argument \"token\"\nusage: recitaltoken [-check | -json | -status | -logout | -refresh] [-no-cache] [-password-stdin] [-timeout D] [-v]\nRun 'recitaltoken -h' for help.\n",
		},
		{
			name:       "-check with -json",
			args:       []string{"-check", "-json"},
			wantCode:   2,
			wantStderr: "recitaltoken: -check and -json cannot be used together\nusage: recitaltoken [-check | -json | -status | -logout | -refresh] [-no-cache] [-password-stdin] [-timeout D] [-v]\nRun 'recitaltoken -h' for help.\n",
		},
		{
			name:       "-password-stdin with a service token",
			setup:      func(f *fixture) { f.env["RECITAL_API_TOKEN"] = "service-token" },
			stdin:      password + "\n",
			args:       []string{"-password-stdin"},
			wantCode:   2,
			wantStderr: "recitaltoken: -password-stdin cannot be used with RECITAL_API_TOKEN set\n",
		},
		{
			name:       "-password-stdin without username",
			setup:      func(f *fixture) { delete(f.env, "RECITAL_USERNAME") },
			stdin:      password + "\n",
			args:       []string{"-password-stdin"},
			wantCode:   2,
			wantStderr: "recitaltoken: -password-stdin needs RECITAL_USERNAME\n",
		},
		{
			name:       "-password-stdin with nothing on stdin",
			args:       []string{"-password-stdin"},
			wantCode:   2,
			wantStderr: "recitaltoken: -password-stdin: standard input holds no password\n",
		},
		{
			name:       "-password-stdin with an empty line",
			stdin:      "\r\n" + password + "\n",
			args:       []string{"-password-stdin"},
			wantCode:   2,
			wantStderr: "recitaltoken: -password-stdin: standard input holds no password\n",
		},
		{
			name:       "-password-stdin with a wrong password",
			stdin:      "Tr0ub4dor&3\n",
			args:       []string{"-password-stdin"},
			wantCode:   1,
			wantStderr: "recitaltoken: recitaloauth: login refused: 401 Unauthorized: Incorrect username or password\n",
			wantLogins: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			r := f.run(tt.stdin, tt.args...)
			got := r
			if tt.wantPrefix && strings.HasPrefix(got.Stderr, tt.wantStderr) && strings.Count(got.Stderr, "\n") == 1 {
				got.Stderr = tt.wantStderr
			}
			if diff := cmp.Diff(result{Code: tt.wantCode, Stderr: tt.wantStderr}, got); diff != "" {
				t.Errorf("recitaltoken %s (-want +got):\n%s", strings.Join(tt.args, " "), diff)
			}
			f.wantLogins(tt.wantLogins)
			if names := f.storedTokens(); len(names) != 0 {
				t.Errorf("store holds %q after a failure, want nothing", names)
			}
		})
	}
}

func TestPasswordStdin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		stdin string
	}{
		{"line", password + "\n"},
		{"CRLF", password + "\r\n"},
		{"no line ending", password},
		{"more lines", password + "\nnot the password\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.env["RECITAL_PASSWORD"] = "stale password" // stdin takes its place
			r := f.run(tt.stdin, "-password-stdin")
			if r.Code != 0 || r.Stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing", r.Code, r.Stderr)
			}
			if status, _ := f.configUser(oneLine(t, r.Stdout)); status != http.StatusOK {
				t.Errorf("GET /config/ with the printed token: %d, want 200", status)
			}
			f.wantLogins(1)
			if tt.name != "line" {
				return // one case is enough for the store: argon2id is slow
			}
			// The token is stored for the password from stdin.
			if r := f.run(tt.stdin, "-password-stdin"); r.Code != 0 {
				t.Errorf("second run: exit %d, stderr %q", r.Code, r.Stderr)
			}
			f.wantLogins(1)
		})
	}
}

func TestReadPassword(t *testing.T) {
	tests := []struct {
		name    string
		stdin   string
		want    string
		wantErr string
	}{
		{name: "line", stdin: "pw\n", want: "pw"},
		{name: "CRLF", stdin: "pw\r\n", want: "pw"},
		{name: "no line ending", stdin: "pw", want: "pw"},
		{name: "first line only", stdin: "pw\nrest\n", want: "pw"},
		{name: "spaces kept", stdin: " pw \n", want: " pw "},
		{name: "nothing", stdin: "", wantErr: "-password-stdin: standard input holds no password"},
		{name: "empty line", stdin: "\npw\n", wantErr: "-password-stdin: standard input holds no password"},
		{name: "longest", stdin: strings.Repeat("x", maxPasswordLine-1) + "\n", want: strings.Repeat("x", maxPasswordLine-1)},
		{name: "longest with CRLF", stdin: strings.Repeat("x", maxPasswordLine) + "\r\n", want: strings.Repeat("x", maxPasswordLine)},
		{name: "too long", stdin: strings.Repeat("x", maxPasswordLine+1), wantErr: "-password-stdin: the first line is longer than 4096 bytes"},
		{name: "too long with newline", stdin: strings.Repeat("x", maxPasswordLine+1) + "\n", wantErr: "-password-stdin: the first line is longer than 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readPassword(strings.NewReader(tt.stdin))
			var gotErr string
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff([]string{tt.want, tt.wantErr}, []string{got, gotErr}); diff != "" {
				t.Errorf("readPassword (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTimeout: -timeout bounds the whole run against a login that hangs,
// and the message names it; exit 1.
func TestTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.server.SetLoginDelay(time.Hour)
	start := time.Now()
	r := f.run("", "-timeout", "300ms")
	took := time.Since(start)
	if r.Code != 1 || r.Stdout != "" || !strings.HasPrefix(r.Stderr, "recitaltoken: gave up after -timeout 300ms: ") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1, nothing, a message naming -timeout 300ms", r.Code, r.Stdout, r.Stderr)
	}
	if took > 2*time.Second {
		t.Errorf("the run took %v, want about 300ms", took.Round(time.Millisecond))
	}
}

// TestNoPromptWithoutTerminal: not on a terminal (the prompt itself is
// TestPasswordPrompt, through a pseudo-terminal, on Linux), a missing password is
// the configuration error it always was.
func TestNoPromptWithoutTerminal(t *testing.T) {
	f := newFixture(t)
	delete(f.env, "RECITAL_PASSWORD")
	r := f.run("")
	want := result{Code: 2, Stderr: "recitaltoken: recitaloauth: RECITAL_USERNAME is set but RECITAL_PASSWORD is not\n"}
	if r != want {
		t.Errorf("got %+v, want %+v", r, want)
	}
}
