package control

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/estatecore/whitelabel"
)

// memStore is a minimal in-memory whitelabel.Store for tests of failure
// paths the real stores cannot easily produce (a store that is down).
// Behavioural tests run against the real SQLite and PostgreSQL stores.
type memStore struct {
	mu       sync.Mutex
	partners map[int64]*whitelabel.Partner
	keys     map[string]*whitelabel.APIKey
	tenants  map[int64]*whitelabel.Tenant
	audit    []*whitelabel.AuditEntry
	nextID   int64
	pingErr  error
}

var _ whitelabel.Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{partners: map[int64]*whitelabel.Partner{}, keys: map[string]*whitelabel.APIKey{}, tenants: map[int64]*whitelabel.Tenant{}}
}

func (m *memStore) id() int64 { m.nextID++; return m.nextID }

func (m *memStore) addAudit(a *whitelabel.AuditEntry, tenantID, partnerID int64, target string) {
	if a == nil {
		return
	}
	a.ID, a.At = m.id(), time.Now()
	if a.TenantID == 0 {
		a.TenantID = tenantID
	}
	if a.PartnerID == 0 {
		a.PartnerID = partnerID
	}
	if a.TargetID == "" {
		a.TargetID = target
	}
	c := *a
	m.audit = append(m.audit, &c)
}

func (m *memStore) CreatePartner(ctx context.Context, p *whitelabel.Partner, key *whitelabel.APIKey, audit *whitelabel.AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p.ID, p.CreatedAt = m.id(), time.Now()
	c := *p
	m.partners[p.ID] = &c
	key.PartnerID = p.ID
	k := *key
	m.keys[k.ID] = &k
	m.addAudit(audit, 0, p.ID, fmt.Sprint(p.ID))
	return nil
}

func (m *memStore) GetPartner(ctx context.Context, id int64) (*whitelabel.Partner, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.partners[id]
	if !ok {
		return nil, whitelabel.NotFound("partner")
	}
	c := *p
	return &c, nil
}

func (m *memStore) ListPartners(ctx context.Context) ([]*whitelabel.Partner, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*whitelabel.Partner
	for _, p := range m.partners {
		c := *p
		out = append(out, &c)
	}
	slices.SortFunc(out, func(a, b *whitelabel.Partner) int { return int(a.ID - b.ID) })
	return out, nil
}

func (m *memStore) UpdatePartner(ctx context.Context, p *whitelabel.Partner, audit *whitelabel.AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.partners[p.ID]; !ok {
		return whitelabel.NotFound("partner")
	}
	c := *p
	m.partners[p.ID] = &c
	m.addAudit(audit, 0, p.ID, fmt.Sprint(p.ID))
	return nil
}

func (m *memStore) RotateAPIKey(ctx context.Context, key *whitelabel.APIKey, oldExpiresAt time.Time, audit *whitelabel.AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range m.keys {
		if k.PartnerID == key.PartnerID && (k.ExpiresAt == nil || k.ExpiresAt.After(oldExpiresAt)) {
			e := oldExpiresAt
			k.ExpiresAt = &e
		}
	}
	k := *key
	m.keys[k.ID] = &k
	m.addAudit(audit, 0, key.PartnerID, fmt.Sprint(key.PartnerID))
	return nil
}

func (m *memStore) APIKey(ctx context.Context, id string) (*whitelabel.APIKey, *whitelabel.Partner, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return nil, nil, whitelabel.NotFound("key")
	}
	kc, pc := *k, *m.partners[k.PartnerID]
	return &kc, &pc, nil
}

func (m *memStore) ListAPIKeys(ctx context.Context, partnerID int64) ([]*whitelabel.APIKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*whitelabel.APIKey
	for _, k := range m.keys {
		if k.PartnerID == partnerID {
			c := *k
			out = append(out, &c)
		}
	}
	return out, nil
}

