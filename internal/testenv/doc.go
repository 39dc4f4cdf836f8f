// Package testenv gives tests the real services they need: a fresh
// PostgreSQL database per test, the shared Redis address, and a private
// redis-server a test may stop and restart (StartRedis, redis.go).
//
// In CI (CI=true) or with WL_REQUIRE_SERVICES=1 an unreachable service
// fails the test; on a developer machine without it the test is skipped
// with the reason printed.
//
// Addresses come from WL_TEST_POSTGRES_URL (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable) and
// WL_TEST_REDIS_ADDR (default 127.0.0.1:6379).
package testenv
