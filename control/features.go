package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/theming"
)

// brandKeys are the top-level keys a brand config may have. Full
// validation of their contents belongs to theming; here we only refuse
// what can never be right.
var brandKeys = map[string]bool{
	"name": true, "colors": true, "typography": true, "layout": true,
	"logo": true, "favicon": true, "email": true, "inject": true,
}

// validateBrandConfig checks that raw is one JSON object whose top-level
// keys are all known, and returns it compacted.
func validateBrandConfig(field string, raw []byte) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := decodeStrict(raw, &obj); err != nil {
		if e, ok := err.(*whitelabel.Error); ok && e.Field == "" && strings.Contains(e.Message, "must be") {
			return nil, whitelabel.Invalid(field, "brand config must be a JSON object")
		}
		return nil, err
	}
	if obj == nil {
		return nil, whitelabel.Invalid(field, "brand config must be a JSON object")
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if !brandKeys[k] {
			f := k
			if field != "" {
				f = field + "." + k
			}
			return nil, whitelabel.Invalid(f, "unknown brand config key %q (allowed: %s)", k, strings.Join(slices.Sorted(maps.Keys(brandKeys)), ", "))
		}
	}
	// The values the edge already renders (name, colors.primary) must be
	// usable now, or pages would silently fall back to defaults.
	if _, err := theming.ParseBrand(raw); err != nil {
		var e *whitelabel.Error
		if errors.As(err, &e) && e.Code == whitelabel.CodeInvalid {
			f := e.Field
			if f == "brand_config" || f == "" {
				f = field
			} else if field != "" {
				f = field + "." + f
			}
			return nil, &whitelabel.Error{Code: whitelabel.CodeInvalid, Field: f, Message: e.Message, Err: e.Err}
		}
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, whitelabel.Invalid(field, "malformed JSON")
	}
	return buf.Bytes(), nil
}

// featuresView is the body of the feature endpoints.
type featuresView struct {
	TenantID int64                               `json:"tenant_id"`
	Plan     string                              `json:"plan"`
	Features map[string]whitelabel.EffectiveFlag `json:"features"`
}

func (s *Server) featuresOf(t *whitelabel.Tenant) featuresView {
	return featuresView{TenantID: t.ID, Plan: t.Plan, Features: s.plans.EffectiveFlags(t)}
}

func (s *Server) getFeatures(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, err := s.loadTenant(r.Context(), r, rs)
	if err != nil {
		return err
	}
	setETag(w, t)
	return writeJSON(w, http.StatusOK, s.featuresOf(t))
}

func (s *Server) putFeature(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	name := r.PathValue("name")
	if err := whitelabel.ValidateName("name", name); err != nil {
		return err
	}
	var req struct {
		Value any `json:"value"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Value == nil {
		return whitelabel.Invalid("value", "value is required (a boolean, a number or a string)")
	}
	if err := whitelabel.ValidateFlagValue("value", req.Value); err != nil {
		return err
	}
	t, err := s.mutateTenant(r, rs, "tenant.feature.set", "", func(t *whitelabel.Tenant) error {
		if err := refuseDeactivated(t); err != nil {
			return err
		}
		if t.FeatureFlags == nil {
			t.FeatureFlags = whitelabel.Flags{}
		}
		t.FeatureFlags[name] = req.Value
		return nil
	})
	if err != nil {
		return err
	}
	setETag(w, t)
	return writeJSON(w, http.StatusOK, s.featuresOf(t))
}

// deleteFeature removes an override; the plan's default (if any) applies
// again. Removing an override that does not exist is not found.
func (s *Server) deleteFeature(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	name := r.PathValue("name")
	t, err := s.mutateTenant(r, rs, "tenant.feature.unset", "", func(t *whitelabel.Tenant) error {
		if _, ok := t.FeatureFlags[name]; !ok {
			return whitelabel.NotFound("feature override " + quoteName(name))
		}
		if err := refuseDeactivated(t); err != nil {
			return err
		}
		delete(t.FeatureFlags, name)
		return nil
	})
	if err != nil {
		return err
	}
	setETag(w, t)
	return writeJSON(w, http.StatusOK, s.featuresOf(t))
}

// quotaView is one quota as the API shows it. Used and Reset are set for
// api_calls_monthly and bandwidth_gb_monthly (usage.go), null otherwise.
type quotaView struct {
	Limit  int64             `json:"limit"`
	Source whitelabel.Source `json:"source"`
	Used   *int64            `json:"used"`
	Reset  *string           `json:"reset"`
}

// quotasView is the body of the quota endpoints.
type quotasView struct {
	TenantID int64                `json:"tenant_id"`
	Plan     string               `json:"plan"`
	Quotas   map[string]quotaView `json:"quotas"`
}

func (s *Server) quotasOf(t *whitelabel.Tenant) quotasView {
	v := quotasView{TenantID: t.ID, Plan: t.Plan, Quotas: make(map[string]quotaView)}
	for k, q := range s.plans.EffectiveQuotas(t) {
		v.Quotas[k] = quotaView{Limit: q.Limit, Source: q.Source}
	}
	return v
}

func (s *Server) getQuotas(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, err := s.loadTenant(r.Context(), r, rs)
	if err != nil {
		return err
	}
	setETag(w, t)
	return s.writeQuotas(w, r, t)
}

func (s *Server) putQuota(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	name := r.PathValue("name")
	if err := whitelabel.ValidateName("name", name); err != nil {
		return err
	}
	var req struct {
		Value *json.RawMessage `json:"value"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Value == nil || string(*req.Value) == "null" {
		return whitelabel.Invalid("value", "value is required (a non-negative integer)")
	}
	limit, err := parseQuota(*req.Value)
	if err != nil {
		return err
	}
	t, err := s.mutateTenant(r, rs, "tenant.quota.set", "", func(t *whitelabel.Tenant) error {
		if err := refuseDeactivated(t); err != nil {
			return err
		}
		if t.ResourceQuotas == nil {
			t.ResourceQuotas = whitelabel.Quotas{}
		}
		t.ResourceQuotas[name] = limit
		return nil
	})
	if err != nil {
		return err
	}
	setETag(w, t)
	return s.writeQuotas(w, r, t)
}

// parseQuota accepts a JSON integer from 0 to MaxInt64 (1e3 is fine, 1.5
// and "10" are not).
func parseQuota(raw json.RawMessage) (int64, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return 0, whitelabel.Invalid("value", "value must be a non-negative integer")
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, whitelabel.Invalid("value", "value must be a non-negative integer")
	}
	if i, err := n.Int64(); err == nil {
		if i < 0 {
			return 0, whitelabel.Invalid("value", "value must not be negative")
		}
		return i, nil
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || f < 0 || f >= math.MaxInt64 {
		return 0, whitelabel.Invalid("value", "value must be a non-negative integer")
	}
	return int64(f), nil
}

func (s *Server) deleteQuota(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	name := r.PathValue("name")
	t, err := s.mutateTenant(r, rs, "tenant.quota.unset", "", func(t *whitelabel.Tenant) error {
		if _, ok := t.ResourceQuotas[name]; !ok {
			return whitelabel.NotFound("quota override " + quoteName(name))
		}
		if err := refuseDeactivated(t); err != nil {
			return err
		}
		delete(t.ResourceQuotas, name)
		return nil
	})
	if err != nil {
		return err
	}
	setETag(w, t)
	return s.writeQuotas(w, r, t)
}

// quoteName quotes a path value for a message, cut short so a long
// attacker-chosen name does not fill the response.
func quoteName(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}
