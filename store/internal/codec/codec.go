package codec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/estatecore/whitelabel"
)

// Time returns t in UTC, truncated to the microsecond: the precision both
// stores keep (PostgreSQL's timestamptz), so a value written and read back
// equals the value the store reported when it wrote it.
func Time(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// TimePtr is Time for optional timestamps; nil stays nil.
func TimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := Time(*t)
	return &v
}

// Percent rounds a revenue share to the two decimals the schema keeps
// (numeric(5,2) in PostgreSQL).
func Percent(v float64) float64 { return math.Round(v*100) / 100 }

// Canonical re-encodes a JSON document with object keys sorted, no
// insignificant space and no HTML escaping. PostgreSQL's jsonb rewrites
// documents; canonicalising on both write and read makes both stores
// return the same bytes.
func Canonical(raw []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return marshal(v)
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// BrandConfig returns the stored form of a tenant's brand config: "{}"
// when empty, else the canonical form of a JSON object. Anything else is
// a CodeInvalid error for field "brand_config".
func BrandConfig(raw json.RawMessage) (string, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return "{}", nil
	}
	c, err := Canonical(raw)
	if err != nil || c[0] != '{' {
		return "", whitelabel.Invalid("brand_config", "brand_config must be a JSON object")
	}
	return string(c), nil
}

// Flags returns the stored form of feature flags ("{}" for nil).
func Flags(f whitelabel.Flags) (string, error) {
	if len(f) == 0 {
		return "{}", nil
	}
	b, err := marshal(map[string]any(f))
	if err != nil {
		return "", whitelabel.Invalid("feature_flags", "feature flags must be JSON values: %v", err)
	}
	return string(b), nil
}

// Quotas returns the stored form of resource quotas ("{}" for nil).
func Quotas(q whitelabel.Quotas) (string, error) {
	if len(q) == 0 {
		return "{}", nil
	}
	b, err := marshal(map[string]int64(q))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// DecodeFlags parses stored flags. Numbers come back as float64, and an
// empty document as an empty, non-nil map.
func DecodeFlags(s []byte) (whitelabel.Flags, error) {
	f := whitelabel.Flags{}
	if len(s) == 0 {
		return f, nil
	}
	if err := json.Unmarshal(s, &f); err != nil {
		return nil, fmt.Errorf("decode feature_flags: %w", err)
	}
	if f == nil {
		f = whitelabel.Flags{}
	}
	return f, nil
}

// DecodeQuotas parses stored quotas; empty gives an empty, non-nil map.
func DecodeQuotas(s []byte) (whitelabel.Quotas, error) {
	q := whitelabel.Quotas{}
	if len(s) == 0 {
		return q, nil
	}
	if err := json.Unmarshal(s, &q); err != nil {
		return nil, fmt.Errorf("decode resource_quotas: %w", err)
	}
	if q == nil {
		q = whitelabel.Quotas{}
	}
	return q, nil
}

// DecodeBrand returns a stored brand config in canonical form.
func DecodeBrand(s []byte) (json.RawMessage, error) {
	if len(s) == 0 {
		return json.RawMessage("{}"), nil
	}
	c, err := Canonical(s)
	if err != nil {
		return nil, fmt.Errorf("decode brand_config: %w", err)
	}
	return c, nil
}

// AuditState returns the stored form of an audit entry's Before or After:
// nil for empty, else canonical JSON. Invalid JSON is a CodeInvalid error.
func AuditState(field string, raw json.RawMessage) (*string, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	c, err := Canonical(raw)
	if err != nil {
		return nil, whitelabel.Invalid(field, "audit %s must be JSON", field)
	}
	s := string(c)
	return &s, nil
}

// DecodeAuditState is the inverse of AuditState.
func DecodeAuditState(s *string) (json.RawMessage, error) {
	if s == nil {
		return nil, nil
	}
	return Canonical([]byte(*s))
}

// Limits of list methods.
const (
	DefaultTenantLimit = 100
	MaxTenantLimit     = 1000
	DefaultAuditLimit  = 100
	MaxAuditLimit      = 500
	DefaultChangeLimit = 1000
	MaxChangeLimit     = 10000
)

// Limit returns n clamped to [1, max], with def for n <= 0.
func Limit(n, def, max int) int {
	switch {
	case n <= 0:
		return def
	case n > max:
		return max
	}
	return n
}

// OneLine joins a multi-line message (pgconn joins one error per host
// tried) so an error stays one log line.
func OneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// Broadcast wakes every goroutine waiting on it. The zero value is ready
// to use and safe for concurrent use.
type Broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

// C returns a channel closed at the next Wake. Take it before checking
// the condition you wait for, so a Wake in between is not lost.
func (b *Broadcast) C() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

// Wake closes the current channel and starts a new one.
func (b *Broadcast) Wake() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}
