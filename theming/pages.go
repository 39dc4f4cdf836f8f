package theming

import (
	"bytes"
	"html/template"
	"io"
	"net/http"
)

// PageKind names one of the pages the edge shows instead of the app.
type PageKind uint8

// Page kinds. Each has a default status, title and message (see Page).
const (
	PageGeneric             PageKind = iota // any other error; uses the Page's Status and Message
	PageUnknownSite                         // 404: no tenant serves this host
	PageProvisioning                        // 503: the tenant is being set up
	PageMaintenance                         // 503: the tenant is under maintenance
	PageSuspended                           // 403: the tenant is suspended
	PageDeactivated                         // 410: the tenant is gone
	PageRateLimited                         // 429: too many requests
	PageUpstreamUnavailable                 // 502: the app did not answer
	PageUpstreamTimeout                     // 504: the app answered too slowly
)

type pageText struct {
	status         int
	title, message string
}

var pageTexts = [...]pageText{
	PageGeneric:             {http.StatusInternalServerError, "Something went wrong", "Something went wrong on our side. Please try again."},
	PageUnknownSite:         {http.StatusNotFound, "Unknown site", "There is no site at this address. Check the address and try again."},
	PageProvisioning:        {http.StatusServiceUnavailable, "Being set up", "This site is being set up. Please check back in a few minutes."},
	PageMaintenance:         {http.StatusServiceUnavailable, "Down for maintenance", "This site is down for scheduled maintenance. Please try again later."},
	PageSuspended:           {http.StatusForbidden, "Site suspended", "This site is suspended. Please contact its owner."},
	PageDeactivated:         {http.StatusGone, "Site closed", "This site is no longer available."},
	PageRateLimited:         {http.StatusTooManyRequests, "Too many requests", "You are sending requests too quickly. Please slow down and try again."},
	PageUpstreamUnavailable: {http.StatusBadGateway, "Temporarily unavailable", "The application is not answering right now. Please try again in a moment."},
	PageUpstreamTimeout:     {http.StatusGatewayTimeout, "Taking too long", "The application took too long to answer. Please try again."},
}

// Status returns the HTTP status a page of kind k is served with.
func (k PageKind) Status() int {
	if int(k) < len(pageTexts) {
		return pageTexts[k].status
	}
	return http.StatusInternalServerError
}

// Page is what Render needs to draw one error page. Zero fields take the
// kind's defaults.
type Page struct {
	Kind      PageKind
	Brand     Brand  // validated by ParseBrand; zero for the platform's own pages
	Status    int    // 0: the kind's status
	Title     string // "": the kind's title
	Message   string // "": the kind's message
	RequestID string // shown so users can quote it to support
}

type pageData struct {
	Status    int
	Title     string
	Message   string
	SiteName  string
	Primary   string
	RequestID string
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}}{{if .SiteName}} · {{.SiteName}}{{end}}</title>
<style>
:root { --color-primary: {{.Primary}}; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2330; background: #f6f7f9; }
header { background: var(--color-primary); color: #fff; padding: 1rem 1.5rem; font-weight: 600; min-height: 1.5rem; }
main { max-width: 36rem; margin: 4rem auto; padding: 0 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 1rem; color: var(--color-primary); }
small { color: #6b7080; }
</style>
</head>
<body>
<header>{{.SiteName}}</header>
<main>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
<p><small>Error {{.Status}}{{if .RequestID}} · request {{.RequestID}}{{end}}</small></p>
</main>
</body>
</html>
`))

// Render writes p as a complete HTML document to w. It does not set
// headers or the status; the caller does (see PageKind.Status). Every
// value is escaped by html/template, and brand values were validated by
// ParseBrand, so a tenant cannot inject markup or CSS.
func Render(w io.Writer, p Page) error {
	t := pageTexts[PageGeneric]
	if int(p.Kind) < len(pageTexts) {
		t = pageTexts[p.Kind]
	}
	d := pageData{Status: t.status, Title: t.title, Message: t.message, SiteName: p.Brand.Name, Primary: p.Brand.Primary, RequestID: p.RequestID}
	if p.Status != 0 {
		d.Status = p.Status
	}
	if p.Title != "" {
		d.Title = p.Title
	}
	if p.Message != "" {
		d.Message = p.Message
	}
	if d.Primary == "" {
		d.Primary = DefaultPrimary
	}
	if _, err := ParseColor("primary", d.Primary); err != nil {
		d.Primary = DefaultPrimary
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, d); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}
