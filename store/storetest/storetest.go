package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
)

// Migrator is implemented by stores that apply their own schema.
type Migrator interface {
	Migrate(ctx context.Context) error
}

// Run runs the conformance suite. open must return a new, migrated, empty
// store for each call; Run closes it when the subtest ends.
func Run(t *testing.T, open func(t *testing.T) whitelabel.Store) {
	s := func(t *testing.T) whitelabel.Store {
		t.Helper()
		st := open(t)
		t.Cleanup(func() {
			if err := st.Close(); err != nil {
				t.Errorf("Close() = %v", err)
			}
		})
		return st
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s whitelabel.Store)
	}{
		{"Ping", testPing},
		{"Partners", testPartners},
		{"PartnerNotFound", testPartnerNotFound},
		{"APIKeyRotation", testAPIKeyRotation},
		{"CreateTenant", testCreateTenant},
		{"OrganizationIDs", testOrganizationIDs},
		{"TenantConflicts", testTenantConflicts},
		{"TenantNotFound", testTenantNotFound},
		{"ListTenants", testListTenants},
		{"UpdateTenant", testUpdateTenant},
		{"UpdateTenantCAS", testUpdateTenantCAS},
		{"TenantJSONRoundTrip", testTenantJSONRoundTrip},
		{"Timestamps", testTimestamps},
		{"Domains", testDomains},
		{"DomainErrors", testDomainErrors},
		{"ChangeFeed", testChangeFeed},
		{"WaitForChange", testWaitForChange},
		{"Audit", testAudit},
		{"AuditAtomic", testAuditAtomic},
		{"LoadConfig", testLoadConfig},
		{"LoadConfigConsistent", testLoadConfigConsistent},
		{"ConcurrentCreateSameSubdomain", testConcurrentCreate},
		{"ConcurrentUpdateSameVersion", testConcurrentUpdate},
		{"MigrateTwice", testMigrateTwice},
		{"SSOConfigs", testSSOConfigs},
		{"SSOSessions", testSSOSessions},
		{"SSOLoginStates", testSSOLoginStates},
		{"Assets", testAssets},
		{"EmailTemplates", testEmailTemplates},
		{"UsageWriteIdempotent", testUsageWriteIdempotent},
		{"UsageQuery", testUsageQuery},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, s(t)) })
	}
}

// Helpers.

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustPartner(t *testing.T, s whitelabel.Store, name string) (*whitelabel.Partner, string) {
	t.Helper()
	p := &whitelabel.Partner{Name: name, ContactEmail: name + "@example.com", DefaultRevenueShare: 12.5, IsActive: true}
	plain, key := whitelabel.NewAPIKey(0, time.Now())
	if err := s.CreatePartner(ctxOf(t), p, &key, nil); err != nil {
		t.Fatalf("CreatePartner(%q) = %v, want nil", name, err)
	}
	return p, plain
}

func newTenant(partnerID int64, sub string) *whitelabel.Tenant {
	return &whitelabel.Tenant{
		PartnerID:    partnerID,
		TenantKey:    sub + "_key",
		DisplayName:  "Tenant " + sub,
		Subdomain:    sub,
		ContactEmail: "admin@" + sub + ".example.com",
		Plan:         "basic",
		Status:       whitelabel.StatusProvisioning,
	}
}

func mustTenant(t *testing.T, s whitelabel.Store, partnerID int64, sub string) *whitelabel.Tenant {
	t.Helper()
	tn := newTenant(partnerID, sub)
	if err := s.CreateTenant(ctxOf(t), tn, nil); err != nil {
		t.Fatalf("CreateTenant(%q) = %v, want nil", sub, err)
	}
	return tn
}

func mustDomain(t *testing.T, s whitelabel.Store, tenantID int64, domain string) *whitelabel.TenantDomain {
	t.Helper()
	d := &whitelabel.TenantDomain{TenantID: tenantID, Domain: domain, VerificationToken: "tok-" + domain}
	if err := s.CreateDomain(ctxOf(t), d, nil); err != nil {
		t.Fatalf("CreateDomain(%q) = %v, want nil", domain, err)
	}
	return d
}

