// Package sealer holds the keys derived from SECRET_KEY: an AES-256-GCM
// key that seals secrets at rest (SSO client secrets, SAML SP keys) and
// an Ed25519 key that signs the X-Edge-Assertion JWT the edge sends
// upstream, whose public half control publishes as a JWKS.
//
// Both keys come from the secret through HKDF-SHA256 with distinct info
// strings, so one secret serves both purposes without one key revealing
// the other. Sealed values start with a version byte and a key id, so a
// Sealer made with the new secret and the old one as previous opens what
// either sealed and seals with the new one: rotate SECRET_KEY by moving
// the old value to SECRET_KEY_PREVIOUS, then re-save (PUT) the SSO
// configurations, then drop the previous key.
package sealer
