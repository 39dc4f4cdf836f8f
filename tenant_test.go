package whitelabel

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTransitions(t *testing.T) {
	all := []TenantStatus{StatusProvisioning, StatusActive, StatusSuspended, StatusMaintenance, StatusDeactivated}
	allowed := map[[2]TenantStatus]bool{
		{StatusProvisioning, StatusActive}:      true,
		{StatusProvisioning, StatusDeactivated}: true,
		{StatusActive, StatusSuspended}:         true,
		{StatusActive, StatusMaintenance}:       true,
		{StatusActive, StatusDeactivated}:       true,
		{StatusSuspended, StatusActive}:         true,
		{StatusSuspended, StatusDeactivated}:    true,
		{StatusMaintenance, StatusActive}:       true,
		{StatusMaintenance, StatusDeactivated}:  true,
	}
	for _, from := range all {
		for _, to := range all {
			want := allowed[[2]TenantStatus{from, to}]
			if got := from.CanTransition(to); got != want {
				t.Errorf("%s.CanTransition(%s) = %v, want %v", from, to, got, want)
			}
			err := from.Transition(to)
			if want && err != nil {
				t.Errorf("%s.Transition(%s) = %v, want nil", from, to, err)
			}
			if !want && ErrorCodeOf(err) != CodeInvalidTransition {
				t.Errorf("%s.Transition(%s) code = %v, want %v", from, to, ErrorCodeOf(err), CodeInvalidTransition)
			}
		}
	}
	if got := StatusActive.Transition("paused"); ErrorCodeOf(got) != CodeInvalid {
		t.Errorf("Transition(unknown) code = %v, want %v", ErrorCodeOf(got), CodeInvalid)
	}
}

func TestValidateSubdomain(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"simple", "acme", true},
		{"digits and hyphen", "acme-2", true},
		{"three chars", "abc", true},
		{"63 chars", strings.Repeat("a", 63), true},
		{"empty", "", false},
		{"too short", "ab", false},
		{"too long", strings.Repeat("a", 64), false},
		{"upper case", "Acme", false},
		{"leading hyphen", "-acme", false},
		{"trailing hyphen", "acme-", false},
		{"underscore", "ac_me", false},
		{"dot", "ac.me", false},
		{"unicode", "äcme", false},
		{"reserved www", "www", false},
		{"reserved api", "api", false},
		{"reserved admin", "admin", false},
		{"reserved partners", "partners", false},
		{"reserved mail", "mail", false},
		{"idn prefix", "xn--acme", false},
		{"space", "ac me", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateSubdomain(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateSubdomain(%q) = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Code != CodeInvalid || e.Field != "subdomain" || e.Message == "" {
					t.Errorf("ValidateSubdomain(%q) = %#v, want invalid_input on field subdomain", tt.in, err)
				}
			}
		})
	}
}

