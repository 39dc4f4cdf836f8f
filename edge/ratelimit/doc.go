// Package ratelimit decides, once per request, whether a tenant may make
// another call: a per-second rate with a burst (requests_per_second,
// requests_burst) and a monthly call quota (api_calls_monthly), both
// charged by the route's cost.
//
// The edge calls one interface, [Limiter]. Two implementations sit behind
// it:
//
//   - [Local] keeps a golang.org/x/time/rate token bucket and a monthly
//     counter per tenant in memory. It is right for a single edge (the
//     embedded deployment) and is the fallback of [Redis].
//   - [Redis] decides each request by one atomic script execution on a
//     Redis shared by the fleet (a Lua script running GCRA on Redis TIME
//     plus the monthly counter), so a limit of L/s holds for all edges
//     together. Concurrent decisions share round trips: they queue while
//     a pipeline is in flight and go together in the next one, one
//     EVALSHA each (automatic pipelining), so the cost of a decision falls
//     as load rises. When Redis is unreachable a circuit breaker stops
//     waiting for it and the configured [FallbackMode] decides instead
//     (open, local at this edge's share, or closed); it probes Redis in
//     the background and returns to it by itself. Close it when done.
//
// A request's walk: the edge resolves the tenant, finds the route's cost
// with a [CostTable], fills a [Request] from the tenant's effective quotas
// and calls Allow. It writes the headers with [PolicyCache.SetHeadersIn]
// on every response (RateLimit-Policy on refusals only, unless configured
// for every answer), and refuses with 429 when Decision.Allowed is false
// (Decision.Code is rate_limited or quota_exceeded).
//
// Read limiter.go first (the contract), then redis.go (the fleet limiter
// and its breaker), script.go (the script) and batch.go (the pipelining).
package ratelimit
