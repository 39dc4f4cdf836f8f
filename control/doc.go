// Package control is the control plane's HTTP API: the partner and admin
// API of the reference document under /api/white-label (tenants, their
// lifecycle, branding, feature flags and quotas, partners and their API
// keys, the audit trail, an OpenAPI 3.1 description of itself) plus
// /healthz and /readyz, and the background work that goes with it
// (provisioning new tenants). It owns no state of its own: everything is
// in the whitelabel.Store it is given, so any number of instances may run
// against one database.
//
// Use New to build a Server from a Config, serve it as an http.Handler
// and call Run for the background work:
//
//	srv, err := control.New(control.Config{Store: st, AdminToken: tok})
//	go srv.Run(ctx)
//	http.ListenAndServe(addr, srv)
//
// # A request's walk
//
//  1. Server.ServeHTTP asks the ServeMux for a pattern. Unknown paths and
//     methods become JSON 404 and 405 (with Allow) here.
//  2. The route's adapter (server.go, adapt) takes or makes the request ID
//     and echoes it in X-Request-ID, refuses a non-JSON body with 415 and
//     authenticates (auth.go): X-Admin-Token compared in constant time, or
//     X-API-Key parsed, looked up by its public id, matched in constant time
//     against its hash and expiry, and its partner checked to be active.
//     Failures are 401; a caller of the wrong kind is 403.
//  3. The handler (tenants.go, features.go, partners.go, audit.go) decodes
//     the body strictly (errors.go: size limit 413, unknown fields and
//     wrong types named), validates with the root package's rules, and
//     loads tenants through loadTenant, which makes another partner's
//     tenant not found (404, never 403). Mutations go through
//     mutateTenant: If-Match against the version (412), the change, an
//     audit entry with before and after, and the store's compare-and-swap
//     UpdateTenant (412 with If-Match, retried without).
//  4. A handler returns an error instead of writing one; writeError
//     (errors.go) alone maps error codes to statuses, in one table, and
//     logs internal errors with the request ID while the client gets a
//     generic message. One access-log line per request follows.
//
// Run (provision.go) moves tenants from provisioning to active once
// Config.ProvisionDelay has passed, reading the creator's "activate"
// choice back from the tenant.create audit entry, so a restart loses
// nothing.
//
// Read server.go first: Config, the route table (the single source of
// both the mux and the OpenAPI document in openapi.go) and the adapter.
package control
