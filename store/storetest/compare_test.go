package storetest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/internal/testenv"
	"github.com/estatecore/whitelabel/store/postgres"
	"github.com/estatecore/whitelabel/store/sqlite"
)

// stepClock returns a time that moves by an odd number of nanoseconds on
// every call, so truncation to microseconds is exercised.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(1_234_567_891 * time.Nanosecond)
	return c.t
}

func newClock() *stepClock {
	return &stepClock{t: time.Date(2026, 1, 2, 3, 4, 5, 999, time.FixedZone("CET", 3600))}
}

// TestStoresAgree runs one script against SQLite and PostgreSQL and checks
// that everything they return is equal, byte for byte in JSON.
func TestStoresAgree(t *testing.T) {
	lite, err := sqlite.Open(t.Context(), sqlite.Config{
		Path: filepath.Join(t.TempDir(), "wl.db"), Now: newClock().Now, Migrate: true,
	})
	if err != nil {
		t.Fatalf("sqlite.Open() = %v", err)
	}
	defer lite.Close()
	pg, err := postgres.Open(t.Context(), postgres.Config{
		URL: testenv.PostgresURL(t), Now: newClock().Now, Migrate: true,
	})
	if err != nil {
		t.Fatalf("postgres.Open() = %v", err)
	}
	defer pg.Close()

	got := map[string][]string{}
	for name, s := range map[string]whitelabel.Store{"sqlite": lite, "postgres": pg} {
		got[name] = script(t.Context(), s)
	}
	a, b := got["sqlite"], got["postgres"]
	if len(a) != len(b) {
		t.Fatalf("script gave %d results on sqlite, %d on postgres", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("step %d differs:\nsqlite:   %s\npostgres: %s", i, a[i], b[i])
		}
	}
	t.Logf("%d steps compared, e.g. %s", len(a), a[len(a)-10])
}