// same reports whether a and b have the same JSON encoding, which is how
// the API shows them (times as RFC 3339 with nanoseconds).
func same(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// checkCode fails unless err has the given code and (if field is not
// empty) field.
func checkCode(t *testing.T, call string, err error, code whitelabel.ErrorCode, field string) {
	t.Helper()
	if got := whitelabel.ErrorCodeOf(err); got != code {
		t.Errorf("%s = %v, want code %s", call, err, code)
		return
	}
	if field == "" {
		return
	}
	var e *whitelabel.Error
	if errors.As(err, &e); e.Field != field {
		t.Errorf("%s = %v, want field %q", call, err, field)
	}
}

func version(t *testing.T, s whitelabel.Store) int64 {
	t.Helper()
	v, err := s.ConfigVersion(ctxOf(t))
	if err != nil {
		t.Fatalf("ConfigVersion() = %v", err)
	}
	return v
}

// Tests.

func testPing(t *testing.T, s whitelabel.Store) {
	if err := s.Ping(ctxOf(t)); err != nil {
		t.Errorf("Ping() = %v, want nil", err)
	}
	if v := version(t, s); v != 0 {
		t.Errorf("ConfigVersion() of an empty store = %d, want 0", v)
	}
}

func testPartners(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	p, plain := mustPartner(t, s, "acme")
	if p.ID == 0 || p.CreatedAt.IsZero() {
		t.Fatalf("CreatePartner filled ID %d, CreatedAt %v; want both set", p.ID, p.CreatedAt)
	}
	got, err := s.GetPartner(ctx, p.ID)
	if err != nil || !same(got, p) {
		t.Errorf("GetPartner(%d) = %s, %v; want %s", p.ID, js(got), err, js(p))
	}

	id, _ := whitelabel.ParseAPIKeyID(plain)
	k, kp, err := s.APIKey(ctx, id)
	if err != nil {
		t.Fatalf("APIKey(%q) = %v", id, err)
	}
	if k.PartnerID != p.ID || !k.Matches(plain, time.Now()) || !same(kp, p) {
		t.Errorf("APIKey(%q) = %s, %s; want a key of partner %d matching its plaintext", id, js(k), js(kp), p.ID)
	}
	if _, _, err := s.APIKey(ctx, "nosuchkey000"); whitelabel.ErrorCodeOf(err) != whitelabel.CodeNotFound {
		t.Errorf("APIKey(unknown) = %v, want not found", err)
	}

	// A second partner reusing the first one's key ID conflicts on "id".
	p2 := &whitelabel.Partner{Name: "dup", ContactEmail: "dup@example.com"}
	_, dup := whitelabel.NewAPIKey(0, time.Now())
	dup.ID = k.ID
	err = s.CreatePartner(ctx, p2, &dup, nil)
	checkCode(t, "CreatePartner(duplicate key id)", err, whitelabel.CodeConflict, "id")
	if p2.ID != 0 {
		t.Errorf("failed CreatePartner filled ID %d, want 0", p2.ID)
	}

	q, _ := mustPartner(t, s, "globex")
	list, err := s.ListPartners(ctx)
	if err != nil || len(list) != 2 || list[0].ID != p.ID || list[1].ID != q.ID {
		t.Fatalf("ListPartners() = %s, %v; want [%d %d]", js(list), err, p.ID, q.ID)
	}

	p.Name, p.ContactEmail, p.DefaultRevenueShare, p.IsActive = "Acme Inc", "ops@acme.example", 33.25, false
	created := p.CreatedAt
	p.CreatedAt = time.Time{}
	if err := s.UpdatePartner(ctx, p, nil); err != nil {
		t.Fatalf("UpdatePartner() = %v", err)
	}
	if !p.CreatedAt.Equal(created) {
		t.Errorf("UpdatePartner set CreatedAt %v, want %v", p.CreatedAt, created)
	}
	got, err = s.GetPartner(ctx, p.ID)
	if err != nil || !same(got, p) {
		t.Errorf("GetPartner(%d) after update = %s, %v; want %s", p.ID, js(got), err, js(p))
	}
}

func testPartnerNotFound(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	_, err := s.GetPartner(ctx, 424242)
	checkCode(t, "GetPartner(424242)", err, whitelabel.CodeNotFound, "")
	err = s.UpdatePartner(ctx, &whitelabel.Partner{ID: 424242, Name: "x", ContactEmail: "x@example.com"}, nil)
	checkCode(t, "UpdatePartner(424242)", err, whitelabel.CodeNotFound, "")
	_, key := whitelabel.NewAPIKey(424242, time.Now())
	err = s.RotateAPIKey(ctx, &key, time.Now(), nil)
	checkCode(t, "RotateAPIKey(partner 424242)", err, whitelabel.CodeNotFound, "")
	keys, err := s.ListAPIKeys(ctx, 424242)
	if err != nil || len(keys) != 0 {
		t.Errorf("ListAPIKeys(424242) = %v, %v; want none", keys, err)
	}
	if v := version(t, s); v != 0 {
		t.Errorf("ConfigVersion() after failed mutations = %d, want 0", v)
	}
}

func testAPIKeyRotation(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	now := time.Now().UTC().Truncate(time.Second)
	p := &whitelabel.Partner{Name: "rot", ContactEmail: "rot@example.com", IsActive: true}
	plain1, k1 := whitelabel.NewAPIKey(0, now.Add(-time.Hour))
	if err := s.CreatePartner(ctx, p, &k1, nil); err != nil {
		t.Fatalf("CreatePartner() = %v", err)
	}
	if k1.PartnerID != p.ID {
		t.Errorf("CreatePartner set key.PartnerID %d, want %d", k1.PartnerID, p.ID)
	}
	in1h, in2h, ago := now.Add(time.Hour), now.Add(2*time.Hour), now.Add(-time.Minute)

	plain2, k2 := whitelabel.NewAPIKey(p.ID, now.Add(-30*time.Minute))
	audit := &whitelabel.AuditEntry{Actor: "partner:1", Action: "api_key.rotate", TargetType: "partner"}
	if err := s.RotateAPIKey(ctx, &k2, in1h, audit); err != nil {
		t.Fatalf("RotateAPIKey(k2) = %v", err)
	}
	if audit.ID == 0 || audit.PartnerID != p.ID {
		t.Errorf("RotateAPIKey audit = %s, want ID set and PartnerID %d", js(audit), p.ID)
	}
	plain3, k3 := whitelabel.NewAPIKey(p.ID, now.Add(-20*time.Minute))
	if err := s.RotateAPIKey(ctx, &k3, in2h, nil); err != nil {
		t.Fatalf("RotateAPIKey(k3) = %v", err)
	}

	expiries := func() map[string]*time.Time {
		keys, err := s.ListAPIKeys(ctx, p.ID)
		if err != nil {
			t.Fatalf("ListAPIKeys() = %v", err)
		}
		m := map[string]*time.Time{}
		for _, k := range keys {
			m[k.ID] = k.ExpiresAt
		}
		return m
	}
	eq := func(a, b *time.Time) bool { return a == nil && b == nil || a != nil && b != nil && a.Equal(*b) }
	want := map[string]*time.Time{k1.ID: &in1h, k2.ID: &in2h, k3.ID: nil}
	for id, exp := range expiries() {
		if !eq(exp, want[id]) {
			t.Errorf("after two rotations key %s expires %v, want %v (the earlier expiry is kept)", id, exp, want[id])
		}
	}

	keys, err := s.ListAPIKeys(ctx, p.ID)
	if err != nil || len(keys) != 3 || keys[0].ID != k3.ID || keys[1].ID != k2.ID || keys[2].ID != k1.ID {
		t.Errorf("ListAPIKeys() = %s, %v; want k3, k2, k1 (newest first)", js(keys), err)
	}

	// Rotating with an expiry in the past revokes every other key at once.
	plain4, k4 := whitelabel.NewAPIKey(p.ID, now)
	if err := s.RotateAPIKey(ctx, &k4, ago, nil); err != nil {
		t.Fatalf("RotateAPIKey(k4) = %v", err)
	}
	tests := []struct {
		name  string
		plain string
		want  bool
	}{
		{"k1", plain1, false},
		{"k2", plain2, false},
		{"k3", plain3, false},
		{"k4", plain4, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, _ := whitelabel.ParseAPIKeyID(tt.plain)
			k, _, err := s.APIKey(ctx, id)
			if err != nil {
				t.Fatalf("APIKey(%q) = %v", id, err)
			}
			if got := k.Matches(tt.plain, now); got != tt.want {
				t.Errorf("APIKey(%q).Matches(now) = %v, want %v (expires %v)", id, got, tt.want, k.ExpiresAt)
			}
		})
	}

	_, dup := whitelabel.NewAPIKey(p.ID, now)
	dup.ID = k4.ID
	err = s.RotateAPIKey(ctx, &dup, in1h, nil)
	checkCode(t, "RotateAPIKey(duplicate id)", err, whitelabel.CodeConflict, "id")
}

