package control

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/estatecore/whitelabel"
)

// Activation modes reported when a tenant is created.
const (
	activationAutomatic = "automatic" // Run makes it active after ProvisionDelay
	activationManual    = "manual"    // stays provisioning until POST …/status
)

// tenantView is a tenant as the API shows it: the stored fields plus the
// reference document's "name", the effective features and quotas, and
// on create how provisioning completes.
type tenantView struct {
	*whitelabel.Tenant
	Name            string           `json:"name"`
	Hostname        string           `json:"hostname,omitempty"`
	Features        map[string]any   `json:"features"`
	EnabledFeatures []string         `json:"enabled_features"`
	Quotas          map[string]int64 `json:"quotas"`
	Activation      string           `json:"activation,omitempty"`
	ActiveAfter     *time.Time       `json:"active_after,omitempty"`
}

func (s *Server) view(t *whitelabel.Tenant) *tenantView {
	v := &tenantView{
		Tenant:          t,
		Name:            t.DisplayName,
		Features:        make(map[string]any),
		EnabledFeatures: s.plans.EnabledFeatures(t),
		Quotas:          make(map[string]int64),
	}
	if s.cfg.BaseDomain != "" {
		v.Hostname = t.Subdomain + "." + s.cfg.BaseDomain
	}
	for k, f := range s.plans.EffectiveFlags(t) {
		v.Features[k] = f.Value
	}
	for k, q := range s.plans.EffectiveQuotas(t) {
		v.Quotas[k] = q.Limit
	}
	if v.EnabledFeatures == nil {
		v.EnabledFeatures = []string{}
	}
	return v
}

