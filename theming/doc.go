// Package theming turns a tenant's brand into what users see. For now that
// is the branded error pages the edge shows when it answers a request
// itself: unknown site, provisioning, maintenance, suspended, deactivated,
// rate limited, upstream unavailable and upstream timeout.
//
// A brand comes from the tenant's BrandConfig JSON and is validated
// strictly by ParseBrand before any of it reaches a page: values are never
// pasted into HTML or CSS unchecked, and html/template escapes the rest.
//
// Read brand.go first, then pages.go.
package theming