func testCreateTenant(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	p, _ := mustPartner(t, s, "acme")
	tn := newTenant(p.ID, "acme")
	tn.BrandConfig = json.RawMessage(`{"colors": {"primary": "#112233"}, "company_name": "Acme"}`)
	tn.FeatureFlags = whitelabel.Flags{"sso": true}
	tn.ResourceQuotas = whitelabel.Quotas{"requests_per_second": 5}
	if err := s.CreateTenant(ctx, tn, nil); err != nil {
		t.Fatalf("CreateTenant(%q) = %v", tn.Subdomain, err)
	}
	if tn.ID == 0 || tn.Version != 1 || tn.OrganizationID == 0 || tn.CreatedAt.IsZero() || !tn.UpdatedAt.Equal(tn.CreatedAt) {
		t.Errorf("CreateTenant filled %s; want ID, Version 1, OrganizationID and equal timestamps", js(tn))
	}
	got, err := s.GetTenant(ctx, tn.ID)
	if err != nil || !same(got, tn) {
		t.Errorf("GetTenant(%d) = %s, %v;\nwant %s", tn.ID, js(got), err, js(tn))
	}
	got, err = s.TenantByKey(ctx, tn.TenantKey)
	if err != nil || !same(got, tn) {
		t.Errorf("TenantByKey(%q) = %s, %v;\nwant %s", tn.TenantKey, js(got), err, js(tn))
	}

	// A tenant without a partner belongs to the platform.
	own := mustTenant(t, s, 0, "platform")
	got, err = s.GetTenant(ctx, own.ID)
	if err != nil || got.PartnerID != 0 {
		t.Errorf("GetTenant(platform tenant) = %s, %v; want PartnerID 0", js(got), err)
	}
}

func testOrganizationIDs(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	a := mustTenant(t, s, 0, "org-a")
	b := mustTenant(t, s, 0, "org-b")
	if a.OrganizationID != 1000 || b.OrganizationID != 1001 {
		t.Errorf("OrganizationIDs = %d, %d; want 1000, 1001", a.OrganizationID, b.OrganizationID)
	}
	c := newTenant(0, "org-c")
	c.OrganizationID = 5000
	if err := s.CreateTenant(ctx, c, nil); err != nil {
		t.Fatalf("CreateTenant(explicit organization id) = %v", err)
	}
	d := mustTenant(t, s, 0, "org-d")
	if c.OrganizationID != 5000 || d.OrganizationID != 5001 {
		t.Errorf("OrganizationIDs = %d, %d; want 5000 (explicit), then 5001", c.OrganizationID, d.OrganizationID)
	}
}

func testTenantConflicts(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	p, _ := mustPartner(t, s, "acme")
	orig := mustTenant(t, s, p.ID, "taken")
	before := version(t, s)
	tests := []struct {
		name   string
		mutate func(*whitelabel.Tenant)
		code   whitelabel.ErrorCode
		field  string
	}{
		{"subdomain", func(tn *whitelabel.Tenant) { tn.Subdomain = orig.Subdomain }, whitelabel.CodeConflict, "subdomain"},
		{"tenant_key", func(tn *whitelabel.Tenant) { tn.TenantKey = orig.TenantKey }, whitelabel.CodeConflict, "tenant_key"},
		{"organization_id", func(tn *whitelabel.Tenant) { tn.OrganizationID = orig.OrganizationID }, whitelabel.CodeConflict, "organization_id"},
		{"unknown partner", func(tn *whitelabel.Tenant) { tn.PartnerID = 999999 }, whitelabel.CodeInvalid, "partner_id"},
		{"brand not an object", func(tn *whitelabel.Tenant) { tn.BrandConfig = json.RawMessage(`[1]`) }, whitelabel.CodeInvalid, "brand_config"},
		{"brand not JSON", func(tn *whitelabel.Tenant) { tn.BrandConfig = json.RawMessage(`{`) }, whitelabel.CodeInvalid, "brand_config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := newTenant(p.ID, "fresh")
			tt.mutate(tn)
			err := s.CreateTenant(ctx, tn, &whitelabel.AuditEntry{Actor: "admin", Action: "tenant.create"})
			checkCode(t, fmt.Sprintf("CreateTenant(%s)", tt.name), err, tt.code, tt.field)
			if tn.ID != 0 {
				t.Errorf("failed CreateTenant filled ID %d, want 0", tn.ID)
			}
		})
	}
	if v := version(t, s); v != before {
		t.Errorf("ConfigVersion() after failed creates = %d, want %d", v, before)
	}
	// The name is free again after the failures: nothing half-written.
	mustTenant(t, s, p.ID, "fresh")
}

func testTenantNotFound(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	_, err := s.GetTenant(ctx, 77)
	checkCode(t, "GetTenant(77)", err, whitelabel.CodeNotFound, "")
	_, err = s.TenantByKey(ctx, "nope")
	checkCode(t, `TenantByKey("nope")`, err, whitelabel.CodeNotFound, "")
	tn := newTenant(0, "ghost")
	tn.ID, tn.Version = 77, 1
	err = s.UpdateTenant(ctx, tn, nil)
	checkCode(t, "UpdateTenant(77)", err, whitelabel.CodeNotFound, "")
	if !errors.Is(err, whitelabel.ErrNotFound) {
		t.Errorf("errors.Is(UpdateTenant(77), ErrNotFound) = false, want true")
	}
}

