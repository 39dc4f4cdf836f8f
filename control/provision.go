package control

import (
	"context"
	"encoding/json"
	"time"

	"github.com/estatecore/whitelabel"
)

// Run does the server's background work until ctx ends, then returns
// ctx's error: the provisioning worker, which makes a tenant created with
// "activate" unset or true active once ProvisionDelay has passed since its
// creation; the domain verifier (verify.go); and the purge of expired SSO
// sessions (purge.go).
//
// The worker keeps no state that matters across restarts. Each pass lists
// the provisioning tenants, and for each one old enough reads the
// "activate" recorded in its tenant.create audit entry (see
// creationIntent), so tenants created before a restart, or by another
// control instance, are picked up too. Activation is a compare-and-swap
// UpdateTenant: a status change made in the meantime wins, and when
// several instances race only one writes.
func (s *Server) Run(ctx context.Context) error {
	if s.verifier != nil {
		go s.verifier.run(ctx) // domain checks; see verify.go
	}
	if ss, ok := s.store.(whitelabel.SessionStore); ok {
		go s.purgeSSO(ctx, ss, s.cfg.SSOPurgeInterval) // see purge.go
	}
	interval := min(max(s.cfg.ProvisionDelay/4, 10*time.Millisecond), time.Second)
	manual := make(map[int64]bool) // tenants known to be created with activate:false
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.provisionPass(ctx, manual); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "control: provisioning pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-s.wake:
		}
	}
}

// nudge asks the worker for a pass now; it never blocks.
func (s *Server) nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// provisionPass activates every provisioning tenant that is due.
func (s *Server) provisionPass(ctx context.Context, manual map[int64]bool) error {
	now := s.now()
	seen := make(map[int64]bool)
	var after int64
	for {
		ts, err := s.store.ListTenants(ctx, whitelabel.TenantFilter{Status: whitelabel.StatusProvisioning, After: after, Limit: 500})
		if err != nil {
			return err
		}
		for _, t := range ts {
			seen[t.ID] = true
			if manual[t.ID] || now.Before(t.CreatedAt.Add(s.cfg.ProvisionDelay)) {
				continue
			}
			activate, err := s.creationIntent(ctx, t)
			if err != nil {
				return err
			}
			if !activate {
				manual[t.ID] = true
				continue
			}
			if err := s.activate(ctx, t); err != nil {
				return err
			}
		}
		if len(ts) < 500 {
			break
		}
		after = ts[len(ts)-1].ID
	}
	for id := range manual {
		if !seen[id] {
			delete(manual, id) // no longer provisioning
		}
	}
	return nil
}

// activate moves t from provisioning to active unless someone changed it
// since it was read.
func (s *Server) activate(ctx context.Context, t *whitelabel.Tenant) error {
	before := t.Clone()
	t.Status = whitelabel.StatusActive
	audit := &whitelabel.AuditEntry{
		Actor:      "system",
		Action:     "tenant.status",
		TargetType: "tenant",
		TargetID:   formatID(t.ID),
		PartnerID:  t.PartnerID,
		TenantID:   t.ID,
		Before:     mustJSON(tenantAudit{Tenant: before}),
		After:      mustJSON(tenantAudit{Tenant: t, Reason: "provisioning complete"}),
	}
	err := s.store.UpdateTenant(ctx, t, audit)
	switch whitelabel.ErrorCodeOf(err) {
	case "":
		s.log.InfoContext(ctx, "control: tenant provisioned", "tenant_id", t.ID, "subdomain", t.Subdomain)
		return nil
	case whitelabel.CodePreconditionFailed, whitelabel.CodeNotFound:
		return nil // changed or gone meanwhile; the next pass sees the new state
	}
	return err
}

// creationIntent reports whether t was created to activate by itself. The
// store has no column for this, so the intent is read back from the
// "activate" field of the tenant.create audit entry's "after" document;
// a missing entry or field means automatic (the API default).
//
// Store change that would replace this: a tenants.auto_activate column
// (or a provisioning_jobs row claimed with FOR UPDATE SKIP LOCKED).
func (s *Server) creationIntent(ctx context.Context, t *whitelabel.Tenant) (bool, error) {
	var before int64
	for {
		es, err := s.store.ListAudit(ctx, whitelabel.AuditFilter{TenantID: t.ID, Before: before, Limit: 500})
		if err != nil {
			return false, err
		}
		for _, e := range es {
			if e.Action != "tenant.create" {
				continue
			}
			var doc struct {
				Activate *bool `json:"activate"`
			}
			if json.Unmarshal(e.After, &doc) == nil && doc.Activate != nil {
				return *doc.Activate, nil
			}
			return true, nil
		}
		if len(es) < 500 {
			return true, nil
		}
		before = es[len(es)-1].ID
	}
}
