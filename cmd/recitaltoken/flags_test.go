package main

import (
	"flag"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/seed9ffb1f9c/recitaloauth"
)

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"-h", "-help", "--help"} {
		t.Run(arg, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			r := f.run("", arg)
			if r.Code != 0 || r.Stderr != "" {
				t.Errorf("exit %d, stderr %q; want 0 and nothing", r.Code, r.Stderr)
			}
			for _, want := range []string{
				"usage: recitaltoken",
				"RECITAL_API_TOKEN", "RECITAL_USERNAME", "RECITAL_PASSWORD", "RECITAL_AUTH_URL", "RECITAL_API_URL",
			} {
				if !strings.Contains(r.Stdout, want) {
					t.Errorf("usage does not mention %q:\n%s", want, r.Stdout)
				}
			}
			// Every flag the command parses, in the usage line and with its
			// line in the table: a flag defined around newFlagSet's helpers
			// would be parsed but never shown. The prose mentions some flags
			// too, so finding a name anywhere would not notice it.
			usageLine, _, _ := strings.Cut(r.Stdout, "\n")
			newFlagSet(&options{}, recitaloauth.DefaultLoginTimeout).VisitAll(func(fl *flag.Flag) {
				name := regexp.QuoteMeta(fl.Name)
				if !regexp.MustCompile(`^usage: recitaltoken .*\[(.* )?-` + name + `[] |]`).MatchString(usageLine) {
					t.Errorf("the usage line %q does not name -%s", usageLine, fl.Name)
				}
				if !regexp.MustCompile(`(?m)^  -` + name + `( [A-Z]+)? +\S`).MatchString(r.Stdout) {
					t.Errorf("usage has no table line for -%s:\n%s", fl.Name, r.Stdout)
				}
			})
			f.wantLogins(0)
		})
	}
}

// TestFlagTableCopies: -h prints the table of flags, and the package
// documentation and the README copy it exactly, so that a flag added,
// renamed or reworded fails here until its copies say what -h says.
func TestFlagTableCopies(t *testing.T) {
	t.Parallel()
	var table strings.Builder
	newFlagSet(&options{}, recitaloauth.DefaultLoginTimeout).writeTable(&table)
	want := table.String()

	help := newFixture(t).run("", "-h").Stdout
	if !strings.Contains(help, "\n\n"+want+"\n") {
		t.Errorf("-h does not print the table of flags as a paragraph:\n%s", help)
	}

	// The package documentation: the code block that starts with a flag,
	// less the table's indent, which gofmt takes off a comment's block.
	file, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.PackageClauseOnly|parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(file.Doc.Text(), "\n")
	var doc strings.Builder
	if start := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "\t-") }); start >= 0 {
		for _, line := range lines[start:] {
			if !strings.HasPrefix(line, "\t") {
				break
			}
			doc.WriteString(strings.TrimPrefix(line, "\t") + "\n")
		}
	}
	dedented := strings.ReplaceAll("\n"+want, "\n"+strings.Repeat(" ", tableIndent), "\n")[1:]
	if diff := cmp.Diff(dedented, doc.String()); diff != "" {
		t.Errorf("the package documentation's table of flags is not -h's: paste -h's in (-want +got):\n%s", diff)
	}

	// The README: the fenced block that starts with a flag.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?ms)^```text\n(  -.*?)^```$").FindAllStringSubmatch(string(readme), -1)
	if len(blocks) != 1 {
		t.Fatalf("README.md has %d blocks of flags, want 1", len(blocks))
	}
	if diff := cmp.Diff(want, blocks[0][1]); diff != "" {
		t.Errorf("README.md's table of flags is not -h's: paste -h's in (-want +got):\n%s", diff)
	}
}

// TestConflict: one mode at a time, except -json with -refresh (which
// prints the token); -no-cache with none that needs the cache.
func TestConflict(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-json", "-refresh"}, ""},
		{[]string{"-refresh", "-json"}, ""},
		{[]string{"-json", "-no-cache"}, ""},
		{[]string{"-check", "-no-cache", "-password-stdin", "-v"}, ""},
		{[]string{"-json", "-check"}, "-check and -json cannot be used together"},
		{[]string{"-logout", "-status", "-refresh"}, "-status and -logout cannot be used together"},
		{[]string{"-json", "-refresh", "-no-cache"}, "-refresh and -no-cache cannot be used together"},
		{[]string{"-status", "-no-cache"}, "-status and -no-cache cannot be used together"},
		{[]string{"-timeout", "0s"}, "-timeout must be positive"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var opts options
			fs := newFlagSet(&opts, recitaloauth.DefaultLoginTimeout)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, fs.conflict(opts)); diff != "" {
				t.Errorf("conflict mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
