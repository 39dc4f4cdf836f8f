package sso

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/internal/testenv"
)

func TestRedisSessionStore(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	t.Cleanup(func() { c.Close() })
	ctx := t.Context()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis: %v", err)
	}
	prefix := fmt.Sprintf("wl:test:%d:", time.Now().UnixNano())
	t.Cleanup(func() {
		keys, _ := c.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(context.Background(), keys...)
		}
	})
	s := NewRedis(c, prefix)
	now := time.Now()
	sess := &whitelabel.SSOSession{ID: "h1", TenantID: 5, Host: "a.example.com", Subject: "u", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, sess); whitelabel.ErrorCodeOf(err) != whitelabel.CodeConflict {
		t.Errorf("duplicate CreateSession = %v, want conflict", err)
	}
	if got, err := s.GetSession(ctx, "h1", now); err != nil || got.Subject != "u" {
		t.Errorf("GetSession = %+v, %v", got, err)
	}
	if _, err := s.GetSession(ctx, "h1", now.Add(2*time.Hour)); whitelabel.ErrorCodeOf(err) != whitelabel.CodeNotFound {
		t.Errorf("expired GetSession = %v", err)
	}
	if err := s.DeleteTenantSessions(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, "h1", now); whitelabel.ErrorCodeOf(err) != whitelabel.CodeNotFound {
		t.Errorf("after DeleteTenantSessions: %v", err)
	}
	for i := range 4 {
		st := &whitelabel.SSOLoginState{State: fmt.Sprint("s", i), TenantID: 5, Browser: "b", CreatedAt: now.Add(time.Duration(i) * time.Millisecond), ExpiresAt: now.Add(time.Minute)}
		if err := s.PutLoginState(ctx, st, 2); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []bool{false, false, true, true} {
		_, err := s.ConsumeLoginState(ctx, fmt.Sprint("s", i), now)
		if (err == nil) != want {
			t.Errorf("ConsumeLoginState(s%d) = %v, want found %v", i, err, want)
		}
	}
	if _, err := s.ConsumeLoginState(ctx, "s3", now); whitelabel.ErrorCodeOf(err) != whitelabel.CodeNotFound {
		t.Errorf("second consume = %v, want not found", err)
	}
}
