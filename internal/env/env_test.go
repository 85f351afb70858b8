package env

import "testing"

// TestPasswordMissing: only a login short of its password asks for one
// from elsewhere; a service token, which wins, never does.
func TestPasswordMissing(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		want bool
	}{
		{"username alone", map[string]string{Username: "ana"}, true},
		{"username and password", map[string]string{Username: "ana", Password: "pw"}, false},
		{"nothing", map[string]string{}, false},
		{"password alone", map[string]string{Password: "pw"}, false},
		{"service token and username", map[string]string{APIToken: "tok", Username: "ana"}, false},
		{"white space token and username", map[string]string{APIToken: " \n", Username: "ana"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Lookup(func(name string) string { return tt.vars[name] })
			if got := v.PasswordMissing(); got != tt.want {
				t.Errorf("PasswordMissing() = %v, want %v", got, tt.want)
			}
		})
	}
}
