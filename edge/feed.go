package edge

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/estatecore/whitelabel"
)

// feedBatch is the most changes Run applies in one patch.
const feedBatch = 1000

// Run follows the source's change feed and applies each batch of changes
// to the snapshot until ctx ends, then returns nil. It never gives up on
// store errors: it logs them, counts them, retries with capped
// exponential backoff and keeps serving the last good snapshot
// meanwhile. It also writes SnapshotPath after changes. Call it once.
func (s *Server) Run(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.saveLoop(ctx)
	}()
	defer func() { <-done }()
	usageDone := make(chan struct{})
	go func() {
		defer close(usageDone)
		s.runUsage(ctx)
	}()
	defer func() { <-usageDone }()
	bwDone := make(chan struct{})
	go func() {
		defer close(bwDone)
		s.runBandwidth(ctx) // shares byte counts with the fleet; see bandwidth.go
	}()
	defer func() { <-bwDone }()
	if s.tls != nil {
		tlsDone := make(chan struct{})
		go func() {
			defer close(tlsDone)
			s.tls.run(ctx) // certificates follow the snapshot; see tls.go
		}()
		defer func() { <-tlsDone }()
	}

	const minBackoff, maxBackoff = 50 * time.Millisecond, 10 * time.Second
	backoff := minBackoff
	needFull := s.fromDisk
	for ctx.Err() == nil {
		var err error
		if needFull {
			if err = s.reload(ctx); err == nil {
				needFull = false
			}
		} else {
			needFull, err = s.step(ctx)
		}
		if err == nil {
			backoff = minBackoff
			continue
		}
		if ctx.Err() != nil {
			break
		}
		s.metrics.storeErrors.Inc()
		s.log.Warn("edge: config store error; serving the last good snapshot", "error", err, "retry_in", backoff, "version", s.snap.Load().version)
		// Full jitter keeps a fleet of edges from retrying in step.
		wait := backoff/2 + rand.N(backoff/2+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		backoff = min(backoff*2, maxBackoff)
	}
	return nil
}

// storeCtx bounds one store call.
func (s *Server) storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.StoreTimeout)
}

// reload replaces the snapshot with a full load from the source.
func (s *Server) reload(ctx context.Context) error {
	cctx, cancel := s.storeCtx(ctx)
	defer cancel()
	version, tcs, err := s.cfg.Source.LoadConfig(cctx)
	if err != nil {
		return err
	}
	now := s.now()
	snap := s.builder.build(version, tcs, now)
	s.install(snap, now)
	return nil
}

// install makes snap the served snapshot and asks for it to be saved.
func (s *Server) install(snap *snapshot, now time.Time) {
	s.snap.Store(snap)
	s.lastSync.Store(now.UnixNano())
	select {
	case s.saveReq <- struct{}{}:
	default:
	}
}

// step applies the next batch of changes, or waits for one. It reports
// whether the feed cannot be followed (a gap, or the store went back in
// time) so the caller must reload everything.
func (s *Server) step(ctx context.Context) (needFull bool, err error) {
	cur := s.snap.Load()
	cctx, cancel := s.storeCtx(ctx)
	changes, err := s.cfg.Source.ChangesSince(cctx, cur.version, feedBatch)
	cancel()
	if err != nil {
		return false, err
	}
	if len(changes) == 0 {
		return s.wait(ctx, cur.version)
	}
	for i, c := range changes {
		if c.Version != cur.version+int64(i)+1 {
			// A gap: the feed was trimmed past our version, or we are
			// far behind. Only a full load is safe.
			s.log.Info("edge: change feed gap, reloading", "have", cur.version, "next", c.Version)
			return true, nil
		}
	}
	var ids []int64
	for _, c := range changes {
		if (c.Kind == whitelabel.ChangeTenant || c.Kind == whitelabel.ChangeDomain || c.Kind == whitelabel.ChangeSSO) && c.TenantID != 0 {
			ids = append(ids, c.TenantID)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var tcs []whitelabel.TenantConfig
	if len(ids) > 0 {
		cctx, cancel := s.storeCtx(ctx)
		tcs, err = s.cfg.Source.LoadTenantConfigs(cctx, ids)
		cancel()
		if err != nil {
			return false, err
		}
	}
	var removed []int64
	for _, id := range ids {
		if !slices.ContainsFunc(tcs, func(tc whitelabel.TenantConfig) bool { return tc.Tenant.ID == id }) {
			removed = append(removed, id)
		}
	}
	last := changes[len(changes)-1].Version
	now := s.now()
	s.install(s.builder.patch(cur, last, tcs, removed, now), now)
	for _, c := range changes {
		if !c.At.IsZero() {
			s.metrics.applyDelay.Observe(max(now.Sub(c.At), 0).Seconds())
		}
	}
	return false, nil
}

// wait blocks until the store's version passes have, or PollInterval
// passes, whichever is first, and then proves the store alive.
func (s *Server) wait(ctx context.Context, have int64) (needFull bool, err error) {
	wctx, cancel := context.WithTimeout(ctx, s.cfg.PollInterval)
	v, err := s.cfg.Source.WaitForChange(wctx, have)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return false, nil
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			return false, err
		}
		// Quiet period: ask for the version so an idle feed still
		// proves the snapshot current (and a dead store shows up).
		cctx, cancel := s.storeCtx(ctx)
		v, err = s.cfg.Source.ConfigVersion(cctx)
		cancel()
		if err != nil {
			return false, err
		}
	}
	s.lastSync.Store(s.now().UnixNano())
	// A version below ours means the store was restored or replaced.
	return v < have, nil
}
