package control

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/estatecore/whitelabel"
)

// auditEntry starts the audit entry of a tenant mutation: who, what, which
// tenant, from where. The caller fills Before and After; the store writes
// it in the same transaction as the mutation.
func (rs *reqState) auditEntry(action string, t *whitelabel.Tenant) *whitelabel.AuditEntry {
	e := &whitelabel.AuditEntry{
		Actor:      rs.actor(),
		Action:     action,
		TargetType: "tenant",
		PartnerID:  t.PartnerID,
		TenantID:   t.ID,
		RequestID:  rs.requestID,
		ClientAddr: rs.clientAddr,
	}
	if t.ID != 0 { // else not yet created: the store fills TenantID and TargetID
		e.TargetID = strconv.FormatInt(t.ID, 10)
	}
	return e
}

// partnerAudit starts the audit entry of a partner mutation.
func (rs *reqState) partnerAudit(action string, p *whitelabel.Partner) *whitelabel.AuditEntry {
	e := &whitelabel.AuditEntry{
		Actor:      rs.actor(),
		Action:     action,
		TargetType: "partner",
		PartnerID:  p.ID,
		RequestID:  rs.requestID,
		ClientAddr: rs.clientAddr,
	}
	if p.ID != 0 { // else not yet created: the store fills PartnerID and TargetID
		e.TargetID = strconv.FormatInt(p.ID, 10)
	}
	return e
}

func formatID(id int64) string { return strconv.FormatInt(id, 10) }

// mustJSON marshals v, which is always one of our own plain types.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("control: marshal audit document: " + err.Error())
	}
	return b
}

// listAudit serves GET /audit. A partner sees only entries about its own
// tenants; an admin sees everything. ?tenant_id= narrows to one tenant
// (another partner's is not found), ?cursor= pages to older entries.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	limit, cursor, err := pageParams(r, 100, 200) // limit+1 stays under the stores' cap of 500
	if err != nil {
		return err
	}
	f := whitelabel.AuditFilter{PartnerID: rs.partnerID(), Before: cursor, Limit: limit + 1}
	if s := r.URL.Query().Get("tenant_id"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			return whitelabel.Invalid("tenant_id", "tenant_id must be a positive integer")
		}
		f.TenantID = id
	}
	if rs.admin {
		if s := r.URL.Query().Get("partner_id"); s != "" {
			id, err := strconv.ParseInt(s, 10, 64)
			if err != nil || id <= 0 {
				return whitelabel.Invalid("partner_id", "partner_id must be a positive integer")
			}
			f.PartnerID = id
		}
	} else if f.TenantID != 0 {
		t, err := s.store.GetTenant(r.Context(), f.TenantID)
		if err != nil {
			return err
		}
		if t.PartnerID != rs.partnerID() {
			return whitelabel.NotFound("tenant")
		}
	}
	entries, err := s.store.ListAudit(r.Context(), f)
	if err != nil {
		return err
	}
	resp := struct {
		Entries    []*whitelabel.AuditEntry `json:"entries"`
		NextCursor string                   `json:"next_cursor,omitempty"`
	}{Entries: []*whitelabel.AuditEntry{}}
	if len(entries) > limit {
		entries = entries[:limit]
		resp.NextCursor = strconv.FormatInt(entries[len(entries)-1].ID, 10)
	}
	for _, e := range entries {
		// Entries about the partner itself (key rotations, deactivation)
		// are the platform's business, not the partner's.
		if !rs.admin && (e.TenantID == 0 || e.PartnerID != rs.partnerID()) {
			continue
		}
		resp.Entries = append(resp.Entries, e)
	}
	return writeJSON(w, http.StatusOK, resp)
}
