package control

import (
	"context"
	"time"

	"github.com/estatecore/whitelabel"
)

// DefaultSSOPurgeInterval is how often Run removes expired SSO sessions
// and login states from the store.
const DefaultSSOPurgeInterval = 10 * time.Minute

// purgeSSO removes expired SSO sessions and login states every interval
// until ctx ends. The store never returns expired entries, so this only
// keeps the tables from growing with every sign-in; several control
// instances purging at once is harmless (each DELETE is idempotent).
func (s *Server) purgeSSO(ctx context.Context, ss whitelabel.SessionStore, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := ss.DeleteExpiredSSO(ctx, s.now())
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.WarnContext(ctx, "control: purging expired SSO sessions failed", "err", err)
		case n > 0:
			s.log.InfoContext(ctx, "control: purged expired SSO sessions and login states", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
