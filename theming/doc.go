// Package theming turns a tenant's brand into what users see: the
// validated brand, its theme stylesheet, the injection of that stylesheet
// into the core app's HTML, the edge's own branded pages and the branded
// e-mails.
//
// A brand comes from the tenant's BrandConfig JSON and is validated by
// ParseBrand against a grammar (brand.go lists every field, values.go
// holds the grammars): colours, lengths, font lists, https or asset URLs.
// Values are rewritten in canonical form, so nothing a tenant types is
// pasted into CSS or HTML; html/template escapes the rest.
//
// A request's walk: the edge parses the brand when it builds a tenant's
// snapshot entry and, on the tenant's first request, builds its Theme
// (theme.go: CSS, strong ETag, the <link> snippet). The proxy wraps each
// text/html response body in an Injector (inject.go), which tokenizes the
// page only until </head> (or <body>), inserts the snippet and passes the
// rest through. Error and login pages come from Render (pages.go); the
// control API previews a brand with RenderPreview (preview.go) and renders
// e-mails with CompileEmail and CompiledEmail.Render (email.go).
//
// Read brand.go first, then theme.go and inject.go.
package theming