func testListTenants(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	p1, _ := mustPartner(t, s, "one")
	p2, _ := mustPartner(t, s, "two")
	var all, ofP1, active []int64
	for i := range 110 {
		pid := p1.ID
		if i%3 == 0 {
			pid = p2.ID
		}
		tn := newTenant(pid, fmt.Sprintf("tenant-%03d", i))
		if i%5 == 0 {
			tn.Status = whitelabel.StatusActive
		}
		if err := s.CreateTenant(ctx, tn, nil); err != nil {
			t.Fatalf("CreateTenant(%q) = %v", tn.Subdomain, err)
		}
		all = append(all, tn.ID)
		if pid == p1.ID {
			ofP1 = append(ofP1, tn.ID)
			if tn.Status == whitelabel.StatusActive {
				active = append(active, tn.ID)
			}
		}
	}
	ids := func(ts []*whitelabel.Tenant) []int64 {
		out := []int64{}
		for _, t := range ts {
			out = append(out, t.ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    whitelabel.TenantFilter
		want []int64
	}{
		{"default limit", whitelabel.TenantFilter{}, all[:100]},
		{"limit", whitelabel.TenantFilter{Limit: 7}, all[:7]},
		{"limit capped, not refused", whitelabel.TenantFilter{Limit: 5000}, all},
		{"after", whitelabel.TenantFilter{After: all[104]}, all[105:]},
		{"partner", whitelabel.TenantFilter{PartnerID: p1.ID, Limit: 1000}, ofP1},
		{"partner and status", whitelabel.TenantFilter{PartnerID: p1.ID, Status: whitelabel.StatusActive}, active},
		{"partner, status, after", whitelabel.TenantFilter{PartnerID: p1.ID, Status: whitelabel.StatusActive, After: active[2], Limit: 2}, active[3:5]},
		{"unknown partner", whitelabel.TenantFilter{PartnerID: 999999}, []int64{}},
		{"status none", whitelabel.TenantFilter{Status: whitelabel.StatusDeactivated}, []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListTenants(ctx, tt.f)
			if err != nil || !same(ids(got), tt.want) {
				t.Errorf("ListTenants(%+v) = %v, %v; want %v", tt.f, ids(got), err, tt.want)
			}
		})
	}
}

func testUpdateTenant(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	p, _ := mustPartner(t, s, "acme")
	tn := mustTenant(t, s, p.ID, "acme")
	other := mustTenant(t, s, p.ID, "other")

	up := tn.Clone()
	up.DisplayName, up.Subdomain, up.ContactEmail, up.Plan = "Acme 2", "acme-two", "new@acme.example", "premium"
	up.Status = whitelabel.StatusActive
	up.BrandConfig = json.RawMessage(`{"company_name":"Acme 2"}`)
	up.FeatureFlags = whitelabel.Flags{"ai_analytics": true}
	up.ResourceQuotas = whitelabel.Quotas{"storage_gb": 9}
	audit := &whitelabel.AuditEntry{Actor: "admin", Action: "tenant.update", TargetType: "tenant"}
	if err := s.UpdateTenant(ctx, up, audit); err != nil {
		t.Fatalf("UpdateTenant() = %v", err)
	}
	if up.Version != 2 || up.UpdatedAt.Before(tn.UpdatedAt) || !up.CreatedAt.Equal(tn.CreatedAt) {
		t.Errorf("UpdateTenant set Version %d, UpdatedAt %v, CreatedAt %v; want 2, >= %v, %v",
			up.Version, up.UpdatedAt, up.CreatedAt, tn.UpdatedAt, tn.CreatedAt)
	}
	if audit.TenantID != tn.ID || audit.PartnerID != p.ID || audit.ID == 0 {
		t.Errorf("UpdateTenant audit = %s, want ID set, TenantID %d, PartnerID %d", js(audit), tn.ID, p.ID)
	}
	got, err := s.GetTenant(ctx, tn.ID)
	if err != nil || !same(got, up) {
		t.Errorf("GetTenant(%d) after update = %s, %v;\nwant %s", tn.ID, js(got), err, js(up))
	}

	// Immutable fields are ignored.
	im := got.Clone()
	im.TenantKey, im.OrganizationID = "changed_key", 9999
	if err := s.UpdateTenant(ctx, im, nil); err != nil {
		t.Fatalf("UpdateTenant(immutable fields) = %v", err)
	}
	got, _ = s.GetTenant(ctx, tn.ID)
	if got.TenantKey != tn.TenantKey || got.OrganizationID != tn.OrganizationID {
		t.Errorf("UpdateTenant changed tenant_key/organization_id to %q/%d", got.TenantKey, got.OrganizationID)
	}

	// A taken subdomain conflicts and changes nothing.
	cl := got.Clone()
	cl.Subdomain = other.Subdomain
	err = s.UpdateTenant(ctx, cl, nil)
	checkCode(t, "UpdateTenant(taken subdomain)", err, whitelabel.CodeConflict, "subdomain")
	after, _ := s.GetTenant(ctx, tn.ID)
	if !same(after, got) {
		t.Errorf("failed UpdateTenant changed the row to %s, want %s", js(after), js(got))
	}
}

func testUpdateTenantCAS(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	tn := mustTenant(t, s, 0, "cas")
	a, b := tn.Clone(), tn.Clone()
	a.DisplayName = "first"
	if err := s.UpdateTenant(ctx, a, nil); err != nil {
		t.Fatalf("UpdateTenant(version %d) = %v", tn.Version, err)
	}
	v := version(t, s)
	b.DisplayName = "second"
	err := s.UpdateTenant(ctx, b, &whitelabel.AuditEntry{Actor: "admin", Action: "tenant.update"})
	checkCode(t, fmt.Sprintf("UpdateTenant(stale version %d)", tn.Version), err, whitelabel.CodePreconditionFailed, "")
	if !errors.Is(err, whitelabel.ErrPreconditionFailed) {
		t.Errorf("errors.Is(UpdateTenant(stale), ErrPreconditionFailed) = false, want true")
	}
	if b.Version != tn.Version {
		t.Errorf("failed UpdateTenant changed Version to %d", b.Version)
	}
	if got := version(t, s); got != v {
		t.Errorf("ConfigVersion() after a stale update = %d, want %d", got, v)
	}
	got, _ := s.GetTenant(ctx, tn.ID)
	if got.DisplayName != "first" || got.Version != 2 {
		t.Errorf("GetTenant() = %q version %d, want %q version 2", got.DisplayName, got.Version, "first")
	}
	b.Version = got.Version
	if err := s.UpdateTenant(ctx, b, nil); err != nil || b.Version != 3 {
		t.Errorf("UpdateTenant(fresh version) = %v, Version %d; want nil, 3", err, b.Version)
	}
}

func testTenantJSONRoundTrip(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	tests := []struct {
		name       string
		brand      json.RawMessage
		flags      whitelabel.Flags
		quotas     whitelabel.Quotas
		wantBrand  string
		wantFlags  whitelabel.Flags
		wantQuotas whitelabel.Quotas
	}{
		{
			name:      "empty",
			wantBrand: `{}`, wantFlags: whitelabel.Flags{}, wantQuotas: whitelabel.Quotas{},
		},
		{
			name:       "mixed flags",
			brand:      json.RawMessage(` { "z": 1, "a": {"y": "<b>&</b>", "b": [1, 2.5, true, null]} } `),
			flags:      whitelabel.Flags{"sso": true, "beta": false, "max_properties": float64(500), "ratio": 0.25, "int": 7, "theme": "dark", "empty": ""},
			quotas:     whitelabel.Quotas{"requests_per_second": 50, "storage_gb": 0, "api_calls_monthly": 10_000_000_000},
			wantBrand:  `{"a":{"b":[1,2.5,true,null],"y":"<b>&</b>"},"z":1}`,
			wantFlags:  whitelabel.Flags{"sso": true, "beta": false, "max_properties": float64(500), "ratio": 0.25, "int": float64(7), "theme": "dark", "empty": ""},
			wantQuotas: whitelabel.Quotas{"requests_per_second": 50, "storage_gb": 0, "api_calls_monthly": 10_000_000_000},
		},
		{
			name: "null brand", brand: json.RawMessage(`null`),
			wantBrand: `{}`, wantFlags: whitelabel.Flags{}, wantQuotas: whitelabel.Quotas{},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := newTenant(0, fmt.Sprintf("json-%d", i))
			tn.BrandConfig, tn.FeatureFlags, tn.ResourceQuotas = tt.brand, tt.flags, tt.quotas
			if err := s.CreateTenant(ctx, tn, nil); err != nil {
				t.Fatalf("CreateTenant(%q) = %v", tn.Subdomain, err)
			}
			got, err := s.GetTenant(ctx, tn.ID)
			if err != nil {
				t.Fatalf("GetTenant(%d) = %v", tn.ID, err)
			}
			for _, g := range []*whitelabel.Tenant{tn, got} {
				if string(g.BrandConfig) != tt.wantBrand {
					t.Errorf("BrandConfig = %s, want %s", g.BrandConfig, tt.wantBrand)
				}
				if g.FeatureFlags == nil || !same(g.FeatureFlags, tt.wantFlags) {
					t.Errorf("FeatureFlags = %#v, want %#v", g.FeatureFlags, tt.wantFlags)
				}
				for k, v := range tt.wantFlags {
					if fmt.Sprintf("%T", g.FeatureFlags[k]) != fmt.Sprintf("%T", v) {
						t.Errorf("FeatureFlags[%q] is %T, want %T", k, g.FeatureFlags[k], v)
					}
				}
				if g.ResourceQuotas == nil || !same(g.ResourceQuotas, tt.wantQuotas) {
					t.Errorf("ResourceQuotas = %#v, want %#v", g.ResourceQuotas, tt.wantQuotas)
				}
			}
		})
	}
}

