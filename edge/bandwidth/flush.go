package bandwidth

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Flush sends the bytes counted since the last flush, for every tenant
// touched since then, to Redis in one pipelined round trip (INCRBY by the
// delta, EXPIREAT an hour after the month ends) and takes each answer as
// the fleet's total for that tenant. Without Redis, or with nothing
// touched, it does nothing.
//
// When the round trip fails the deltas are kept and sent by a later
// flush; the failure is logged once and counted, and Flush returns it.
// A delta whose INCRBY reached Redis but whose answer was lost (a
// timeout) is sent again, so such a failure may count it twice: the
// meter errs towards the quota, never towards free bytes. Flush is safe
// for concurrent use; concurrent calls run one after the other.
func (m *Meter) Flush(ctx context.Context) error {
	if m.cfg.Redis == nil {
		return nil
	}
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	m.mu.Lock()
	batch := m.touched
	m.touched = nil
	m.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	deltas := make([]int64, len(batch))
	for i, c := range batch {
		// Unqueue before taking the delta: bytes added after the swap
		// queue the counter again for the next flush.
		c.queued.Store(false)
		deltas[i] = c.pending.Swap(0)
		c.inflight.Add(deltas[i])
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	incrs := make([]*redis.IntCmd, len(batch))
	_, err := m.cfg.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range batch {
			key := m.key(c)
			incrs[i] = p.IncrBy(ctx, key, deltas[i])
			p.ExpireAt(ctx, key, monthStart(c.month+1).Add(time.Hour))
		}
		return nil
	})
	failed := 0
	for i, c := range batch {
		if incrs[i] != nil && incrs[i].Err() == nil {
			c.base.Store(incrs[i].Val())
			c.inflight.Add(-deltas[i])
			continue
		}
		failed++
		c.pending.Add(deltas[i])
		c.inflight.Add(-deltas[i])
		m.touch(c)
	}
	m.m.flushes.Inc()
	if failed == 0 {
		if m.failing {
			m.failing = false
			m.m.failing.Set(0)
			m.log.Info("bandwidth: Redis answers again; fleet byte counts are shared")
		}
		return nil
	}
	if err == nil {
		err = fmt.Errorf("%d of %d counters not written", failed, len(batch))
	}
	m.m.flushErrors.Inc()
	if !m.failing {
		m.failing = true
		m.m.failing.Set(1)
		m.log.Warn("bandwidth: Redis flush failed; counting locally and retrying each interval", "error", err, "tenants", failed)
	}
	return fmt.Errorf("bandwidth: flush to Redis: %w", err)
}