func TestValidateEmail(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"admin@acme.com", true},
		{"", false},
		{"not-an-email", false},
		{"Admin <admin@acme.com>", false},
		{"a@b", true},
		{strings.Repeat("a", 250) + "@b.com", false},
	} {
		if err := ValidateEmail("contact_email", tt.in); (err == nil) != tt.ok {
			t.Errorf("ValidateEmail(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

func TestAPIKey(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	plain, key := NewAPIKey(7, now)
	if !strings.HasPrefix(plain, APIKeyPrefix) {
		t.Fatalf("key %q lacks prefix %q", plain, APIKeyPrefix)
	}
	id, ok := ParseAPIKeyID(plain)
	if !ok || id != key.ID {
		t.Fatalf("ParseAPIKeyID(%q) = %q, %v; want %q, true", plain, id, ok, key.ID)
	}
	if strings.Contains(string(key.Hash), plain) || len(key.Hash) != 32 {
		t.Fatalf("stored hash looks wrong: %x", key.Hash)
	}
	if !key.Matches(plain, now) {
		t.Error("Matches(own key) = false")
	}
	other, _ := NewAPIKey(7, now)
	if key.Matches(other, now) {
		t.Error("Matches(other key) = true")
	}
	if plain == other {
		t.Error("two keys are equal")
	}
	exp := now.Add(time.Hour)
	key.ExpiresAt = &exp
	if !key.Matches(plain, now.Add(59*time.Minute)) || key.Matches(plain, now.Add(time.Hour)) {
		t.Error("expiry not honoured")
	}
	for _, bad := range []string{"", "wl_live_", plain[:len(plain)-1], "xx" + plain[2:], plain[:20] + "!" + plain[21:]} {
		if _, ok := ParseAPIKeyID(bad); ok {
			t.Errorf("ParseAPIKeyID(%q) ok, want rejection", bad)
		}
	}
}

func TestEffectiveFlagsAndQuotas(t *testing.T) {
	plans := DefaultPlans()
	if err := plans.Validate(); err != nil {
		t.Fatalf("DefaultPlans invalid: %v", err)
	}
	tn := &Tenant{Plan: "basic", FeatureFlags: Flags{"ai_analytics": true, "theme": "dark"}, ResourceQuotas: Quotas{QuotaRequestsPerSecond: 99}}
	f := plans.EffectiveFlags(tn)
	if got := f["ai_analytics"]; got.Value != true || got.Source != SourceOverride {
		t.Errorf("ai_analytics = %+v, want true from override", got)
	}
	if got := f["api_access"]; got.Value != true || got.Source != SourcePlan {
		t.Errorf("api_access = %+v, want true from plan", got)
	}
	q := plans.EffectiveQuotas(tn)
	if got := q[QuotaRequestsPerSecond]; got.Limit != 99 || got.Source != SourceOverride {
		t.Errorf("rps = %+v, want 99 from override", got)
	}
	if got := q[QuotaAPICallsMonthly]; got.Limit != 100_000 || got.Source != SourcePlan {
		t.Errorf("monthly = %+v, want 100000 from plan", got)
	}
	en := plans.EnabledFeatures(tn)
	want := "ai_analytics,api_access,max_properties,theme"
	if strings.Join(en, ",") != want {
		t.Errorf("EnabledFeatures = %v, want %s", en, want)
	}
}

func TestFlagValidation(t *testing.T) {
	tests := []struct {
		name  string
		flags Flags
		field string
	}{
		{"ok", Flags{"a": true, "b": 1.5, "c": "x"}, ""},
		{"bad name", Flags{"Bad-Name": true}, "feature_flags.Bad-Name"},
		{"object value", Flags{"a": map[string]any{}}, "feature_flags.a"},
		{"null value", Flags{"a": nil}, "feature_flags.a"},
		{"long string", Flags{"a": strings.Repeat("x", 1025)}, "feature_flags.a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.flags.Validate("feature_flags")
			var e *Error
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("Validate = %v, want nil", err)
			case tt.field != "" && (!errors.As(err, &e) || e.Field != tt.field):
				t.Fatalf("Validate = %v, want error on %s", err, tt.field)
			}
		})
	}
	if err := (Quotas{"x": -1}).Validate("q"); ErrorCodeOf(err) != CodeInvalid {
		t.Errorf("negative quota accepted: %v", err)
	}
}

func TestErrorIs(t *testing.T) {
	err := NotFound("tenant")
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) {
		t.Errorf("errors.Is mismatch for %v", err)
	}
	wrapped := &Error{Code: CodeInternal, Err: err}
	if ErrorCodeOf(wrapped) != CodeInternal {
		t.Errorf("ErrorCodeOf(wrapped) = %v", ErrorCodeOf(wrapped))
	}
	if ErrorCodeOf(errors.New("x")) != CodeInternal || ErrorCodeOf(nil) != "" {
		t.Error("ErrorCodeOf of plain/nil errors wrong")
	}
}
