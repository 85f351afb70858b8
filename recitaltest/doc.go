// Package recitaltest provides a fake recital.ai server, so that code which
// logs in to recital and calls its API can be tested without the network,
// real accounts or real tokens.
//
// The fake imitates the FastAPI servers behind extract.auth.recital.ai and
// extract.api.recital.ai closely enough for a client to notice the
// difference between success, bad credentials, malformed requests,
// expired or revoked tokens and transient failures. It serves:
//
//	POST /auth/api/v1/login/       form fields username and password;
//	                               answers {"access_token", "token_type", "expires_in"}
//	GET  /extract/api/v1/config/   needs "Authorization: Bearer <token>";
//	                               answers {"organisation", "user"}
//
// Every other path answers 404, and a known path asked with the wrong
// method answers 405, each with a FastAPI-style {"detail": ...} body.
//
// Start a server with [NewServer], register credentials with
// [Server.AddUser] or [Server.AddServiceToken], and point the code under
// test at [Server.AuthURL] and [Server.APIURL]. The Set and Fail methods
// change how later requests are answered (token lifetime, token shape,
// injected failures, slow logins, tokens bound to IP addresses with
// [Server.SetBindTokensToIP]), [Server.Revoke] and [Server.RevokeAll]
// refuse tokens already issued, and [Server.Logins], [Server.APIRequests]
// and [Server.RefusedFromOtherAddress] tell a test how many requests the
// code made.
//
// A [Server] is also a [net/http.Handler]. Tests that run inside a
// testing/synctest bubble, where real sockets are not allowed, can create
// the Server outside the bubble (NewServer opens a socket) and, inside it,
// send requests through [InMemoryTransport], which calls [Server.ServeHTTP]
// without a socket. The handler reads the clock only through time.Now and waits only on timers
// it creates while answering, so token expiry and login delays then
// follow the bubble's virtual clock.
package recitaltest
