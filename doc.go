// Package whitelabel holds the domain of the white-label gateway: partners,
// tenants, custom domains, plans with their feature flags and quotas, the
// audit trail, the configuration change feed and the error type every layer
// shares. It imports only the standard library.
//
// The storage contracts live here too (store.go), sized for their
// consumers: Store for the control plane and ConfigSource for the edge,
// which reads a snapshot plus "what changed after version V" and nothing
// wider. Implementations are in store/sqlite and store/postgres.
//
// Read tenant.go first: a tenant's lifecycle and validation rules are the
// centre of everything else.
package whitelabel
