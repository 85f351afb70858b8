package recitaltest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/url"

	"github.com/seed9ffb1f9c/recitaloauth"
	"github.com/seed9ffb1f9c/recitaloauth/recitaltest"
)

// Example logs in with a plain form POST and uses the access token to
// call the API, as any recital client does.
func Example() {
	s := recitaltest.NewServer()
	defer s.Close()
	s.AddUser("alice", "s3cret")

	res, err := s.Client().PostForm(s.AuthURL(), url.Values{
		"username": {"alice"},
		"password": {"s3cret"},
	})
	if err != nil {
		log.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("login:", res.StatusCode)

	req, err := http.NewRequest(http.MethodGet, s.APIURL()+"/config/", nil)
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, err = s.Client().Do(req)
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	fmt.Println("config:", res.StatusCode)

	// Output:
	// login: 200
	// config: 200
}

// Example_recitaloauth tests code built on recitaloauth against the fake:
// an outage at login is retried, and Logins counts what the client did.
func Example_recitaloauth() {
	s := recitaltest.NewServer()
	defer s.Close()
	s.AddUser("alice", "s3cret")
	s.FailLogins(1, http.StatusServiceUnavailable, `{"detail":"maintenance"}`)

	cfg := &recitaloauth.Config{Username: "alice", Password: "s3cret", AuthURL: s.AuthURL()}
	client := cfg.Client(context.Background())
	res, err := client.Get(s.APIURL() + "/config/")
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	fmt.Println("config:", res.StatusCode)
	fmt.Println("login attempts:", s.Logins())

	// Output:
	// config: 200
	// login attempts: 2
}