func testTimestamps(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	tn := mustTenant(t, s, 0, "clock")
	d := &whitelabel.TenantDomain{TenantID: tn.ID, Domain: "clock.example.org"}
	at := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("X", 3600))
	d.VerifiedAt = &at
	if err := s.CreateDomain(ctx, d, nil); err != nil {
		t.Fatalf("CreateDomain() = %v", err)
	}
	want := time.Date(2025, 3, 4, 4, 6, 7, 123456000, time.UTC)
	got, err := s.GetDomain(ctx, d.Domain)
	if err != nil {
		t.Fatalf("GetDomain() = %v", err)
	}
	for _, v := range []*time.Time{d.VerifiedAt, got.VerifiedAt} {
		if v == nil || !v.Equal(want) || v.Location() != time.UTC {
			t.Errorf("VerifiedAt = %v, want %v (UTC, microseconds)", v, want)
		}
	}
	for name, v := range map[string]time.Time{"tenant.CreatedAt": tn.CreatedAt, "domain.CreatedAt": got.CreatedAt} {
		if v.Location() != time.UTC || v.Nanosecond()%1000 != 0 {
			t.Errorf("%s = %v, want UTC with microsecond precision", name, v)
		}
	}
}

func testDomains(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	tn := mustTenant(t, s, 0, "dom")
	d1 := mustDomain(t, s, tn.ID, "props.acme.com")
	d2 := mustDomain(t, s, tn.ID, "portal.acme.com")
	if d1.ID == 0 || d1.Status != whitelabel.DomainPending || d1.CreatedAt.IsZero() {
		t.Errorf("CreateDomain filled %s, want ID, status pending, CreatedAt", js(d1))
	}
	got, err := s.GetDomain(ctx, d1.Domain)
	if err != nil || !same(got, d1) {
		t.Errorf("GetDomain(%q) = %s, %v; want %s", d1.Domain, js(got), err, js(d1))
	}
	list, err := s.ListDomains(ctx, tn.ID)
	if err != nil || !same(list, []*whitelabel.TenantDomain{d1, d2}) {
		t.Errorf("ListDomains(%d) = %s, %v; want [d1 d2]", tn.ID, js(list), err)
	}
	if list, err := s.ListDomains(ctx, 99999); err != nil || len(list) != 0 {
		t.Errorf("ListDomains(unknown) = %s, %v; want []", js(list), err)
	}

	now := time.Now()
	up := *got
	up.ID = 0
	up.Status, up.VerifiedAt, up.LastCheckedAt, up.LastCheckError = whitelabel.DomainActive, &now, &now, "none"
	nb, na := now.Add(-time.Hour), now.Add(90*24*time.Hour)
	up.CertIssuer, up.CertNotBefore, up.CertNotAfter = "pebble", &nb, &na
	if err := s.UpdateDomain(ctx, &up, nil); err != nil {
		t.Fatalf("UpdateDomain() = %v", err)
	}
	if up.ID != d1.ID || !up.CreatedAt.Equal(d1.CreatedAt) {
		t.Errorf("UpdateDomain filled ID %d CreatedAt %v, want %d %v", up.ID, up.CreatedAt, d1.ID, d1.CreatedAt)
	}
	got, err = s.GetDomain(ctx, d1.Domain)
	if err != nil || !same(got, &up) {
		t.Errorf("GetDomain(%q) after update = %s, %v;\nwant %s", d1.Domain, js(got), err, js(&up))
	}

	if err := s.DeleteDomain(ctx, tn.ID, d1.Domain, nil); err != nil {
		t.Fatalf("DeleteDomain(%q) = %v", d1.Domain, err)
	}
	_, err = s.GetDomain(ctx, d1.Domain)
	checkCode(t, "GetDomain(deleted)", err, whitelabel.CodeNotFound, "")
	// A deleted name may be registered again, by another tenant.
	other := mustTenant(t, s, 0, "dom-other")
	mustDomain(t, s, other.ID, d1.Domain)
}

