package recitaltest

import (
	"encoding/json"
	"net/http"
	"strings"
)

// fieldError is one entry of a FastAPI validation (422) answer.
type fieldError struct {
	Type  string   `json:"type"`
	Loc   []string `json:"loc"`
	Msg   string   `json:"msg"`
	Input any      `json:"input"`
}

// writeJSON answers status with v encoded as JSON. Encoding cannot fail
// for the fixed shapes this package sends, and a write error means the
// client has gone, so errors are not reported.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic("recitaltest: encoding answer: " + err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeDetail answers with FastAPI's shape for HTTPException.
func writeDetail(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, struct {
		Detail string `json:"detail"`
	}{detail})
}

// writeMissing answers 422 with one "Field required" entry per missing
// form field, as FastAPI's request validation does.
func writeMissing(w http.ResponseWriter, fields []string) {
	errs := make([]fieldError, 0, len(fields))
	for _, f := range fields {
		errs = append(errs, fieldError{
			Type: "missing",
			Loc:  []string{"body", f},
			Msg:  "Field required",
		})
	}
	writeJSON(w, http.StatusUnprocessableEntity, struct {
		Detail []fieldError `json:"detail"`
	}{errs})
}

// writeUnauthorized answers 401 with the challenge FastAPI's
// OAuth2PasswordBearer sends, which tells clients to present a bearer token.
func writeUnauthorized(w http.ResponseWriter, detail string) {
	w.Header().Set("WWW-Authenticate", "Bearer")
	writeDetail(w, http.StatusUnauthorized, detail)
}

// writeMethodNotAllowed answers 405 as Starlette does, naming the allowed
// method.
func writeMethodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeDetail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
}

// writeRaw answers with a canned status and body, labelled as JSON when
// it looks like JSON and as an HTML error page otherwise, which is what
// proxies in front of an API usually send.
func writeRaw(w http.ResponseWriter, status int, body string) {
	ct := "text/html; charset=utf-8"
	if strings.HasPrefix(body, "{") || strings.HasPrefix(body, "[") {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
