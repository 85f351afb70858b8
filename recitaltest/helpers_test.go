package recitaltest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// reply is the part of an answer the tests compare.
type reply struct {
	Status      int
	ContentType string
	WWWAuth     string
	Allow       string
	Body        any // decoded JSON if the answer says it is JSON, else the text
}

// do sends req and summarises the answer.
func do(t *testing.T, c *http.Client, req *http.Request) reply {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	r := reply{
		Status:      res.StatusCode,
		ContentType: res.Header.Get("Content-Type"),
		WWWAuth:     res.Header.Get("WWW-Authenticate"),
		Allow:       res.Header.Get("Allow"),
		Body:        string(b),
	}
	if r.ContentType == "application/json" {
		if err := json.Unmarshal(b, &r.Body); err != nil {
			t.Fatalf("%s %s: answer labelled JSON is not JSON: %v\n%s", req.Method, req.URL, err, b)
		}
	}
	return r
}

// newRequest builds a request or fails the test.
func newRequest(t *testing.T, method, url, contentType, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

// loginRequest builds the form POST a client sends to log in.
func loginRequest(t *testing.T, authURL, username, password string) *http.Request {
	t.Helper()
	form := url.Values{"username": {username}, "password": {password}}
	return newRequest(t, http.MethodPost, authURL, "application/x-www-form-urlencoded", form.Encode())
}

// configRequest builds GET /config/ with the given Authorization header,
// or none if it is empty.
func configRequest(t *testing.T, apiURL, authorization string) *http.Request {
	t.Helper()
	req := newRequest(t, http.MethodGet, apiURL+"/config/", "", "")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return req
}

// accessToken logs in and returns the access token, failing the test if
// the login does not succeed.
func accessToken(t *testing.T, c *http.Client, authURL, username, password string) string {
	t.Helper()
	r := do(t, c, loginRequest(t, authURL, username, password))
	body, _ := r.Body.(map[string]any)
	tok, _ := body["access_token"].(string)
	if r.Status != http.StatusOK || tok == "" {
		t.Fatalf("login as %q: got %d %v, want 200 with an access_token", username, r.Status, r.Body)
	}
	return tok
}

// mustJSON decodes a literal from a test table.
func mustJSON(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic("bad JSON in test table: " + err.Error())
	}
	return v
}
