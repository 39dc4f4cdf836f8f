package control

import (
	"context"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
)

// TestPurgeExpiredSSO: Run removes expired sessions on its own, and
// leaves live ones. A session id that exists cannot be created again, so
// creating the expired one's id succeeds only once it is purged.
func TestPurgeExpiredSSO(t *testing.T) {
	forEachStore(t, func(t *testing.T, st whitelabel.Store) {
		ss, ok := st.(whitelabel.SessionStore)
		if !ok {
			t.Skip("store keeps no SSO sessions")
		}
		ctx := context.Background()
		now := time.Now()
		const p = 42 // sessions name a tenant id; no tenant row is needed
		expired := &whitelabel.SSOSession{ID: "expired-session", TenantID: p, Host: "a.example.test", Provider: "oidc",
			Subject: "u1", CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}
		live := &whitelabel.SSOSession{ID: "live-session", TenantID: p, Host: "a.example.test", Provider: "oidc",
			Subject: "u2", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		for _, s := range []*whitelabel.SSOSession{expired, live} {
			if err := ss.CreateSession(ctx, s); err != nil {
				t.Fatalf("CreateSession(%s): %v", s.ID, err)
			}
		}
		if err := ss.CreateSession(ctx, expired); whitelabel.ErrorCodeOf(err) != whitelabel.CodeConflict {
			t.Fatalf("creating an existing session id: %v, want a conflict", err)
		}
		e := newEnv(t, st, func(c *Config) { c.SSOPurgeInterval = 10 * time.Millisecond })
		e.runWorker()
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := ss.CreateSession(ctx, expired)
			if err == nil {
				break
			}
			if whitelabel.ErrorCodeOf(err) != whitelabel.CodeConflict || time.Now().After(deadline) {
				t.Fatalf("the expired session was not purged: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if got, err := ss.GetSession(ctx, live.ID, now); err != nil || got.Subject != "u2" {
			t.Errorf("live session after the purge: %+v, %v", got, err)
		}
	})
}