// script performs the same calls on s and records every result and error
// (by code and field, since messages name driver details).
func script(ctx context.Context, s whitelabel.Store) []string {
	var out []string
	rec := func(step string, v any, err error) {
		if err != nil {
			var e *whitelabel.Error
			field := ""
			if errors.As(err, &e) {
				field = e.Field
			}
			out = append(out, fmt.Sprintf("%s: error %s %s", step, whitelabel.ErrorCodeOf(err), field))
			return
		}
		b, _ := json.Marshal(v)
		out = append(out, step+": "+string(b))
	}
	at := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)
	later := at.Add(90 * 24 * time.Hour)

	p := &whitelabel.Partner{Name: "Acme", ContactEmail: "a@example.com", DefaultRevenueShare: 12.345, IsActive: true}
	_, key := whitelabel.NewAPIKey(0, at)
	key.ID, key.Hash = "aaaaaaaaaaaa", []byte("hash-1")
	audit := &whitelabel.AuditEntry{Actor: "admin", Action: "partner.create", After: json.RawMessage(`{"z":1, "a":"<&>"}`)}
	err := s.CreatePartner(ctx, p, &key, audit)
	rec("CreatePartner", []any{p, key, audit}, err)

	k2 := whitelabel.APIKey{ID: "bbbbbbbbbbbb", PartnerID: p.ID, Hash: []byte("hash-2"), CreatedAt: at.Add(time.Minute)}
	err = s.RotateAPIKey(ctx, &k2, later, nil)
	rec("RotateAPIKey", k2, err)
	keys, err := s.ListAPIKeys(ctx, p.ID)
	rec("ListAPIKeys", keys, err)
	gk, gp, err := s.APIKey(ctx, key.ID)
	rec("APIKey", []any{gk, gp}, err)

	var tenants []*whitelabel.Tenant
	for i, sub := range []string{"alpha", "beta", "gamma"} {
		tn := &whitelabel.Tenant{
			PartnerID: p.ID, TenantKey: sub + "_key", DisplayName: strings.ToUpper(sub), Subdomain: sub,
			ContactEmail: sub + "@example.com", Plan: "premium", Status: whitelabel.StatusProvisioning,
			BrandConfig:    json.RawMessage(fmt.Sprintf(`{"colors": {"primary": "#00000%d"}, "company_name": "%s & Co"}`, i, sub)),
			FeatureFlags:   whitelabel.Flags{"sso": i%2 == 0, "max_properties": float64(100 * i), "theme": "t" + sub, "ratio": 0.5},
			ResourceQuotas: whitelabel.Quotas{"requests_per_second": int64(10 * i), "storage_gb": 1 << 40},
		}
		if i == 1 {
			tn.BrandConfig, tn.FeatureFlags, tn.ResourceQuotas = nil, nil, nil
		}
		a := &whitelabel.AuditEntry{Actor: "partner:1", Action: "tenant.create", RequestID: "r", ClientAddr: "192.0.2.1"}
		err := s.CreateTenant(ctx, tn, a)
		rec("CreateTenant "+sub, []any{tn, a}, err)
		tenants = append(tenants, tn)
	}
	d := &whitelabel.TenantDomain{TenantID: tenants[0].ID, Domain: "props.alpha.com", VerificationToken: "tok", LastCheckedAt: &at}
	err = s.CreateDomain(ctx, d, &whitelabel.AuditEntry{Actor: "partner:1", Action: "domain.create"})
	rec("CreateDomain", d, err)
	d.Status, d.VerifiedAt, d.CertIssuer, d.CertNotBefore, d.CertNotAfter = whitelabel.DomainActive, &at, "pebble", &at, &later
	err = s.UpdateDomain(ctx, d, nil)
	rec("UpdateDomain", d, err)
	d2 := &whitelabel.TenantDomain{TenantID: tenants[2].ID, Domain: "gamma.example.net"}
	err = s.CreateDomain(ctx, d2, nil)
	rec("CreateDomain 2", d2, err)

	up := tenants[0].Clone()
	up.Status, up.FeatureFlags["new"] = whitelabel.StatusActive, true
	err = s.UpdateTenant(ctx, up, &whitelabel.AuditEntry{Actor: "admin", Action: "tenant.status", Before: json.RawMessage(`{"status":"provisioning"}`)})
	rec("UpdateTenant", up, err)
	p.IsActive, p.DefaultRevenueShare = false, 50
	err = s.UpdatePartner(ctx, p, nil)
	rec("UpdatePartner", p, err)
	err = s.DeleteDomain(ctx, tenants[2].ID, d2.Domain, nil)
	rec("DeleteDomain", nil, err)

	v, cfgs, err := s.LoadConfig(ctx)
	rec("LoadConfig", []any{v, cfgs}, err)
	cfgs, err = s.LoadTenantConfigs(ctx, []int64{tenants[2].ID, tenants[0].ID})
	rec("LoadTenantConfigs", cfgs, err)
	list, err := s.ListTenants(ctx, whitelabel.TenantFilter{PartnerID: p.ID, Limit: 2})
	rec("ListTenants", list, err)
	changes, err := s.ChangesSince(ctx, 0, 0)
	rec("ChangesSince", changes, err)
	entries, err := s.ListAudit(ctx, whitelabel.AuditFilter{})
	rec("ListAudit", entries, err)
	partners, err := s.ListPartners(ctx)
	rec("ListPartners", partners, err)
	doms, err := s.ListDomains(ctx, tenants[0].ID)
	rec("ListDomains", doms, err)

	// Failures last: PostgreSQL identity columns skip the IDs of
	// rolled-back inserts, SQLite's do not.
	err = s.CreateTenant(ctx, &whitelabel.Tenant{TenantKey: "x", Subdomain: "alpha", DisplayName: "x"}, nil)
	rec("CreateTenant taken", nil, err)
	err = s.UpdateTenant(ctx, tenants[1], nil)
	rec("UpdateTenant same version twice", nil, s.UpdateTenant(ctx, tenants[1].Clone(), nil))
	rec("UpdateTenant first", nil, err)
	err = s.CreateDomain(ctx, &whitelabel.TenantDomain{TenantID: tenants[1].ID, Domain: "props.alpha.com"}, nil)
	rec("CreateDomain taken", nil, err)
	_, err = s.GetTenant(ctx, 999)
	rec("GetTenant missing", nil, err)
	return out
}