func testDomainErrors(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	a := mustTenant(t, s, 0, "dom-a")
	b := mustTenant(t, s, 0, "dom-b")
	mustDomain(t, s, a.ID, "a.example.net")
	before := version(t, s)
	tests := []struct {
		name  string
		call  func() error
		code  whitelabel.ErrorCode
		field string
	}{
		{"create taken by other tenant", func() error {
			return s.CreateDomain(ctx, &whitelabel.TenantDomain{TenantID: b.ID, Domain: "a.example.net"}, nil)
		}, whitelabel.CodeConflict, "domain"},
		{"create taken by same tenant", func() error {
			return s.CreateDomain(ctx, &whitelabel.TenantDomain{TenantID: a.ID, Domain: "a.example.net"}, nil)
		}, whitelabel.CodeConflict, "domain"},
		{"create for unknown tenant", func() error {
			return s.CreateDomain(ctx, &whitelabel.TenantDomain{TenantID: 999999, Domain: "x.example.net"}, nil)
		}, whitelabel.CodeNotFound, ""},
		{"get unknown", func() error { _, err := s.GetDomain(ctx, "none.example.net"); return err }, whitelabel.CodeNotFound, ""},
		{"update unknown", func() error {
			return s.UpdateDomain(ctx, &whitelabel.TenantDomain{TenantID: a.ID, Domain: "none.example.net"}, nil)
		}, whitelabel.CodeNotFound, ""},
		{"update of another tenant", func() error {
			return s.UpdateDomain(ctx, &whitelabel.TenantDomain{TenantID: b.ID, Domain: "a.example.net", Status: whitelabel.DomainActive}, nil)
		}, whitelabel.CodeNotFound, ""},
		{"delete unknown", func() error { return s.DeleteDomain(ctx, a.ID, "none.example.net", nil) }, whitelabel.CodeNotFound, ""},
		{"delete of another tenant", func() error { return s.DeleteDomain(ctx, b.ID, "a.example.net", nil) }, whitelabel.CodeNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkCode(t, tt.name, tt.call(), tt.code, tt.field)
		})
	}
	if v := version(t, s); v != before {
		t.Errorf("ConfigVersion() after failed domain mutations = %d, want %d", v, before)
	}
	if d, err := s.GetDomain(ctx, "a.example.net"); err != nil || d.TenantID != a.ID || d.Status != whitelabel.DomainPending {
		t.Errorf("GetDomain(a.example.net) = %s, %v; want unchanged, owned by %d", js(d), err, a.ID)
	}
}

func testChangeFeed(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	p, _ := mustPartner(t, s, "feed") // 1: partner
	tn := mustTenant(t, s, p.ID, "feed")
	d := mustDomain(t, s, tn.ID, "feed.example.com")
	up := tn.Clone()
	up.Status = whitelabel.StatusActive
	if err := s.UpdateTenant(ctx, up, nil); err != nil {
		t.Fatalf("UpdateTenant() = %v", err)
	}
	d.Status = whitelabel.DomainVerified
	if err := s.UpdateDomain(ctx, d, nil); err != nil {
		t.Fatalf("UpdateDomain() = %v", err)
	}
	p.IsActive = false
	if err := s.UpdatePartner(ctx, p, nil); err != nil {
		t.Fatalf("UpdatePartner() = %v", err)
	}
	if err := s.DeleteDomain(ctx, tn.ID, d.Domain, nil); err != nil {
		t.Fatalf("DeleteDomain() = %v", err)
	}
	// Neither a failed mutation nor a key rotation is a change.
	if err := s.CreateTenant(ctx, newTenant(p.ID, "feed"), nil); err == nil {
		t.Fatalf("CreateTenant(taken) = nil, want conflict")
	}
	_, k := whitelabel.NewAPIKey(p.ID, time.Now())
	if err := s.RotateAPIKey(ctx, &k, time.Now().Add(time.Hour), nil); err != nil {
		t.Fatalf("RotateAPIKey() = %v", err)
	}

	pid := fmt.Sprint(p.ID)
	want := []whitelabel.Change{
		{Version: 1, Kind: whitelabel.ChangePartner, Key: pid},
		{Version: 2, Kind: whitelabel.ChangeTenant, TenantID: tn.ID},
		{Version: 3, Kind: whitelabel.ChangeDomain, TenantID: tn.ID, Key: d.Domain},
		{Version: 4, Kind: whitelabel.ChangeTenant, TenantID: tn.ID},
		{Version: 5, Kind: whitelabel.ChangeDomain, TenantID: tn.ID, Key: d.Domain},
		{Version: 6, Kind: whitelabel.ChangePartner, Key: pid},
		{Version: 7, Kind: whitelabel.ChangeDomain, TenantID: tn.ID, Key: d.Domain},
	}
	if v := version(t, s); v != 7 {
		t.Errorf("ConfigVersion() = %d, want 7", v)
	}
	strip := func(cs []whitelabel.Change) []whitelabel.Change {
		out := []whitelabel.Change{}
		for _, c := range cs {
			if c.At.IsZero() || c.At.Location() != time.UTC {
				t.Errorf("change %d At = %v, want a UTC time", c.Version, c.At)
			}
			c.At = time.Time{}
			out = append(out, c)
		}
		return out
	}
	tests := []struct {
		name         string
		after, limit int
		want         []whitelabel.Change
	}{
		{"all", 0, 0, want},
		{"after 3", 3, 100, want[3:]},
		{"limit", 2, 3, want[2:5]},
		{"after last", 7, 10, []whitelabel.Change{}},
		{"beyond last", 100, 10, []whitelabel.Change{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ChangesSince(ctx, int64(tt.after), tt.limit)
			if err != nil || !same(strip(got), tt.want) {
				t.Errorf("ChangesSince(%d, %d) = %s, %v;\nwant %s", tt.after, tt.limit, js(strip(got)), err, js(tt.want))
			}
		})
	}
}

func testWaitForChange(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	tn := mustTenant(t, s, 0, "wait")
	v := version(t, s)

	// Already past: no wait.
	if got, err := s.WaitForChange(ctx, v-1); err != nil || got != v {
		t.Errorf("WaitForChange(%d) = %d, %v; want %d, nil", v-1, got, err, v)
	}

	type result struct {
		v   int64
		err error
	}
	for i := range 3 { // several rounds: a waiter must not see a stale wake-up
		done := make(chan result, 1)
		started := make(chan struct{})
		go func() {
			close(started)
			got, err := s.WaitForChange(ctx, v)
			done <- result{got, err}
		}()
		<-started
		up := tn.Clone()
		up.DisplayName = fmt.Sprintf("round %d", i)
		if err := s.UpdateTenant(ctx, up, nil); err != nil {
			t.Fatalf("UpdateTenant() = %v", err)
		}
		tn = up
		select {
		case r := <-done:
			if r.err != nil || r.v <= v {
				t.Fatalf("WaitForChange(%d) = %d, %v; want > %d", v, r.v, r.err, v)
			}
			v = r.v
		case <-time.After(15 * time.Second):
			t.Fatalf("WaitForChange(%d) did not return within 15s of a write", v)
		}
	}

	// Cancel ends the wait with the context's error.
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := s.WaitForChange(cctx, v)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("WaitForChange(cancelled) = %v, want context.Canceled", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("WaitForChange did not return within 15s of cancel")
	}
	dctx, dcancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer dcancel()
	if _, err := s.WaitForChange(dctx, v); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitForChange(deadline) = %v, want context.DeadlineExceeded", err)
	}
}

