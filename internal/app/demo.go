package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/estatecore/whitelabel"
)

// DemoPartnerName names the partner SeedDemo creates.
const DemoPartnerName = "Demo Partner"

// Demo is what SeedDemo made or found.
type Demo struct {
	PartnerID int64
	APIKey    string // "" when the key was made by an earlier run and its file is gone
	Tenant    *whitelabel.Tenant
}

// SeedDemo makes sure the store holds the demo partner and the active demo
// tenant "acme", creating what is missing. The partner's API key is shown
// only once by the store, so it is kept in keyFile (mode 0600) for later
// runs to print again.
func SeedDemo(ctx context.Context, st whitelabel.Store, keyFile string) (*Demo, error) {
	now := time.Now().UTC()
	d := &Demo{}
	partners, err := st.ListPartners(ctx)
	if err != nil {
		return nil, fmt.Errorf("list partners: %w", err)
	}
	for _, p := range partners {
		if p.Name == DemoPartnerName {
			d.PartnerID = p.ID
		}
	}
	if d.PartnerID == 0 {
		p := &whitelabel.Partner{Name: DemoPartnerName, ContactEmail: "partner@example.com", IsActive: true, DefaultRevenueShare: 20}
		plain, key := whitelabel.NewAPIKey(0, now)
		audit := &whitelabel.AuditEntry{Actor: "system", Action: "partner.create", TargetType: "partner"}
		if err := st.CreatePartner(ctx, p, &key, audit); err != nil {
			return nil, fmt.Errorf("create demo partner: %w", err)
		}
		d.PartnerID = p.ID
		if keyFile != "" {
			if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
				return nil, fmt.Errorf("save demo key: %w", err)
			}
			if err := os.WriteFile(keyFile, []byte(plain+"\n"), 0o600); err != nil {
				return nil, fmt.Errorf("save demo key: %w", err)
			}
		}
		d.APIKey = plain
	} else if keyFile != "" {
		if b, err := os.ReadFile(keyFile); err == nil {
			d.APIKey = string(trimNL(b))
		}
	}

	t, err := st.TenantByKey(ctx, "acme")
	if err == nil {
		d.Tenant = t
		return d, nil
	}
	if !errors.Is(err, whitelabel.ErrNotFound) {
		return nil, fmt.Errorf("look up demo tenant: %w", err)
	}
	brand, _ := json.Marshal(map[string]any{
		"name":   "Acme Properties",
		"colors": map[string]string{"primary": "#ff6b35", "secondary": "#004e89"},
	})
	t = &whitelabel.Tenant{
		PartnerID: d.PartnerID, TenantKey: "acme", DisplayName: "Acme Property Management",
		Subdomain: "acme", ContactEmail: "admin@acme.com", Plan: "premium",
		Status: whitelabel.StatusActive, BrandConfig: brand,
		FeatureFlags:   whitelabel.Flags{"ai_analytics": true, "custom_domains": true},
		ResourceQuotas: whitelabel.Quotas{},
	}
	audit := &whitelabel.AuditEntry{Actor: "system", Action: "tenant.create", TargetType: "tenant", PartnerID: d.PartnerID}
	if err := st.CreateTenant(ctx, t, audit); err != nil {
		return nil, fmt.Errorf("create demo tenant: %w", err)
	}
	d.Tenant = t
	return d, nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
