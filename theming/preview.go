package theming

import (
	"bytes"
	"html/template"
	"io"
)

var previewTmpl = template.Must(template.New("preview").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Brand preview{{if .SiteName}} · {{.SiteName}}{{end}}</title>
{{if .Favicon}}<link rel="icon" href="{{.Favicon}}">
{{end}}<style>
{{.ThemeCSS}}
body { margin: 0; }
.btn-primary, .btn-secondary, .btn-success, .btn-danger, .btn-warning, .btn-info { display: inline-block; padding: .5rem 1rem; margin: 0 .5rem .5rem 0; border: 1px solid transparent; text-decoration: none; }
.card { padding: var(--spacing-unit); margin: var(--spacing-unit) 0; }
.brand-logo { display: inline-block; width: 8rem; height: 2rem; vertical-align: middle; }
</style>
</head>
<body>
<header class="brand-header navbar" style="display:flex;align-items:center;gap:1rem;padding:0 var(--spacing-unit)">
<span class="brand-logo"></span><strong>{{.SiteName}}</strong>
</header>
<div class="container">
<h1>{{if .SiteName}}{{.SiteName}}{{else}}Your brand{{end}}</h1>
<p>This sample page shows the tenant's theme as the edge injects it into the application. <a href="#">A link</a>, <span class="text-primary">primary text</span> and <span class="text-muted">muted text</span>.</p>
<p>
<a class="btn-primary" href="#">Primary</a><a class="btn-secondary" href="#">Secondary</a><a class="btn-success" href="#">Success</a><a class="btn-danger" href="#">Danger</a><a class="btn-warning" href="#">Warning</a><a class="btn-info" href="#">Info</a>
</p>
<div class="card"><h2>A card</h2><p>Surfaces, borders and radius come from the brand's layout values.</p><pre><code>monospace sample</code></pre></div>
</div>
</body>
</html>
`))

// RenderPreview writes a sample page in b's brand to w: header with the
// logo, buttons in every colour, text, a card. siteName is shown when
// the brand has no name. Like Render, it sets no headers.
func RenderPreview(w io.Writer, b Brand, siteName string) error {
	b = b.normalized()
	if b.Name != "" {
		siteName = b.Name
	}
	th := NewTheme(b)
	var buf bytes.Buffer
	err := previewTmpl.Execute(&buf, struct {
		SiteName, Favicon string
		ThemeCSS          template.CSS
	}{siteName, b.Value("logo.favicon"), template.CSS(th.CSS)})
	if err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}
