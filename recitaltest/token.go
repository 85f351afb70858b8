package recitaltest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"time"
)

// jwtHeader is the fixed header of every JWT the server issues. The
// tokens are unsigned because clients must treat them as opaque apart
// from reading exp; the third part is random only to look like a
// signature.
const jwtHeader = `{"alg":"none","typ":"JWT"}`

// jwtClaims is the payload of an issued JWT, in the order recital's
// tokens list them.
type jwtClaims struct {
	Sub string `json:"sub"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
	Jti string `json:"jti"`
}

// newJWT returns a JWT-shaped token for username issued at iat and
// expiring at exp. The random jti makes every token unique even when two
// are issued in the same second, as happens under a fake clock.
func newJWT(username string, iat, exp time.Time) string {
	payload, err := json.Marshal(jwtClaims{
		Sub: username,
		Iat: iat.Unix(),
		Exp: exp.Unix(),
		Jti: hex.EncodeToString(randomBytes(16)),
	})
	if err != nil {
		panic("recitaltest: encoding JWT claims: " + err.Error())
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(jwtHeader)) + "." +
		enc.EncodeToString(payload) + "." +
		enc.EncodeToString(randomBytes(16))
}

// newOpaqueToken returns a random token with no dots, so that no client
// can mistake it for a JWT.
func newOpaqueToken() string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(32))
}

// randomBytes returns n bytes from crypto/rand, which never fails.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// ceilSeconds rounds t up to a whole second, because exp is an integer
// and rounding down would make tokens expire before their lifetime.
func ceilSeconds(t time.Time) time.Time {
	r := t.Truncate(time.Second)
	if r.Before(t) {
		r = r.Add(time.Second)
	}
	return r
}