// tenantAudit is the before/after document of tenant audit entries. The
// create entry carries "activate", which the provisioning worker reads
// after a restart.
type tenantAudit struct {
	*whitelabel.Tenant
	Activate *bool  `json:"activate,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

func tenantLocation(id int64) string {
	return BasePath + "/tenants/" + strconv.FormatInt(id, 10)
}

func setETag(w http.ResponseWriter, t *whitelabel.Tenant) {
	w.Header().Set("ETag", `"`+strconv.FormatInt(t.Version, 10)+`"`)
}

func (s *Server) createTenant(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	var req struct {
		Name           string            `json:"name"`
		DisplayName    string            `json:"display_name"`
		Subdomain      string            `json:"subdomain"`
		ContactEmail   string            `json:"contact_email"`
		Plan           string            `json:"plan"`
		FeatureFlags   whitelabel.Flags  `json:"feature_flags"`
		ResourceQuotas whitelabel.Quotas `json:"resource_quotas"`
		BrandConfig    json.RawMessage   `json:"brand_config"`
		TenantKey      string            `json:"tenant_key"`
		OrganizationID int64             `json:"organization_id"`
		PartnerID      int64             `json:"partner_id"`
		Activate       *bool             `json:"activate"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	name, nameField := req.Name, "name"
	if name == "" && req.DisplayName != "" {
		name, nameField = req.DisplayName, "display_name"
	} else if req.DisplayName != "" && req.DisplayName != req.Name {
		return whitelabel.Invalid("display_name", "give name or display_name, not two different values")
	}
	if err := whitelabel.ValidateDisplayName(nameField, name); err != nil {
		return err
	}
	if err := whitelabel.ValidateSubdomain(req.Subdomain); err != nil {
		return err
	}
	if err := whitelabel.ValidateEmail("contact_email", req.ContactEmail); err != nil {
		return err
	}
	if req.Plan == "" {
		req.Plan = "basic"
	}
	if err := s.checkPlan(req.Plan); err != nil {
		return err
	}
	if req.FeatureFlags == nil {
		req.FeatureFlags = whitelabel.Flags{}
	}
	if err := req.FeatureFlags.Validate("feature_flags"); err != nil {
		return err
	}
	if req.ResourceQuotas == nil {
		req.ResourceQuotas = whitelabel.Quotas{}
	}
	if err := req.ResourceQuotas.Validate("resource_quotas"); err != nil {
		return err
	}
	brand := json.RawMessage("{}")
	if len(req.BrandConfig) > 0 && string(req.BrandConfig) != "null" {
		b, err := validateBrandConfig("brand_config", req.BrandConfig)
		if err != nil {
			return err
		}
		brand = b
	}
	if req.TenantKey == "" {
		if len(req.Subdomain) > 50 {
			return whitelabel.Invalid("tenant_key", "subdomains longer than 50 characters need an explicit tenant_key")
		}
		req.TenantKey = req.Subdomain
	} else if err := whitelabel.ValidateTenantKey(req.TenantKey); err != nil {
		return err
	}
	if req.OrganizationID < 0 {
		return whitelabel.Invalid("organization_id", "organization_id must be a positive integer")
	}
	partnerID := rs.partnerID()
	if rs.admin {
		if req.PartnerID <= 0 {
			return whitelabel.Invalid("partner_id", "partner_id is required when an admin creates a tenant")
		}
		p, err := s.store.GetPartner(r.Context(), req.PartnerID)
		if err != nil {
			if whitelabel.ErrorCodeOf(err) == whitelabel.CodeNotFound {
				return whitelabel.Invalid("partner_id", "partner %d does not exist", req.PartnerID)
			}
			return err
		}
		if !p.IsActive {
			return whitelabel.Invalid("partner_id", "partner %d is deactivated", req.PartnerID)
		}
		partnerID = p.ID
	} else if req.PartnerID != 0 && req.PartnerID != partnerID {
		return whitelabel.Invalid("partner_id", "a partner may only create tenants for itself")
	}
	activate := req.Activate == nil || *req.Activate

	t := &whitelabel.Tenant{
		PartnerID:      partnerID,
		OrganizationID: req.OrganizationID,
		TenantKey:      req.TenantKey,
		DisplayName:    strings.TrimSpace(name),
		Subdomain:      req.Subdomain,
		ContactEmail:   req.ContactEmail,
		Plan:           req.Plan,
		Status:         whitelabel.StatusProvisioning,
		BrandConfig:    brand,
		FeatureFlags:   req.FeatureFlags,
		ResourceQuotas: req.ResourceQuotas,
	}
	audit := rs.auditEntry("tenant.create", t)
	audit.After = mustJSON(tenantAudit{Tenant: t, Activate: &activate})
	if err := s.store.CreateTenant(r.Context(), t, audit); err != nil {
		return err
	}
	v := s.view(t)
	if activate {
		v.Activation = activationAutomatic
		at := t.CreatedAt.Add(s.cfg.ProvisionDelay)
		v.ActiveAfter = &at
		time.AfterFunc(s.cfg.ProvisionDelay, s.nudge)
	} else {
		v.Activation = activationManual
	}
	w.Header().Set("Location", tenantLocation(t.ID))
	setETag(w, t)
	return writeJSON(w, http.StatusCreated, v)
}

