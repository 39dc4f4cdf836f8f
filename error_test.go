package whitelabel

import (
	"net/http"
	"testing"
)

func TestHTTPStatus(t *testing.T) {
	tests := []struct {
		name string
		code ErrorCode
		want int
	}{
		{"invalid", CodeInvalid, http.StatusBadRequest},
		{"unauthorized", CodeUnauthorized, http.StatusUnauthorized},
		{"forbidden", CodeForbidden, http.StatusForbidden},
		{"not found", CodeNotFound, http.StatusNotFound},
		{"method not allowed", CodeMethodNotAllowed, http.StatusMethodNotAllowed},
		{"conflict", CodeConflict, http.StatusConflict},
		{"invalid transition", CodeInvalidTransition, http.StatusConflict},
		{"gone", CodeGone, http.StatusGone},
		{"precondition failed", CodePreconditionFailed, http.StatusPreconditionFailed},
		{"too large", CodeTooLarge, http.StatusRequestEntityTooLarge},
		{"unsupported media", CodeUnsupportedMedia, http.StatusUnsupportedMediaType},
		{"rate limited", CodeRateLimited, http.StatusTooManyRequests},
		{"quota exceeded", CodeQuotaExceeded, http.StatusTooManyRequests},
		{"internal", CodeInternal, http.StatusInternalServerError},
		{"unavailable", CodeUnavailable, http.StatusServiceUnavailable},
		{"upstream unavailable", CodeUpstreamUnavailable, http.StatusBadGateway},
		{"upstream timeout", CodeUpstreamTimeout, http.StatusGatewayTimeout},
		{"unknown code", ErrorCode("no_such_code"), http.StatusInternalServerError},
		{"empty code", "", http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HTTPStatus(tt.code); got != tt.want {
				t.Errorf("HTTPStatus(%q) = %d, want %d", tt.code, got, tt.want)
			}
		})
	}
}
