package sso

import (
	"sync"
	"time"

	"github.com/estatecore/whitelabel"
)

// sessionCache keeps sessions this edge has read from the store for a
// short time, keyed by their stored (hashed) id, so that a signed-in
// user's requests do not each read the store and keep working while it
// is briefly down (fail static).
//
// Only this edge's cache is emptied on logout: another edge may still
// honour a session revoked elsewhere (logout on another edge,
// DeleteTenantSessions) until its entry is older than the TTL.
//
// It is safe for concurrent use.
type sessionCache struct {
	ttl time.Duration
	max int

	mu sync.Mutex
	m  map[string]cachedSession
}

type cachedSession struct {
	s     *whitelabel.SSOSession // shared: never modified
	until time.Time
}

// get returns the session cached under id if it was read less than ttl
// before now and has not expired.
func (c *sessionCache) get(id string, now time.Time) *whitelabel.SSOSession {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok {
		return nil
	}
	if !now.Before(e.until) || !now.Before(e.s.ExpiresAt) {
		delete(c.m, id)
		return nil
	}
	return e.s
}

// put caches s, read from the store at now. When the cache is full it
// first drops expired entries, then arbitrary ones.
func (c *sessionCache) put(s *whitelabel.SSOSession, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[s.ID]; !ok && len(c.m) >= c.max {
		for id, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, id)
			}
		}
		for id := range c.m {
			if len(c.m) < c.max {
				break
			}
			delete(c.m, id)
		}
	}
	c.m[s.ID] = cachedSession{s: s, until: now.Add(c.ttl)}
}

// remove forgets the session with id (logout).
func (c *sessionCache) remove(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}