// checkPlan returns an invalid_input error for an unknown plan.
func (s *Server) checkPlan(name string) error {
	if _, ok := s.plans[name]; !ok {
		return whitelabel.Invalid("plan", "unknown plan %q (want one of %s)", name, strings.Join(s.plans.Names(), ", "))
	}
	return nil
}

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	q := r.URL.Query()
	f := whitelabel.TenantFilter{PartnerID: rs.partnerID()}
	if st := q.Get("status"); st != "" {
		f.Status = whitelabel.TenantStatus(st)
		if !f.Status.Valid() {
			return whitelabel.Invalid("status", "unknown status %q", st)
		}
	}
	if rs.admin && q.Get("partner_id") != "" {
		id, err := strconv.ParseInt(q.Get("partner_id"), 10, 64)
		if err != nil || id <= 0 {
			return whitelabel.Invalid("partner_id", "partner_id must be a positive integer")
		}
		f.PartnerID = id
	}
	limit, cursor, err := pageParams(r, 50, 200)
	if err != nil {
		return err
	}
	f.After, f.Limit = cursor, limit+1
	ts, err := s.store.ListTenants(r.Context(), f)
	if err != nil {
		return err
	}
	resp := struct {
		Tenants    []*tenantView `json:"tenants"`
		NextCursor string        `json:"next_cursor,omitempty"`
	}{Tenants: []*tenantView{}}
	if len(ts) > limit {
		ts = ts[:limit]
		resp.NextCursor = strconv.FormatInt(ts[len(ts)-1].ID, 10)
	}
	for _, t := range ts {
		resp.Tenants = append(resp.Tenants, s.view(t))
	}
	return writeJSON(w, http.StatusOK, resp)
}

// pageParams reads ?limit= (default def, at most max) and ?cursor= (an
// opaque string the previous page returned; here an ID).
func pageParams(r *http.Request, def, max int) (limit int, cursor int64, err error) {
	q := r.URL.Query()
	limit = def
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > max {
			return 0, 0, whitelabel.Invalid("limit", "limit must be an integer from 1 to %d", max)
		}
		limit = n
	}
	if s := q.Get("cursor"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, whitelabel.Invalid("cursor", "cursor is not one this API returned")
		}
		cursor = n
	}
	return limit, cursor, nil
}

// tenantID parses the {id} path value; a malformed one is just not found.
func tenantID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, whitelabel.NotFound("tenant")
	}
	return id, nil
}

// loadTenant returns the tenant at {id} if the caller may see it. Another
// partner's tenant is not found, never forbidden.
func (s *Server) loadTenant(ctx context.Context, r *http.Request, rs *reqState) (*whitelabel.Tenant, error) {
	id, err := tenantID(r)
	if err != nil {
		return nil, err
	}
	t, err := s.store.GetTenant(ctx, id)
	if err != nil {
		return nil, err
	}
	if !rs.admin && t.PartnerID != rs.partnerID() {
		return nil, whitelabel.NotFound("tenant")
	}
	return t, nil
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, err := s.loadTenant(r.Context(), r, rs)
	if err != nil {
		return err
	}
	setETag(w, t)
	return writeJSON(w, http.StatusOK, s.view(t))
}

// ifMatch checks an If-Match header against the tenant's version. It
// reports whether the header was given at all.
func ifMatch(r *http.Request, t *whitelabel.Tenant) (given bool, err error) {
	h := r.Header.Get("If-Match")
	if h == "" {
		return false, nil
	}
	want := `"` + strconv.FormatInt(t.Version, 10) + `"`
	for tag := range strings.SplitSeq(h, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || tag == want { // strong comparison: W/ tags never match
			return true, nil
		}
	}
	return true, whitelabel.ErrPreconditionFailed
}

// maxCASRetries bounds how often a mutation without If-Match is retried
// when another writer got in between our read and our write.
const maxCASRetries = 5

// mutateTenant loads the tenant at {id}, applies fn to a copy and writes
// it with compare-and-swap, recording an audit entry. With If-Match a lost
// race is 412; without it the mutation is retried on fresh data. fn may
// return an error to refuse the change, or errNoChange to skip the write.
func (s *Server) mutateTenant(r *http.Request, rs *reqState, action, reason string, fn func(t *whitelabel.Tenant) error) (*whitelabel.Tenant, error) {
	ctx := r.Context()
	for attempt := 0; ; attempt++ {
		t, err := s.loadTenant(ctx, r, rs)
		if err != nil {
			return nil, err
		}
		given, err := ifMatch(r, t)
		if err != nil {
			return nil, err
		}
		before := t.Clone()
		if err := fn(t); err != nil {
			if err == errNoChange {
				return t, nil
			}
			return nil, err
		}
		audit := rs.auditEntry(action, t)
		audit.Before = mustJSON(tenantAudit{Tenant: before})
		audit.After = mustJSON(tenantAudit{Tenant: t, Reason: reason})
		err = s.store.UpdateTenant(ctx, t, audit)
		if err == nil {
			return t, nil
		}
		if whitelabel.ErrorCodeOf(err) != whitelabel.CodePreconditionFailed || given || attempt >= maxCASRetries {
			return nil, err
		}
	}
}

