// Package bandwidth counts each tenant's bytes per UTC calendar month at
// the edge, so the edge can enforce bandwidth_gb_monthly without any I/O
// on the request path.
//
// A [Meter] keeps one counter per tenant and month in memory. The edge
// asks [Meter.Used] before a request (an in-memory read) and calls
// [Meter.Add] with the request's body bytes in plus out after the
// response has been written. A response in flight is therefore not yet
// counted: the quota may be overshot by the responses that were allowed
// before it ran out.
//
// Without Redis the count is this process's, optionally seeded from the
// store's month-to-date usage (Config.Seed) in the background. With Redis
// (Config.Redis) [Meter.Run] sends the bytes counted since the last flush
// for every tenant touched in that time, every FlushInterval, as one
// pipeline of INCRBY and EXPIREAT on KeyPrefix+"{<tenant>}:YYYY-MM", and
// takes each INCRBY's answer, the fleet's total, as the new base of its
// in-memory count. A fleet thus overshoots by at most about one flush
// interval of the fleet's traffic for the tenant, plus responses in flight.
// While Redis is unreachable the meter keeps counting locally and sends
// the accumulated bytes when it answers again; requests never wait for it
// or fail because of it.
//
// Read meter.go first (the counters and the hot path), then flush.go.
package bandwidth