func testAudit(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	p1, _ := mustPartner(t, s, "aud1")
	p2, _ := mustPartner(t, s, "aud2")
	var entries []*whitelabel.AuditEntry
	mk := func(action string) *whitelabel.AuditEntry {
		a := &whitelabel.AuditEntry{
			Actor: "partner:1", Action: action, TargetType: "tenant",
			Before: json.RawMessage(`{"b": 1, "a": [true]}`), After: json.RawMessage(`{"status":"active"}`),
			RequestID: "req-" + action, ClientAddr: "192.0.2.1",
		}
		entries = append(entries, a)
		return a
	}
	t1 := newTenant(p1.ID, "aud-one")
	a1 := mk("tenant.create")
	a1.Before = nil
	if err := s.CreateTenant(ctx, t1, a1); err != nil {
		t.Fatalf("CreateTenant() = %v", err)
	}
	if a1.ID == 0 || a1.At.IsZero() || a1.TenantID != t1.ID || a1.PartnerID != p1.ID || a1.TargetID != fmt.Sprint(t1.ID) {
		t.Errorf("CreateTenant audit = %s; want ID, At, TenantID %d, PartnerID %d, TargetID filled", js(a1), t1.ID, p1.ID)
	}
	t2 := newTenant(p2.ID, "aud-two")
	if err := s.CreateTenant(ctx, t2, mk("tenant.create")); err != nil {
		t.Fatalf("CreateTenant() = %v", err)
	}
	d := &whitelabel.TenantDomain{TenantID: t1.ID, Domain: "aud.example.com"}
	if err := s.CreateDomain(ctx, d, mk("domain.create")); err != nil {
		t.Fatalf("CreateDomain() = %v", err)
	}
	up := t1.Clone()
	up.Status = whitelabel.StatusActive
	if err := s.UpdateTenant(ctx, up, mk("tenant.status")); err != nil {
		t.Fatalf("UpdateTenant() = %v", err)
	}
	platform := mk("platform.thing")
	platform.PartnerID = 0
	if err := s.UpdatePartner(ctx, p2, platform); err != nil {
		t.Fatalf("UpdatePartner() = %v", err)
	}
	for _, a := range entries {
		if a.ID == 0 || a.At.IsZero() {
			t.Errorf("audit %s not filled: %s", a.Action, js(a))
		}
	}
	// Stored in canonical form: what ListAudit returns equals what was filled in.
	rev := func(idx ...int) []*whitelabel.AuditEntry {
		out := []*whitelabel.AuditEntry{}
		for _, i := range idx {
			out = append(out, entries[i])
		}
		return out
	}
	tests := []struct {
		name string
		f    whitelabel.AuditFilter
		want []*whitelabel.AuditEntry
	}{
		{"all, newest first", whitelabel.AuditFilter{}, rev(4, 3, 2, 1, 0)},
		{"partner 1", whitelabel.AuditFilter{PartnerID: p1.ID}, rev(3, 0)},
		{"partner 2", whitelabel.AuditFilter{PartnerID: p2.ID}, rev(4, 1)},
		{"tenant 1", whitelabel.AuditFilter{TenantID: t1.ID}, rev(3, 2, 0)},
		{"partner and tenant", whitelabel.AuditFilter{PartnerID: p2.ID, TenantID: t1.ID}, rev()},
		{"before", whitelabel.AuditFilter{Before: entries[3].ID}, rev(2, 1, 0)},
		{"before and limit", whitelabel.AuditFilter{Before: entries[3].ID, Limit: 2}, rev(2, 1)},
		{"tenant, before, limit", whitelabel.AuditFilter{TenantID: t1.ID, Before: entries[3].ID, Limit: 1}, rev(2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListAudit(ctx, tt.f)
			if err != nil || !same(got, tt.want) {
				t.Errorf("ListAudit(%+v) = %s, %v;\nwant %s", tt.f, js(got), err, js(tt.want))
			}
		})
	}
	if got := string(entries[1].Before); got != `{"a":[true],"b":1}` {
		t.Errorf("audit Before = %s, want canonical %s", got, `{"a":[true],"b":1}`)
	}
	// Without an entry nothing is written.
	up2 := up.Clone()
	if err := s.UpdateTenant(ctx, up2, nil); err != nil {
		t.Fatalf("UpdateTenant() = %v", err)
	}
	if got, _ := s.ListAudit(ctx, whitelabel.AuditFilter{}); len(got) != 5 {
		t.Errorf("ListAudit() after a mutation without audit has %d entries, want 5", len(got))
	}
}

func testAuditAtomic(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	base := mustTenant(t, s, 0, "atomic")
	tests := []struct {
		name string
		call func(a *whitelabel.AuditEntry) error
	}{
		{"create conflict", func(a *whitelabel.AuditEntry) error { return s.CreateTenant(ctx, newTenant(0, "atomic"), a) }},
		{"update stale", func(a *whitelabel.AuditEntry) error {
			tn := newTenant(0, "atomic")
			tn.ID, tn.Version = base.ID, 99
			return s.UpdateTenant(ctx, tn, a)
		}},
		{"delete missing", func(a *whitelabel.AuditEntry) error { return s.DeleteDomain(ctx, base.ID, "none.example.com", a) }},
		{"bad audit JSON", func(a *whitelabel.AuditEntry) error {
			a.After = json.RawMessage(`{not json`)
			return s.CreateTenant(ctx, newTenant(0, "atomic-two"), a)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &whitelabel.AuditEntry{Actor: "admin", Action: tt.name}
			if err := tt.call(a); err == nil {
				t.Fatalf("%s = nil, want an error", tt.name)
			}
			if a.ID != 0 {
				t.Errorf("%s filled audit ID %d of a failed mutation", tt.name, a.ID)
			}
		})
	}
	if got, err := s.ListAudit(ctx, whitelabel.AuditFilter{}); err != nil || len(got) != 0 {
		t.Errorf("ListAudit() = %s, %v; want no entries from failed mutations", js(got), err)
	}
	if _, err := s.TenantByKey(ctx, "atomic-two_key"); whitelabel.ErrorCodeOf(err) != whitelabel.CodeNotFound {
		t.Errorf("tenant of a mutation whose audit failed exists (err %v)", err)
	}
}

