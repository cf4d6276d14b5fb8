package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// HTTPHandler serves the same methods over POST for stateless calls: one
// request or a batch per body. prepare authenticates the request and
// returns the context handlers see; an *Error from it is answered with the
// matching HTTP status (401, 403, else 400).
func HTTPHandler(mux *Mux, maxBody int64, prepare func(*http.Request) (context.Context, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeHTTPError(w, http.StatusMethodNotAllowed, &Error{Code: CodeInvalidRequest, Message: "invalid request: use POST"})
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			writeHTTPError(w, http.StatusUnsupportedMediaType, &Error{Code: CodeInvalidRequest, Message: "invalid request: Content-Type must be application/json"})
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			writeHTTPError(w, http.StatusRequestEntityTooLarge, &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf("invalid request: body larger than %d bytes", maxBody)})
			return
		case err != nil:
			writeHTTPError(w, http.StatusBadRequest, &Error{Code: CodeInvalidRequest, Message: "invalid request: cannot read body"})
			return
		}
		ctx, err := prepare(r)
		if err != nil {
			var rerr *Error
			if !errors.As(err, &rerr) {
				rerr = &Error{Code: CodeInternalError, Message: "internal error"}
			}
			writeHTTPError(w, httpStatus(rerr.Code), rerr)
			return
		}
		reply := mux.Dispatch(ctx, body)
		if reply == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(reply)
	})
}

// httpStatus maps an application error code that mirrors an HTTP status.
func httpStatus(code int64) int {
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden:
		return int(code)
	case CodeInternalError:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

func writeHTTPError(w http.ResponseWriter, status int, e *Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(encodeError(nullID, e))
}