func (m *memStore) CreateTenant(ctx context.Context, t *whitelabel.Tenant, audit *whitelabel.AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.tenants {
		if o.Subdomain == t.Subdomain {
			return whitelabel.Conflict("subdomain", "subdomain taken")
		}
		if o.TenantKey == t.TenantKey {
			return whitelabel.Conflict("tenant_key", "tenant_key taken")
		}
	}
	t.ID, t.Version, t.CreatedAt, t.UpdatedAt = m.id(), 1, time.Now(), time.Now()
	if t.OrganizationID == 0 {
		t.OrganizationID = 1000 + t.ID
	}
	m.tenants[t.ID] = t.Clone()
	m.addAudit(audit, t.ID, t.PartnerID, fmt.Sprint(t.ID))
	return nil
}

func (m *memStore) GetTenant(ctx context.Context, id int64) (*whitelabel.Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tenants[id]
	if !ok {
		return nil, whitelabel.NotFound("tenant")
	}
	return t.Clone(), nil
}

func (m *memStore) TenantByKey(ctx context.Context, key string) (*whitelabel.Tenant, error) {
	return nil, whitelabel.NotFound("tenant")
}

func (m *memStore) ListTenants(ctx context.Context, f whitelabel.TenantFilter) ([]*whitelabel.Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*whitelabel.Tenant
	for _, t := range m.tenants {
		if (f.PartnerID == 0 || t.PartnerID == f.PartnerID) && (f.Status == "" || t.Status == f.Status) && t.ID > f.After {
			out = append(out, t.Clone())
		}
	}
	slices.SortFunc(out, func(a, b *whitelabel.Tenant) int { return int(a.ID - b.ID) })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

func (m *memStore) UpdateTenant(ctx context.Context, t *whitelabel.Tenant, audit *whitelabel.AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.tenants[t.ID]
	if !ok {
		return whitelabel.NotFound("tenant")
	}
	if cur.Version != t.Version {
		return whitelabel.ErrPreconditionFailed
	}
	t.Version++
	t.UpdatedAt = time.Now()
	m.tenants[t.ID] = t.Clone()
	m.addAudit(audit, t.ID, t.PartnerID, fmt.Sprint(t.ID))
	return nil
}

func (m *memStore) CreateDomain(context.Context, *whitelabel.TenantDomain, *whitelabel.AuditEntry) error {
	return nil
}
func (m *memStore) GetDomain(context.Context, string) (*whitelabel.TenantDomain, error) {
	return nil, whitelabel.NotFound("domain")
}
func (m *memStore) ListDomains(context.Context, int64) ([]*whitelabel.TenantDomain, error) {
	return nil, nil
}
func (m *memStore) UpdateDomain(context.Context, *whitelabel.TenantDomain, *whitelabel.AuditEntry) error {
	return nil
}
func (m *memStore) DeleteDomain(context.Context, int64, string, *whitelabel.AuditEntry) error {
	return nil
}

func (m *memStore) ListAudit(ctx context.Context, f whitelabel.AuditFilter) ([]*whitelabel.AuditEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*whitelabel.AuditEntry
	for i := len(m.audit) - 1; i >= 0; i-- {
		a := m.audit[i]
		if (f.PartnerID == 0 || a.PartnerID == f.PartnerID) && (f.TenantID == 0 || a.TenantID == f.TenantID) && (f.Before == 0 || a.ID < f.Before) {
			c := *a
			c.Before = append(json.RawMessage(nil), a.Before...)
			out = append(out, &c)
			if f.Limit > 0 && len(out) == f.Limit {
				break
			}
		}
	}
	return out, nil
}

func (m *memStore) ConfigVersion(context.Context) (int64, error) { return 0, nil }
func (m *memStore) ChangesSince(context.Context, int64, int) ([]whitelabel.Change, error) {
	return nil, nil
}
func (m *memStore) WaitForChange(ctx context.Context, after int64) (int64, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}
func (m *memStore) LoadConfig(context.Context) (int64, []whitelabel.TenantConfig, error) {
	return 0, nil, nil
}
func (m *memStore) LoadTenantConfigs(context.Context, []int64) ([]whitelabel.TenantConfig, error) {
	return nil, nil
}
func (m *memStore) Ping(context.Context) error { return m.pingErr }
func (m *memStore) Close() error               { return nil }
