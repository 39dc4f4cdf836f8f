// Package usage meters each tenant's traffic per minute at the edge:
// requests, upstream errors, bytes in and out and a latency histogram good
// enough for p50/p95/p99. It owns the in-memory aggregation and its
// delivery to a [Sink] (the store); it does no I/O on the request path.
//
// A request's walk: when a response is finished the edge calls
// [Recorder.Record], which adds to the tenant's bucket for that minute
// under one of 64 shard locks. [Recorder.Run], in the background, seals
// the minutes that are complete (their end plus Config.Grace has passed)
// and writes them in batches to the Sink, retrying with backoff while the
// store is down and keeping at most Config.MaxPending buckets (dropping the
// oldest). On shutdown [Recorder.Flush] seals and writes everything,
// including the current minute.
//
// Every bucket is written exactly once per (EdgeID, TenantID, Minute), or
// rewritten with the same value when a batch is retried, so a Sink that
// upserts by that key, replacing, never double counts. A bucket is a
// whitelabel.UsageRecord, its histogram over whitelabel.UsageLatencyBounds.
// Read recorder.go first, then the Sink contract in sink.go.
package usage
