package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/estatecore/whitelabel"
)

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      whitelabel.ErrorCode `json:"code"`
	Message   string               `json:"message"`
	Field     string               `json:"field,omitempty"`
	RequestID string               `json:"request_id,omitempty"`
}

// writeError alone turns an error into a response. A *whitelabel.Error
// with a known code shows its public message; anything else is logged
// with the request ID and answered with a generic 500.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, rs *reqState, err error) {
	var e *whitelabel.Error
	status := http.StatusInternalServerError
	d := errorDetail{Code: whitelabel.CodeInternal, RequestID: rs.requestID}
	if errors.As(err, &e) {
		// An unknown code also maps to 500 but, unlike CodeInternal, is
		// not echoed: the client sees the generic internal error.
		if st := whitelabel.HTTPStatus(e.Code); st != http.StatusInternalServerError || e.Code == whitelabel.CodeInternal {
			status = st
			d.Code, d.Message, d.Field = e.Code, e.Message, e.Field
		}
	}
	if status >= 500 {
		if d.Code == whitelabel.CodeInternal {
			d.Message = "internal error; quote the request ID when reporting it"
		}
		s.log.ErrorContext(r.Context(), "control: request failed",
			"err", err, "method", r.Method, "path", r.URL.Path, "request_id", rs.requestID)
	} else if e != nil && e.Err != nil {
		s.log.DebugContext(r.Context(), "control: client error", "err", err, "request_id", rs.requestID)
	}
	if d.Message == "" {
		d.Message = http.StatusText(status)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `APIKey header="X-API-Key"`)
	}
	writeJSON(w, status, errorBody{Error: d})
}

// writeJSON writes v as a JSON response with status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// readBody returns the request body, enforcing the JSON content type and
// the size limit. A missing body is an invalid_input error.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := checkContentType(r); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, whitelabel.Errorf(whitelabel.CodeTooLarge, "", "request body exceeds %d bytes", mbe.Limit)
		}
		return nil, whitelabel.Errorf(whitelabel.CodeInvalid, "", "could not read request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, whitelabel.Invalid("", "a JSON request body is required")
	}
	return body, nil
}

// checkContentType refuses a body that is not declared as JSON.
func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		if r.ContentLength == 0 {
			return nil // no body; readBody reports that
		}
		return whitelabel.Errorf(whitelabel.CodeUnsupportedMedia, "", "Content-Type must be application/json")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))) {
		return whitelabel.Errorf(whitelabel.CodeUnsupportedMedia, "", "Content-Type must be application/json, not %q", ct)
	}
	return nil
}

// hasBody reports whether the client sent a body.
func hasBody(r *http.Request) bool {
	return r.ContentLength > 0 || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody)
}

// decodeJSON reads the body into dst, rejecting unknown fields, wrong
// types, malformed JSON and trailing data with errors naming the field.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	return decodeStrict(body, dst)
}

func decodeStrict(body []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return whitelabel.Invalid("", "request body must hold exactly one JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return whitelabel.Invalid("", "request body must hold exactly one JSON value")
	}
	return nil
}

// jsonError turns a decoding error into an invalid_input error.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return &whitelabel.Error{Code: whitelabel.CodeInvalid, Message: fmt.Sprintf("malformed JSON at byte %d", se.Offset), Err: err}
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return &whitelabel.Error{Code: whitelabel.CodeInvalid, Message: fmt.Sprintf("request body must be %s, not %s", jsonKind(te.Type.Kind().String()), te.Value), Err: err}
		}
		return &whitelabel.Error{Code: whitelabel.CodeInvalid, Field: field,
			Message: fmt.Sprintf("%s must be %s, not %s", field, jsonKind(te.Type.Kind().String()), te.Value), Err: err}
	case errors.Is(err, io.EOF):
		return whitelabel.Invalid("", "a JSON request body is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &whitelabel.Error{Code: whitelabel.CodeInvalid, Message: "malformed JSON: unexpected end of input", Err: err}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return &whitelabel.Error{Code: whitelabel.CodeInvalid, Field: name, Message: fmt.Sprintf("unknown field %q", name), Err: err}
	}
	return &whitelabel.Error{Code: whitelabel.CodeInvalid, Message: "invalid JSON body", Err: err}
}

// jsonKind names a Go kind the way a JSON client thinks of it.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	}
	return "a different type"
}
