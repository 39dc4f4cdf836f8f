package whitelabel

import (
	"encoding/json"
	"time"
)

// AuditEntry records one mutation: who did what to which target, the
// state before and after, and where the request came from. Stores write
// it in the same transaction as the mutation it describes.
type AuditEntry struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"`  // "admin", "partner:12", "system", "cli"
	Action     string          `json:"action"` // "tenant.create", "tenant.status", …
	TargetType string          `json:"target_type"`
	TargetID   string          `json:"target_id"`
	PartnerID  int64           `json:"partner_id,omitempty"` // owner, for partner-scoped listing; 0 for platform-level entries
	TenantID   int64           `json:"tenant_id,omitempty"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
	RequestID  string          `json:"request_id,omitempty"`
	ClientAddr string          `json:"client_addr,omitempty"`
}

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	PartnerID int64 // 0: all partners
	TenantID  int64 // 0: all tenants
	Before    int64 // cursor: only entries with ID < Before; 0: from the newest
	Limit     int   // 1–500; stores cap it
}
