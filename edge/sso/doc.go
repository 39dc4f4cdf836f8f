// Package sso is the edge's SSO layer: it keeps a tenant's site behind
// the tenant's identity providers (OIDC, SAML and the presets of package
// idp) and tells the upstream who is signed in.
//
// A request's walk: the edge resolves the tenant and, if it has SSO
// configurations, calls [Gate.Check] after the lifecycle gate and before
// the proxy. Check answers the /_edge/ SSO endpoints itself:
//
//   - /_edge/login: one provider, or ?provider=kind: start a login (302 to
//     the IdP); several: a branded page listing them.
//   - /_edge/oidc/callback, /_edge/saml/acs, /_edge/callback: finish a
//     login, create the server-side session, set the cookie, go back to
//     the page that needed it.
//   - /_edge/saml/metadata: the tenant host's SAML SP metadata.
//   - /_edge/logout: end the session (and, with an OIDC provider that
//     has an end_session_endpoint, at the provider too).
//
// Any other request is looked up by its session cookie. A valid session
// for this tenant and host gives the identity headers the proxy sets
// upstream (X-Auth-User, X-Auth-Email, X-Auth-Groups and the signed
// X-Edge-Assertion JWT). Without one, a protected path is refused: a
// browser is redirected to sign in, an API client (Accept JSON or
// X-Requested-With) gets 401 JSON with the login URL.
//
// State lives server-side in a whitelabel.SessionStore (the store, or
// [Redis] for a fleet): the cookie holds only a random id, whose SHA-256
// is the stored key. Logins in progress are keyed by their random state
// value, capped per browser, and consumed once. Sessions read from the
// store are cached for 30 seconds (cache.go), so signed-in users keep
// working through a short store outage; logout clears this edge's cache,
// but another edge may honour a revoked session until its cached copy
// is that old.
//
// Paths are compared as received: the edge refuses unclean ones (dot
// segments, "//", encoded "/", "\" or ".") before the gate, and answers
// 404 for /_edge/ paths nobody serves, so a public or /_edge/ prefix
// cannot be used to reach a protected path.
//
// Read gate.go first, then login.go.
package sso
