// Package idp holds the identity providers a tenant's site can be
// protected with, behind one small interface, [Provider]: validate a
// configuration, make the URL that starts a login, and turn the
// provider's callback into an [Identity]. It is the Go form of the
// reference document's BaseSSOProvider (validate_config,
// get_authorization_url, process_callback).
//
// A [Registry] maps provider kinds to providers. [NewRegistry] fills it
// with the built-ins: generic OpenID Connect ("oidc"), SAML 2.0 ("saml")
// and the OIDC presets "azure_ad", "google_workspace", "okta" and
// "onelogin", which derive the issuer from a few fields. A custom provider
// is any type implementing Provider, added with [Registry.Register].
//
// Control calls ValidateConfig when a configuration is saved and
// AuthorizationURL for the test endpoint; the edge (edge/sso) calls
// AuthorizationURL when a login starts and ProcessCallback when the
// provider answers. Providers are stateless apart from caches (OIDC
// discovery documents), and safe for concurrent use.
//
// Read provider.go first, then oidc.go and saml.go.
package idp
