package whitelabel

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
)

// Flags maps feature-flag names to values. A value is a bool, a float64
// (JSON number) or a string; Validate enforces that.
type Flags map[string]any

// Quotas maps quota names to limits. Names the edge enforces are listed as
// Quota* constants; others (max_properties, storage_gb, …) are handed to
// the core app as they are.
type Quotas map[string]int64

// Quota names the edge enforces.
const (
	QuotaRequestsPerSecond  = "requests_per_second"
	QuotaRequestsBurst      = "requests_burst"
	QuotaAPICallsMonthly    = "api_calls_monthly"
	QuotaBandwidthGBMonthly = "bandwidth_gb_monthly"
	QuotaCustomDomains      = "custom_domains"
)

// Clone returns a copy of f (nil stays nil).
func (f Flags) Clone() Flags { return maps.Clone(f) }

// Clone returns a copy of q (nil stays nil).
func (q Quotas) Clone() Quotas { return maps.Clone(q) }

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// ValidateName checks a flag or quota name: lower-case snake_case, 1–63
// characters, starting with a letter.
func ValidateName(field, name string) error {
	if !nameRE.MatchString(name) {
		return Invalid(field, "%q is not a valid name (lower-case letters, digits and '_', starting with a letter, at most 63)", name)
	}
	return nil
}

// ValidateFlagValue checks that v is a bool, a number or a string of at
// most 1024 bytes.
func ValidateFlagValue(field string, v any) error {
	switch x := v.(type) {
	case bool, float64, int, int64:
		return nil
	case json.Number:
		if _, err := x.Float64(); err != nil {
			return Invalid(field, "value must be a number")
		}
		return nil
	case string:
		if len(x) > 1024 {
			return Invalid(field, "string value must be at most 1024 bytes")
		}
		return nil
	default:
		return Invalid(field, "value must be a boolean, a number or a string")
	}
}

// Validate checks every name and value.
func (f Flags) Validate(field string) error {
	for _, k := range slices.Sorted(maps.Keys(f)) {
		if err := ValidateName(field+"."+k, k); err != nil {
			return err
		}
		if err := ValidateFlagValue(field+"."+k, f[k]); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks every name and that every limit is not negative.
func (q Quotas) Validate(field string) error {
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if err := ValidateName(field+"."+k, k); err != nil {
			return err
		}
		if q[k] < 0 {
			return Invalid(field+"."+k, "quota must not be negative")
		}
	}
	return nil
}

// Plan is a product tier: the default feature flags and quotas of every
// tenant on it. Plans come from configuration, not the database.
type Plan struct {
	Name     string `json:"name" yaml:"name"`
	Features Flags  `json:"features" yaml:"features"`
	Quotas   Quotas `json:"quotas" yaml:"quotas"`
}

// Plans is the configured set of plans by name.
type Plans map[string]Plan

// DefaultPlans returns the built-in basic, premium and enterprise plans,
// used when configuration names none.
func DefaultPlans() Plans {
	return Plans{
		"basic": {
			Name: "basic",
			Features: Flags{
				"ai_analytics": false, "custom_domains": false, "sso": false,
				"advanced_reporting": false, "api_access": true, "max_properties": float64(50),
			},
			Quotas: Quotas{
				QuotaRequestsPerSecond: 10, QuotaRequestsBurst: 20,
				QuotaAPICallsMonthly: 100_000, QuotaBandwidthGBMonthly: 10,
				QuotaCustomDomains: 0, "max_properties": 50, "storage_gb": 5, "max_users": 10,
			},
		},
		"premium": {
			Name: "premium",
			Features: Flags{
				"ai_analytics": true, "custom_domains": true, "sso": false,
				"advanced_reporting": true, "api_access": true, "max_properties": float64(500),
			},
			Quotas: Quotas{
				QuotaRequestsPerSecond: 50, QuotaRequestsBurst: 100,
				QuotaAPICallsMonthly: 1_000_000, QuotaBandwidthGBMonthly: 100,
				QuotaCustomDomains: 3, "max_properties": 500, "storage_gb": 50, "max_users": 100,
			},
		},
		"enterprise": {
			Name: "enterprise",
			Features: Flags{
				"ai_analytics": true, "custom_domains": true, "sso": true,
				"advanced_reporting": true, "api_access": true, "max_properties": float64(10000),
			},
			Quotas: Quotas{
				QuotaRequestsPerSecond: 200, QuotaRequestsBurst: 400,
				QuotaAPICallsMonthly: 10_000_000, QuotaBandwidthGBMonthly: 1000,
				QuotaCustomDomains: 20, "max_properties": 10000, "storage_gb": 500, "max_users": 5000,
			},
		},
	}
}

// Validate checks the plans' names, flags and quotas.
func (p Plans) Validate() error {
	if len(p) == 0 {
		return fmt.Errorf("no plans configured")
	}
	for _, name := range slices.Sorted(maps.Keys(p)) {
		pl := p[name]
		if err := ValidateName("plans", name); err != nil {
			return fmt.Errorf("plan %q: %w", name, err)
		}
		if err := pl.Features.Validate("features"); err != nil {
			return fmt.Errorf("plan %q: %w", name, err)
		}
		if err := pl.Quotas.Validate("quotas"); err != nil {
			return fmt.Errorf("plan %q: %w", name, err)
		}
	}
	return nil
}

// Names returns the plan names, sorted.
func (p Plans) Names() []string { return slices.Sorted(maps.Keys(p)) }

// Source says where an effective value comes from.
type Source string

// Sources of effective values.
const (
	SourcePlan     Source = "plan"
	SourceOverride Source = "override"
)

// EffectiveFlag is one feature flag as a tenant sees it.
type EffectiveFlag struct {
	Value  any    `json:"value"`
	Source Source `json:"source"`
}

// EffectiveQuota is one quota as a tenant sees it.
type EffectiveQuota struct {
	Limit  int64  `json:"limit"`
	Source Source `json:"source"`
}

// EffectiveFlags returns the plan's defaults overlaid by t's overrides.
// An unknown plan contributes nothing.
func (p Plans) EffectiveFlags(t *Tenant) map[string]EffectiveFlag {
	out := make(map[string]EffectiveFlag)
	for k, v := range p[t.Plan].Features {
		out[k] = EffectiveFlag{Value: v, Source: SourcePlan}
	}
	for k, v := range t.FeatureFlags {
		out[k] = EffectiveFlag{Value: v, Source: SourceOverride}
	}
	return out
}

// EffectiveQuotas returns the plan's quotas overlaid by t's overrides.
func (p Plans) EffectiveQuotas(t *Tenant) map[string]EffectiveQuota {
	out := make(map[string]EffectiveQuota)
	for k, v := range p[t.Plan].Quotas {
		out[k] = EffectiveQuota{Limit: v, Source: SourcePlan}
	}
	for k, v := range t.ResourceQuotas {
		out[k] = EffectiveQuota{Limit: v, Source: SourceOverride}
	}
	return out
}

// EnabledFeatures returns the sorted names of t's effective flags that are
// on: true booleans, non-zero numbers and non-empty strings.
func (p Plans) EnabledFeatures(t *Tenant) []string {
	var out []string
	for k, f := range p.EffectiveFlags(t) {
		if truthy(f.Value) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case float64:
		return x != 0
	case int64:
		return x != 0
	case int:
		return x != 0
	case string:
		return x != ""
	}
	return false
}
