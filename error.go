package whitelabel

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrorCode is a stable, machine-readable error code. API clients match on
// it, so existing values never change meaning.
type ErrorCode string

// Error codes. HTTPStatus maps them to HTTP statuses for every HTTP layer.
const (
	CodeInvalid             ErrorCode = "invalid_input"          // 400
	CodeUnauthorized        ErrorCode = "unauthorized"           // 401
	CodeForbidden           ErrorCode = "forbidden"              // 403
	CodeNotFound            ErrorCode = "not_found"              // 404
	CodeMethodNotAllowed    ErrorCode = "method_not_allowed"     // 405
	CodeConflict            ErrorCode = "conflict"               // 409
	CodeInvalidTransition   ErrorCode = "invalid_transition"     // 409
	CodeGone                ErrorCode = "gone"                   // 410
	CodePreconditionFailed  ErrorCode = "precondition_failed"    // 412
	CodeTooLarge            ErrorCode = "payload_too_large"      // 413
	CodeUnsupportedMedia    ErrorCode = "unsupported_media_type" // 415
	CodeRateLimited         ErrorCode = "rate_limited"           // 429
	CodeQuotaExceeded       ErrorCode = "quota_exceeded"         // 429
	CodeInternal            ErrorCode = "internal"               // 500
	CodeUnavailable         ErrorCode = "unavailable"            // 503
	CodeUpstreamUnavailable ErrorCode = "upstream_unavailable"   // 502
	CodeUpstreamTimeout     ErrorCode = "upstream_timeout"       // 504
)

// HTTPStatus returns the HTTP status that answers an error with code: the
// one table every HTTP layer (control, the edge, its sign-in pages) uses.
// Any other code, CodeInternal included, is 500.
func HTTPStatus(code ErrorCode) int {
	switch code {
	case CodeInvalid:
		return http.StatusBadRequest
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case CodeConflict, CodeInvalidTransition:
		return http.StatusConflict
	case CodeGone:
		return http.StatusGone
	case CodePreconditionFailed:
		return http.StatusPreconditionFailed
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeUnsupportedMedia:
		return http.StatusUnsupportedMediaType
	case CodeRateLimited, CodeQuotaExceeded:
		return http.StatusTooManyRequests
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	case CodeUpstreamUnavailable:
		return http.StatusBadGateway
	case CodeUpstreamTimeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// Error is the error every layer returns for conditions a client can act
// on. Message and Field are public; Err is the private cause, logged but
// never shown to a client.
type Error struct {
	Code    ErrorCode
	Field   string // the offending input field, if any ("subdomain", "colors.primary")
	Message string // public, human-readable
	Err     error  // private cause; may be nil
}

func (e *Error) Error() string {
	s := string(e.Code)
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted public message.
func Errorf(code ErrorCode, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Sentinel errors for the common cases. Compare with errors.Is, which
// matches on Code (see (*Error).Is).
var (
	ErrNotFound           = &Error{Code: CodeNotFound, Message: "not found"}
	ErrConflict           = &Error{Code: CodeConflict, Message: "conflict"}
	ErrPreconditionFailed = &Error{Code: CodePreconditionFailed, Message: "the resource was modified by someone else; fetch it again"}
	ErrUnauthorized       = &Error{Code: CodeUnauthorized, Message: "missing or invalid credentials"}
)

// Is reports whether target is an *Error with the same Code, so that
// errors.Is(err, ErrNotFound) holds for any not-found error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// ErrorCodeOf returns the code of the first *Error in err's chain, or
// CodeInternal if there is none (and "" for a nil error).
func ErrorCodeOf(err error) ErrorCode {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// NotFound returns a not-found error naming what was missing.
func NotFound(what string) *Error {
	return &Error{Code: CodeNotFound, Message: what + " not found"}
}

// Invalid returns an invalid-input error for field.
func Invalid(field, format string, args ...any) *Error {
	return Errorf(CodeInvalid, field, format, args...)
}

// Conflict returns a conflict error for field.
func Conflict(field, format string, args ...any) *Error {
	return Errorf(CodeConflict, field, format, args...)
}
