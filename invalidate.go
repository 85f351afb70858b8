package recitaloauth

import "golang.org/x/oauth2"

// Invalidate tells src, a source from [Config.TokenSource] or
// [DefaultTokenSource], that the API refused tok with 401: for code that
// puts the token on its requests itself (a gRPC per-request credential, a
// hand-set header) and so cannot leave the 401 to [Config.Client]. It does
// what Config.Client does on a 401, as "Refused tokens" in the package
// documentation says: while tok is src's current token, the next Token
// call logs in, once for every caller and every concurrent Invalidate. A
// tok that is no longer current changes nothing, nor does a source of
// another kind (a service token, a static source, nil). It is safe for
// concurrent use.
//
// Pass the source itself, not a wrapper such as [oauth2.ReuseTokenSource],
// which Invalidate cannot see through.
func Invalidate(src oauth2.TokenSource, tok *oauth2.Token) {
	s, ok := src.(*cachedSource)
	if !ok || tok == nil {
		return
	}
	if cred := s.current.Load(); cred != nil && cred.token.AccessToken == tok.AccessToken {
		s.refuse(cred) // which checks again, under its lock, that cred is current
	}
}
