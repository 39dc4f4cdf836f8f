package theming

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"html"
)

// ThemePath is where the edge serves a tenant's theme CSS.
const ThemePath = "/_edge/theme.css"

// componentRules are the theme's rules after :root. They refer to the
// custom properties only, so they are the same for every tenant.
const componentRules = `body {
  font-family: var(--font-family-primary);
  font-size: var(--font-size-base);
  font-weight: var(--font-weight-normal);
  line-height: var(--line-height-base);
  color: var(--color-text);
  background-color: var(--color-background);
  background-image: var(--background-image, none);
}
h1, h2, h3, h4, h5, h6 {
  font-family: var(--font-family-heading);
  font-weight: var(--font-weight-bold);
}
code, kbd, pre, samp {
  font-family: var(--font-family-monospace);
}
a {
  color: var(--color-link);
}
.container {
  max-width: var(--container-max-width);
  margin-left: auto;
  margin-right: auto;
  padding-left: var(--spacing-unit);
  padding-right: var(--spacing-unit);
}
.btn-primary {
  background-color: var(--color-primary);
  border-color: var(--color-primary);
  color: var(--color-on-primary);
  border-radius: var(--border-radius);
}
.btn-secondary {
  background-color: var(--color-secondary);
  border-color: var(--color-secondary);
  color: var(--color-on-secondary);
  border-radius: var(--border-radius);
}
.btn-success {
  background-color: var(--color-success);
  border-color: var(--color-success);
  border-radius: var(--border-radius);
}
.btn-danger {
  background-color: var(--color-danger);
  border-color: var(--color-danger);
  border-radius: var(--border-radius);
}
.btn-warning {
  background-color: var(--color-warning);
  border-color: var(--color-warning);
  border-radius: var(--border-radius);
}
.btn-info {
  background-color: var(--color-info);
  border-color: var(--color-info);
  border-radius: var(--border-radius);
}
.text-primary {
  color: var(--color-primary);
}
.text-muted {
  color: var(--color-text-muted);
}
.bg-primary {
  background-color: var(--color-primary);
  color: var(--color-on-primary);
}
.bg-surface {
  background-color: var(--color-surface);
}
.card {
  background-color: var(--color-surface);
  border: 1px solid var(--color-border);
  border-radius: var(--border-radius);
}
.navbar, header.brand-header {
  background-color: var(--color-primary);
  color: var(--color-on-primary);
  min-height: var(--header-height);
}
.sidebar {
  width: var(--sidebar-width);
}
.brand-logo {
  background-image: var(--logo-url, none);
  background-repeat: no-repeat;
  background-position: left center;
  background-size: contain;
}
`

// CSS returns the theme stylesheet for b: a :root block with one custom
// property per brand value (defaults filled in, plus --color-on-primary
// and --color-on-secondary chosen for contrast) followed by the fixed
// component rules (.btn-primary, .text-primary, …). The output depends
// only on b, byte for byte. Every value is the canonical form ParseBrand
// produced, so none can leave its declaration; URLs are written as
// url("…") and hold no quote, parenthesis or backslash.
func (b Brand) CSS() []byte {
	var buf bytes.Buffer
	buf.Grow(4096)
	buf.WriteString("/* Theme generated from the tenant's brand. Do not edit. */\n:root {\n")
	decl := func(name, value string) {
		buf.WriteString("  ")
		buf.WriteString(name)
		buf.WriteString(": ")
		buf.WriteString(value)
		buf.WriteString(";\n")
	}
	for i, f := range fields {
		if f.cssVar == "" {
			continue
		}
		v := b.effective(i)
		if v == "" {
			continue
		}
		if f.kind == kindURL {
			v = `url("` + v + `")`
		}
		decl(f.cssVar, v)
		switch f.cssVar {
		case "--color-primary":
			decl("--color-on-primary", contrastText(v))
		case "--color-secondary":
			decl("--color-on-secondary", contrastText(v))
		}
	}
	buf.WriteString("}\n")
	buf.WriteString(componentRules)
	return buf.Bytes()
}

// Theme is a brand's stylesheet ready to serve: the CSS, its strong
// ETag and the markup injected into pages. A Theme is immutable; its
// slices must not be modified.
type Theme struct {
	CSS     []byte
	ETag    string // strong: "\"<first 16 bytes of SHA-256 in hex>\""
	Version string // the hash alone, used as ?v= to bust caches
	// Snippet is inserted into proxied HTML: the stylesheet link
	// (ThemePath?v=Version) and, when the brand sets one, the favicon
	// link.
	Snippet []byte
}

// NewTheme builds b's Theme.
func NewTheme(b Brand) *Theme {
	css := b.CSS()
	sum := sha256.Sum256(css)
	v := hex.EncodeToString(sum[:16])
	t := &Theme{CSS: css, ETag: `"` + v + `"`, Version: v}
	snip := `<link rel="stylesheet" href="` + ThemePath + `?v=` + v + `">`
	if fav := b.Value("logo.favicon"); fav != "" {
		snip += `<link rel="icon" href="` + html.EscapeString(fav) + `">`
	}
	t.Snippet = []byte(snip)
	return t
}