// errNoChange tells mutateTenant that fn changed nothing.
var errNoChange = &whitelabel.Error{Code: whitelabel.CodeInternal, Message: "no change"}

// refuseDeactivated stops edits of a tenant in the final state.
func refuseDeactivated(t *whitelabel.Tenant) error {
	if t.Status == whitelabel.StatusDeactivated {
		return whitelabel.Errorf(whitelabel.CodeConflict, "status", "tenant is deactivated and can no longer be changed")
	}
	return nil
}

func (s *Server) patchTenant(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	var req struct {
		Name         *string `json:"name"`
		DisplayName  *string `json:"display_name"`
		ContactEmail *string `json:"contact_email"`
		Plan         *string `json:"plan"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	name, field := req.DisplayName, "display_name"
	if req.Name != nil {
		if req.DisplayName != nil && *req.DisplayName != *req.Name {
			return whitelabel.Invalid("display_name", "give name or display_name, not two different values")
		}
		name, field = req.Name, "name"
	}
	if name != nil {
		if err := whitelabel.ValidateDisplayName(field, *name); err != nil {
			return err
		}
	}
	if req.ContactEmail != nil {
		if err := whitelabel.ValidateEmail("contact_email", *req.ContactEmail); err != nil {
			return err
		}
	}
	if req.Plan != nil {
		if err := s.checkPlan(*req.Plan); err != nil {
			return err
		}
	}
	t, err := s.mutateTenant(r, rs, "tenant.update", "", func(t *whitelabel.Tenant) error {
		if err := refuseDeactivated(t); err != nil {
			return err
		}
		if name != nil {
			t.DisplayName = strings.TrimSpace(*name)
		}
		if req.ContactEmail != nil {
			t.ContactEmail = *req.ContactEmail
		}
		if req.Plan != nil {
			t.Plan = *req.Plan
		}
		return nil
	})
	if err != nil {
		return err
	}
	setETag(w, t)
	return writeJSON(w, http.StatusOK, s.view(t))
}

func (s *Server) deleteTenant(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	t, err := s.mutateTenant(r, rs, "tenant.deactivate", "", func(t *whitelabel.Tenant) error {
		if err := t.Status.Transition(whitelabel.StatusDeactivated); err != nil {
			return err
		}
		t.Status = whitelabel.StatusDeactivated
		return nil
	})
	if err != nil {
		return err
	}
	setETag(w, t)
	return writeJSON(w, http.StatusOK, s.view(t))
}

func (s *Server) setTenantStatus(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	var req struct {
		Status *whitelabel.TenantStatus `json:"status"`
		Reason string                   `json:"reason"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Status == nil || *req.Status == "" {
		return whitelabel.Invalid("status", "status is required")
	}
	if !req.Status.Valid() {
		return whitelabel.Invalid("status", "unknown status %q (want active, suspended, maintenance or deactivated)", *req.Status)
	}
	if len(req.Reason) > 1000 {
		return whitelabel.Invalid("reason", "reason must be at most 1000 bytes")
	}
	next := *req.Status
	t, err := s.mutateTenant(r, rs, "tenant.status", req.Reason, func(t *whitelabel.Tenant) error {
		if err := t.Status.Transition(next); err != nil {
			return err
		}
		t.Status = next
		return nil
	})
	if err != nil {
		return err
	}
	setETag(w, t)
	return writeJSON(w, http.StatusOK, s.view(t))
}
