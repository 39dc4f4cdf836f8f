package sso

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/estatecore/whitelabel"
)

// Redis is a whitelabel.SessionStore on Redis, for a fleet of edges that
// share sessions. Entries expire with Redis TTLs, so DeleteExpiredSSO has
// nothing to do. It is safe for concurrent use.
type Redis struct {
	c      redis.UniversalClient
	prefix string
}

var _ whitelabel.SessionStore = (*Redis)(nil)

// NewRedis returns a session store on c; keys start with prefix (default
// "wl:sso:").
func NewRedis(c redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = "wl:sso:"
	}
	return &Redis{c: c, prefix: prefix}
}

func (s *Redis) sessKey(id string) string  { return s.prefix + "sess:" + id }
func (s *Redis) tenantKey(t int64) string  { return s.prefix + "tenant:" + strconv.FormatInt(t, 10) }
func (s *Redis) stateKey(st string) string { return s.prefix + "state:" + st }
func (s *Redis) browserKey(t int64, b string) string {
	return s.prefix + "browser:" + strconv.FormatInt(t, 10) + ":" + b
}

func unavailable(op string, err error) error {
	return &whitelabel.Error{Code: whitelabel.CodeUnavailable, Message: "the session store is unavailable", Err: fmt.Errorf("%s: %w", op, err)}
}

// CreateSession stores ss until its expiry; an existing ID is
// CodeConflict.
func (s *Redis) CreateSession(ctx context.Context, ss *whitelabel.SSOSession) error {
	b, err := json.Marshal(ss)
	if err != nil {
		return err
	}
	ttl := time.Until(ss.ExpiresAt)
	if ttl <= 0 {
		return whitelabel.Invalid("expires_at", "session already expired")
	}
	ok, err := s.c.SetNX(ctx, s.sessKey(ss.ID), b, ttl).Result()
	if err != nil {
		return unavailable("create session", err)
	}
	if !ok {
		return whitelabel.Conflict("id", "session already exists")
	}
	tk := s.tenantKey(ss.TenantID)
	pipe := s.c.TxPipeline()
	pipe.SAdd(ctx, tk, ss.ID)
	pipe.ExpireGT(ctx, tk, ttl)
	pipe.ExpireNX(ctx, tk, ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		return unavailable("create session", err)
	}
	return nil
}

// GetSession returns the unexpired session with id, or CodeNotFound.
func (s *Redis) GetSession(ctx context.Context, id string, now time.Time) (*whitelabel.SSOSession, error) {
	b, err := s.c.Get(ctx, s.sessKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, whitelabel.NotFound("session")
	}
	if err != nil {
		return nil, unavailable("get session", err)
	}
	var ss whitelabel.SSOSession
	if err := json.Unmarshal(b, &ss); err != nil {
		return nil, fmt.Errorf("get session: %w", err)
	}
	if !ss.ExpiresAt.After(now) {
		return nil, whitelabel.NotFound("session")
	}
	return &ss, nil
}

// DeleteSession removes a session.
func (s *Redis) DeleteSession(ctx context.Context, id string) error {
	if err := s.c.Del(ctx, s.sessKey(id)).Err(); err != nil {
		return unavailable("delete session", err)
	}
	return nil
}

// DeleteTenantSessions removes every session of a tenant.
func (s *Redis) DeleteTenantSessions(ctx context.Context, tenantID int64) error {
	tk := s.tenantKey(tenantID)
	ids, err := s.c.SMembers(ctx, tk).Result()
	if err != nil {
		return unavailable("delete tenant sessions", err)
	}
	keys := []string{tk}
	for _, id := range ids {
		keys = append(keys, s.sessKey(id))
	}
	if err := s.c.Del(ctx, keys...).Err(); err != nil {
		return unavailable("delete tenant sessions", err)
	}
	return nil
}

// putState stores the state and trims the browser's set to the newest
// ARGV[4], deleting the evicted states, in one atomic script.
var putState = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local max = tonumber(ARGV[4])
if max > 0 then
  local old = redis.call('ZRANGE', KEYS[2], 0, -(max + 1))
  for _, st in ipairs(old) do
    redis.call('DEL', ARGV[6] .. st)
  end
  if #old > 0 then
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(max + 1))
  end
end
return 1
`)

// PutLoginState stores st until it expires and drops the same browser's
// oldest states beyond maxPerBrowser.
func (s *Redis) PutLoginState(ctx context.Context, st *whitelabel.SSOLoginState, maxPerBrowser int) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	ttl := st.ExpiresAt.Sub(st.CreatedAt).Milliseconds()
	if ttl <= 0 {
		return whitelabel.Invalid("expires_at", "login state already expired")
	}
	err = putState.Run(ctx, s.c, []string{s.stateKey(st.State), s.browserKey(st.TenantID, st.Browser)},
		b, ttl, st.CreatedAt.UnixNano(), maxPerBrowser, st.State, s.prefix+"state:").Err()
	if err != nil {
		return unavailable("put login state", err)
	}
	return nil
}

// ConsumeLoginState removes and returns the state (GETDEL: atomic).
func (s *Redis) ConsumeLoginState(ctx context.Context, state string, now time.Time) (*whitelabel.SSOLoginState, error) {
	b, err := s.c.GetDel(ctx, s.stateKey(state)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, whitelabel.NotFound("login state")
	}
	if err != nil {
		return nil, unavailable("consume login state", err)
	}
	var st whitelabel.SSOLoginState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("consume login state: %w", err)
	}
	if !st.ExpiresAt.After(now) {
		return nil, whitelabel.NotFound("login state")
	}
	return &st, nil
}

// DeleteExpiredSSO does nothing: Redis expires entries itself.
func (s *Redis) DeleteExpiredSSO(ctx context.Context, now time.Time) (int64, error) { return 0, nil }