func testLoadConfig(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	v, cfgs, err := s.LoadConfig(ctx)
	if err != nil || v != 0 || len(cfgs) != 0 {
		t.Errorf("LoadConfig() of an empty store = %d, %s, %v; want 0, [], nil", v, js(cfgs), err)
	}
	a := mustTenant(t, s, 0, "load-a")
	b := mustTenant(t, s, 0, "load-b")
	c := mustTenant(t, s, 0, "load-c")
	da1 := mustDomain(t, s, a.ID, "a1.example.com")
	dc := mustDomain(t, s, c.ID, "c.example.com")
	da2 := mustDomain(t, s, a.ID, "a2.example.com")
	want := []whitelabel.TenantConfig{
		{Tenant: *a, Domains: []whitelabel.TenantDomain{*da1, *da2}},
		{Tenant: *b, Domains: []whitelabel.TenantDomain{}},
		{Tenant: *c, Domains: []whitelabel.TenantDomain{*dc}},
	}
	v, cfgs, err = s.LoadConfig(ctx)
	if err != nil || v != version(t, s) || !same(cfgs, want) {
		t.Errorf("LoadConfig() = %d, %s, %v;\nwant %d, %s", v, js(cfgs), err, version(t, s), js(want))
	}
	tests := []struct {
		name string
		ids  []int64
		want []whitelabel.TenantConfig
	}{
		{"none", nil, []whitelabel.TenantConfig{}},
		{"some, any order", []int64{c.ID, a.ID}, []whitelabel.TenantConfig{want[0], want[2]}},
		{"missing left out", []int64{b.ID, 987654}, []whitelabel.TenantConfig{want[1]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.LoadTenantConfigs(ctx, tt.ids)
			if err != nil || !same(got, tt.want) {
				t.Errorf("LoadTenantConfigs(%v) = %s, %v;\nwant %s", tt.ids, js(got), err, js(tt.want))
			}
		})
	}
}

// testLoadConfigConsistent checks that a snapshot taken while writers run
// holds exactly the rows whose change versions are <= its version.
func testLoadConfigConsistent(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	const n = 30
	errc := make(chan error, 1)
	go func() {
		for i := range n {
			tn := newTenant(0, fmt.Sprintf("snap-%02d", i))
			if err := s.CreateTenant(ctx, tn, nil); err != nil {
				errc <- err
				return
			}
			d := &whitelabel.TenantDomain{TenantID: tn.ID, Domain: fmt.Sprintf("snap%d.example.com", i)}
			if err := s.CreateDomain(ctx, d, nil); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	type snap struct {
		v    int64
		cfgs []whitelabel.TenantConfig
	}
	var snaps []snap
	for done := false; !done; {
		select {
		case err := <-errc:
			if err != nil {
				t.Fatalf("writer: %v", err)
			}
			done = true
		default:
		}
		v, cfgs, err := s.LoadConfig(ctx)
		if err != nil {
			t.Fatalf("LoadConfig() = %v", err)
		}
		snaps = append(snaps, snap{v, cfgs})
	}
	changes, err := s.ChangesSince(ctx, 0, 0)
	if err != nil || len(changes) != 2*n {
		t.Fatalf("ChangesSince(0) = %d changes, %v; want %d", len(changes), err, 2*n)
	}
	for _, sn := range snaps {
		wantTenants, wantDomains := map[int64]bool{}, map[string]bool{}
		for _, c := range changes {
			if c.Version > sn.v {
				break
			}
			if c.Kind == whitelabel.ChangeTenant {
				wantTenants[c.TenantID] = true
			} else {
				wantDomains[c.Key] = true
			}
		}
		gotTenants, gotDomains := map[int64]bool{}, map[string]bool{}
		for _, c := range sn.cfgs {
			gotTenants[c.Tenant.ID] = true
			for _, d := range c.Domains {
				gotDomains[d.Domain] = true
			}
		}
		if !same(gotTenants, wantTenants) || !same(gotDomains, wantDomains) {
			t.Errorf("LoadConfig() at version %d has tenants %v domains %v; want %v %v",
				sn.v, gotTenants, gotDomains, wantTenants, wantDomains)
		}
	}
	t.Logf("%d snapshots checked", len(snaps))
}

func testConcurrentCreate(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			tn := newTenant(0, "race")
			tn.TenantKey = fmt.Sprintf("race_%02d", i)
			errs[i] = s.CreateTenant(ctx, tn, &whitelabel.AuditEntry{Actor: "admin", Action: "tenant.create"})
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range errs {
		if err == nil {
			wins++
			continue
		}
		checkCode(t, fmt.Sprintf("CreateTenant(%q) #%d", "race", i), err, whitelabel.CodeConflict, "subdomain")
	}
	if wins != 1 {
		t.Errorf("%d of %d concurrent CreateTenant(%q) succeeded, want 1", wins, n, "race")
	}
	if v := version(t, s); v != 1 {
		t.Errorf("ConfigVersion() = %d, want 1", v)
	}
	if a, _ := s.ListAudit(ctx, whitelabel.AuditFilter{}); len(a) != 1 {
		t.Errorf("ListAudit() has %d entries, want 1", len(a))
	}
}

func testConcurrentUpdate(t *testing.T, s whitelabel.Store) {
	ctx := ctxOf(t)
	tn := mustTenant(t, s, 0, "cas-race")
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			up := tn.Clone()
			up.DisplayName = fmt.Sprintf("writer %d", i)
			errs[i] = s.UpdateTenant(ctx, up, nil)
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range errs {
		if err == nil {
			wins++
			continue
		}
		checkCode(t, fmt.Sprintf("UpdateTenant(version %d) #%d", tn.Version, i), err, whitelabel.CodePreconditionFailed, "")
	}
	if wins != 1 {
		t.Errorf("%d of %d concurrent UpdateTenant(version %d) succeeded, want 1", wins, n, tn.Version)
	}
	got, err := s.GetTenant(ctx, tn.ID)
	if err != nil || got.Version != 2 {
		t.Errorf("GetTenant() = version %d, %v; want 2", got.Version, err)
	}
}

func testMigrateTwice(t *testing.T, s whitelabel.Store) {
	m, ok := s.(Migrator)
	if !ok {
		t.Skip("store has no Migrate method")
	}
	ctx := ctxOf(t)
	tn := mustTenant(t, s, 0, "survivor")
	v := version(t, s)
	for i := range 2 {
		if err := m.Migrate(ctx); err != nil {
			t.Fatalf("Migrate() #%d = %v, want nil", i+1, err)
		}
	}
	got, err := s.GetTenant(ctx, tn.ID)
	if err != nil || !same(got, tn) {
		t.Errorf("GetTenant(%d) after Migrate = %s, %v; want %s", tn.ID, js(got), err, js(tn))
	}
	if got := version(t, s); got != v {
		t.Errorf("ConfigVersion() after Migrate = %d, want %d", got, v)
	}
	mustTenant(t, s, 0, "after-migrate")
}
