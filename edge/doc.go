// Package edge is the data plane of the white-label gateway: it finds
// each request's tenant in an in-memory snapshot, refuses what it must
// (unknown site, provisioning, maintenance, suspended, deactivated) and
// reverse-proxies everything else to the core app with the trusted
// tenant headers (X-Tenant-ID, X-Tenant-Key, X-Organization-ID,
// X-Tenant-Plan, X-Tenant-Features) set by the edge alone.
//
// A request's walk: chain.go lists the layers in order. withRequestState
// stores one *reqState in the context (request id, start); the
// observability layer (accesslog.go, metrics.go) wraps the writer; resolve
// (resolve.go) maps Host, or X-Tenant-Key on the API host, to a tenant
// with one map read on the current snapshot; currentInfo (info.go)
// answers /api/white-label/current/info; lifecycle (lifecycle.go) gates
// on the tenant's status; proxy.go strips client-sent trusted headers,
// sets the edge's own and forwards through a tuned transport with one
// retry for idempotent requests (transport.go); body-less reads to a
// plain-HTTP upstream take a synchronous keep-alive client on the
// handler's goroutine (upstream.go), and response bodies of a known
// length from 32 KiB to 1 MiB are copied by the edge through a larger
// buffer (holdLarge, proxy.go). Every error answer goes
// through writeError (errors.go): JSON for API clients, a branded page
// from package theming for browsers.
//
// The snapshot (snapshot.go) is immutable and swapped atomically. New
// loads it from the store, or from the disk copy when the store is down
// (persist.go); Run (feed.go) follows the change feed and patches only
// the tenants that changed, reloading in full after a gap. The request
// path never touches the store, so a store outage changes nothing for
// clients (fail static).
//
// Read chain.go first, then snapshot.go.
package edge
